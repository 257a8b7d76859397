"""Orchestrate a scan: stream the input into the queue, run the workers, finish the dataset.

The parent process owns the scan row and the input; workers (:mod:`icpscan.worker`, one per
core) do the network work and write results. The parent streams the input into the ``targets``
queue while workers already claim from it, watches them (a dead worker's claims go back to the
queue and a new worker takes over), runs the scan-wide rules once every domain is stored, and
marks the scan finished. ``resume`` continues an interrupted scan where its queue stands.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlite_utils

from icpscan import egress, store
from icpscan.assess import SharedNumberCandidate, find_shared_numbers
from icpscan.models import FINDING_CODES, Severity, to_jsonable
from icpscan.targets import InvalidLine, TargetReader, read_targets
from icpscan.worker import EXIT_STORAGE, PARENT_PID_ENV, ScanConfig, storage_failure_file

ENQUEUE_BATCH = 2000
POLL_SECONDS = 0.25
MAX_WORKER_RESTARTS = 5


class ScanError(Exception):
    """The scan cannot start or continue (bad resume request, workers keep dying...)."""


@dataclass
class ScanRequest:
    input: str  # a path, or "-" for stdin
    config: ScanConfig  # scan_id is filled in by run_scan
    workers: int = 1
    column: str | None = None
    input_format: Literal["auto", "text", "csv"] = "auto"
    resume: bool = False
    resume_scan_id: int | None = None
    loopback_only: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # recorded in the scan row


@dataclass
class Progress:
    queued: int = 0
    done: int = 0
    invalid: int = 0
    input_complete: bool = False


@dataclass
class ScanOutcome:
    scan_id: int
    done: int
    invalid: int
    duplicates: int
    resumed: bool


ProgressCallback = Callable[[Progress], None]
InvalidCallback = Callable[[InvalidLine], None]


# -- input loading -----------------------------------------------------------------------------


class _Loader(threading.Thread):
    """Streams the input into the queue in batches (its own database connection)."""

    def __init__(
        self,
        request: ScanRequest,
        scan_id: int,
        skip_through_line: int,
        on_invalid: InvalidCallback | None,
    ) -> None:
        super().__init__(name="icpscan-loader", daemon=True)
        self.request = request
        self.scan_id = scan_id
        self.skip_through_line = skip_through_line
        self.on_invalid = on_invalid
        self.error: BaseException | None = None
        self.reader = read_targets(
            request.input, column=request.column, input_format=request.input_format
        )

    def run(self) -> None:
        try:
            self._load()
        except BaseException as exc:  # reported by the parent
            self.error = exc

    def _load(self) -> None:
        db = store.open_db(self.request.config.db, create=False)
        for batch in input_batches(self.reader, self.skip_through_line, self.on_invalid):
            store.enqueue_targets(
                db, self.scan_id, batch.targets, batch.invalid, lines_read=batch.lines_read
            )
        store.mark_input_complete(db, self.scan_id)
        db.conn.close()


@dataclass
class InputBatch:
    targets: list[tuple[str, str, int | None]]  # (domain, display form, line)
    invalid: list[tuple[int, str, str, str]]  # (line, raw, reason, message)
    lines_read: int


def input_batches(
    reader: TargetReader, skip_through_line: int, on_invalid: InvalidCallback | None
) -> Iterator[InputBatch]:
    """The input past ``skip_through_line`` (what a resumed scan already queued), in batches of
    ENQUEUE_BATCH lines; the last batch, perhaps empty, carries the final line count."""
    targets: list[tuple[str, str, int | None]] = []
    invalid: list[tuple[int, str, str, str]] = []
    last_line = skip_through_line
    with reader:
        for item in reader:
            if item.line <= skip_through_line:
                continue
            last_line = max(last_line, item.line)
            if isinstance(item, InvalidLine):
                invalid.append((item.line, item.raw, str(item.reason), item.message))
                if on_invalid is not None:
                    on_invalid(item)
            else:
                targets.append((item.domain, item.display, item.line))
            if len(targets) + len(invalid) >= ENQUEUE_BATCH:
                yield InputBatch(targets, invalid, last_line)
                targets, invalid = [], []
    yield InputBatch(targets, invalid, last_line)


# -- workers -----------------------------------------------------------------------------------


class _Workers:
    def __init__(self, config_path: Path, count: int, env: dict[str, str]) -> None:
        self.config_path = config_path
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts = 0
        self.idle_restarts = 0  # restarts after which no domain was stored
        self.done_at_last_start = -1
        for index in range(count):
            self.start(f"w{index}")

    def start(self, name: str) -> None:
        self.procs[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "icpscan.worker", str(self.config_path), name],
            env={**self.env, PARENT_PID_ENV: str(os.getpid())},
            stdin=subprocess.DEVNULL,
        )

    def successor(self, name: str) -> str:
        """The next generation's name (w0 -> w0.1 -> w0.2): claims tell who scanned what."""
        base, _, generation = name.partition(".")
        return f"{base}.{int(generation or 0) + 1}"

    def poll(self) -> tuple[list[str], list[str]]:
        """Names of workers that finished cleanly and that died, since the last poll."""
        finished: list[str] = []
        died: list[str] = []
        for name, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.procs[name]
            if code == EXIT_STORAGE:
                raise self.storage_failure(name)
            (finished if code == 0 else died).append(name)
        return finished, died

    def storage_failure(self, name: str) -> store.StoreError:
        """The reason a worker could not write the dataset (it left it in a file)."""
        try:
            reason = storage_failure_file(self.config_path, name).read_text(encoding="utf-8")
        except OSError:
            reason = "a scan worker could not write to the database"
        return store.StoreError(reason.strip())

    def stop(self, grace: float = 3.0) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


