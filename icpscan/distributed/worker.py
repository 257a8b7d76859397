"""A distributed worker process: the local scan's worker, fed from Redis and delivering to it.

The crawl is exactly a local scan's (:func:`icpscan.worker.run_worker`: same locator, spider
and pipeline); only the two ends change. :class:`RedisJobSource` claims domains from the scan's
:class:`~icpscan.distributed.queue.ReliableQueue` into this worker's processing list, and
:class:`RedisResultSink` appends each batch of records to the results stream in the same
transaction that acknowledges their requests. A :class:`Heartbeat` thread keeps this worker's
heartbeat key alive; when it stops (the process was killed, the machine died) the key expires
after the lease and the reaper gives the held domains to other workers.

SIGTERM (or SIGINT) drains: no new claims, the domains in flight are finished, delivered and
acknowledged, then the process exits 0. A second signal gives the held domains back at once
and exits.

Run by ``icpscan worker`` as ``python -m icpscan.distributed.worker TOKEN WORKER-NAME`` with
the Redis URL in the environment (not on the command line, where ``ps`` would show a password).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType
from typing import Any

from redis import Redis

from icpscan import egress, store
from icpscan.assess import ExpectedFilings
from icpscan.distributed import scanstate
from icpscan.distributed.config import DistributedScanConfig, materialize
from icpscan.distributed.connection import (
    DistributedError,
    RedisError,
    connect,
    describe,
    redact,
    totals,
)
from icpscan.distributed.keys import ScanKeys, worker_key
from icpscan.distributed.queue import Claimed, ReliableQueue
from icpscan.expected import read_expected
from icpscan.worker import CLAIM_BATCH, JobSource, ResultSink, run_worker

log = logging.getLogger("icpscan.distributed.worker")

REDIS_URL_ENV = "ICPSCAN_REDIS_URL"
LEASE_ENV = "ICPSCAN_REDIS_LEASE"
DEFAULT_LEASE = 30.0
STATUS_CHECK_SECONDS = 1.0
WARN_EVERY_SECONDS = 30.0
FINAL_DELIVERY_SECONDS = 60.0
RATE_WINDOW_SECONDS = 60.0
EXIT_NO_SCAN = 3
EXIT_NO_REDIS = 4


class RedisUnavailable(DistributedError):
    """Redis could not be reached at start-up (the supervisor starts the crawler again)."""


class _Warner:
    """Log a recurring problem once, then at most every WARN_EVERY_SECONDS."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def __call__(self, topic: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self.last.get(topic, -WARN_EVERY_SECONDS) >= WARN_EVERY_SECONDS:
            self.last[topic] = now
            log.warning(message, *args)


class Claims:
    """The requests this worker holds, by domain (a domain queued twice is held twice)."""

    def __init__(self) -> None:
        self._raws: dict[str, list[bytes]] = {}
        self._count = 0
        self._lock = threading.Lock()  # the heartbeat thread reads the count

    def add(self, claimed: Claimed) -> None:
        with self._lock:
            self._raws.setdefault(claimed.job.domain, []).append(claimed.raw)
            self._count += 1

    def take(self, domain: str) -> bytes | None:
        with self._lock:
            raws = self._raws.get(domain)
            if not raws:
                return None
            raw = raws.pop()
            if not raws:
                del self._raws[domain]
            self._count -= 1
            return raw

    def __len__(self) -> int:
        return self._count


class Meter:
    """Domains delivered, in total and per second over the last minute."""

    def __init__(self) -> None:
        self.total = 0
        self._events: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        now = time.monotonic()
        with self._lock:
            self.total += count
            self._events.append((now, count))
            self._trim(now)

    def rate(self) -> float:
        now = time.monotonic()
        with self._lock:
            self._trim(now)
            if not self._events:
                return 0.0
            span = max(now - self._events[0][0], 1.0)
            return sum(n for _, n in self._events) / span

    def _trim(self, now: float) -> None:
        while self._events and now - self._events[0][0] > RATE_WINDOW_SECONDS:
            self._events.popleft()


