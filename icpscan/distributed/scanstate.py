"""A scan's public record in Redis: what it is, where its dataset lives, how far it got.

The feeder publishes it (and publishes it again if Redis lost it); workers read it to decide
whether to keep working; ``icpscan status`` reads it from any machine. The ``epoch`` field is
the feeder's proof of ownership: a record without the epoch it wrote means Redis lost the scan
(restarted without persistence, flushed) and everything must be published again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis import Redis

from icpscan.distributed.keys import REGISTRY, ScanKeys

RUNNING = "running"
FINISHED = "finished"
INTERRUPTED = "interrupted"
FINISHED_TTL = 24 * 3600  # a finished scan's record stays visible to `icpscan status` a day


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: Any) -> int:
    try:
        return int(_text(value))
    except ValueError:
        return 0


@dataclass(frozen=True)
class ScanRecord:
    token: str
    scan_id: int
    database: str
    feeder: str
    status: str
    input_complete: bool
    fed: int
    stored: int
    requeued: int
    redis_round_trips: int
    redis_seconds: float
    created: float
    updated: float
    epoch: str

    @classmethod
    def from_hash(cls, token: str, data: dict[Any, Any]) -> ScanRecord:
        values = {_text(k): _text(v) for k, v in data.items()}
        return cls(
            token=token,
            scan_id=_int(values.get("scan_id", "0")),
            database=values.get("database", ""),
            feeder=values.get("feeder", ""),
            status=values.get("status", "unknown"),
            input_complete=values.get("input_complete") == "1",
            fed=_int(values.get("fed", "0")),
            stored=_int(values.get("stored", "0")),
            requeued=_int(values.get("requeued", "0")),
            redis_round_trips=int(float(values.get("redis_round_trips") or 0)),
            redis_seconds=float(values.get("redis_seconds") or 0),
            created=float(values.get("created") or 0),
            updated=float(values.get("updated") or 0),
            epoch=values.get("epoch", ""),
        )


def publish(
    server: Redis,
    keys: ScanKeys,
    *,
    scan_id: int,
    database: str,
    feeder: str,
    config_text: str,
    epoch: str,
    input_complete: bool,
    fed: int,
    stored: int,
    created: float,
) -> None:
    """Write (or rewrite) the scan's record, its configuration and its registry entry."""
    now = time.time()
    with server.pipeline(transaction=True) as pipe:
        pipe.set(keys.config, config_text)
        pipe.hset(
            keys.scan,
            mapping={
                "scan_id": scan_id,
                "database": database,
                "feeder": feeder,
                "status": RUNNING,
                "input_complete": int(input_complete),
                "fed": fed,
                "stored": stored,
                "created": created,
                "updated": now,
                "epoch": epoch,
            },
        )
        pipe.persist(keys.scan)
        pipe.zadd(REGISTRY, {keys.token: created})
        pipe.execute()


# KEYS: scan hash. ARGV: field, amount, field, amount... Only into a scan that still exists.
_ADD_COSTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


def add_costs(server: Redis, keys: ScanKeys, round_trips: int, seconds: float) -> None:
    """Add one process's Redis round trips and waiting time to the scan's totals (what the
    benchmark and the docs report per domain)."""
    server.eval(
        _ADD_COSTS, 1, keys.scan, "redis_round_trips", round_trips, "redis_seconds", seconds
    )


def read(server: Redis, token: str) -> ScanRecord | None:
    data = server.hgetall(ScanKeys(token).scan)
    return ScanRecord.from_hash(token, data) if data else None


def status_of(server: Redis, keys: ScanKeys) -> str | None:
    value = server.hget(keys.scan, "status")
    return _text(value) if value is not None else None


def registered(server: Redis) -> list[str]:
    """Tokens of the scans that are (or were, until they finished) running, oldest first."""
    return [_text(t) for t in server.zrange(REGISTRY, 0, -1)]


def update(server: Redis, keys: ScanKeys, **fields: Any) -> None:
    mapping: dict[Any, Any] = {k: (int(v) if isinstance(v, bool) else v) for k, v in fields.items()}
    mapping["updated"] = time.time()
    server.hset(keys.scan, mapping=mapping)


def close(server: Redis, keys: ScanKeys, status: str) -> None:
    """End the scan in Redis: workers stop; a finished scan's queues are deleted."""
    with server.pipeline(transaction=True) as pipe:
        pipe.hset(keys.scan, mapping={"status": status, "updated": time.time()})
        if status == FINISHED:
            pipe.expire(keys.scan, FINISHED_TTL)
            pipe.expire(keys.stats, FINISHED_TTL)
            pipe.zrem(REGISTRY, keys.token)
            pipe.delete(keys.config, keys.requests, keys.dupefilter, keys.results, keys.collector)
        pipe.execute()
    if status == FINISHED:  # leftovers of workers that died after their last domain
        for name in server.smembers(keys.workers):
            server.delete(keys.processing(_text(name)))
        server.delete(keys.workers)
