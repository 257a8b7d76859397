"""The research dataset: export a scan as documented tables, load it into pandas.

``icpscan export`` writes Parquet, CSV or JSON lines; :func:`load` gives DataFrames. The
columns are defined once in :mod:`icpscan.dataset.dictionary` (``docs/data-dictionary.md``).
"""

from __future__ import annotations

from icpscan.dataset.dictionary import DATASET_VERSION, TABLES
from icpscan.dataset.load import Dataset, load

__all__ = ["DATASET_VERSION", "TABLES", "Dataset", "load"]