def _release_worker_claims(db: sqlite_utils.Database, scan_id: int, worker: str) -> None:
    with store.transaction(db):
        db.execute(
            "UPDATE targets SET state = 'pending', worker = NULL"
            " WHERE scan_id = ? AND worker = ? AND state = 'claimed'",
            [scan_id, worker],
        )


# -- scan-wide rules ---------------------------------------------------------------------------


def apply_scan_wide_findings(db: sqlite_utils.Database, scan_id: int) -> int:
    """NUMBER_SHARED over the whole scan; updates findings rows and records. Idempotent."""
    rows = db.execute(
        "SELECT n.domain, n.number, coalesce(d.final_registrable_domain, n.domain)"
        " FROM numbers n JOIN domains d ON d.id = n.domain_id"
        " WHERE n.scan_id = ? AND n.kind = 'icp_filing' AND n.own = 1"
        " AND n.location != 'comment' AND n.valid = 1 AND n.placeholder = 0"
        " AND n.site_index IS NOT NULL AND n.number IN ("
        "  SELECT number FROM numbers WHERE scan_id = ? AND kind = 'icp_filing'"
        "  AND site_index IS NOT NULL GROUP BY number HAVING count(DISTINCT domain) > 1)",
        [scan_id, scan_id],
    ).fetchall()
    shared = find_shared_numbers(SharedNumberCandidate(*row) for row in rows)
    code = "NUMBER_SHARED"
    with store.transaction(db):
        db.execute("DELETE FROM findings WHERE scan_id = ? AND code = ?", [scan_id, code])
        affected = {r[0] for r in rows} | set(shared)
        for domain in sorted(affected):
            row = db.execute(
                "SELECT id, record FROM domains WHERE scan_id = ? AND domain = ?",
                [scan_id, domain],
            ).fetchone()
            if row is None:
                continue
            domain_id, record_text = row
            record = json.loads(record_text)
            findings = [f for f in record.get("findings", []) if f["code"] != code]
            new = [to_jsonable(f) for f in shared.get(domain, [])]
            findings.extend(new)
            record["findings"] = findings
            store.insert_findings(db, (domain_id, scan_id, domain), new)
            db.execute(
                "UPDATE domains SET record = ?, findings_count = ?, max_severity = ?,"
                " finding_codes = ? WHERE id = ?",
                [
                    store.dumps(record),
                    len(findings),
                    store.max_severity(findings),
                    " ".join(sorted({f["code"] for f in findings})),
                    domain_id,
                ],
            )
    return sum(len(v) for v in shared.values())


# -- the scan ----------------------------------------------------------------------------------


