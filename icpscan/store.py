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
import re
import sqlite3
import time
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


# Why a write failed, by SQLite's primary result code (exc.sqlite_errorname up to the first "_"
# after "SQLITE_"): what a user can do about it.
_WRITE_FAILURES = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR": "a write failed: disk full, file size limit or failing disk",
    "SQLITE_READONLY": "the database or its directory is read-only",
    "SQLITE_CANTOPEN": "the database or its directory is read-only or missing",
    "SQLITE_PERM": "permission denied",
    "SQLITE_BUSY": "another process holds the database locked",
    "SQLITE_LOCKED": "another process holds the database locked",
    "SQLITE_CORRUPT": "the database file is damaged",
}


def _explain(exc: BaseException) -> str:
    name = getattr(exc, "sqlite_errorname", "") or ""
    reason = _WRITE_FAILURES.get("_".join(name.split("_")[:2]))
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return f"{detail} ({reason})" if reason else detail


def write_failure(path: str | Path, exc: BaseException) -> StoreError:
    """A one-line :class:`StoreError` for an SQLite error met while using the dataset."""
    if isinstance(exc, StoreError):
        return exc
    return StoreError(f"cannot write to database {path}: {_explain(exc)}")


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def dumps(value: Any) -> str:
    """Compact JSON, keys in record order, one line for every reader.

    U+0085 (NEL), U+2028 and U+2029 are escaped: ``str.splitlines`` splits on all three (and
    JavaScript on the last two), so a page title holding one would break a JSON line. A lone
    surrogate (a page had ``"\ud800"`` in a JSON string) cannot be stored as UTF-8: then
    everything non-ASCII is escaped instead.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if _LONE_SURROGATE.search(text):
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.translate(_LINE_BREAKS)


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("scans").create(
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
    db.table("targets").create(
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
    db.table("targets").create_index(["scan_id", "domain"], unique=True)
    db.table("targets").create_index(["scan_id", "state", "id"])
    db.table("input_errors").create(
        {"scan_id": int, "line": int, "raw": str, "reason": str, "message": str},
        foreign_keys=[("scan_id", "scans", "id")],
    )
    db.table("input_errors").create_index(["scan_id", "line"], unique=True)
    db.table("domains").create(
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
    db.table("domains").create_index(["scan_id", "domain"], unique=True)
    db.table("domains").create_index(["scan_id", "region"])
    db.table("addresses").create(
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
    db.table("domain_addresses").create(
        {"domain_id": int, "scan_id": int, "domain": str, "address": str, "view": str},
        foreign_keys=[*child, ("address", "addresses", "address")],
    )
    db.table("dns_answers").create(
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
    db.table("dns_failures").create(
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
    db.table("fetches").create(
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
    db.table("numbers").create(
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
    db.table("numbers").create_index(["scan_id", "number"])
    db.table("findings").create(
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
    db.table("findings").create_index(["scan_id", "code"])
    for table in ("domain_addresses", "dns_answers", "dns_failures", "numbers", "findings"):
        db.table(table).create_index(["domain_id"])


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
        _use_wal(db)
        db.execute("PRAGMA synchronous = NORMAL")
        if migrations.pending(db):
            # One process migrates; another opening the file at the same moment waits for the
            # lock, then finds nothing left to do (sqlite-utils nests its own transactions as
            # savepoints). Deferred transactions would race and fail at once with "locked".
            with transaction(db):
                migrations.apply(db)
    except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
        raise StoreError(f"cannot use database {path}: {_explain(exc)}") from exc
    return db


def _use_wal(db: sqlite_utils.Database) -> None:
    """Switch a new database to WAL. The switch needs the file to itself and SQLite answers
    "locked" at once instead of waiting (no busy handler), so a process racing another one
    that is creating the same file tries again until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


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
                dumps(options),
                __version__,
                SCHEMA_VERSION,
                dumps(data_versions or {}),
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


# -- results -----------------------------------------------------------------------------------

_SEVERITY_ORDER = ("info", "low", "medium", "high")


def max_severity(findings: list[dict[str, Any]]) -> str | None:
    ranks = [_SEVERITY_ORDER.index(f["severity"]) for f in findings]
    return _SEVERITY_ORDER[max(ranks)] if ranks else None


