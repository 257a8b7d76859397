"""Write and read the exported dataset: Parquet (pyarrow), CSV and JSON lines.

Formats (``docs/data-dictionary.md``): JSON lines keep lists as arrays and ``json`` columns as
text; CSV writes booleans as ``true``/``false``, missing values as empty cells, lists as JSON
arrays, and defuses cells a spreadsheet would run as a formula with a leading ``'`` (a value
that itself starts with ``'`` gets one more), which :func:`read_export` undoes — so every format
reads back to exactly the rows written. Parquet carries the column descriptions as field
metadata and the dataset version, scan and citation as file metadata.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from icpscan import __version__
from icpscan.dataset.dictionary import DATASET_VERSION, TABLES, Table

FORMATS = ("parquet", "csv", "jsonl")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
CITATION = (
    "icpscan dataset v{version}, table {table}, scan {scan_id} ({started} to {finished}); "
    "produced by icpscan {tool}; data dictionary: docs/data-dictionary.md"
)
BATCH = 10_000


class ExportError(Exception):
    """The export cannot be written (pyarrow missing, unwritable path)."""


def _csv_cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("string_list", "integer_list"):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _from_csv(text: str, kind: str) -> Any:
    if text == "":
        return [] if kind in ("string_list", "integer_list") else None
    if kind == "boolean":
        return text == "true"
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind in ("string_list", "integer_list"):
        return json.loads(text)
    return text[1:] if text.startswith("'") else text


def write_jsonl(rows: Iterable[dict[str, Any]], stream: IO[str]) -> int:
    count = 0
    for row in rows:
        stream.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


def write_csv(rows: Iterable[dict[str, Any]], stream: IO[str], table: Table) -> int:
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(table.names)
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(row[c.name], c.type) for c in table.columns])
        count += 1
    return count


def _arrow() -> Any:
    from icpscan.lean import let_heavy_modules_in

    let_heavy_modules_in()  # the command line keeps them out of the processes that never use them
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError("Parquet needs pyarrow: pip install 'icpscan[research]'") from None
    return pa, pq


def arrow_schema(table: Table, metadata: dict[str, str] | None = None) -> Any:
    pa, _ = _arrow()
    types = {
        "string": pa.string(),
        "json": pa.string(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "boolean": pa.bool_(),
        "string_list": pa.list_(pa.string()),
        "integer_list": pa.list_(pa.int64()),
    }
    fields = [
        pa.field(c.name, types[c.type], metadata={"description": c.description, "type": c.type})
        for c in table.columns
    ]
    return pa.schema(fields, metadata=metadata)


def file_metadata(table: Table, scan: dict[str, Any]) -> dict[str, str]:
    return {
        "icpscan.dataset_version": DATASET_VERSION,
        "icpscan.version": __version__,
        "icpscan.table": table.name,
        "icpscan.table_description": table.description,
        "icpscan.scan_id": str(scan.get("id")),
        "icpscan.scan_started_at": str(scan.get("started_at")),
        "icpscan.scan_finished_at": str(scan.get("finished_at")),
        "icpscan.citation": CITATION.format(
            version=DATASET_VERSION,
            table=table.name,
            scan_id=scan.get("id"),
            started=scan.get("started_at"),
            finished=scan.get("finished_at"),
            tool=__version__,
        ),
    }


def write_parquet(
    rows: Iterable[dict[str, Any]], path: str | Path, table: Table, scan: dict[str, Any]
) -> int:
    pa, pq = _arrow()
    schema = arrow_schema(table, file_metadata(table, scan))
    count = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count += len(batch)
                batch = []
        if batch or count == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
    return count


def read_export(path: str | Path, fmt: str, table: str) -> Iterator[dict[str, Any]]:
    """Rows of an exported file, typed as the dictionary says (the inverse of the writers)."""
    spec = TABLES[table]
    if fmt == "parquet":
        _, pq = _arrow()
        yield from pq.read_table(str(path)).to_pylist()
        return
    with Path(path).open(encoding="utf-8", newline="") as handle:
        if fmt == "jsonl":
            for line in handle:
                if line.strip():
                    yield json.loads(line)
            return
        reader = csv.reader(handle)
        header = next(reader)
        if tuple(header) != spec.names:
            raise ExportError(f"{path}: not an icpscan {table} export (columns differ)")
        kinds = [c.type for c in spec.columns]
        for cells in reader:
            yield {
                name: _from_csv(cell, kind)
                for name, cell, kind in zip(spec.names, cells, kinds, strict=True)
            }