class Heartbeat(threading.Thread):
    """Keeps ``icpscan:worker:<name>`` alive (TTL = the lease) and this worker registered."""

    def __init__(
        self, url: str, keys: ScanKeys, worker: str, lease: float, claims: Claims, meter: Meter
    ) -> None:
        super().__init__(name="icpscan-heartbeat", daemon=True)
        self.server = connect(url, patient=False, name=f"icpscan-heartbeat:{worker}")
        self.keys, self.worker, self.lease = keys, worker, lease
        self.claims, self.meter = claims, meter
        self.state = "working"
        self.started = time.time()
        self.stopped = threading.Event()
        self.warn = _Warner()

    def beat(self) -> None:
        round_trips, seconds = totals()
        with self.server.pipeline(transaction=True) as pipe:
            pipe.hset(
                worker_key(self.worker),
                mapping={
                    "scan": self.keys.token,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "started": self.started,
                    "seen": time.time(),
                    "state": self.state,
                    "held": len(self.claims),
                    "delivered": self.meter.total,
                    "rate": round(self.meter.rate(), 2),
                    "round_trips": round_trips,
                    "redis_seconds": round(seconds, 4),
                },
            )
            pipe.pexpire(worker_key(self.worker), int(self.lease * 1000))
            pipe.sadd(self.keys.workers, self.worker)
            pipe.execute()

    def run(self) -> None:
        # often enough for `icpscan status` to show a live rate, well inside the lease
        while not self.stopped.wait(max(0.2, min(self.lease / 3, 2.0))):
            try:
                self.beat()
            except RedisError as exc:
                self.warn("beat", "heartbeat failed: %s", describe(exc))

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)


class RedisResultSink(ResultSink):
    """Delivers records to the results stream and acknowledges their requests, atomically.

    If Redis is unreachable the batch is kept and sent again with the next one: the crawl does
    not stop, and a worker killed meanwhile loses nothing (its requests are still held).
    """

    def __init__(
        self,
        config: DistributedScanConfig,
        expected: ExpectedFilings | None,
        queue: ReliableQueue,
        claims: Claims,
        meter: Meter,
    ) -> None:
        super().__init__(config, expected)
        self.queue, self.claims, self.meter = queue, claims, meter
        self.worker = config.worker
        self.backlog: list[tuple[str, bytes | None]] = []
        self.warn = _Warner()

    def deliver(self, records: list[dict[str, Any]]) -> int:
        self.backlog.extend((store.dumps(r), self.claims.take(r["domain"])) for r in records)
        return self._send()

    def _send(self) -> int:
        if not self.backlog:
            return 0
        batch = self.backlog
        try:
            self.queue.deliver(
                self.worker, [text for text, _ in batch], [raw for _, raw in batch if raw]
            )
        except RedisError as exc:
            message = "cannot deliver %d results yet (%s); will retry"
            self.warn("deliver", message, len(batch), describe(exc))
            return 0
        self.backlog = []
        self.meter.add(len(batch))
        return len(batch)

    def deliver_backlog(self, patience: float) -> bool:
        """Keep trying to send what is left, up to ``patience`` seconds; True when all sent."""
        deadline = time.monotonic() + patience
        while self.backlog and time.monotonic() < deadline:
            self.written += self._send()
            if self.backlog:
                time.sleep(1.0)
        return not self.backlog


class RedisJobSource(JobSource):
    """Domains claimed from the scan's queue, at most about one crawl's worth at a time."""

    def __init__(
        self,
        config: DistributedScanConfig,
        sink: RedisResultSink,
        queue: ReliableQueue,
        claims: Claims,
        lease: float,
    ) -> None:
        super().__init__(config, config.worker, sink)
        self.queue, self.claims, self.lease = queue, claims, lease
        self.server: Redis = queue.server
        self.keys = queue.keys
        # Domains being located or crawled: enough to keep the crawl busy, few enough that the
        # last domains of a scan are shared fairly and a dead worker strands little.
        self.max_in_flight = config.concurrent_requests + min(
            CLAIM_BATCH, config.concurrent_requests
        )
        self.stopping = False
        self.redis_down = False
        self.status: str | None = scanstate.RUNNING
        self.status_checked = 0.0
        self.last_reap = time.monotonic()
        self.warn = _Warner()
        self.heartbeat: Heartbeat | None = None

    # -- JobSource ----------------------------------------------------------------------------

    def claim(self, limit: int) -> list[store.QueuedTarget]:
        if self.stopping or not self._scan_running():
            return []
        room = self.max_in_flight - self.in_flight()
        if room <= 0:
            return []
        try:
            taken = self.queue.claim(self.worker, min(limit, room))
        except RedisError as exc:
            self.warn("claim", "cannot claim work (%s); retrying", describe(exc))
            self.redis_down = True
            return []
        if self.redis_down:
            self.redis_down = False
            log.warning("redis is reachable again")
        if not taken:
            self._reap_now_and_then()
        for claimed in taken:
            self.claims.add(claimed)
        return [store.QueuedTarget(0, c.job.domain, c.job.display, c.job.line) for c in taken]

    def exhausted(self) -> bool:
        return self.stopping or not self._scan_running()

    def in_flight(self) -> int:
        """Held domains whose record is not built yet (built ones only wait for delivery)."""
        return len(self.claims) - len(self.sink.pending)

    def alive(self) -> bool:
        return not self.stopping and super().alive()

    async def jobs(self) -> AsyncIterator[dict[str, Any]]:
        # Installed here, once the crawl runs: Scrapy sets its own handlers when it starts.
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        async for job in super().jobs():
            yield job

    # -- helpers ------------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping:
            log.warning("second signal: giving %d held domains back", len(self.claims))
            try:
                self.queue.requeue(self.worker, force=True)
            finally:
                os._exit(128 + signum)
        self.stopping = True
        if self.heartbeat is not None:
            self.heartbeat.state = "draining"
        log.warning("draining: finishing the %d domains in flight", len(self.claims))

    def _scan_running(self) -> bool:
        now = time.monotonic()
        if now - self.status_checked >= STATUS_CHECK_SECONDS:
            self.status_checked = now
            try:
                status = scanstate.status_of(self.server, self.keys)
            except RedisError:
                status = self.status  # unknown: keep what we knew
            # None: Redis lost the scan's record; the feeder republishes it, keep working
            self.status = scanstate.RUNNING if status is None else status
        return self.status == scanstate.RUNNING

    def _reap_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self.last_reap < self.lease / 2:
            return
        self.last_reap = now
        try:
            moved = self.queue.reap()
        except RedisError:
            return
        if moved:
            log.warning("requeued %d domains held by workers that stopped", moved)


