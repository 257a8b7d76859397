"""The scan's request queue: scrapy-redis's FIFO queue, with its one gap closed.

scrapy-redis pops a request and forgets it (``RPOP``), so a worker killed mid-request loses
that domain. Here a pop is a *move* into the popping worker's processing list (``LMOVE``, a
batch per round trip); the worker acknowledges a domain by removing it from that list in the
same ``MULTI`` that appends its result to the results stream, so a result and its
acknowledgement happen together or not at all. A worker that dies keeps its list; the reaper
(:meth:`ReliableQueue.requeue`, run by the collector and by idle workers) moves it back to the
queue once the worker's heartbeat key has expired. Delivery is at least once (a worker thought
dead may still deliver); the SQLite writer stores a domain once.

Requests are scrapy-redis's (``Request.to_dict`` through the queue's serializer), but the
serializer is JSON (:mod:`.serializer`), not pickle.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from redis import Redis
from scrapy import Request
from scrapy_redis.queue import FifoQueue

from icpscan.distributed import serializer
from icpscan.distributed.dupefilter import JOB_META, DomainDupeFilter
from icpscan.distributed.keys import ScanKeys, worker_key

log = logging.getLogger(__name__)

# KEYS: dupefilter set, queue list. ARGV: fingerprint, payload, fingerprint, payload, ...
_PUSH_UNSEEN = """
local added = 0
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('LPUSH', KEYS[2], ARGV[i + 1])
    added = added + 1
  end
end
return added
"""

# KEYS: queue, processing list. ARGV: how many.
_CLAIM = """
local taken = {}
for i = 1, tonumber(ARGV[1]) do
  local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not item then break end
  taken[#taken + 1] = item
end
return taken
"""

# KEYS: heartbeat, processing list, queue, workers set, scan hash. ARGV: worker, force.
_REQUEUE = """
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local moved = 0
-- newest first onto the consuming end: the oldest claim is the next one out
while redis.call('LMOVE', KEYS[2], KEYS[3], 'LEFT', 'RIGHT') do moved = moved + 1 end
redis.call('SREM', KEYS[4], ARGV[1])
if moved > 0 and redis.call('HEXISTS', KEYS[5], 'epoch') == 1 then
  redis.call('HINCRBY', KEYS[5], 'requeued', moved)
end
return moved
"""


@dataclass(frozen=True)
class Job:
    """One domain to scan, as the feeder queued it."""

    domain: str
    display: str
    line: int | None

    def to_request(self) -> Request:
        return Request(
            f"http://{self.domain}/",
            meta={JOB_META: {"domain": self.domain, "display": self.display, "line": self.line}},
            dont_filter=True,
        )

    @classmethod
    def from_request(cls, request: Request) -> Job:
        job = request.meta.get(JOB_META)
        if not isinstance(job, dict) or not isinstance(job.get("domain"), str):
            raise ValueError(f"not an icpscan job request: {request.url}")
        line = job.get("line")
        return cls(
            domain=job["domain"],
            display=str(job.get("display") or job["domain"]),
            line=line if isinstance(line, int) else None,
        )


@dataclass(frozen=True)
class Claimed:
    raw: bytes  # exactly as stored: the acknowledgement removes this value
    job: Job


class _Owner:
    """What scrapy-redis's queue wants of a spider: a name (for keys) and callbacks (none)."""

    name = "homepage"


class ReliableQueue(FifoQueue):
    def __init__(self, server: Redis, keys: ScanKeys) -> None:
        super().__init__(server, _Owner(), keys.requests, serializer=serializer)
        self.keys = keys
        self.dupefilter = DomainDupeFilter(server, keys)
        self._push_unseen = server.register_script(_PUSH_UNSEEN)
        self._claim = server.register_script(_CLAIM)
        self._requeue = server.register_script(_REQUEUE)

    def _decode_request(self, encoded_request: bytes) -> Request:
        """scrapy-redis's decoding, minus what untrusted data must not choose: a request class
        to import (``_class``) or callbacks to look up."""
        data = serializer.loads(encoded_request)
        if not isinstance(data, dict) or "_class" in data:
            raise ValueError("not a plain request")
        if data.get("callback") or data.get("errback"):
            raise ValueError("a queued job names no callbacks")
        return super()._decode_request(encoded_request)

    # -- feeding ------------------------------------------------------------------------------

    def push_unseen(self, jobs: Iterable[Job]) -> int:
        """Queue the jobs whose domain this scan has never queued; returns how many were new.

        The dupefilter check and the push are one script: a feeder killed mid-batch leaves
        each domain either queued and marked seen, or neither.
        """
        args: list[str | bytes] = []
        for job in jobs:
            request = job.to_request()
            args.append(self.dupefilter.request_fingerprint(request))
            args.append(self._encode_request(request))
        if not args:
            return 0
        return int(self._push_unseen(keys=[self.keys.dupefilter, self.key], args=args))

    def push_again(self, jobs: Iterable[Job]) -> int:
        """Queue jobs whatever the dupefilter says (domains known to be lost in flight)."""
        with self.server.pipeline(transaction=False) as pipe:
            count = 0
            for job in jobs:
                pipe.lpush(self.key, self._encode_request(job.to_request()))
                count += 1
            pipe.execute()
        return count

    # -- working ------------------------------------------------------------------------------

    def claim(self, worker: str, count: int) -> list[Claimed]:
        """Move up to ``count`` requests into ``worker``'s processing list (one round trip)."""
        processing = self.keys.processing(worker)
        raws = self._claim(keys=[self.key, processing], args=[count])
        claimed = []
        for raw in raws:
            try:
                claimed.append(Claimed(raw, Job.from_request(self._decode_request(raw))))
            except Exception as exc:  # a hostile or corrupt entry must not stop the scan
                log.error("dropping an unreadable queue entry (%s): %r", exc, raw[:200])
                self.server.lrem(processing, 1, raw)
        return claimed

    def deliver(self, worker: str, records: Sequence[str], acks: Sequence[bytes]) -> None:
        """Append records to the results stream and acknowledge their requests, atomically."""
        processing = self.keys.processing(worker)
        with self.server.pipeline(transaction=True) as pipe:
            for record in records:
                pipe.xadd(self.keys.results, {"r": record})
            for raw in acks:
                pipe.lrem(processing, 1, raw)
            pipe.execute()

    def held(self, worker: str) -> int:
        return int(self.server.llen(self.keys.processing(worker)))

    # -- recovering ---------------------------------------------------------------------------

    def requeue(self, worker: str, *, force: bool = False) -> int:
        """Give ``worker``'s requests back to the queue if its heartbeat has expired (or
        ``force``: the caller knows it is gone). Returns how many moved, -1 if it is alive."""
        keys = [
            worker_key(worker),
            self.keys.processing(worker),
            self.key,
            self.keys.workers,
            self.keys.scan,
        ]
        return int(self._requeue(keys=keys, args=[worker, "1" if force else "0"]))

    def reap(self) -> int:
        """Requeue the requests of every worker of this scan whose heartbeat has expired."""
        moved = 0
        for name in self.server.smembers(self.keys.workers):
            worker = name.decode() if isinstance(name, bytes) else str(name)
            moved += max(0, self.requeue(worker))
        return moved
