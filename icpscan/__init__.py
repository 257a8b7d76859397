"""icpscan: audit live websites for China's ICP filing rules."""

from __future__ import annotations

__version__ = "0.1.0"

from icpscan.egress import install_guard_from_environment as _install_guard_from_environment

# Tests, benchmarks and the demo set ICPSCAN_LOOPBACK_ONLY=1; every process that imports
# icpscan (CLI, Scrapy workers, helpers) then refuses to reach beyond loopback.
_install_guard_from_environment()

from icpscan.extract import extract  # noqa: E402  (after the guard is armed)

__all__ = ["__version__", "extract", "load"]


def load(db: object, scan: int | None = None) -> object:
    """A scan of an icpscan database as pandas DataFrames (needs the ``research`` extra).

    Returns :class:`icpscan.dataset.Dataset` with ``domains``, ``numbers``, ``findings`` and
    ``records`` (columns: docs/data-dictionary.md).
    """
    from icpscan.dataset.load import load as load_dataset

    return load_dataset(db, scan)  # type: ignore[arg-type]