def _flag(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def write_results(
    db: sqlite_utils.Database, scan_id: int, records: Sequence[dict[str, Any]]
) -> int:
    """Store result records (``DomainResult`` JSON) and mark their targets done, atomically.

    A domain already stored for this scan is skipped (at-least-once delivery upstream, exactly
    once here). Returns how many records were new.
    """
    written = 0
    now = utcnow()
    with transaction(db):
        for record in records:
            if _write_one(db, scan_id, record, now):
                written += 1
        db.conn.executemany(
            "UPDATE targets SET state = 'done' WHERE scan_id = ? AND domain = ?",
            [(scan_id, r["domain"]) for r in records],
        )
    return written


def _write_one(db: sqlite_utils.Database, scan_id: int, record: dict[str, Any], now: str) -> bool:
    hosting = record.get("hosting") or {}
    fetch = record.get("fetch") or {}
    findings = record.get("findings") or []
    numbers = record.get("numbers") or []
    domain = record["domain"]
    cdn = hosting.get("cdn") or {}
    error = fetch.get("error") or {}
    cursor = db.execute(
        "INSERT OR IGNORE INTO domains (scan_id, domain, display, line, region, confidence,"
        " provider, cdn, reached, status, final_url, final_registrable_domain, error_kind,"
        " encoding, numbers_count, findings_count, max_severity, finding_codes, scanned_at,"
        " record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            scan_id,
            domain,
            record.get("display") or domain,
            record.get("line"),
            hosting.get("region"),
            hosting.get("confidence"),
            hosting.get("provider"),
            cdn.get("name"),
            _flag(fetch.get("reached")),
            fetch.get("status"),
            fetch.get("final_url"),
            fetch.get("final_registrable_domain"),
            error.get("kind"),
            record.get("encoding"),
            len(numbers),
            len(findings),
            max_severity(findings),
            " ".join(sorted({f["code"] for f in findings})),
            now,
            dumps(record),
        ],
    )
    if cursor.rowcount == 0:
        return False
    domain_id = cursor.lastrowid
    key = (domain_id, scan_id, domain)
    _write_hosting(db, key, hosting, scan_id, now)
    _write_fetch(db, key, fetch)
    db.conn.executemany(
        "INSERT INTO numbers (domain_id, scan_id, domain, kind, number, raw, province_code,"
        " province, valid, placeholder, linked, href, location, own, site_index, problems)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                *key,
                n["kind"],
                n["number"],
                n.get("raw"),
                (n.get("province") or {}).get("code"),
                (n.get("province") or {}).get("name"),
                _flag(n.get("valid")),
                _flag(n.get("placeholder")),
                _flag(n.get("linked")),
                n.get("href"),
                n.get("location"),
                _flag(n.get("own")),
                n.get("site_index"),
                dumps(n.get("problems") or []),
            )
            for n in numbers
        ],
    )
    insert_findings(db, key, findings)
    return True


def insert_findings(
    db: sqlite_utils.Database, key: tuple[int | None, int, str], findings: list[dict[str, Any]]
) -> None:
    db.conn.executemany(
        "INSERT INTO findings (domain_id, scan_id, domain, code, severity, message, evidence)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (*key, f["code"], f["severity"], f.get("message"), dumps(f.get("evidence") or {}))
            for f in findings
        ],
    )


def _write_hosting(
    db: sqlite_utils.Database,
    key: tuple[int | None, int, str],
    hosting: dict[str, Any],
    scan_id: int,
    now: str,
) -> None:
    infos = hosting.get("address_info") or []
    db.conn.executemany(
        "INSERT INTO addresses (address, version, region, confidence, special, asn, asn_name,"
        " asn_country, registry, prefix, allocated, country, provider, evidence, last_scan_id,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(address) DO UPDATE SET version = excluded.version,"
        " region = excluded.region, confidence = excluded.confidence,"
        " special = excluded.special, asn = excluded.asn, asn_name = excluded.asn_name,"
        " asn_country = excluded.asn_country, registry = excluded.registry,"
        " prefix = excluded.prefix, allocated = excluded.allocated,"
        " country = excluded.country, provider = excluded.provider,"
        " evidence = excluded.evidence, last_scan_id = excluded.last_scan_id,"
        " updated_at = excluded.updated_at",
        [
            (
                i["address"],
                i.get("version"),
                i.get("region"),
                i.get("confidence"),
                i.get("special"),
                i.get("asn"),
                i.get("asn_name"),
                i.get("asn_country"),
                i.get("registry"),
                i.get("prefix"),
                i.get("allocated"),
                i.get("country"),
                i.get("provider"),
                dumps(i.get("evidence") or []),
                scan_id,
                now,
            )
            for i in infos
        ],
    )
    rows = [(*key, address, "default") for address in hosting.get("addresses") or []]
    for view, summary in (hosting.get("views") or {}).items():
        rows.extend((*key, address, view) for address in summary.get("addresses") or [])
    db.conn.executemany(
        "INSERT INTO domain_addresses (domain_id, scan_id, domain, address, view)"
        " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM addresses WHERE address = ?)",
        [(*row, row[3]) for row in rows],
    )
    answers = [
        (
            *key,
            answer.get("view", "default"),
            answer["name"],
            answer["rtype"],
            value,
            answer.get("ttl"),
            dumps(answer.get("cnames") or []),
        )
        for answer in hosting.get("answers") or []
        for value in answer.get("records") or []
    ]
    db.conn.executemany(
        "INSERT INTO dns_answers (domain_id, scan_id, domain, view, name, rtype, value, ttl,"
        " cnames) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        answers,
    )
    db.conn.executemany(
        "INSERT INTO dns_failures (domain_id, scan_id, domain, view, name, rtype, error, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                *key,
                e.get("view", "default"),
                e.get("name"),
                e.get("rtype"),
                e.get("error"),
                e.get("detail"),
            )
            for e in hosting.get("errors") or []
        ],
    )


