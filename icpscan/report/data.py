"""Readers for the report: what a scan found, read back from the SQLite dataset.

Every function here is one parameterised query against :mod:`icpscan.store`'s tables, so the
terminal summary, the files and the HTML report of a 100,000-domain scan cost a handful of
indexed aggregates and one streaming pass over the ``domains`` table, never a load of the
whole scan into memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils

from icpscan import store
from icpscan.extract.provinces import tables as province_tables
from icpscan.models import FINDING_CODES, Region, Severity

SEVERITIES: tuple[str, ...] = tuple(s.value for s in sorted(Severity, key=lambda s: s.rank))
"""Severities from the least to the most severe."""

REGIONS: tuple[str, ...] = tuple(r.value for r in Region)

# The severity of a stored max_severity as an SQL expression (higher = more severe).
_SEVERITY_RANK_SQL = (
    "CASE max_severity "
    + " ".join(f"WHEN '{name}' THEN {rank}" for rank, name in enumerate(SEVERITIES, start=1))
    + " ELSE 0 END"
)


def severity_rank(severity: str | None) -> int:
    """0 for none/unknown, then 1 (info) .. 4 (high)."""
    return SEVERITIES.index(severity) + 1 if severity in SEVERITIES else 0


class ReportError(Exception):
    """The scan asked for cannot be reported (unknown id, empty database)."""


@dataclass(frozen=True)
class ScanInfo:
    """The ``scans`` row: what was scanned, when, and how far it got."""

    id: int
    input: str | None
    status: str | None  # running | finished | interrupted
    started_at: str | None
    finished_at: str | None
    icpscan_version: str | None
    schema_version: str | None
    input_complete: bool
    input_lines: int
    invalid_lines: int
    duplicate_lines: int

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (None while unfinished or when a time is unreadable)."""
        try:
            start = datetime.fromisoformat(self.started_at or "")
            end = datetime.fromisoformat(self.finished_at or "")
        except ValueError:
            return None
        return max(0.0, (end - start).total_seconds())


@dataclass(frozen=True)
class CodeCount:
    code: str
    severity: str
    findings: int
    domains: int

    @property
    def meaning(self) -> str:
        spec = FINDING_CODES.get(self.code)
        return spec.meaning if spec else ""


@dataclass(frozen=True)
class ProvinceCount:
    """Domains showing an own number issued under one province's prefix."""

    code: str
    name: str
    name_en: str
    domains: int
    numbers: int  # distinct numbers


@dataclass(frozen=True)
class FetchTiming:
    fetched: int  # domains with a fetch record
    mean: float | None  # seconds per homepage
    longest: float | None


@dataclass(frozen=True)
class ScanSummary:
    """Every count the end-of-scan summary and the report header show."""

    scan: ScanInfo
    domains: int  # domains stored
    queued: int  # targets queued (input after dedupe)
    pending: int  # queued targets not stored yet (an unfinished scan)
    reached: int
    unreached: int
    regions: dict[str, int]  # region -> domains, in Region order, non-zero only
    findings: int
    domains_with_findings: int
    severities: dict[str, int]  # severity -> findings, most severe first, non-zero only
    domains_by_severity: dict[str, int]  # worst severity of a domain -> domains
    codes: tuple[CodeCount, ...]  # most severe first, then most frequent
    provinces: tuple[ProvinceCount, ...]  # most domains first
    numbers_by_kind: dict[str, int]  # kind -> domains showing an own number of that kind
    fetch_errors: dict[str, int]  # error kind -> unreached domains
    dns_errors: dict[str, int]  # DNS error -> domains
    input_errors: dict[str, int]  # reason -> invalid input lines
    timing: FetchTiming = field(default_factory=lambda: FetchTiming(0, None, None))

    @property
    def rate(self) -> float | None:
        """Domains per second over the whole scan (None while unfinished)."""
        duration = self.scan.duration
        return self.domains / duration if duration else None


def resolve_scan_id(db: sqlite_utils.Database, scan_id: int | None) -> int:
    """``scan_id`` if it exists, else the latest scan; :class:`ReportError` when there is none."""
    if scan_id is None:
        latest = store.latest_scan_id(db)
        if latest is None:
            raise ReportError("the database holds no scan yet")
        return latest
    if store.get_scan(db, scan_id) is None:
        ids = db.execute("SELECT min(id), max(id), count(*) FROM scans").fetchone()
        known = f"scans {ids[0]}..{ids[1]}" if ids[2] else "no scan yet"
        raise ReportError(f"no scan {scan_id} in the database ({known})")
    return scan_id


