"""The collector: results travel from the workers through one Redis stream into one SQLite file.

Workers append each result record to the scan's results stream (``XADD``, in the transaction
that acknowledges its request). The collector — the feeder itself by default, or ``icpscan
collect`` — reads the stream as the only member of a consumer group, writes each batch with
:func:`icpscan.store.write_results` (the same writer, tables and transaction as a local scan:
results stored and targets marked done together), and only then acknowledges and deletes the
entries. Killed between the two, it reads its unacknowledged entries again on restart and the
writer skips what is already stored: every domain is stored exactly once.

The SQLite dataset is the truth; Redis only carries work in flight. So the collector also
keeps that work honest: it takes back domains held by dead workers (the reaper), republishes
the scan if Redis lost it (restarted without persistence), requeues domains that are nowhere
in Redis but not yet stored, and rides out a Redis restart, giving up with a clear message only
after ``patience`` seconds without it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from icpscan import store
from icpscan.distributed import scanstate
from icpscan.distributed.connection import DistributedError, RedisError, describe, totals
from icpscan.distributed.keys import RESULTS_CONSUMER, RESULTS_GROUP, ScanKeys
from icpscan.distributed.queue import Job, ReliableQueue
from icpscan.scan import Progress, ScanError, ScanOutcome, apply_scan_wide_findings

log = logging.getLogger(__name__)

READ_COUNT = 500
READ_BLOCK_MS = 500
HOUSEKEEPING_SECONDS = 1.0
REAP_SECONDS = 5.0
NOWHERE_GRACE_SECONDS = 5.0
LOCK_MS = 15_000  # a collector refreshes its lock every second; a dead one loses it in 15 s
PUSH_CHUNK = 2000

Notice = Callable[[str], None]

# KEYS: the lock. ARGV: owner, ttl (ms), a stale owner we may replace (or "").
# 1 = still ours (refreshed), 2 = it was free (or stale) and is ours now, 0 = someone else's.
_HOLD_LOCK = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if (not owner) or (ARGV[3] ~= '' and owner == ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""


def _dead_local_owner(owner: str) -> bool:
    """Whether a lock owner ``host:pid:epoch`` is a process of this machine that is gone."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def pending_targets(
    db: sqlite_utils.Database, scan_id: int, after_id: int = 0
) -> Iterator[list[Job]]:
    """The scan's targets that have no stored result yet, in chunks, in queue order."""
    while True:
        rows = db.execute(
            "SELECT id, domain, display, line FROM targets WHERE scan_id = ? AND"
            " state = 'pending' AND id > ? ORDER BY id LIMIT ?",
            [scan_id, after_id, PUSH_CHUNK],
        ).fetchall()
        if not rows:
            return
        after_id = rows[-1][0]
        yield [Job(domain, display, line) for _id, domain, display, line in rows]


def pending_count(db: sqlite_utils.Database, scan_id: int) -> int:
    row = db.execute(
        "SELECT count(*) FROM targets WHERE scan_id = ? AND state = 'pending'", [scan_id]
    ).fetchone()
    return int(row[0])


@dataclass
class Publisher:
    """Everything needed to (re)publish a scan in Redis, from the SQLite truth."""

    server: Redis
    keys: ScanKeys
    scan_id: int
    database: str
    config_text: str
    epoch: str
    created: float
    feeder: str = ""

    def publish(self, db: sqlite_utils.Database) -> int:
        """Publish the scan record and queue every target not yet stored (idempotent: the
        dupefilter skips what Redis already has). Returns how many domains were queued."""
        scan = store.get_scan(db, self.scan_id) or {}
        counts = store.queue_counts(db, self.scan_id)
        scanstate.publish(
            self.server,
            self.keys,
            scan_id=self.scan_id,
            database=self.database,
            feeder=self.feeder or f"{socket.gethostname()}:{os.getpid()}",
            config_text=self.config_text,
            epoch=self.epoch,
            input_complete=bool(scan.get("input_complete")),
            fed=sum(counts.values()),
            stored=counts["done"],
            created=self.created,
        )
        queue = ReliableQueue(self.server, self.keys)
        return sum(queue.push_unseen(chunk) for chunk in pending_targets(db, self.scan_id))


