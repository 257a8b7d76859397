"""``icpscan.load(db)``: a scan as pandas DataFrames, for notebooks (extra ``research``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icpscan.dataset.dictionary import TABLES
from icpscan.dataset.rows import iter_rows

_DTYPES = {"integer": "Int64", "boolean": "boolean", "number": "Float64", "string": "string",
           "json": "string"}  # fmt: skip


@dataclass(frozen=True)
class Dataset:
    """One scan's tables (docs/data-dictionary.md), one DataFrame each."""

    scan_id: int
    domains: Any
    numbers: Any
    findings: Any
    records: Any


def frame(rows: list[dict[str, Any]], table: str) -> Any:
    """A DataFrame with the dictionary's columns and nullable dtypes (lists stay lists)."""
    import pandas as pd

    spec = TABLES[table]
    df = pd.DataFrame.from_records(rows, columns=list(spec.names))
    for column in spec.columns:
        dtype = _DTYPES.get(column.type)
        if dtype is not None:
            df[column.name] = df[column.name].astype(dtype)
    return df


def load(db: str | Path, scan: int | None = None) -> Dataset:
    """Load a scan (default: the latest) of an icpscan database as DataFrames.

    ``icpscan.load("audit.db").domains.groupby("region").size()``
    """
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise ImportError("icpscan.load needs pandas: pip install 'icpscan[research]'") from None
    from icpscan.report.data import resolve_scan_id
    from icpscan.store import open_db

    database = open_db(db, create=False)
    try:
        scan_id = resolve_scan_id(database, scan)
        tables = {name: frame(list(iter_rows(database, scan_id, name)), name) for name in TABLES}
    finally:
        database.conn.close()
    return Dataset(scan_id=scan_id, **tables)