def _write_fetch(
    db: sqlite_utils.Database, key: tuple[int | None, int, str], fetch: dict[str, Any]
) -> None:
    if not fetch:
        return
    tls = fetch.get("tls") or {}
    headers = fetch.get("headers") or {}
    error = fetch.get("error") or {}
    db.execute(
        "INSERT INTO fetches (domain_id, scan_id, domain, reached, final_url, status,"
        " left_registrable_domain, address, peer, server, content_type, truncated, body_size,"
        " error_kind, error_detail, elapsed, tls_expired, tls_self_signed, tls_hostname_match,"
        " tls_trusted, tls_issuer, tls_not_after, chain, attempts, headers, tls)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            *key,
            _flag(fetch.get("reached")),
            fetch.get("final_url"),
            fetch.get("status"),
            _flag(fetch.get("left_registrable_domain")),
            fetch.get("address"),
            fetch.get("peer"),
            headers.get("server"),
            headers.get("content-type"),
            _flag(fetch.get("truncated")),
            fetch.get("body_size"),
            error.get("kind"),
            error.get("detail"),
            fetch.get("elapsed"),
            _flag(tls.get("expired")) if tls else None,
            _flag(tls.get("self_signed")) if tls else None,
            _flag(tls.get("hostname_match")) if tls else None,
            _flag(tls.get("trusted")) if tls else None,
            tls.get("issuer"),
            tls.get("not_after"),
            dumps(fetch.get("chain") or []),
            dumps(fetch.get("attempts") or []),
            dumps(headers),
            dumps(tls) if tls else None,
        ],
    )


# -- m002: filing records (issue 9) and the research views ------------------------------------

