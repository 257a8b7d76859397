"""A scan worker process: claim domains from the SQLite queue, locate, fetch, judge, store.

One Scrapy process is bound by one core, so ``icpscan scan`` runs one worker per core over the
shared queue in the database (:mod:`icpscan.store`). Each worker:

* claims a batch of pending targets, resolves and classifies them (``icpscan.locate``) and hands
  them to the homepage spider as fetch jobs pinned to the classified address;
* turns every fetched page into a :class:`~icpscan.models.DomainResult` (pure extraction and
  assessment, :mod:`icpscan.pipeline`);
* writes results in batches, each batch in one transaction that also marks its targets done:
  killed at any moment, a worker loses only uncommitted work, which a resumed scan redoes.

Run as ``python -m icpscan.worker CONFIG.json WORKER-NAME`` (the scan command does this).
"""

from __future__ import annotations

# A worker process keeps unused heavy modules out before it imports the rest (icpscan.lean).
if __name__ == "__main__":
    from icpscan.lean import keep_unused_heavy_modules_out

    keep_unused_heavy_modules_out()

import asyncio
import contextlib
import dataclasses
import datetime
import json
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from icpscan import store
from icpscan.assess import ExpectedFilings
from icpscan.expected import read_expected
from icpscan.locate import LocateConfig, Locator
from icpscan.models import (
    DomainResult,
    Extraction,
    FetchedPage,
    FetchError,
    FetchErrorKind,
    HostingVerdict,
    RecordCheck,
)
from icpscan.pipeline import (
    build_result,
    dns_failure_detail,
    fetch_pins,
    page_extraction,
    site_facts,
    unresolved_verdict,
)
from icpscan.resolve import Nameserver, Vantage

if TYPE_CHECKING:
    from icpscan.crawl.connect_to import ConnectionOverrides

log = logging.getLogger("icpscan.worker")

EXIT_STORAGE = 3  # the dataset cannot be written: the scan stops instead of restarting us
CLAIM_BATCH = 64
FLUSH_RECORDS = 200
FLUSH_SECONDS = 1.0
IDLE_POLL_SECONDS = 0.2


@dataclass
class ScanConfig:
    """Everything a worker needs, serialisable to JSON (the parent writes it for its workers)."""

    db: str
    scan_id: int
    nameservers: list[str] = field(default_factory=list)
    dns_timeout: float = 3.0
    dns_retries: int = 2
    dns_concurrency: int = 64
    vantages: list[str] = field(default_factory=list)
    with_ns: bool = False
    asn: bool = True
    ranges_file: str | None = None
    data_dir: str | None = None
    rdap_url: str | None = None
    connect_to: list[str] = field(default_factory=list)
    resolve: list[str] = field(default_factory=list)
    ca_bundle: str | None = None
    allow_private: bool = False
    download_timeout: float = 20.0
    max_page_bytes: int = 2 * 1024 * 1024
    max_redirects: int = 10
    concurrent_requests: int = 256
    per_host_requests: int = 2
    obey_robots: bool = False
    user_agent: str | None = None
    expected_file: str | None = None
    records_file: str | None = None  # filing records export (--records)
    record_service: str | None = None  # lookup service configuration (--record-service)
    today: str | None = None  # ISO date the numbers' years are judged against
    log_level: str = "ERROR"
    # A worker stops claiming after this many domains, finishes them and exits; the scan starts
    # a fresh one (0 = never). A crawler's native heap (OpenSSL, zlib, allocator fragmentation)
    # grows over tens of thousands of fetches while its Python objects stay flat; a new process
    # every 5,000 domains (its start costs ~1 s of CPU, the domains ~30 s) keeps memory flat.
    retire_after: int = 5_000

    def to_file(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def from_file(cls, path: Path) -> ScanConfig:
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def crawl_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "ICPSCAN_NAMESERVERS": self.nameservers,
            "ICPSCAN_CONNECT_TO": self.connect_to,
            "ICPSCAN_RESOLVE": self.resolve,
            "ICPSCAN_ALLOW_PRIVATE": self.allow_private,
            "ICPSCAN_MAX_PAGE_BYTES": self.max_page_bytes,
            "ICPSCAN_MAX_REDIRECTS": self.max_redirects,
            "ICPSCAN_DNS_TIMEOUT": self.dns_timeout * (self.dns_retries + 1),
            "DOWNLOAD_TIMEOUT": self.download_timeout,
            "CONCURRENT_REQUESTS": self.concurrent_requests,
            "CONCURRENT_REQUESTS_PER_DOMAIN": self.per_host_requests,
            "ROBOTSTXT_OBEY": self.obey_robots,
            "LOG_LEVEL": self.log_level,
        }
        if self.ca_bundle:
            settings["ICPSCAN_CA_BUNDLE"] = self.ca_bundle
        if self.user_agent:
            settings["USER_AGENT"] = self.user_agent
        return settings

    def locate_config(self) -> LocateConfig:
        return LocateConfig(
            nameservers=[Nameserver.parse(n) for n in self.nameservers],
            timeout=self.dns_timeout,
            retries=self.dns_retries,
            concurrency=self.dns_concurrency,
            vantages=[Vantage.parse(v) for v in self.vantages],
            with_ns=self.with_ns,
            asn=self.asn,
            ranges_file=self.ranges_file,
            data_dir=self.data_dir,
            rdap_url=self.rdap_url,
        )