def scan_info(db: sqlite_utils.Database, scan_id: int) -> ScanInfo:
    row = store.get_scan(db, scan_id)
    if row is None:
        raise ReportError(f"no scan {scan_id} in the database")
    return ScanInfo(
        id=row["id"],
        input=row["input"],
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        icpscan_version=row["icpscan_version"],
        schema_version=row["schema_version"],
        input_complete=bool(row["input_complete"]),
        input_lines=row["input_lines"] or 0,
        invalid_lines=row["invalid_lines"] or 0,
        duplicate_lines=row["duplicate_lines"] or 0,
    )


def _pairs(db: sqlite_utils.Database, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in db.execute(sql, params).fetchall()]


def _ordered(counts: dict[str, int], order: tuple[str, ...]) -> dict[str, int]:
    """Known keys in ``order``, then unknown ones (a newer icpscan wrote them) by name."""
    known = [k for k in order if counts.get(k)]
    extra = sorted(k for k in counts if k not in order and counts[k])
    return {k: counts[k] for k in (*known, *extra)}


def domain_counts(db: sqlite_utils.Database, scan_id: int) -> tuple[int, int, int, int]:
    """(stored, reached, with findings, findings) for the scan."""
    row = db.execute(
        "SELECT count(*), coalesce(sum(reached = 1), 0),"
        " coalesce(sum(findings_count > 0), 0), coalesce(sum(findings_count), 0)"
        " FROM domains WHERE scan_id = ?",
        [scan_id],
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def region_counts(db: sqlite_utils.Database, scan_id: int) -> dict[str, int]:
    rows = _pairs(
        db,
        "SELECT coalesce(region, 'unknown'), count(*) FROM domains WHERE scan_id = ? GROUP BY 1",
        [scan_id],
    )
    return _ordered(dict(rows), REGIONS)


def severity_counts(db: sqlite_utils.Database, scan_id: int) -> dict[str, int]:
    """Worst severity per domain -> domains (domains without findings not counted)."""
    rows = _pairs(
        db,
        "SELECT max_severity, count(*) FROM domains"
        " WHERE scan_id = ? AND max_severity IS NOT NULL GROUP BY 1",
        [scan_id],
    )
    return _ordered(dict(rows), SEVERITIES[::-1])


def code_counts(db: sqlite_utils.Database, scan_id: int) -> tuple[CodeCount, ...]:
    rows = _pairs(
        db,
        "SELECT code, max(severity), count(*), count(DISTINCT domain_id) FROM findings"
        " WHERE scan_id = ? GROUP BY code",
        [scan_id],
    )
    counts = [
        CodeCount(code, severity, findings, domains) for code, severity, findings, domains in rows
    ]
    return tuple(sorted(counts, key=lambda c: (-severity_rank(c.severity), -c.findings, c.code)))


def province_counts(db: sqlite_utils.Database, scan_id: int) -> tuple[ProvinceCount, ...]:
    """Provinces of the numbers the sites show as their own (quoted examples excluded)."""
    rows = _pairs(
        db,
        "SELECT province_code, max(province), count(DISTINCT domain_id), count(DISTINCT number)"
        " FROM numbers WHERE scan_id = ? AND own = 1 AND province_code IS NOT NULL"
        " GROUP BY province_code",
        [scan_id],
    )
    by_code = province_tables().by_code
    counts = []
    for code, name, domains, numbers in rows:
        known = by_code.get(str(code))
        counts.append(
            ProvinceCount(
                code=str(code),
                name=str(name or (known.name if known else code)),
                name_en=known.name_en if known else "",
                domains=int(domains),
                numbers=int(numbers),
            )
        )
    return tuple(sorted(counts, key=lambda p: (-p.domains, p.code)))


def number_kind_counts(db: sqlite_utils.Database, scan_id: int) -> dict[str, int]:
    rows = _pairs(
        db,
        "SELECT kind, count(DISTINCT domain_id) FROM numbers WHERE scan_id = ? AND own = 1"
        " GROUP BY kind",
        [scan_id],
    )
    return _ordered(dict(rows), ("icp_filing", "icp_licence", "telecom_licence", "psb_filing"))


def fetch_error_counts(db: sqlite_utils.Database, scan_id: int) -> dict[str, int]:
    """Why domains were not reached: the fetch error kind (``not_fetched`` without a fetch)."""
    rows = _pairs(
        db,
        "SELECT coalesce(error_kind, CASE WHEN reached IS NULL THEN 'not_fetched'"
        " ELSE 'unknown' END), count(*) FROM domains"
        " WHERE scan_id = ? AND coalesce(reached, 0) = 0 GROUP BY 1",
        [scan_id],
    )
    return dict(sorted(rows, key=lambda kv: (-kv[1], kv[0])))


def dns_error_counts(db: sqlite_utils.Database, scan_id: int) -> dict[str, int]:
    rows = _pairs(
        db,
        "SELECT coalesce(error, 'error'), count(DISTINCT domain_id) FROM dns_failures"
        " WHERE scan_id = ? GROUP BY 1",
        [scan_id],
    )
    return dict(sorted(rows, key=lambda kv: (-kv[1], kv[0])))


def input_error_counts(db: sqlite_utils.Database, scan_id: int) -> dict[str, int]:
    rows = _pairs(
        db,
        "SELECT coalesce(reason, 'invalid'), count(*) FROM input_errors WHERE scan_id = ?"
        " GROUP BY 1",
        [scan_id],
    )
    return dict(sorted(rows, key=lambda kv: (-kv[1], kv[0])))


def fetch_timing(db: sqlite_utils.Database, scan_id: int) -> FetchTiming:
    row = db.execute(
        "SELECT count(*), avg(elapsed), max(elapsed) FROM fetches WHERE scan_id = ?", [scan_id]
    ).fetchone()
    return FetchTiming(int(row[0]), row[1], row[2])


def scan_summary(db: sqlite_utils.Database, scan_id: int) -> ScanSummary:
    """All the counts of one scan (raises :class:`ReportError` for an unknown id)."""
    info = scan_info(db, scan_id)
    stored, reached, with_findings, findings = domain_counts(db, scan_id)
    queue = store.queue_counts(db, scan_id)
    codes = code_counts(db, scan_id)
    return ScanSummary(
        scan=info,
        domains=stored,
        queued=max(sum(queue.values()), stored),
        pending=queue["pending"] + queue["claimed"],
        reached=reached,
        unreached=stored - reached,
        regions=region_counts(db, scan_id),
        findings=findings,
        domains_with_findings=with_findings,
        severities=_ordered(_sum_by_severity(codes), SEVERITIES[::-1]),
        domains_by_severity=severity_counts(db, scan_id),
        codes=codes,
        provinces=province_counts(db, scan_id),
        numbers_by_kind=number_kind_counts(db, scan_id),
        fetch_errors=fetch_error_counts(db, scan_id),
        dns_errors=dns_error_counts(db, scan_id),
        input_errors=input_error_counts(db, scan_id),
        timing=fetch_timing(db, scan_id),
    )


def _sum_by_severity(codes: tuple[CodeCount, ...]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for count in codes:
        totals[count.severity] = totals.get(count.severity, 0) + count.findings
    return totals


# -- records -----------------------------------------------------------------------------------


def iter_record_json(
    db: sqlite_utils.Database,
    scan_id: int,
    *,
    most_severe_first: bool = False,
    limit: int | None = None,
) -> Iterator[str]:
    """The stored JSON line of each domain, streamed: input order, or most severe first.

    ``most_severe_first`` orders by the worst finding of each domain (then input order): the
    order in which the HTML report fills its capped table.
    """
    order = f"{_SEVERITY_RANK_SQL} DESC, " if most_severe_first else ""
    sql = (
        "SELECT record FROM domains WHERE scan_id = ?"  # noqa: S608 - constant fragments only
        f" ORDER BY {order}line IS NULL, line, id"
    )
    params: list[Any] = [scan_id]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    cursor = db.conn.execute(sql, params)
    try:
        for (record,) in cursor:
            yield record
    finally:
        cursor.close()


def iter_records(
    db: sqlite_utils.Database,
    scan_id: int,
    *,
    most_severe_first: bool = False,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Each domain's record (``DomainResult`` JSON) as a dict, streamed in input order."""
    for line in iter_record_json(db, scan_id, most_severe_first=most_severe_first, limit=limit):
        yield json.loads(line)