# Views answer the common research questions in plain SQL (Datasette lists them; the canned
# queries of datasette/metadata.json use them; docs/data-dictionary.md documents them). A
# number counts when it is own, shown (not only in a comment), valid and not a placeholder.
M002_VIEWS = {
    "mainland_without_number": """
SELECT d.scan_id, d.domain, d.display, d.region, d.provider, d.cdn, d.status, d.final_url,
       d.finding_codes
FROM domains d
WHERE d.reached = 1
  AND (d.region = 'mainland' OR (d.region = 'mixed' AND EXISTS (
        SELECT 1 FROM domain_addresses da JOIN addresses a ON a.address = da.address
        WHERE da.domain_id = d.id AND a.region = 'mainland')))
  AND NOT EXISTS (
        SELECT 1 FROM numbers n WHERE n.domain_id = d.id AND n.own = 1 AND n.valid = 1
        AND n.placeholder = 0 AND n.location != 'comment'
        AND n.kind IN ('icp_filing', 'icp_licence', 'telecom_licence'))
""",
    "shared_numbers": """
SELECT n.scan_id, n.number, n.kind, n.site_index IS NOT NULL AS website_number,
       count(DISTINCT coalesce(d.final_registrable_domain, d.domain)) AS sites,
       count(DISTINCT n.domain) AS domains,
       group_concat(DISTINCT n.domain) AS domain_list
FROM numbers n JOIN domains d ON d.id = n.domain_id
WHERE n.own = 1 AND n.valid = 1 AND n.placeholder = 0 AND n.location != 'comment'
  AND n.kind IN ('icp_filing', 'icp_licence', 'telecom_licence')
GROUP BY n.scan_id, n.number
HAVING count(DISTINCT coalesce(d.final_registrable_domain, d.domain)) > 1
""",
    "changes_between_last_two_scans": """
WITH last AS (SELECT id FROM scans WHERE status = 'finished' ORDER BY id DESC LIMIT 2),
pair AS (SELECT min(id) AS a, max(id) AS b FROM last),
shown AS (
  SELECT domain_id, group_concat(number, ' ') AS numbers FROM (
    SELECT DISTINCT domain_id, number FROM numbers
    WHERE scan_id IN (SELECT id FROM last) AND own = 1 AND valid = 1 AND placeholder = 0
      AND location != 'comment' AND kind IN ('icp_filing', 'icp_licence', 'telecom_licence')
    ORDER BY domain_id, number)
  GROUP BY domain_id),
side AS (
  SELECT d.scan_id, d.domain, d.region, d.cdn, d.reached, d.finding_codes,
         coalesce(s.numbers, '') AS numbers
  FROM domains d LEFT JOIN shown s ON s.domain_id = d.id
  WHERE d.scan_id IN (SELECT id FROM last)),
a AS (SELECT * FROM side WHERE scan_id = (SELECT a FROM pair)),
b AS (SELECT * FROM side WHERE scan_id = (SELECT b FROM pair)),
joined AS (
  SELECT coalesce(a.domain, b.domain) AS domain, a.domain IS NOT NULL AS in_a,
         b.domain IS NOT NULL AS in_b, a.region AS region_a, b.region AS region_b,
         a.numbers AS numbers_a, b.numbers AS numbers_b, a.cdn AS cdn_a, b.cdn AS cdn_b,
         a.reached AS reached_a, b.reached AS reached_b,
         a.finding_codes AS findings_a, b.finding_codes AS findings_b
  FROM a LEFT JOIN b ON b.domain = a.domain
  UNION ALL
  SELECT b.domain, 0, 1, NULL, b.region, NULL, b.numbers, NULL, b.cdn, NULL, b.reached,
         NULL, b.finding_codes
  FROM b WHERE b.domain NOT IN (SELECT domain FROM a)),
changes AS (
  SELECT *, trim(
    CASE WHEN NOT in_b THEN 'removed ' WHEN NOT in_a THEN 'added ' ELSE
      CASE WHEN numbers_a = '' AND numbers_b != '' THEN 'number_appeared '
           WHEN numbers_a != '' AND numbers_b = '' THEN 'number_disappeared '
           WHEN numbers_a != numbers_b THEN 'number_changed ' ELSE '' END ||
      CASE WHEN region_a IS region_b THEN ''
           WHEN region_b = 'mainland' THEN 'moved_into_mainland '
           WHEN region_a = 'mainland' THEN 'moved_out_of_mainland '
           ELSE 'region_changed ' END ||
      CASE WHEN cdn_a IS NOT cdn_b THEN 'cdn_changed ' ELSE '' END ||
      CASE WHEN reached_a = 1 AND reached_b IS NOT 1 THEN 'became_unreachable '
           WHEN reached_a IS NOT 1 AND reached_b = 1 THEN 'became_reachable ' ELSE '' END ||
      CASE WHEN coalesce(findings_a, '') != coalesce(findings_b, '') THEN 'findings_changed '
           ELSE '' END
    END) AS changes
  FROM joined)
SELECT (SELECT a FROM pair) AS scan_a, (SELECT b FROM pair) AS scan_b, domain, changes,
       region_a, region_b, numbers_a, numbers_b, cdn_a, cdn_b, reached_a, reached_b,
       findings_a, findings_b
FROM changes WHERE changes != '' ORDER BY domain
""",
    "domain_records": """
SELECT l.source, l.kind, l.query, l.status, l.fetched_at, l.scan_id, r.domain, r.entity_name,
       r.entity_type, r.entity_number, r.site_number, r.site_name, r.content_types,
       r.approval_time, r.limit_access
FROM record_lookups l LEFT JOIN filing_records r ON r.lookup_id = l.id
""",
}


@migrations()
def m002_filing_records_and_views(db: sqlite_utils.Database) -> None:
    db.table("record_lookups").create(
        {
            "id": int,
            "source": str,  # "file:records.csv", "service:NAME"
            "kind": str,  # "domain" | "number"
            "query": str,  # the registrable domain, or the number asked about
            "status": str,  # "found" | "none" (none = negative cache)
            "record_count": int,
            "fetched_at": str,
            "scan_id": int,  # the scan that first consulted the answer
        },
        pk="id",
        foreign_keys=[("scan_id", "scans", "id")],
    )
    db.table("record_lookups").create_index(["source", "kind", "query", "fetched_at"], unique=True)
    db.table("filing_records").create(
        {
            "id": int,
            "lookup_id": int,
            "domain": str,
            "entity_name": str,
            "entity_type": str,
            "entity_number": str,
            "site_number": str,
            "site_name": str,
            "content_types": str,  # JSON list
            "approval_time": str,
            "limit_access": int,
            "source": str,
            "fetched_at": str,
        },
        pk="id",
        foreign_keys=[("lookup_id", "record_lookups", "id")],
    )
    for columns in (["lookup_id"], ["domain"], ["entity_number"], ["site_number"]):
        db.table("filing_records").create_index(columns)
    db.table("record_service_slots").create({"service": str, "next_at": float}, pk="service")
    for name, sql in M002_VIEWS.items():
        db.execute(f"CREATE VIEW {name} AS {sql}")