def run_distributed_worker(url: str, token: str, worker: str, lease: float) -> int:
    """Work on scan ``token`` until it ends or this worker is told to drain; returns delivered."""
    server = connect(url, patient=False, name=f"icpscan-worker:{worker}")
    keys = ScanKeys(token)
    try:
        text = server.get(keys.config)
    except RedisError as exc:
        raise RedisUnavailable(f"cannot use redis at {redact(url)}: {describe(exc)}") from None
    if text is None:
        raise DistributedError(f"scan {token} has no configuration in redis (finished or lost)")
    with tempfile.TemporaryDirectory(prefix="icpscan-worker-") as tmp:
        config = materialize(text, Path(tmp), redis_url=url, token=token, worker=worker)
        if config.loopback_only:
            egress.install_loopback_guard()
            os.environ[egress.LOOPBACK_ONLY_ENV] = "1"
        expected = read_expected(config.expected_file) if config.expected_file else None
        queue = ReliableQueue(server, keys)
        claims, meter = Claims(), Meter()
        heartbeat = Heartbeat(url, keys, worker, lease, claims, meter)
        heartbeat.beat()  # registered before the first claim: the reaper can always find us
        heartbeat.start()
        sink = RedisResultSink(config, expected, queue, claims, meter)
        source = RedisJobSource(config, sink, queue, claims, lease)
        source.heartbeat = heartbeat
        try:
            run_worker(config, source, sink)
        finally:
            heartbeat.state = "stopping"
            sink.deliver_backlog(FINAL_DELIVERY_SECONDS)
            _leave(queue, heartbeat, worker)
    return meter.total


def _leave(queue: ReliableQueue, heartbeat: Heartbeat, worker: str) -> None:
    """Give back anything undelivered, then unregister (best effort: the lease covers the rest)."""
    heartbeat.stop()
    try:
        queue.server.delete(worker_key(worker))
        moved = queue.requeue(worker, force=True)
        scanstate.add_costs(queue.server, queue.keys, *totals())
    except RedisError as exc:
        log.warning("could not unregister from redis (%s); the lease will expire", describe(exc))
        return
    if moved:
        log.warning("gave %d undelivered domains back to the queue", moved)


def _log_to_stderr() -> None:
    """This package's warnings always reach stderr (Scrapy's log level applies to Scrapy)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("icpscan worker %(process)d: %(message)s"))
    package = logging.getLogger("icpscan.distributed")
    package.addHandler(handler)
    package.setLevel(logging.WARNING)
    package.propagate = False


def main(argv: list[str] | None = None) -> int:
    from icpscan.worker import die_with_parent

    args = sys.argv[1:] if argv is None else argv
    url = os.environ.get(REDIS_URL_ENV, "")
    if len(args) != 2 or not url:
        print(
            f"usage: {REDIS_URL_ENV}=URL python -m icpscan.distributed.worker TOKEN WORKER-NAME",
            file=sys.stderr,
        )
        return 2
    die_with_parent()
    _log_to_stderr()
    lease = float(os.environ.get(LEASE_ENV) or DEFAULT_LEASE)
    try:
        run_distributed_worker(url, args[0], args[1], lease)
    except RedisUnavailable as exc:
        print(f"icpscan worker: {exc}", file=sys.stderr)
        return EXIT_NO_REDIS
    except DistributedError as exc:
        print(f"icpscan worker: {exc}", file=sys.stderr)
        return EXIT_NO_SCAN
    return 0


if __name__ == "__main__":
    sys.exit(main())
