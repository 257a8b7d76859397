"""Filing records from a file the user holds: CSV or JSON lines (or one JSON array).

Auditors and researchers already hold such exports (from query tools, from the MIIT API, from
their own records). Column names may be ours, the MIIT API's (``unitName``, ``natureName``,
``mainLicence``, ``serviceLicence``, ``domain``, ``contentTypeName``, ``updateRecordTime``) or
the Chinese headers query tools export; see ``docs/records.md``. The file is read once into
memory indexes by domain and by entity number.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from icpscan.models import FilingRecord
from icpscan.reconcile import entity_key, number_key
from icpscan.records.errors import RecordConfigError
from icpscan.records.fields import record_from_mapping, resolve_columns
from icpscan.records.source import RecordAnswer, RecordSource, registrable_domain

MAX_FILE_BYTES = 2 * 1024**3


def _decode(data: bytes, path: Path) -> str:
    for codec in ("utf-8-sig", "gb18030"):  # Chinese spreadsheet exports are often GB18030
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise RecordConfigError(f"{path}: neither UTF-8 nor GB18030 text")


def _rows_csv(text: str, path: Path) -> Iterator[tuple[int, dict[str, Any], dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = resolve_columns(list(reader.fieldnames or []))
    if "domain" not in columns:
        raise RecordConfigError(
            f"{path}: no domain column (expected one of: domain, 网站域名, 域名, homeUrl)"
        )
    if "entity_number" not in columns and "site_number" not in columns:
        raise RecordConfigError(
            f"{path}: no number column (expected entity_number/mainLicence or "
            "site_number/serviceLicence)"
        )
    for row in reader:
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        yield reader.line_num, row, columns


def _rows_json(text: str, path: Path) -> Iterator[tuple[int, dict[str, Any], None]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise RecordConfigError(f"{path}: not valid JSON: {exc}") from None
        for index, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise RecordConfigError(f"{path}: item {index} is not an object")
            yield index, item, None
        return
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordConfigError(f"{path}:{line_no}: not valid JSON: {exc.msg}") from None
        if not isinstance(item, dict):
            raise RecordConfigError(f"{path}:{line_no}: not a JSON object")
        yield line_no, item, None


def read_records(path: str | Path, *, source: str | None = None) -> list[FilingRecord]:
    """Every record of a CSV / JSON-lines / JSON-array file (errors name the file and line)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RecordConfigError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise RecordConfigError(f"cannot read records file {path}: {exc.strerror}") from None
    text = _decode(data, path)
    name = source or f"file:{path.name}"
    fetched = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC).isoformat(
        timespec="seconds"
    )
    first = text.lstrip()[:1]
    is_json = path.suffix.lower() in (".jsonl", ".ndjson", ".json") or first in ("{", "[")
    rows = _rows_json(text, path) if is_json else _rows_csv(text, path)
    records = []
    for line, row, columns in rows:
        try:
            records.append(
                record_from_mapping(row, source=name, columns=columns, fetched_at=fetched)
            )
        except RecordConfigError as exc:
            raise RecordConfigError(f"{path}:{line}: {exc}") from None
    return records


class FileRecordSource(RecordSource):
    """Records from a file, indexed in memory (loaded once per process)."""

    def __init__(self, path: str | Path, *, source: str | None = None) -> None:
        self.path = Path(path)
        records = read_records(self.path, source=source)
        self.name = source or f"file:{self.path.name}"
        self.number_lookups = True
        self.fetched_at = records[0].fetched_at if records else None
        self._by_domain: dict[str, list[FilingRecord]] = defaultdict(list)
        self._by_entity: dict[str, list[FilingRecord]] = defaultdict(list)
        for record in records:
            self._by_domain[registrable_domain(record.domain)].append(record)
            if record.entity_number:
                self._by_entity[number_key(record.entity_number)].append(record)
        self.count = len(records)

    def _answer(self, query: str, records: list[FilingRecord]) -> RecordAnswer:
        fetched = self.fetched_at or ""
        return RecordAnswer(query, tuple(records), fetched, cached=False)

    def lookup(self, domain: str) -> RecordAnswer:
        return self._answer(domain, self._by_domain.get(domain, []))

    def lookup_number(self, number: str) -> RecordAnswer:
        return self._answer(number, self._by_entity.get(entity_key(number), []))