class Collector:
    def __init__(
        self,
        db: sqlite_utils.Database,
        publisher: Publisher,
        *,
        patience: float,
        notice: Notice,
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.server = publisher.server
        self.keys = publisher.keys
        self.scan_id = publisher.scan_id
        self.queue = ReliableQueue(self.server, self.keys)
        self.patience = patience
        self.notice = notice
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{publisher.epoch}"
        self._hold_lock = self.server.register_script(_HOLD_LOCK)
        self.read_from = "0"  # first our own unacknowledged entries, then new ones
        self.last_housekeeping = 0.0
        self.last_reap = 0.0
        self.redis_lost_at: float | None = None
        self.nowhere_since: float | None = None
        self.written = 0

    # -- setup --------------------------------------------------------------------------------

    def acquire(self) -> None:
        """Become the scan's only collector, or fail saying who is.

        A lock left by a collector of this machine that no longer runs (killed feeder) is taken
        over at once; another machine's lock must expire first.
        """
        if self._lock() != 0:
            self._ensure_group()
            return
        holder = self.server.get(self.keys.collector)
        who = holder.decode() if isinstance(holder, bytes) else str(holder or "")
        if who and _dead_local_owner(who) and self._lock(stale=who) != 0:
            self._ensure_group()
            return
        raise DistributedError(
            f"scan {self.scan_id} already has a collector ({who}); one SQLite writer per scan"
            f" (a stopped collector's lock expires {LOCK_MS // 1000} s after it stopped)"
        )

    def _lock(self, stale: str = "") -> int:
        return int(self._hold_lock(keys=[self.keys.collector], args=[self.owner, LOCK_MS, stale]))

    def _ensure_group(self) -> None:
        try:
            self.server.xgroup_create(self.keys.results, RESULTS_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # -- the loop -----------------------------------------------------------------------------

    def run(
        self,
        loader_done: Callable[[], bool],
        on_progress: Callable[[Progress], None] | None = None,
        *,
        stop_when_drained: bool = False,
    ) -> bool:
        """Collect until every target is stored; True when the scan is complete.

        With ``stop_when_drained`` (``icpscan collect`` when the input was never fully read)
        it also returns, with False, once every queued domain is stored.
        """
        while True:
            try:
                self._collect_once()
                if self.redis_lost_at is not None:
                    self.notice("redis is reachable again; the scan goes on")
                    self.redis_lost_at = None
                if time.monotonic() - self.last_housekeeping >= HOUSEKEEPING_SECONDS:
                    self.last_housekeeping = time.monotonic()
                    self._housekeeping()
                    if on_progress is not None:
                        on_progress(self._progress())
                    complete, drained = self._complete(loader_done())
                    if complete:
                        return True
                    if drained and stop_when_drained:
                        return False
            except RedisError as exc:
                self._redis_failed(exc)

    def _collect_once(self) -> None:
        try:
            reply: Any = self.server.xreadgroup(
                RESULTS_GROUP,
                RESULTS_CONSUMER,
                {self.keys.results: self.read_from},
                count=READ_COUNT,
                block=None if self.read_from == "0" else READ_BLOCK_MS,
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # the stream is gone (Redis lost it): recreate the group, check the scan at once
            self._ensure_group()
            self.last_housekeeping = 0.0
            return
        entries: list[tuple[bytes, dict[bytes, bytes] | None]] = reply[0][1] if reply else []
        if self.read_from == "0" and not entries:
            self.read_from = ">"  # our backlog is done; from now on only new entries
            return
        if not entries:
            return
        records: list[dict[str, Any]] = []
        ids: list[bytes] = []
        for entry_id, fields in entries:
            ids.append(entry_id)
            if not fields:  # acknowledged-but-deleted entry in our backlog
                continue
            try:
                records.append(json.loads(fields[b"r"]))
            except (KeyError, ValueError) as exc:
                log.error("dropping an unreadable result entry %s: %s", entry_id, exc)
        written = store.write_results(self.db, self.scan_id, records) if records else 0
        self.written += written
        with self.server.pipeline(transaction=True) as pipe:
            pipe.xack(self.keys.results, RESULTS_GROUP, *ids)
            pipe.xdel(self.keys.results, *ids)
            if written:
                pipe.hincrby(self.keys.scan, "stored", written)
            pipe.execute()

    def _housekeeping(self) -> None:
        if self._lock() == 0:
            raise DistributedError(f"another collector took over scan {self.scan_id}")
        epoch: Any = self.server.hget(self.keys.scan, "epoch")
        if epoch is None or epoch.decode() != self.publisher.epoch:
            self._republish()
        if time.monotonic() - self.last_reap >= REAP_SECONDS:
            self.last_reap = time.monotonic()
            moved = self.queue.reap()
            if moved:
                self.notice(f"requeued {moved} domains held by workers that stopped")

    def _republish(self) -> None:
        pending = pending_count(self.db, self.scan_id)
        self.notice(
            f"redis lost scan {self.scan_id}'s state (restarted without persistence, or"
            f" flushed): publishing it again with {pending} domains still to do"
        )
        self.publisher.publish(self.db)
        self._ensure_group()
        self.read_from = "0"

    def _complete(self, loader_done: bool) -> tuple[bool, bool]:
        """(scan complete, every queued domain stored)."""
        if not loader_done:
            return False, False
        scan = store.get_scan(self.db, self.scan_id) or {}
        pending = pending_count(self.db, self.scan_id)
        if pending == 0:
            return bool(scan.get("input_complete")), True
        self._requeue_if_nowhere(pending)
        return False, False

    def _requeue_if_nowhere(self, pending: int) -> None:
        """Domains not stored yet but nowhere in Redis (no queue, no worker, no result) were
        lost somewhere; after a grace period they are queued again (at least once)."""
        if self._anything_in_flight():
            self.nowhere_since = None
            return
        now = time.monotonic()
        if self.nowhere_since is None:
            self.nowhere_since = now
            return
        if now - self.nowhere_since < NOWHERE_GRACE_SECONDS:
            return
        self.nowhere_since = None
        queued = 0
        for chunk in pending_targets(self.db, self.scan_id):
            queued += self.queue.push_again(chunk)
        self.notice(f"queued again {queued} domains that were nowhere in redis ({pending} pending)")

    def _anything_in_flight(self) -> bool:
        if self.server.llen(self.keys.requests) or self.server.xlen(self.keys.results):
            return True
        for name in self.server.smembers(self.keys.workers):
            worker = name.decode() if isinstance(name, bytes) else str(name)
            if self.server.llen(self.keys.processing(worker)):
                return True
        return False

    def _progress(self) -> Progress:
        counts = store.queue_counts(self.db, self.scan_id)
        scan = store.get_scan(self.db, self.scan_id) or {}
        return Progress(
            queued=sum(counts.values()),
            done=counts["done"],
            invalid=scan.get("invalid_lines") or 0,
            input_complete=bool(scan.get("input_complete")),
        )

    def _redis_failed(self, exc: RedisError) -> None:
        now = time.monotonic()
        what = (
            "unreachable"
            if isinstance(exc, RedisConnectionError | RedisTimeoutError)
            else "failing"
        )
        if self.redis_lost_at is None:
            self.redis_lost_at = now
            self.notice(f"redis {what} ({describe(exc)}); retrying")
        elif now - self.redis_lost_at > self.patience:
            raise DistributedError(
                f"redis {what} for {self.patience:.0f} s ({describe(exc)}); the scan is"
                " resumable: run the same command with --resume"
            ) from None
        time.sleep(min(5.0, 0.5 + (now - self.redis_lost_at) / 4))


def read_config_text(server: Redis, keys: ScanKeys) -> str:
    text = server.get(keys.config)
    if text is None:
        raise DistributedError(
            f"redis has no configuration for scan {keys.token} (finished, or redis lost it):"
            " run the feeder again with --resume"
        )
    return text.decode() if isinstance(text, bytes) else str(text)


def scan_token(scan: dict[str, Any]) -> str | None:
    """The Redis token a distributed scan recorded in its options (None: a local scan)."""
    try:
        options = json.loads(scan.get("options") or "{}")
    except ValueError:
        return None
    token = options.get("redis_scan") if isinstance(options, dict) else None
    return token if isinstance(token, str) else None


def finish(db: sqlite_utils.Database, publisher: Publisher, *, resumed: bool) -> ScanOutcome:
    """Every domain is stored: the scan-wide rules, the scan row, and Redis's queues cleared."""
    scan_id = publisher.scan_id
    apply_scan_wide_findings(db, scan_id)
    store.finish_scan(db, scan_id)
    scanstate.add_costs(publisher.server, publisher.keys, *totals())
    scanstate.close(publisher.server, publisher.keys, scanstate.FINISHED)
    scan = store.get_scan(db, scan_id) or {}
    return ScanOutcome(
        scan_id=scan_id,
        done=store.queue_counts(db, scan_id)["done"],
        invalid=scan.get("invalid_lines") or 0,
        duplicates=scan.get("duplicate_lines") or 0,
        resumed=resumed,
    )


def run_collect(
    db_path: str,
    redis_url: str,
    *,
    scan_id: int | None = None,
    patience: float = 300.0,
    on_progress: Callable[[Progress], None] | None = None,
    notice: Notice = lambda _message: None,
) -> tuple[ScanOutcome, bool]:
    """Collect a distributed scan whose feeder is gone; (outcome, finished?).

    The scan finishes if its input was fully read; otherwise this returns once every queued
    domain is stored, and the feeder's ``--resume`` feeds the rest.
    """
    from icpscan.distributed.connection import connect, ping

    server = connect(redis_url, patient=False, name="icpscan-collector")
    ping(redis_url)
    db = store.open_db(db_path, create=False)
    if scan_id is None:
        scan_id = _latest_distributed_scan(db)
    scan = store.get_scan(db, scan_id)
    if scan is None:
        raise ScanError(f"no scan {scan_id} in this database")
    token = scan_token(scan)
    if token is None:
        raise ScanError(f"scan {scan_id} is a local scan, not a distributed one")
    if scan["status"] == "finished":
        raise ScanError(f"scan {scan_id} is already finished")
    keys = ScanKeys(token)
    record = scanstate.read(server, token)
    if record is None or not record.epoch:
        raise DistributedError(
            f"redis has no record of scan {scan_id} (token {token}): run the feeder again"
            " with --resume to publish it"
        )
    publisher = Publisher(
        server=server,
        keys=keys,
        scan_id=scan_id,
        database=record.database,
        config_text=read_config_text(server, keys),
        epoch=record.epoch,
        created=record.created,
        feeder=record.feeder,
    )
    collector = Collector(db, publisher, patience=patience, notice=notice)
    collector.acquire()
    with store.transaction(db):
        db.execute("UPDATE scans SET status = 'running' WHERE id = ?", [scan_id])
    complete = collector.run(lambda: True, on_progress, stop_when_drained=True)
    if not complete:
        store.finish_scan(db, scan_id, status="interrupted")
        counts = store.queue_counts(db, scan_id)
        return ScanOutcome(scan_id, counts["done"], 0, 0, resumed=True), False
    return finish(db, publisher, resumed=True), True


def _latest_distributed_scan(db: sqlite_utils.Database) -> int:
    query = "SELECT id, options FROM scans WHERE status != 'finished' ORDER BY id DESC"
    for row in db.execute(query):
        if scan_token({"options": row[1]}):
            return int(row[0])
    raise ScanError("no unfinished distributed scan in this database")