PARENT_PID_ENV = "ICPSCAN_PARENT_PID"  # set by the process that starts a worker


def expected_parent() -> int:
    """The pid of the process that started this worker (getppid() if it did not say)."""
    try:
        return int(os.environ[PARENT_PID_ENV])
    except (KeyError, ValueError):
        return os.getppid()


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when the scan process dies (no orphans writing on).

    A parent killed while this worker was still importing is already gone when the request is
    made: the worker was adopted by init and nothing would stop it. It exits at once instead.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the parent-pid check below still applies
        pass
    if os.getppid() != expected_parent():
        os._exit(0)


class ResultSink:
    """Builds each domain's record and delivers them in batches.

    :meth:`deliver` writes a batch to the SQLite dataset in one transaction that also marks the
    batch's targets done; the distributed worker overrides it to hand records to its collector.
    """

    def __init__(self, config: ScanConfig, expected: ExpectedFilings | None) -> None:
        self.config = config
        self.expected = expected
        self.today = datetime.date.fromisoformat(config.today) if config.today else None
        self.pending: list[dict[str, Any]] = []
        self.last_flush = time.monotonic()
        self.written = 0
        self.records = self._record_stage()

    def _record_stage(self) -> Any:
        """Filing-record lookups (--records / --record-service), or None."""
        from icpscan.records.scan import RecordStage, open_source

        source = open_source(
            self.config.records_file, self.config.record_service, self.record_db_path()
        )
        return RecordStage(source) if source is not None else None

    def record_db_path(self) -> str | None:
        """Database a lookup service shares its rate limit and cache through (None: memory)."""
        return None

    def add(self, page: FetchedPage) -> None:
        try:
            extraction = page_extraction(page, self.today)
        except Exception as exc:  # a bug may cost a domain its page, never its record
            self._append(self._failed(page, exc))
            return
        if self.records is not None:
            facts = site_facts(page.context["verdict"], page.result, extraction)
            if self.records.start(page, extraction, facts) is not None:
                self._collect_records()  # a file source answers at once
                return
            self._build(page, extraction, self.records.skipped())
            return
        self._build(page, extraction, None)

    def _build(
        self, page: FetchedPage, extraction: Extraction, records: RecordCheck | None
    ) -> None:
        try:
            result = self._judge(page, extraction, records)
        except Exception as exc:  # a bug may cost a domain its page, never its record
            result = self._failed(page, exc)
        self._append(result)

    def _append(self, result: DomainResult) -> None:
        self.pending.append(result.to_json())
        if (
            len(self.pending) >= FLUSH_RECORDS
            or time.monotonic() - self.last_flush >= FLUSH_SECONDS
        ):
            self.flush()

    def _failed(self, page: FetchedPage, exc: Exception) -> DomainResult:
        """The record of a domain whose page broke the judging: an error, never a lost row."""
        log.exception("judging %s failed", page.context.get("target"))
        detail = f"internal error processing the page: {exc!r}"[:300]
        failed = dataclasses.replace(
            page.result, reached=False, error=FetchError(FetchErrorKind.OTHER, detail)
        )
        empty = FetchedPage(failed, b"", None, page.context)
        return self._judge(empty, page_extraction(empty, self.today), None)

    def _judge(
        self, page: FetchedPage, extraction: Extraction, records: RecordCheck | None
    ) -> DomainResult:
        context = page.context
        verdict: HostingVerdict = context["verdict"]
        return build_result(
            domain=context["target"],
            display=context["display"],
            line=context["line"],
            verdict=verdict,
            page=page,
            expected=self.expected,
            today=self.today,
            scan_id=self.config.scan_id,
            records=records,
            extraction=extraction,
        )

    def _collect_records(self, wait: bool = False) -> None:
        if self.records is not None:
            for item, check in self.records.ready(wait):
                self._build(item.page, item.extraction, check)

    def backlogged(self) -> bool:
        """True while too many domains wait for a record lookup (stop claiming more)."""
        return self.records is not None and self.records.backlogged

    def flush(self) -> None:
        self._collect_records()
        if self.pending:
            self.written += self.deliver(self.pending)
            self.pending = []
            if self.records is not None:
                self.deliver_record_answers(self.records.take_answers())
        self.last_flush = time.monotonic()

    def finish(self) -> None:
        """Wait for outstanding record lookups, deliver everything, release the source."""
        self._collect_records(wait=True)
        self.flush()
        if self.records is not None:
            self.records.close()

    def deliver(self, records: list[dict[str, Any]]) -> int:
        raise NotImplementedError

    def deliver_record_answers(self, answers: list[Any]) -> None:
        """Keep the record-source answers behind delivered results (the dataset's cache)."""


