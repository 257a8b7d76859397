"""Where a distributed scan keeps its state in Redis: one naming scheme, in one place.

Every scan gets a random token (its SQLite scan id is only unique within one database, and
several databases may share a Redis). Per-scan keys live under ``icpscan:<token>:``; worker
heartbeats and the politeness budgets are global, because a worker and a target network are
the same whichever scan they serve. Key names follow scrapy-redis's (``...:requests``,
``...:dupefilter``, ``...:stats``) so anyone who knows scrapy-redis finds their way.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass

PREFIX = "icpscan"
REGISTRY = f"{PREFIX}:scans"  # sorted set: token -> creation time (unix seconds)
RESULTS_GROUP = "collector"  # the results stream's consumer group
RESULTS_CONSUMER = "collector"  # one collector per scan (a lock makes sure)

_TOKEN = re.compile(r"[0-9a-f]{12}")


def new_token() -> str:
    return secrets.token_hex(6)


def is_token(text: str) -> bool:
    return _TOKEN.fullmatch(text) is not None


def new_worker_name(prefix: str | None = None) -> str:
    """``host-pid-xxxx``: readable in ``icpscan status``, unique across machines and restarts."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", prefix or socket.gethostname())[:40] or "worker"
    return f"{host}-{os.getpid()}-{secrets.token_hex(2)}"


def worker_key(worker: str) -> str:
    """A worker's heartbeat hash; it expires when the worker stops refreshing it."""
    return f"{PREFIX}:worker:{worker}"


def budget_key(network: str) -> str:
    """The politeness budget of one target network, shared by every worker and scan."""
    return f"{PREFIX}:budget:{network}"


@dataclass(frozen=True)
class ScanKeys:
    token: str

    def _key(self, *parts: str) -> str:
        return ":".join((PREFIX, self.token, *parts))

    @property
    def scan(self) -> str:
        """Hash: scan id, database, status, progress counters, the feeder's epoch."""
        return self._key("scan")

    @property
    def config(self) -> str:
        """String: the scan options every worker runs with (JSON, files embedded)."""
        return self._key("config")

    @property
    def requests(self) -> str:
        """List: domain requests waiting for a worker (scrapy-redis FIFO order)."""
        return self._key("requests")

    @property
    def dupefilter(self) -> str:
        """Set: every domain ever queued for this scan (feeding twice queues nothing twice)."""
        return self._key("dupefilter")

    @property
    def workers(self) -> str:
        """Set: workers that may hold requests of this scan (the reaper's list)."""
        return self._key("workers")

    def processing(self, worker: str) -> str:
        """List: requests ``worker`` has taken and not yet delivered."""
        return self._key("processing", worker)

    @property
    def results(self) -> str:
        """Stream: result records on their way to the collector."""
        return self._key("results")

    @property
    def collector(self) -> str:
        """String with a TTL: the collector's lock (one SQLite writer per scan)."""
        return self._key("collector")

    @property
    def stats(self) -> str:
        """Hash: Scrapy's counters added up over every worker."""
        return self._key("stats")