def data_versions() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, Any] = {}
    for package in ("iptocc", "tldextract", "scrapy", "dnspython"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return versions


def _open_scan(db: sqlite_utils.Database, request: ScanRequest) -> tuple[int, int, bool]:
    """(scan id, input line to skip through, resumed?)"""
    if not request.resume:
        scan_id = store.create_scan(
            db,
            input_name=request.input,
            options=request.options,
            data_versions=data_versions(),
        )
        return scan_id, 0, False
    wanted = request.resume_scan_id or store.latest_scan_id(db, unfinished=True)
    if wanted is None:
        raise ScanError("nothing to resume: every scan in this database is finished")
    scan_id = wanted
    scan = store.get_scan(db, scan_id)
    if scan is None:
        raise ScanError(f"no scan {scan_id} in this database")
    if scan["status"] == "finished":
        raise ScanError(f"scan {scan_id} is already finished")
    store.release_claims(db, scan_id)
    with store.transaction(db):
        db.execute("UPDATE scans SET status = 'running' WHERE id = ?", [scan_id])
    skip = scan["input_lines"] or 0
    if scan["input_complete"]:
        skip = -1
    return scan_id, skip, True


def run_scan(
    request: ScanRequest,
    *,
    on_progress: ProgressCallback | None = None,
    on_invalid: InvalidCallback | None = None,
) -> ScanOutcome:
    """Run (or resume) a scan to completion; raises ScanError / store.StoreError / input errors."""
    db = store.open_db(request.config.db)
    try:
        scan_id, skip, resumed = _open_scan(db, request)
    except sqlite3.Error as exc:  # e.g. a read-only database: the scan row cannot be written
        raise store.write_failure(request.config.db, exc) from exc
    request.config.scan_id = scan_id
    loader = None
    if skip >= 0:
        # opens the input now: a missing or binary file fails before any worker starts
        loader = _Loader(request, scan_id, skip, on_invalid)
    env = dict(os.environ)
    if request.loopback_only:
        env[egress.LOOPBACK_ONLY_ENV] = "1"
    with tempfile.TemporaryDirectory(prefix="icpscan-scan-") as tmp:
        config_path = Path(tmp) / "config.json"
        request.config.to_file(config_path)
        if loader is not None:
            loader.start()
        workers = _Workers(config_path, max(1, request.workers), env)
        try:
            _watch(db, scan_id, loader, workers, on_progress)
        except BaseException as exc:
            workers.stop()
            with contextlib.suppress(sqlite3.Error):  # the database may be what failed
                store.finish_scan(db, scan_id, status="interrupted")
            if isinstance(exc, sqlite3.Error):
                raise store.write_failure(request.config.db, exc) from exc
            raise
    try:
        apply_scan_wide_findings(db, scan_id)
        store.finish_scan(db, scan_id)
        scan = store.get_scan(db, scan_id) or {}
        counts = store.queue_counts(db, scan_id)
    except sqlite3.Error as exc:
        raise store.write_failure(request.config.db, exc) from exc
    return ScanOutcome(
        scan_id=scan_id,
        done=counts["done"],
        invalid=scan.get("invalid_lines") or 0,
        duplicates=scan.get("duplicate_lines") or 0,
        resumed=resumed,
    )


def _watch(
    db: sqlite_utils.Database,
    scan_id: int,
    loader: _Loader | None,
    workers: _Workers,
    on_progress: ProgressCallback | None,
) -> None:
    while True:
        time.sleep(POLL_SECONDS)
        if loader is not None and not loader.is_alive() and loader.error is not None:
            raise loader.error
        finished, died = workers.poll()
        for name in finished:  # a clean exit leaves no claims; if it did, they are orphans
            _release_worker_claims(db, scan_id, name)
        if finished and _work_remains(db, scan_id):
            for name in finished:  # retired (ScanConfig.retire_after): a fresh process goes on
                workers.start(workers.successor(name))
            finished = []
        for name in died:
            _release_worker_claims(db, scan_id, name)
            workers.restarts += 1
            if workers.restarts > MAX_WORKER_RESTARTS:
                raise ScanError(f"scan workers keep dying ({workers.restarts} restarts)")
            workers.start(name)
        counts = store.queue_counts(db, scan_id)
        scan = store.get_scan(db, scan_id) or {}
        progress = Progress(
            queued=sum(counts.values()),
            done=counts["done"],
            invalid=scan.get("invalid_lines") or 0,
            input_complete=bool(scan.get("input_complete")),
        )
        if on_progress is not None:
            on_progress(progress)
        if not workers.procs:
            if progress.input_complete and counts["pending"] == 0 and counts["claimed"] == 0:
                return
            # every worker left while work remains (claims released after a crash)
            if progress.done == workers.done_at_last_start:
                workers.idle_restarts += 1
                if workers.idle_restarts > MAX_WORKER_RESTARTS:
                    raise ScanError("scan workers stop without storing the remaining domains")
            workers.done_at_last_start = progress.done
            workers.start((finished or ["w0"])[0])


def _work_remains(db: sqlite_utils.Database, scan_id: int) -> bool:
    scan = store.get_scan(db, scan_id) or {}
    return not scan.get("input_complete") or store.queue_counts(db, scan_id)["pending"] > 0


def fail_on_hit(db: sqlite_utils.Database, scan_id: int, threshold: Severity) -> bool:
    """Whether any finding of the scan is at or above ``threshold`` (for ``--fail-on``)."""
    wanted = [code for code, spec in FINDING_CODES.items() if spec.severity.rank >= threshold.rank]
    if not wanted:
        return False
    marks = ",".join("?" * len(wanted))
    row = db.execute(
        f"SELECT 1 FROM findings WHERE scan_id = ? AND code IN ({marks}) LIMIT 1",  # noqa: S608
        [scan_id, *wanted],
    ).fetchone()
    return row is not None
