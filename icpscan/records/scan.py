"""Records in a scan: open the configured source, and what the scan's records say overall.

Thin adapters between the worker (:mod:`icpscan.worker`) and the record sources; the rules
stay pure in :mod:`icpscan.reconcile`.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icpscan.assess import SiteFacts
from icpscan.models import Extraction, FetchedPage, RecordCheck
from icpscan.reconcile import records_wanted
from icpscan.records.cache import DatasetCache, save_answers
from icpscan.records.errors import RecordConfigError
from icpscan.records.file import FileRecordSource
from icpscan.records.limits import RateLimiter, SqliteRateLimiter
from icpscan.records.resolver import RecordResolver, Resolved
from icpscan.records.service import AnswerCache, HttpRecordSource, ServiceConfig
from icpscan.records.source import RecordAnswer, RecordSource, registrable_domain

MAX_WAITING = 256  # domains waiting for a lookup before the worker stops claiming more


def open_source(
    records_file: str | None, record_service: str | None, db_path: str | Path | None = None
) -> RecordSource | None:
    """The scan's record source (None when neither option is given).

    With ``db_path`` a lookup service shares its rate limit and its cache with every worker of
    the scan (and with later scans) through the database.
    """
    if records_file and record_service:
        raise RecordConfigError("use --records or --record-service, not both")
    if records_file:
        return FileRecordSource(records_file)
    if record_service:
        config = ServiceConfig.load(record_service)
        limiter: RateLimiter
        if db_path is not None:
            limiter = SqliteRateLimiter(db_path, config.source, config.interval)
            backing: Any = DatasetCache(db_path)
        else:
            limiter, backing = RateLimiter(config.interval), None
        cache = AnswerCache(config.cache_days, config.negative_cache_days, backing)
        return HttpRecordSource(config, limiter=limiter, cache=cache)
    return None


@dataclass
class Waiting:
    """A fetched page whose records are being looked up (its body already dropped)."""

    page: FetchedPage
    extraction: Extraction
    future: Future[Resolved]


class RecordStage:
    """The worker's record step: which domains need records, lookups, what to store."""

    def __init__(self, source: RecordSource) -> None:
        self.source = source
        self.resolver = RecordResolver(source)
        self.waiting: list[Waiting] = []
        self.answers: list[tuple[str, RecordAnswer]] = []  # to store with the next batch

    def skipped(self, domains: tuple[str, ...] = ()) -> RecordCheck:
        return RecordCheck(source=self.source.name, status="skipped", domains=domains)

    def start(self, page: FetchedPage, extraction: Extraction, facts: SiteFacts) -> Waiting | None:
        """Begin the lookup for a page, or None when no RECORD_* rule could fire."""
        if not records_wanted(facts):
            return None
        domains = [registrable_domain(facts.domain)]
        if page.result.final_registrable_domain:
            domains.append(page.result.final_registrable_domain)
        future = self.resolver.submit(domains, extraction.numbers)
        item = Waiting(dataclasses.replace(page, body=b""), extraction, future)
        self.waiting.append(item)
        return item

    def ready(self, wait: bool = False) -> list[tuple[Waiting, RecordCheck]]:
        """Lookups that finished (all of them with ``wait``), in the order they started."""
        done, still = [], []
        for item in self.waiting:
            if wait or item.future.done():
                resolved = item.future.result()
                self.answers.extend(resolved.answers)
                done.append((item, resolved.check))
            else:
                still.append(item)
        self.waiting = still
        return done

    @property
    def backlogged(self) -> bool:
        return len(self.waiting) >= MAX_WAITING

    def take_answers(self) -> list[tuple[str, RecordAnswer]]:
        answers, self.answers = self.answers, []
        return answers

    def close(self) -> None:
        self.resolver.close()


def store_answers(
    conn: sqlite3.Connection, source: str, answers: list[tuple[str, RecordAnswer]], scan_id: int
) -> int:
    """Keep the answers behind a batch of results in the dataset (one short transaction)."""
    if not answers:
        return 0
    for attempt in range(5):
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError:  # busy beyond the timeout: try again shortly
            if attempt == 4:
                raise
            time.sleep(0.5)
    try:
        added = save_answers(conn, source, answers, scan_id)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return added


def record_summary(conn: sqlite3.Connection, scan_id: int) -> dict[str, Any]:
    """How the scan's record lookups went: statuses, error kinds, RECORD_* findings."""
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    source = None
    for status, kind, name in conn.execute(
        "SELECT json_extract(record, '$.records.status'), json_extract(record,"
        " '$.records.error.kind'), json_extract(record, '$.records.source') FROM domains"
        " WHERE scan_id = ? AND json_extract(record, '$.records') IS NOT NULL",
        [scan_id],
    ):
        statuses[status] += 1
        if kind:
            errors[kind] += 1
        source = source or name
    findings = dict(
        conn.execute(
            "SELECT code, count(*) FROM findings WHERE scan_id = ? AND code LIKE 'RECORD\\_%'"
            " ESCAPE '\\' GROUP BY code ORDER BY code",
            [scan_id],
        ).fetchall()
    )
    return {
        "source": source,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "findings": findings,
    }


def summary_line(summary: dict[str, Any]) -> str | None:
    if summary["source"] is None:
        return None
    statuses = summary["statuses"]
    checked = sum(v for k, v in statuses.items() if k != "skipped")
    parts = [f"{statuses.get(k, 0)} {k}" for k in ("found", "none", "error") if statuses.get(k)]
    line = f"records: {checked} domains checked against {summary['source']}"
    if parts:
        line += " (" + ", ".join(parts) + ")"
    if summary["errors"]:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary["errors"].items()))
        line += f"; lookups failed: {kinds} — no RECORD_* finding for those domains"
    return line
