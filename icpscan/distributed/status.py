"""``icpscan status``: a distributed scan's progress and workers, read from Redis anywhere."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from redis import Redis

from icpscan.distributed import scanstate
from icpscan.distributed.keys import ScanKeys, worker_key
from icpscan.distributed.scanstate import ScanRecord

# Scrapy counters worth showing fleet-wide (prefixes of the stats hash's fields; the crawl's
# trimmed middleware set has no downloader/* counters).
SHOWN_STATS = (
    "item_scraped_count",
    "response_received_count",
    "httpcompression/response_bytes",
    "retry/count",
    "retry/max_reached",
    "icpscan/budget/",
    "log_count/ERROR",
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class WorkerStatus:
    name: str
    alive: bool  # heartbeat present; False = silent, its domains wait for the reaper
    host: str = ""
    pid: int = 0
    state: str = "silent"
    held: int = 0
    delivered: int = 0
    rate: float = 0.0  # domains/s over the last minute
    seen_ago: float | None = None
    round_trips: int = 0
    redis_seconds: float = 0.0


@dataclass
class ScanStatus:
    record: ScanRecord
    queued: int  # requests waiting in Redis
    in_flight: int  # held by workers
    awaiting_collection: int  # results in the stream, not yet in SQLite
    workers: list[WorkerStatus] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return sum(w.rate for w in self.workers if w.alive)

    @property
    def remaining(self) -> int | None:
        if not self.record.input_complete:
            return None
        return max(0, self.record.fed - self.record.stored)

    @property
    def eta_seconds(self) -> float | None:
        remaining = self.remaining
        if remaining is None or self.rate <= 0:
            return None
        return remaining / self.rate

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(rate=round(self.rate, 2), remaining=self.remaining)
        data["eta_seconds"] = self.eta_seconds
        return data


def gather(server: Redis, token: str | None = None) -> list[ScanStatus]:
    """Every running scan (or the one ``token`` names, finished or not), oldest first."""
    tokens = [token] if token else scanstate.registered(server)
    found = []
    for item in tokens:
        record = scanstate.read(server, item)
        if record is not None:
            found.append(_scan_status(server, record))
    return found


def _scan_status(server: Redis, record: ScanRecord) -> ScanStatus:
    keys = ScanKeys(record.token)
    names = sorted(_text(n) for n in server.smembers(keys.workers))
    with server.pipeline(transaction=False) as pipe:
        pipe.llen(keys.requests)
        pipe.xlen(keys.results)
        pipe.hgetall(keys.stats)
        for name in names:
            pipe.llen(keys.processing(name))
            pipe.hgetall(worker_key(name))
        replies = pipe.execute()
    queued, awaiting, stats = replies[0], replies[1], replies[2]
    workers = []
    now = time.time()
    for index, name in enumerate(names):
        held, beat = replies[3 + 2 * index], replies[4 + 2 * index]
        workers.append(_worker_status(name, held, beat, now))
    return ScanStatus(
        record=record,
        queued=int(queued),
        in_flight=sum(w.held for w in workers),
        awaiting_collection=int(awaiting),
        workers=workers,
        stats=_shown_stats(stats),
    )


def _worker_status(name: str, held: int, beat: dict[Any, Any], now: float) -> WorkerStatus:
    if not beat:
        return WorkerStatus(name=name, alive=False, held=int(held))
    values = {_text(k): _text(v) for k, v in beat.items()}
    seen = float(values.get("seen") or 0)
    return WorkerStatus(
        name=name,
        alive=True,
        host=values.get("host", ""),
        pid=int(values.get("pid") or 0),
        state=values.get("state", ""),
        held=int(held),
        delivered=int(values.get("delivered") or 0),
        rate=float(values.get("rate") or 0),
        seen_ago=round(now - seen, 1) if seen else None,
        round_trips=int(values.get("round_trips") or 0),
        redis_seconds=float(values.get("redis_seconds") or 0),
    )


def _shown_stats(raw: dict[Any, Any]) -> dict[str, float]:
    shown = {}
    for key, value in raw.items():
        name = _text(key)
        if name.startswith(SHOWN_STATS):
            number = float(_text(value))
            shown[name] = int(number) if number.is_integer() else number
    return dict(sorted(shown.items()))