class SqliteResultSink(ResultSink):
    def __init__(self, config: ScanConfig, expected: ExpectedFilings | None) -> None:
        super().__init__(config, expected)
        self.db = store.open_db(config.db, create=False)

    def deliver(self, records: list[dict[str, Any]]) -> int:
        try:
            return store.write_results(self.db, self.config.scan_id, records)
        except sqlite3.Error as exc:  # raised inside Scrapy's item signal, which would log it
            storage_failed(self.config.db, exc)

    def record_db_path(self) -> str | None:
        return self.config.db

    def deliver_record_answers(self, answers: list[Any]) -> None:
        from icpscan.records.scan import store_answers

        if self.records is not None:
            store_answers(self.db.conn, self.records.source.name, answers, self.config.scan_id)


class JobSource:
    """The spider's input: claimed targets, located, as fetch jobs pinned to their address.

    Subclasses say where targets come from (:meth:`claim`) and when there will be no more
    (:meth:`exhausted`); locating and job building are shared.
    """

    def __init__(self, config: ScanConfig, worker: str, sink: ResultSink) -> None:
        self.config = config
        self.worker = worker
        self.sink = sink
        self.parent = expected_parent()

    def claim(self, limit: int) -> list[store.QueuedTarget]:
        raise NotImplementedError

    def exhausted(self) -> bool:
        raise NotImplementedError

    def alive(self) -> bool:
        """False once the process that started this worker is gone (stop taking work)."""
        return os.getppid() == self.parent

    async def jobs(self) -> AsyncIterator[dict[str, Any]]:
        locator = Locator(self.config.locate_config())
        claimed = 0
        retire_after = self.config.retire_after
        try:
            while self.alive():
                if retire_after and claimed >= retire_after:
                    log.info("retiring after %d domains", claimed)
                    return
                if self.sink.backlogged():  # record lookups lag: let them catch up
                    self.sink.flush()
                    await asyncio.sleep(IDLE_POLL_SECONDS)
                    continue
                limit = min(CLAIM_BATCH, retire_after - claimed) if retire_after else CLAIM_BATCH
                batch = self.claim(limit)
                claimed += len(batch)
                if not batch:
                    self.sink.flush()  # don't sit on results while waiting for input
                    if self.exhausted():
                        return
                    await asyncio.sleep(IDLE_POLL_SECONDS)
                    continue
                for job in await self._locate(locator, batch):
                    page = self._unreachable(job)
                    if page is not None:  # no address: the crawl would only fail slower
                        self.sink.add(page)
                        continue
                    yield job
        finally:
            await locator.close()

    @cached_property
    def _resolve_pins(self) -> ConnectionOverrides:
        from icpscan.crawl.connect_to import ConnectionOverrides

        return ConnectionOverrides.parse([], self.config.resolve)

    def _unreachable(self, job: dict[str, Any]) -> FetchedPage | None:
        """The DNS-failure record of a job without any address (unless --resolve pins it)."""
        from icpscan.crawl.job import FetchJob, unreached_result

        if job["address"] or job["pins"]:
            return None
        pins = self._resolve_pins
        domain = job["domain"]
        if any(pins.pinned_addresses(h, p) for h in (domain, f"www.{domain}") for p in (80, 443)):
            return None
        fetch_job = FetchJob.from_value(job)
        error = FetchError(FetchErrorKind.DNS, dns_failure_detail(job["verdict"]))
        return FetchedPage(unreached_result(fetch_job, error), b"", None, fetch_job.context)

    async def _locate(
        self, locator: Locator, batch: list[store.QueuedTarget]
    ) -> list[dict[str, Any]]:
        async def one(target: store.QueuedTarget) -> dict[str, Any]:
            try:
                verdict = await locator.locate_one(target.domain)
            except Exception as exc:  # a scan goes on past one bad domain
                log.exception("locating %s failed", target.domain)
                verdict = unresolved_verdict(target.domain, repr(exc))
            address, pins = fetch_pins(verdict)
            return {
                "domain": target.domain,
                "address": address,
                "pins": pins,
                "target": target.domain,
                "display": target.display,
                "line": target.line,
                "verdict": verdict,
            }

        return list(await asyncio.gather(*(one(t) for t in batch)))


