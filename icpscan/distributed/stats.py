"""Scrapy's stats, added up over every worker of a scan in one Redis hash.

scrapy-redis's :class:`~scrapy_redis.stats.RedisStatsCollector` makes every increment three
round trips (HEXISTS, HSET, HINCRBY) and deletes the hash when a spider closes; a crawl makes
a dozen increments per page. This collector keeps Scrapy's in-memory stats for the worker
itself and sends only the *increments*, summed, every few seconds (one pipelined round trip)
to ``icpscan:<token>:stats``, so ``icpscan status`` shows fleet-wide response codes, bytes and
errors. Lost increments (Redis unreachable) are kept and sent with the next flush.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.statscollectors import MemoryStatsCollector
from twisted.internet import task

from icpscan.distributed.connection import RedisError, connect, describe
from icpscan.distributed.keys import ScanKeys

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)


class SharedStatsCollector(MemoryStatsCollector):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        self._server = connect(settings["ICPSCAN_REDIS_URL"], patient=False, name="icpscan-stats")
        self._key = ScanKeys(settings["ICPSCAN_REDIS_SCAN"]).stats
        self._interval = settings.getfloat("ICPSCAN_REDIS_STATS_INTERVAL", 2.0)
        self._increments: Counter[str] = Counter()
        self._loop: task.LoopingCall | None = None
        crawler.signals.connect(self._start, signal=signals.engine_started)

    def inc_value(
        self, key: str, count: int = 1, start: int = 0, spider: Spider | None = None
    ) -> None:
        super().inc_value(key, count, start)
        if isinstance(count, int | float):
            self._increments[key] += count

    def _start(self) -> None:
        self._loop = task.LoopingCall(self.flush)
        self._loop.start(self._interval, now=False)

    def flush(self) -> None:
        if not self._increments:
            return
        pending, self._increments = self._increments, Counter()
        try:
            with self._server.pipeline(transaction=False) as pipe:
                for key, value in pending.items():
                    if isinstance(value, int):
                        pipe.hincrby(self._key, key, value)
                    else:
                        pipe.hincrbyfloat(self._key, key, value)
                pipe.execute()
        except RedisError as exc:
            log.debug("stats not sent yet: %s", describe(exc))
            pending.update(self._increments)
            self._increments = pending

    def close_spider(self, spider: Spider | None = None, reason: str | None = None) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.flush()
        super().close_spider(reason=reason)
