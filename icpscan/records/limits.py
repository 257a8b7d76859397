"""Strict rate limits for a lookup service: within one process, or across a scan's workers.

A lookup service's terms are usually "at most N requests per second per key", for the whole
scan — not per worker process. :class:`SqliteRateLimiter` keeps the next free slot in the
scan's database (one row per service), so every worker of a scan shares one budget; a 429
with Retry-After pushes the slot back for all of them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

Sleep = Callable[[float], None]


class RateLimiter:
    """At most one request per ``interval`` seconds (``acquire`` blocks until a slot is free)."""

    def __init__(self, interval: float, *, sleep: Sleep = time.sleep) -> None:
        self.interval = max(0.0, interval)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def _now(self) -> float:
        return time.time()

    def _take(self, now: float) -> float:
        """Reserve a slot; returns how long to wait first (0 when the slot is now)."""
        slot = max(now, self._next)
        self._next = slot + self.interval
        return slot - now

    def acquire(self) -> None:
        with self._lock:
            wait = self._take(self._now())
        if wait > 0:
            self._sleep(wait)

    def defer(self, seconds: float) -> None:
        """Nobody sends before ``seconds`` from now (the service said Retry-After)."""
        with self._lock:
            self._next = max(self._next, self._now() + seconds)


class SqliteRateLimiter(RateLimiter):
    """The same budget for every process that uses the database (``record_service_slots``)."""

    def __init__(
        self, db_path: str | Path, key: str, interval: float, *, sleep: Sleep = time.sleep
    ) -> None:
        super().__init__(interval, sleep=sleep)
        self.db_path = str(db_path)
        self.key = key
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 60000")
            self._local.conn = conn
        return conn

    def _update(self, change: Callable[[float, float], tuple[float, float]]) -> float:
        """Run ``change(now, next_slot) -> (new next_slot, wait)`` atomically in the database."""
        conn = self._conn()
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT next_at FROM record_service_slots WHERE service = ?", [self.key]
                ).fetchone()
                now = self._now()
                new_next, wait = change(now, float(row[0]) if row else 0.0)
                conn.execute(
                    "INSERT INTO record_service_slots (service, next_at) VALUES (?, ?)"
                    " ON CONFLICT(service) DO UPDATE SET next_at = excluded.next_at",
                    [self.key, new_next],
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return wait

    def acquire(self) -> None:
        def take(now: float, next_at: float) -> tuple[float, float]:
            slot = max(now, next_at)
            return slot + self.interval, slot - now

        wait = self._update(take)
        if wait > 0:
            self._sleep(wait)

    def defer(self, seconds: float) -> None:
        self._update(lambda now, next_at: (max(next_at, now + seconds), 0.0))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
