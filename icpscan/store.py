"""The SQLite dataset: schema and migrations, the work queue of a scan, and the result writer.

One database accumulates scans over time (longitudinal research): every scan has an id, a start
and an end, and every result row carries its ``scan_id``. The ``targets`` table is the scan's
work queue: the input is streamed into it (the unique key drops duplicates at any scale), worker
processes claim batches from it, and a domain's results are written in the same transaction
that marks its target done — so a scan killed at any moment and resumed ends with every domain
stored exactly once. SQL is always parameterised.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from icpscan import __version__
from icpscan.models import SCHEMA_VERSION

BUSY_TIMEOUT_MS = 60_000

migrations = Migrations("icpscan")


class StoreError(Exception):
    """The database cannot be used (read-only path, disk full, not an icpscan database...)."""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db["scans"].create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "status": str,  # running | finished | interrupted
            "input": str,
            "options": str,  # JSON
            "icpscan_version": str,
            "schema_version": str,
            "data_versions": str,  # JSON: offline data snapshots used
            "input_complete": int,
            "input_lines": int,
            "invalid_lines": int,
            "duplicate_lines": int,
        },
        pk="id",
    )
    db["targets"].create(
        {
            "id": int,
            "scan_id": int,
            "domain": str,
            "display": str,
            "line": int,
            "state": str,  # pending | claimed | done
            "worker": str,
        },
        pk="id",
        foreign_keys=[("scan_id", "scans", "id")],
    )
    db["targets"].create_index(["scan_id", "domain"], unique=True)
    db["targets"].create_index(["scan_id", "state", "id"])
    db["input_errors"].create(
        {"scan_id": int, "line": int, "raw": str, "reason": str, "message": str},
        foreign_keys=[("scan_id", "scans", "id")],
    )
    db["input_errors"].create_index(["scan_id", "line"], unique=True)
    db["domains"].create(
        {
            "id": int,
            "scan_id": int,
            "domain": str,
            "display": str,
            "line": int,
            "region": str,
            "confidence": str,
            "provider": str,
            "cdn": str,
            "reached": int,
            "status": int,
            "final_url": str,
            "final_registrable_domain": str,
            "error_kind": str,
            "encoding": str,
            "numbers_count": int,
            "findings_count": int,
            "max_severity": str,
            "finding_codes": str,  # space-separated, for facets and LIKE queries
            "scanned_at": str,
            "record": str,  # the full JSON line (schema_version inside)
        },
        pk="id",
        foreign_keys=[("scan_id", "scans", "id")],
    )
    db["domains"].create_index(["scan_id", "domain"], unique=True)
    db["domains"].create_index(["scan_id", "region"])
    db["addresses"].create(
        {
            "address": str,
            "version": int,
            "region": str,
            "confidence": str,
            "special": str,
            "asn": int,
            "asn_name": str,
            "asn_country": str,
            "registry": str,
            "prefix": str,
            "allocated": str,
            "country": str,
            "provider": str,
            "evidence": str,  # JSON
            "last_scan_id": int,
            "updated_at": str,
        },
        pk="address",
    )
    child = [("domain_id", "domains", "id"), ("scan_id", "scans", "id")]
    db["domain_addresses"].create(
        {"domain_id": int, "scan_id": int, "domain": str, "address": str, "view": str},
        foreign_keys=[*child, ("address", "addresses", "address")],
    )
    db["dns_answers"].create(
        {
            "domain_id": int,
            "scan_id": int,
            "domain": str,
            "view": str,
            "name": str,
            "rtype": str,
            "value": str,
            "ttl": int,
            "cnames": str,  # JSON list: the chain followed before these records
        },
        foreign_keys=child,
    )
    db["dns_failures"].create(
        {
            "domain_id": int,
            "scan_id": int,
            "domain": str,
            "view": str,
            "name": str,
            "rtype": str,
            "error": str,
            "detail": str,
        },
        foreign_keys=child,
    )
    db["fetches"].create(
        {
            "domain_id": int,
            "scan_id": int,
            "domain": str,
            "reached": int,
            "final_url": str,
            "status": int,
            "left_registrable_domain": int,
            "address": str,
            "peer": str,
            "server": str,
            "content_type": str,
            "truncated": int,
            "body_size": int,
            "error_kind": str,
            "error_detail": str,
            "elapsed": float,
            "tls_expired": int,
            "tls_self_signed": int,
            "tls_hostname_match": int,
            "tls_trusted": int,
            "tls_issuer": str,
            "tls_not_after": str,
            "chain": str,  # JSON
            "attempts": str,  # JSON
            "headers": str,  # JSON
            "tls": str,  # JSON
        },
        pk="domain_id",
        foreign_keys=child,
    )
    db["numbers"].create(
        {
            "domain_id": int,
            "scan_id": int,
            "domain": str,
            "kind": str,
            "number": str,
            "raw": str,
            "province_code": str,
            "province": str,
            "valid": int,
            "placeholder": int,
            "linked": int,
            "href": str,
            "location": str,
            "own": int,
            "site_index": str,
            "problems": str,  # JSON list
        },
        foreign_keys=child,
    )
    db["numbers"].create_index(["scan_id", "number"])
    db["findings"].create(
        {
            "domain_id": int,
            "scan_id": int,
            "domain": str,
            "code": str,
            "severity": str,
            "message": str,
            "evidence": str,  # JSON
        },
        foreign_keys=child,
    )
    db["findings"].create_index(["scan_id", "code"])
    for table in ("domain_addresses", "dns_answers", "dns_failures", "numbers", "findings"):
        db[table].create_index(["domain_id"])


def open_db(path: str | Path, *, create: bool = True) -> sqlite_utils.Database:
    """Open (and migrate) an icpscan database; errors become :class:`StoreError`."""
    path = Path(path)
    if not create and not path.exists():
        raise StoreError(f"no such database: {path}")
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        db = sqlite_utils.Database(conn)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys = ON")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(db)
    except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
        raise StoreError(f"cannot use database {path}: {exc}") from exc
    return db


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT: take the write lock up front so batches never deadlock."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


# -- scans -------------------------------------------------------------------------------------


def create_scan(
    db: sqlite_utils.Database,
    *,
    input_name: str,
    options: dict[str, Any],
    data_versions: dict[str, Any] | None = None,
) -> int:
    with transaction(db):
        cursor = db.execute(
            "INSERT INTO scans (started_at, status, input, options, icpscan_version,"
            " schema_version, data_versions, input_complete, input_lines, invalid_lines,"
            " duplicate_lines) VALUES (?, 'running', ?, ?, ?, ?, ?, 0, 0, 0, 0)",
            [
                utcnow(),
                input_name,
                _dumps(options),
                __version__,
                SCHEMA_VERSION,
                _dumps(data_versions or {}),
            ],
        )
    scan_id = cursor.lastrowid
    assert scan_id is not None
    return scan_id


def get_scan(db: sqlite_utils.Database, scan_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM scans WHERE id = ?", [scan_id]))
    return rows[0] if rows else None


def latest_scan_id(db: sqlite_utils.Database, *, unfinished: bool = False) -> int | None:
    where = "WHERE status != 'finished'" if unfinished else ""
    row = db.execute(f"SELECT max(id) FROM scans {where}").fetchone()  # noqa: S608
    return row[0] if row and row[0] is not None else None


def finish_scan(db: sqlite_utils.Database, scan_id: int, status: str = "finished") -> None:
    with transaction(db):
        db.execute(
            "UPDATE scans SET status = ?, finished_at = ? WHERE id = ?",
            [status, utcnow(), scan_id],
        )


# -- the work queue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueuedTarget:
    id: int
    domain: str
    display: str
    line: int | None


def enqueue_targets(
    db: sqlite_utils.Database,
    scan_id: int,
    targets: Sequence[tuple[str, str, int | None]],
    invalid: Sequence[tuple[int, str, str, str]] = (),
    *,
    lines_read: int,
) -> int:
    """Queue (domain, display, line) rows; duplicates are dropped by the unique key.

    ``lines_read`` is the input position reached, recorded in the same transaction so a resumed
    scan can skip what is already queued. Returns how many targets were new.
    """
    with transaction(db):
        before = db.conn.total_changes
        db.conn.executemany(
            "INSERT OR IGNORE INTO targets (scan_id, domain, display, line, state)"
            " VALUES (?, ?, ?, ?, 'pending')",
            [(scan_id, domain, display, line) for domain, display, line in targets],
        )
        added = db.conn.total_changes - before
        db.conn.executemany(
            "INSERT OR IGNORE INTO input_errors (scan_id, line, raw, reason, message)"
            " VALUES (?, ?, ?, ?, ?)",
            [(scan_id, *row) for row in invalid],
        )
        db.execute(
            "UPDATE scans SET input_lines = max(input_lines, ?),"
            " invalid_lines = (SELECT count(*) FROM input_errors WHERE scan_id = ?),"
            " duplicate_lines = duplicate_lines + ? WHERE id = ?",
            [lines_read, scan_id, len(targets) - added, scan_id],
        )
    return added


def mark_input_complete(db: sqlite_utils.Database, scan_id: int) -> None:
    with transaction(db):
        db.execute("UPDATE scans SET input_complete = 1 WHERE id = ?", [scan_id])


def claim_targets(
    db: sqlite_utils.Database, scan_id: int, worker: str, limit: int
) -> list[QueuedTarget]:
    """Atomically take up to ``limit`` pending targets for ``worker``."""
    with transaction(db):
        rows = db.execute(
            "UPDATE targets SET state = 'claimed', worker = ? WHERE id IN ("
            " SELECT id FROM targets WHERE scan_id = ? AND state = 'pending'"
            " ORDER BY id LIMIT ?) RETURNING id, domain, display, line",
            [worker, scan_id, limit],
        ).fetchall()
    return sorted((QueuedTarget(*row) for row in rows), key=lambda t: t.id)


def release_claims(db: sqlite_utils.Database, scan_id: int) -> int:
    """Put claimed-but-unfinished targets back (used when resuming: their workers are gone)."""
    with transaction(db):
        cursor = db.execute(
            "UPDATE targets SET state = 'pending', worker = NULL"
            " WHERE scan_id = ? AND state = 'claimed'",
            [scan_id],
        )
    return cursor.rowcount


def queue_counts(db: sqlite_utils.Database, scan_id: int) -> dict[str, int]:
    counts = {"pending": 0, "claimed": 0, "done": 0}
    for state, count in db.execute(
        "SELECT state, count(*) FROM targets WHERE scan_id = ? GROUP BY state", [scan_id]
    ):
        counts[state] = count
    return counts


def iter_chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
