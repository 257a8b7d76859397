"""``icpscan scan INPUT --redis URL --role feeder``: a scan whose crawling happens elsewhere.

The feeder is a local scan's parent with the workers moved out: it owns the SQLite dataset and
the scan row (so the scan id, the ``targets``/``input_errors`` tables and the duplicate counts
are exactly a local scan's), publishes the scan's options in Redis, streams the input into the
``targets`` table *and* the Redis queue, collects the results workers deliver
(:mod:`.collector`), runs the scan-wide rules and finishes the scan like ``icpscan scan`` does.

Feeding is streamed and idempotent. Each batch goes first into SQLite (the truth), then into
Redis through the dupefilter script (a domain ever queued for this scan is never queued again),
and the queue is kept below ``queue_limit`` requests so Redis memory stays flat whatever the
input size. ``--resume`` reads the input on from where the dataset says it stopped and queues
again whatever is not stored yet; the dupefilter makes that safe.
"""

from __future__ import annotations

import contextlib
import datetime
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import sqlite_utils

from icpscan import store
from icpscan.distributed import scanstate
from icpscan.distributed.collector import Collector, Publisher, finish, scan_token
from icpscan.distributed.config import build_document, dumps_document
from icpscan.distributed.connection import DistributedError, RedisError, connect, ping, redact
from icpscan.distributed.keys import ScanKeys, new_token
from icpscan.distributed.queue import Job, ReliableQueue
from icpscan.scan import (
    InvalidCallback,
    ProgressCallback,
    ScanError,
    ScanOutcome,
    ScanRequest,
    data_versions,
    input_batches,
)
from icpscan.targets import read_targets

ROOM_POLL_SECONDS = 0.5


@dataclass
class FeedOptions:
    redis_url: str
    network_rate: float = 10.0  # requests/s to one /24 (IPv6 /48), all workers together
    network_burst: int = 20
    queue_limit: int = 50_000  # requests waiting in Redis before the feeder pauses
    patience: float = 300.0  # seconds without Redis before the feeder gives up


class FeedLoader(threading.Thread):
    """Streams the input into SQLite and the Redis queue (its own connections)."""

    def __init__(
        self,
        request: ScanRequest,
        scan_id: int,
        skip_through_line: int,
        keys: ScanKeys,
        feed: FeedOptions,
        on_invalid: InvalidCallback | None,
    ) -> None:
        super().__init__(name="icpscan-feeder", daemon=True)
        self.request, self.scan_id, self.keys, self.feed = request, scan_id, keys, feed
        self.skip_through_line = skip_through_line
        self.on_invalid = on_invalid
        self.error: BaseException | None = None
        self.stopping = threading.Event()
        # opens the input now: a missing or binary file fails before anything is published
        self.reader = read_targets(
            request.input, column=request.column, input_format=cast(Any, request.input_format)
        )

    def run(self) -> None:
        try:
            self._load()
        except BaseException as exc:  # reported by the collecting thread
            self.error = exc

    def _load(self) -> None:
        db = store.open_db(self.request.config.db, create=False)
        server = connect(self.feed.redis_url, name="icpscan-feeder")
        queue = ReliableQueue(server, self.keys)
        for batch in input_batches(self.reader, self.skip_through_line, self.on_invalid):
            if self.stopping.is_set():
                return
            self._feed(db, queue, batch.targets, batch.invalid, batch.lines_read)
        store.mark_input_complete(db, self.scan_id)
        self._redis(lambda: scanstate.update(server, self.keys, input_complete=True))
        db.conn.close()

    def _feed(
        self,
        db: sqlite_utils.Database,
        queue: ReliableQueue,
        targets: list[tuple[str, str, int | None]],
        invalid: list[tuple[int, str, str, str]],
        last_line: int,
    ) -> None:
        self._wait_for_room(queue)
        # SQLite first: a target is in the dataset before any worker can deliver its result,
        # and a domain in SQLite but not (yet) in Redis is queued by the next publish.
        store.enqueue_targets(db, self.scan_id, targets, invalid, lines_read=last_line)
        jobs = [Job(domain, display, line) for domain, display, line in targets]
        added = self._redis(lambda: queue.push_unseen(jobs))
        if added:
            self._redis(lambda: queue.server.hincrby(self.keys.scan, "fed", added))

    def _wait_for_room(self, queue: ReliableQueue) -> None:
        while not self.stopping.is_set():
            if self._redis(lambda: len(queue)) < self.feed.queue_limit:
                return
            time.sleep(ROOM_POLL_SECONDS)

    def _redis(self, call: Callable[[], Any]) -> Any:
        """Run a Redis call, riding out an outage up to the feeder's patience."""
        started = time.monotonic()
        while True:
            try:
                return call()
            except RedisError:
                if time.monotonic() - started > self.feed.patience or self.stopping.is_set():
                    raise
                time.sleep(1.0)


