"""Filing records from a user-configured HTTP JSON lookup service.

Nothing is consulted unless the user writes a configuration (``--record-service FILE``); the
official MIIT site is never scraped. The configuration names the URL template, how to find the
records in the JSON reply and which reply fields hold which record field, an auth header, a
strict rate limit and cache lifetimes (``docs/records.md``).

Behaviour a scan can rely on:

* **Rate limit** — at most ``rate_limit.requests`` per ``rate_limit.per_seconds`` for the whole
  scan (shared through the scan's database across workers).
* **Throttling** — 429 is retried after ``Retry-After`` (seconds or an HTTP date; the whole
  scan waits), at most ``retries`` times and never longer than ``max_wait`` seconds at once;
  then :class:`ThrottledError`.
* **Blocked** — 401/403 raise :class:`BlockedError`, and every later lookup of this source
  fails the same way without another request (no hammering a service that said no).
* **Schema changed** — a reply that is not JSON, lacks the records path, or holds records
  without the mapped fields raises :class:`SchemaChangedError`, also sticky: a changed reply
  format would otherwise read as "no filing" for every domain.
* **Cache** — answers are kept ``cache.days`` (records found) and ``cache.negative_days`` (none
  found) in memory and, in a scan, in the dataset (``record_lookups``/``filing_records``), so a
  later scan of the same database asks again only for expired answers.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import os
import re
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icpscan import __version__
from icpscan.models import FilingRecord
from icpscan.records.errors import (
    BlockedError,
    RecordConfigError,
    RecordSourceError,
    SchemaChangedError,
    ServiceUnavailableError,
    ThrottledError,
)
from icpscan.records.fields import ALIASES, FIELDS, record_from_mapping
from icpscan.records.limits import RateLimiter
from icpscan.records.source import RecordAnswer, RecordSource, registrable_domain, utcnow

MAX_REPLY_BYTES = 5 * 1024 * 1024
DEFAULT_FIELDS = {name: ALIASES[name][1] for name in FIELDS if len(ALIASES[name]) > 1}
DEFAULT_FIELDS["domain"] = "domain"
DEFAULT_FIELDS.pop("fetched_at", None)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEMA_STATUSES = frozenset({400, 405, 410, 415, 422})


@dataclass(frozen=True)
class ServiceConfig:
    """A lookup service, as the user's configuration file describes it."""

    name: str
    url: str  # template with {domain}
    number_url: str | None = None  # template with {number}: whose number is it (optional)
    records: str = ""  # dotted path of the record list in the reply ("" = the reply itself)
    fields: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELDS))
    headers: Mapping[str, str] = field(default_factory=dict)
    requests: int = 1  # rate limit: this many requests ...
    per_seconds: float = 1.0  # ... per this many seconds, for the whole scan
    timeout: float = 10.0
    retries: int = 3  # extra tries after a 429 or a failure to connect / 5xx
    max_wait: float = 120.0  # never sleep longer than this for one Retry-After
    cache_days: float = 30.0
    negative_cache_days: float = 7.0
    not_found_status: tuple[int, ...] = (404,)

    @property
    def source(self) -> str:
        return f"service:{self.name}"

    @property
    def interval(self) -> float:
        return self.per_seconds / self.requests

    @classmethod
    def load(cls, path: str | Path, env: Mapping[str, str] | None = None) -> ServiceConfig:
        """Read a TOML (``.toml``) or JSON configuration; errors are :class:`RecordConfigError`."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordConfigError(f"cannot read record service config {path}: {exc}") from None
        try:
            data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise RecordConfigError(f"{path}: not valid {path.suffix or 'JSON'}: {exc}") from None
        if not isinstance(data, dict):
            raise RecordConfigError(f"{path}: the configuration must be a table/object")
        try:
            return cls.from_mapping(data, env=os.environ if env is None else env)
        except RecordConfigError as exc:
            raise RecordConfigError(f"{path}: {exc}") from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], env: Mapping[str, str]) -> ServiceConfig:
        known = {
            "name", "url", "number_url", "records", "fields", "headers", "rate_limit",
            "timeout", "retries", "max_wait", "cache", "not_found_status",
        }  # fmt: skip
        unknown = sorted(set(data) - known)
        if unknown:
            raise RecordConfigError(f"unknown setting(s): {', '.join(unknown)}")
        url = _template(data.get("url"), "url", "{domain}")
        number_url = data.get("number_url")
        if number_url is not None:
            number_url = _template(number_url, "number_url", "{number}")
        fields = dict(DEFAULT_FIELDS)
        given = data.get("fields") or {}
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            raise RecordConfigError("fields must map our field names to reply field names")
        bad = sorted(set(given) - set(FIELDS))
        if bad:
            raise RecordConfigError(
                f"unknown record field(s) {', '.join(bad)} (known: {', '.join(FIELDS)})"
            )
        fields.update(given)
        headers = {}
        for key, value in (data.get("headers") or {}).items():
            headers[str(key)] = _expand(str(value), env, key)
        rate = data.get("rate_limit") or {}
        cache = data.get("cache") or {}
        try:
            config = cls(
                name=str(data.get("name") or urllib.parse.urlsplit(url).hostname or "service"),
                url=url,
                number_url=number_url,
                records=str(data.get("records") or ""),
                fields=fields,
                headers=headers,
                requests=int(rate.get("requests", 1)),
                per_seconds=float(rate.get("per_seconds", 1.0)),
                timeout=float(data.get("timeout", 10.0)),
                retries=int(data.get("retries", 3)),
                max_wait=float(data.get("max_wait", 120.0)),
                cache_days=float(cache.get("days", 30.0)),
                negative_cache_days=float(cache.get("negative_days", 7.0)),
                not_found_status=tuple(int(s) for s in data.get("not_found_status", (404,))),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise RecordConfigError(f"bad value: {exc}") from None
        if config.requests < 1 or config.per_seconds <= 0:
            raise RecordConfigError("rate_limit needs requests >= 1 and per_seconds > 0")
        if config.timeout <= 0 or config.retries < 0 or config.max_wait < 0:
            raise RecordConfigError("timeout must be > 0; retries and max_wait >= 0")
        return config


def _template(value: Any, name: str, placeholder: str) -> str:
    if not isinstance(value, str) or not value:
        raise RecordConfigError(f"{name} is required (an http(s) URL template)")
    scheme = urllib.parse.urlsplit(value.replace(placeholder, "x")).scheme
    if scheme not in ("http", "https"):
        raise RecordConfigError(f"{name} must be an http:// or https:// URL, not {value!r}")
    if placeholder not in value:
        raise RecordConfigError(f"{name} must contain {placeholder}")
    return value


def _expand(value: str, env: Mapping[str, str], header: str) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise RecordConfigError(f"header {header} needs environment variable {name}")
        return env[name]

    return _ENV_REF.sub(sub, value)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _at_path(reply: Any, path: str) -> Any:
    value = reply
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise SchemaChangedError(f"the reply has no {path!r} (missing {part!r})")
    return value


class AnswerCache:
    """Answers by (kind, query) with their time; in memory, optionally backed by a store."""

    def __init__(
        self,
        positive_days: float,
        negative_days: float,
        backing: Any | None = None,
    ) -> None:
        self.positive = positive_days * 86400
        self.negative = negative_days * 86400
        self.backing = backing  # icpscan.records.cache.DatasetCache (get only)
        self._memory: dict[tuple[str, str], RecordAnswer] = {}
        self._lock = threading.Lock()

    def fresh(self, answer: RecordAnswer, now: float) -> bool:
        try:
            when = datetime.datetime.fromisoformat(answer.fetched_at).timestamp()
        except ValueError:
            return False
        return now - when <= (self.positive if answer.records else self.negative)

    def get(self, source: str, kind: str, query: str) -> RecordAnswer | None:
        now = time.time()
        with self._lock:
            answer = self._memory.get((kind, query))
        if answer is None and self.backing is not None:
            answer = self.backing.get(source, kind, query)
        if answer is None or not self.fresh(answer, now):
            return None
        return RecordAnswer(answer.query, answer.records, answer.fetched_at, cached=True)

    def put(self, kind: str, answer: RecordAnswer) -> None:
        with self._lock:
            self._memory[(kind, answer.query)] = answer


Opener = Callable[[urllib.request.Request, float], Any]


def _default_open(request: urllib.request.Request, timeout: float) -> Any:
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - scheme checked


class HttpRecordSource(RecordSource):
    """Records from a JSON lookup service (thread-safe; lookups block: run them off-thread)."""

    blocking = True

    def __init__(
        self,
        config: ServiceConfig,
        *,
        limiter: RateLimiter | None = None,
        cache: AnswerCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
        opener: Opener = _default_open,
    ) -> None:
        self.config = config
        self.name = config.source
        self.number_lookups = config.number_url is not None
        self.limiter = limiter or RateLimiter(config.interval)
        self.cache = cache or AnswerCache(config.cache_days, config.negative_cache_days)
        self._sleep = sleep
        self._open = opener
        self._broken: RecordSourceError | None = None  # sticky: blocked / schema changed
        self.requests_sent = 0

    # -- public ------------------------------------------------------------------------------
    def lookup(self, domain: str) -> RecordAnswer:
        return self._lookup("domain", domain)

    def lookup_number(self, number: str) -> RecordAnswer:
        if self.config.number_url is None:
            return RecordAnswer(number, (), utcnow())
        return self._lookup("number", number)

    def close(self) -> None:
        close = getattr(self.limiter, "close", None)
        if close is not None:
            close()

    # -- internals -----------------------------------------------------------------------------
    def _lookup(self, kind: str, query: str) -> RecordAnswer:
        cached = self.cache.get(self.name, kind, query)
        if cached is not None:
            return cached
        if self._broken is not None:
            raise type(self._broken)(f"{self._broken.detail} (earlier reply; not asked again)")
        template = self.config.url if kind == "domain" else self.config.number_url
        assert template is not None
        placeholder = "{domain}" if kind == "domain" else "{number}"
        url = template.replace(placeholder, urllib.parse.quote(query, safe=""))
        try:
            reply = self._get(url)
            records = () if reply is None else self._records(reply, kind, query)
        except (BlockedError, SchemaChangedError) as exc:
            self._broken = exc
            raise
        answer = RecordAnswer(query, records, utcnow())
        self.cache.put(kind, answer)
        return answer

    def _get(self, url: str) -> Any:
        """The parsed JSON reply, or None for a not-found status; raises the error types."""
        headers = {"Accept": "application/json", "User-Agent": f"icpscan/{__version__}"}
        headers.update(self.config.headers)
        throttles = failures = 0
        backoff = 1.0
        while True:
            self.limiter.acquire()
            self.requests_sent += 1
            request = urllib.request.Request(url, headers=headers, method="GET")  # noqa: S310
            try:
                with self._open(request, self.config.timeout) as response:
                    body = response.read(MAX_REPLY_BYTES + 1)
                    status = response.status
            except urllib.error.HTTPError as exc:
                status, body = exc.code, b""
                retry_after = parse_retry_after(exc.headers.get("Retry-After"))
                exc.close()
                if status == 429:
                    wait = retry_after if retry_after is not None else backoff
                    throttles += 1
                    if throttles > self.config.retries or wait > self.config.max_wait:
                        raise ThrottledError(
                            f"429 Too Many Requests from {self.config.name} after "
                            f"{throttles} tries (Retry-After: {retry_after})",
                            retry_after,
                        ) from None
                    self.limiter.defer(wait)
                    backoff *= 2
                    continue
                if status in (401, 403):
                    raise BlockedError(
                        f"{status} from {self.config.name}: access refused (credentials or block)"
                    ) from None
                if status in self.config.not_found_status:
                    return None
                if status in _SCHEMA_STATUSES:
                    raise SchemaChangedError(
                        f"{status} from {self.config.name}: the service rejects the request "
                        "(has its API changed?)"
                    ) from None
                failures += 1
                if failures > self.config.retries:
                    raise ServiceUnavailableError(
                        f"{status} from {self.config.name} after {failures} tries"
                    ) from None
                self._sleep(retry_after if retry_after is not None else backoff)
                backoff *= 2
                continue
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                failures += 1
                if failures > self.config.retries:
                    reason = getattr(exc, "reason", exc)
                    raise ServiceUnavailableError(
                        f"cannot reach {self.config.name}: {reason}"
                    ) from None
                self._sleep(backoff)
                backoff *= 2
                continue
            if len(body) > MAX_REPLY_BYTES:
                raise SchemaChangedError(f"reply larger than {MAX_REPLY_BYTES} bytes")
            try:
                return json.loads(body.decode("utf-8-sig"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise SchemaChangedError(
                    f"{status} reply from {self.config.name} is not JSON ({exc})"
                ) from None

    def _records(self, reply: Any, kind: str, query: str) -> tuple[FilingRecord, ...]:
        found = _at_path(reply, self.config.records)
        if found is None:
            return ()
        items = found if isinstance(found, list) else [found]
        fields = self.config.fields
        required = [fields["domain"]]
        number_keys = [fields[k] for k in ("entity_number", "site_number") if k in fields]
        records = []
        for item in items:
            if not isinstance(item, dict):
                raise SchemaChangedError("a record in the reply is not an object")
            flat = {key: _lookup_path(item, key) for key in set(fields.values())}
            missing = [key for key in required if flat.get(key) is None]
            if missing or all(flat.get(key) is None for key in number_keys):
                absent = missing or number_keys
                raise SchemaChangedError(
                    f"a record in the reply has no {', '.join(repr(k) for k in absent)}"
                    f" (fields: {', '.join(sorted(item)[:12])})"
                )
            try:
                record = record_from_mapping(
                    flat, source=self.name, columns=dict(fields), fetched_at=utcnow()
                )
            except RecordConfigError as exc:
                raise SchemaChangedError(str(exc)) from None
            if kind == "domain" and registrable_domain(record.domain) != query:
                continue  # a fuzzy search answered with neighbours: not this domain's record
            records.append(record)
        return tuple(records)


def _lookup_path(item: Mapping[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value
