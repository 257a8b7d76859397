"""Politeness across workers: a request budget per target network, shared through Redis.

Scrapy's per-host limits hold inside one process; forty workers on ten machines each keeping
to two requests per host still send eighty at a shared-hosting server that carries thousands of
the listed domains. Here every request first reserves a slot in its network's budget: the
/24 (IPv6: /48) of the address the hosting stage pinned it to, or the host name when nothing is
pinned. The budget is a GCRA rate limiter (``rate`` requests per second, bursts of ``burst``)
kept in one Redis key per network and updated by a Lua script: one round trip per request, no
polling, and the key expires by itself. A worker that cannot reach Redis sends without waiting
(politeness degrades to Scrapy's per-process limits; the crawl goes on) and tries Redis again
a few seconds later.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from typing import TYPE_CHECKING, Any

from redis import Redis

from icpscan.crawl.destination import Pin
from icpscan.crawl.handler import META_PIN
from icpscan.distributed.connection import RedisError, connect, describe
from icpscan.distributed.keys import budget_key

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)

RETRY_REDIS_AFTER = 5.0

# KEYS: the network's budget. ARGV: emission interval (us), burst. Returns the wait (us).
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
           math.floor((new_tat - now) / 1000) + 1000)
return math.floor(wait)
"""


def network_of(address: str) -> str:
    """The network a request counts against: /24 for IPv4, /48 for IPv6."""
    ip = ipaddress.ip_address(address)
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


class NetworkBudget:
    def __init__(self, server: Redis, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError("a network budget needs a positive rate")
        self.server = server
        self.interval_us = max(1, round(1_000_000 / rate))
        self.burst = max(1, burst)
        self._reserve = server.register_script(_RESERVE)

    def reserve(self, network: str) -> float:
        """Take the next slot of ``network``'s budget; seconds to wait before sending."""
        waited = self._reserve(keys=[budget_key(network)], args=[self.interval_us, self.burst])
        return int(waited) / 1_000_000


def budget_subject(request: Request) -> str:
    """What a request is budgeted against: its pinned address's network, or its host."""
    pin = Pin.from_meta(request.meta.get(META_PIN))
    if pin is not None:
        try:
            return network_of(pin.address)
        except ValueError:
            pass
    host = request.url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    return "host:" + host.lower()


class SharedBudgetMiddleware:
    """Downloader middleware: wait for the request's network budget, then let it go."""

    def __init__(self, budget: NetworkBudget, crawler: Crawler) -> None:
        self.budget = budget
        self.stats = crawler.stats
        self.redis_down_until = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedBudgetMiddleware:
        settings = crawler.settings
        server = connect(settings["ICPSCAN_REDIS_URL"], patient=False, name="icpscan-budget")
        budget = NetworkBudget(
            server,
            settings.getfloat("ICPSCAN_NETWORK_RATE"),
            settings.getint("ICPSCAN_NETWORK_BURST", 1),
        )
        return cls(budget, crawler)

    async def process_request(self, request: Request) -> Any:
        if request.url.startswith("data:") or time.monotonic() < self.redis_down_until:
            return None
        try:
            wait = self.budget.reserve(budget_subject(request))
        except RedisError as exc:
            self.redis_down_until = time.monotonic() + RETRY_REDIS_AFTER
            log.warning("network budget unavailable (%s): sending without it", describe(exc))
            return None
        if wait > 0:
            assert self.stats is not None
            self.stats.inc_value("icpscan/budget/delayed")
            self.stats.inc_value("icpscan/budget/waited_ms", round(wait * 1000))
            await asyncio.sleep(wait)
        return None