def run_distributed_scan(
    request: ScanRequest,
    feed: FeedOptions,
    *,
    on_progress: ProgressCallback | None = None,
    on_invalid: InvalidCallback | None = None,
    notice: Callable[[str], None] = lambda _message: None,
) -> ScanOutcome:
    """Feed, collect and finish a scan that ``icpscan worker`` processes crawl.

    Raises ScanError / DistributedError / store.StoreError / input errors, like run_scan.
    """
    server = connect(feed.redis_url, patient=False, name="icpscan-collector")
    ping(feed.redis_url)
    db = store.open_db(request.config.db)
    scan_id, skip, token, resumed = _open_scan(db, request, feed.redis_url)
    request.config.scan_id = scan_id
    if request.config.today is None:  # every worker judges against the same date
        request.config.today = datetime.date.today().isoformat()
    keys = ScanKeys(token)
    document = build_document(
        request.config,
        network_rate=feed.network_rate,
        network_burst=feed.network_burst,
        loopback_only=request.loopback_only,
    )
    scan = store.get_scan(db, scan_id) or {}
    publisher = Publisher(
        server=server,
        keys=keys,
        scan_id=scan_id,
        database=f"{socket.gethostname()}:{Path(request.config.db).resolve()}",
        config_text=dumps_document(document),
        epoch=new_token(),
        created=_timestamp(scan.get("started_at")),
    )
    loader = FeedLoader(request, scan_id, skip, keys, feed, on_invalid) if skip >= 0 else None
    collector = Collector(db, publisher, patience=feed.patience, notice=notice)
    try:
        collector.acquire()
        requeued = publisher.publish(db)
        if resumed and requeued:
            notice(f"queued {requeued} domains of scan {scan_id} that redis did not have")
        if loader is not None:
            loader.start()
        collector.run(lambda: _loader_done(loader), on_progress)
    except BaseException:
        if loader is not None:
            loader.stopping.set()
        store.finish_scan(db, scan_id, status="interrupted")
        with contextlib.suppress(RedisError):
            scanstate.close(server, keys, scanstate.INTERRUPTED)
        raise
    return finish(db, publisher, resumed=resumed)


def _loader_done(loader: FeedLoader | None) -> bool:
    if loader is None:
        return True
    if loader.is_alive():
        return False
    if loader.error is not None:
        raise loader.error
    return True


def _timestamp(iso: Any) -> float:
    try:
        return datetime.datetime.fromisoformat(str(iso)).timestamp()
    except ValueError:
        return time.time()


def _open_scan(
    db: sqlite_utils.Database, request: ScanRequest, redis_url: str
) -> tuple[int, int, str, bool]:
    """(scan id, input line to skip through (-1: input done), Redis token, resumed?)"""
    if not request.resume:
        token = new_token()
        options = {k: v for k, v in request.options.items() if k != "redis_url"}
        options.update(redis=redact(redis_url), redis_scan=token)
        created = store.create_scan(
            db, input_name=request.input, options=options, data_versions=data_versions()
        )
        return created, 0, token, False
    scan_id = request.resume_scan_id or store.latest_scan_id(db, unfinished=True)
    if scan_id is None:
        raise ScanError("nothing to resume: every scan in this database is finished")
    scan = store.get_scan(db, scan_id)
    if scan is None:
        raise ScanError(f"no scan {scan_id} in this database")
    if scan["status"] == "finished":
        raise ScanError(f"scan {scan_id} is already finished")
    recorded = scan_token(scan)
    if recorded is None:
        raise ScanError(f"scan {scan_id} was a local scan: resume it without --redis")
    with store.transaction(db):
        db.execute("UPDATE scans SET status = 'running' WHERE id = ?", [scan_id])
    skip = -1 if scan["input_complete"] else scan["input_lines"] or 0
    return scan_id, skip, recorded, True


__all__ = ["DistributedError", "FeedOptions", "run_distributed_scan"]
