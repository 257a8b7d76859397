"""Filing records kept in the scan's dataset: the provenance of every RECORD_* finding and the
long-lived cache of a lookup service (tables ``record_lookups`` and ``filing_records``).

One ``record_lookups`` row per answer a source gave (source, ``domain``/``number`` query, status
``found``/``none``, when); a ``none`` row is the negative cache. ``filing_records`` holds the
records of each ``found`` answer. Rows are append-only: a later answer for the same query is a
new row, so the dataset keeps how a filing changed over time.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from icpscan.models import FilingRecord
from icpscan.records.source import RecordAnswer

RECORD_COLUMNS = (
    "domain",
    "entity_name",
    "entity_type",
    "entity_number",
    "site_number",
    "site_name",
    "content_types",
    "approval_time",
    "limit_access",
    "source",
    "fetched_at",
)


def _record_row(record: FilingRecord) -> list[Any]:
    return [
        record.domain,
        record.entity_name,
        record.entity_type,
        record.entity_number,
        record.site_number,
        record.site_name,
        json.dumps(list(record.content_types), ensure_ascii=False),
        record.approval_time,
        None if record.limit_access is None else int(record.limit_access),
        record.source,
        record.fetched_at,
    ]


def record_from_row(row: sqlite3.Row | tuple[Any, ...]) -> FilingRecord:
    values = dict(zip(RECORD_COLUMNS, row, strict=True))
    types = values.pop("content_types")
    access = values.pop("limit_access")
    return FilingRecord(
        content_types=tuple(json.loads(types or "[]")),
        limit_access=None if access is None else bool(access),
        **values,
    )


def save_answers(
    conn: sqlite3.Connection,
    source: str,
    answers: Iterable[tuple[str, RecordAnswer]],
    scan_id: int | None,
) -> int:
    """Store answers (kind, answer) not stored yet; call inside a transaction. Returns rows."""
    added = 0
    for kind, answer in answers:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO record_lookups (source, kind, query, status, record_count,"
            " fetched_at, scan_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                source,
                kind,
                answer.query,
                "found" if answer.records else "none",
                len(answer.records),
                answer.fetched_at,
                scan_id,
            ],
        )
        if cursor.rowcount != 1:
            continue
        added += 1
        lookup_id = cursor.lastrowid
        conn.executemany(
            f"INSERT INTO filing_records (lookup_id, {', '.join(RECORD_COLUMNS)})"  # noqa: S608
            f" VALUES (?, {', '.join('?' * len(RECORD_COLUMNS))})",
            [[lookup_id, *_record_row(r)] for r in answer.records],
        )
    return added


class DatasetCache:
    """Reads the latest stored answer for a query (its own connection per thread)."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = str(db_path)
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=60)
            conn.execute("PRAGMA busy_timeout = 60000")
            self._local.conn = conn
        return conn

    def get(self, source: str, kind: str, query: str) -> RecordAnswer | None:
        conn = self._conn()
        row = conn.execute(
            "SELECT id, fetched_at FROM record_lookups WHERE source = ? AND kind = ? AND query = ?"
            " ORDER BY fetched_at DESC, id DESC LIMIT 1",
            [source, kind, query],
        ).fetchone()
        if row is None:
            return None
        lookup_id, fetched_at = row
        records = conn.execute(
            f"SELECT {', '.join(RECORD_COLUMNS)} FROM filing_records"  # noqa: S608
            " WHERE lookup_id = ? ORDER BY id",
            [lookup_id],
        ).fetchall()
        return RecordAnswer(query, tuple(record_from_row(r) for r in records), fetched_at)