class SqliteJobSource(JobSource):
    """Targets claimed from the scan's queue in the SQLite dataset."""

    def __init__(self, config: ScanConfig, worker: str, sink: ResultSink) -> None:
        super().__init__(config, worker, sink)
        self.db = store.open_db(config.db, create=False)

    def claim(self, limit: int) -> list[store.QueuedTarget]:
        try:
            return store.claim_targets(self.db, self.config.scan_id, self.worker, limit)
        except sqlite3.Error as exc:
            storage_failed(self.config.db, exc)

    def exhausted(self) -> bool:
        try:
            scan = store.get_scan(self.db, self.config.scan_id)
            if not (scan and scan["input_complete"]):
                return False
            return store.queue_counts(self.db, self.config.scan_id)["pending"] == 0
        except sqlite3.Error as exc:
            storage_failed(self.config.db, exc)


def run_worker(config: ScanConfig, source: JobSource, sink: ResultSink) -> int:
    """Work until ``source`` is exhausted; returns how many results ``sink`` delivered."""
    from icpscan.crawl import run_fetch

    run_fetch(source.jobs(), config.crawl_settings(), on_item=sink.add)
    sink.finish()
    return sink.written


def run_sqlite_worker(config: ScanConfig, worker: str) -> int:
    expected = read_expected(config.expected_file) if config.expected_file else None
    sink = SqliteResultSink(config, expected)
    return run_worker(config, SqliteJobSource(config, worker, sink), sink)


def storage_failure_file(config_path: Path, worker: str) -> Path:
    """Where a worker that cannot write the dataset leaves the reason for the scan process."""
    return config_path.with_name(f"{worker}.storage-error")


_failure_file: Path | None = None


def storage_failed(db: str, exc: BaseException) -> NoReturn:
    """The dataset cannot be written (disk full, read-only...): leave the reason and exit now.

    Nothing more can be stored, and SQLite has rolled the batch back, so the domains this worker
    holds go back to the queue; exiting at once (not through Scrapy, which would log the error
    and crawl on) lets the scan stop with one clear message.
    """
    message = str(store.write_failure(db, exc))
    try:
        if _failure_file is None:
            raise OSError("no file for the reason")
        _failure_file.write_text(message, encoding="utf-8")  # the scan prints it, once
    except OSError:
        with contextlib.suppress(OSError):
            sys.stderr.write(f"icpscan worker: {message}\n")
            sys.stderr.flush()
    os._exit(EXIT_STORAGE)


def main(argv: list[str] | None = None) -> int:
    global _failure_file
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m icpscan.worker CONFIG.json WORKER-NAME", file=sys.stderr)
        return 2
    die_with_parent()
    config = ScanConfig.from_file(Path(args[0]))
    _failure_file = storage_failure_file(Path(args[0]), args[1])
    try:
        run_sqlite_worker(config, args[1])
    except (sqlite3.Error, store.StoreError) as exc:
        storage_failed(config.db, exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
