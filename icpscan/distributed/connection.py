"""Redis clients for distributed scans: URLs, timeouts, retries and round-trip accounting.

Clients are built with scrapy-redis's :func:`scrapy_redis.connection.get_redis` (the same
``REDIS_URL`` conventions a scrapy-redis project uses) on top of a :class:`CountingRedis`, which
counts round trips and the time spent waiting for Redis, so ``icpscan status`` and
``bench/distributed_bench.py`` can say what one domain costs the shared server.

A *patient* client retries a lost connection with exponential backoff (a Redis restart takes a
few seconds): the feeder's input thread uses one. Everything that runs in a loop with its own
recovery (the crawl, which must never stall its reactor on Redis; the collector, which reports
an outage as soon as it starts) uses an *impatient* one that fails at once.
"""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from scrapy_redis.connection import get_redis

__all__ = [
    "CountingRedis",
    "DistributedError",
    "RedisError",
    "connect",
    "describe",
    "redact",
    "totals",
]

SOCKET_TIMEOUT = 10.0  # longer than any blocking read we issue (those wait <= 1 s)
CONNECT_TIMEOUT = 5.0
IMPATIENT_CONNECT_TIMEOUT = 2.0
PATIENT_RETRIES = 10  # 0.2 s doubling to 5 s: about 30 s of retrying before an error


_BLOCK = ("BLOCK", b"BLOCK")
_CLIENTS: list[CountingRedis] = []  # this process's clients, for its round-trip totals


def totals() -> tuple[int, float]:
    """Round trips to Redis and seconds spent in them, over every client of this process."""
    return (sum(c.round_trips for c in _CLIENTS), sum(c.seconds for c in _CLIENTS))


class DistributedError(Exception):
    """A distributed scan cannot start or go on (bad URL, Redis gone too long, no such scan)."""


class CountingPipeline(Pipeline):
    """A pipeline that counts one round trip per ``execute``, however many commands it holds."""

    counter: CountingRedis

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        started = time.perf_counter()
        try:
            return super().execute(raise_on_error)
        finally:
            self.counter.round_trips += 1
            self.counter.seconds += time.perf_counter() - started


class CountingRedis(redis.Redis):
    """``redis.Redis`` that counts round trips and the seconds spent in them (per client).

    Time spent in a blocking read (``XREADGROUP ... BLOCK``) is waiting for work, not Redis
    cost, and is not counted.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.round_trips = 0
        self.seconds = 0.0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        started = time.perf_counter()
        try:
            return super().execute_command(*args, **options)
        finally:
            self.round_trips += 1
            if not any(arg in _BLOCK for arg in args):
                self.seconds += time.perf_counter() - started

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> CountingPipeline:
        pipe = CountingPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.counter = self
        return pipe


def redact(url: str) -> str:
    """The URL without its password (it goes into logs, the dataset and ``icpscan status``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable redis URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def describe(exc: BaseException) -> str:
    """One line for a Redis failure (redis-py messages can span several lines)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def connect(url: str, *, patient: bool = True, name: str = "icpscan") -> CountingRedis:
    """A client for ``url`` (``redis://[:password@]host:port/db``, ``rediss://``, ``unix://``).

    Raises :class:`DistributedError` for a malformed URL; connecting happens on first use.
    """
    errors = (RedisConnectionError, RedisTimeoutError, socket.timeout)
    if patient:
        retry = Retry(ExponentialBackoff(cap=5.0, base=0.2), PATIENT_RETRIES, errors)
    else:  # one quick retry absorbs a stale pooled connection, nothing longer
        retry = Retry(ExponentialBackoff(cap=0.1, base=0.05), 1, errors)
    try:
        client: CountingRedis = get_redis(
            redis_cls=CountingRedis,
            url=url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=CONNECT_TIMEOUT if patient else IMPATIENT_CONNECT_TIMEOUT,
            socket_keepalive=True,
            health_check_interval=15,
            retry=retry,
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            client_name=name,
        )
    except ValueError as exc:
        raise DistributedError(f"bad --redis URL {redact(url)}: {describe(exc)}") from None
    _CLIENTS.append(client)
    return client


def ping(url: str, attempts: int = 3) -> None:
    """Fail early and clearly when Redis cannot be reached (or refuses our password).

    A command starting against a wrong URL should say so in seconds; once running, clients
    are patient (a Redis restart is ridden out).
    """
    client = connect(url, patient=False, name="icpscan-ping")
    try:
        for attempt in range(attempts):
            try:
                client.ping()
                return
            except RedisConnectionError:
                if attempt + 1 == attempts:
                    raise
                time.sleep(1.0)
    except RedisError as exc:
        raise DistributedError(f"cannot use redis at {redact(url)}: {describe(exc)}") from None
    finally:
        _CLIENTS.remove(client)
        client.close()
