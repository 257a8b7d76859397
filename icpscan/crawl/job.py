"""One domain's way through the crawl: which URLs to try, which redirects to follow, the record.

:class:`FetchJob` is what a feeder (the scan orchestrator, a scrapy-redis queue, a list on the
command line) gives the spider. :class:`DomainFetch` is the per-domain state the spider carries
in ``request.meta``; it decides, without any Scrapy, the next step after each outcome:

* start URLs: ``https://d/``, ``http://d/``, ``https://www.d/``, ``http://www.d/`` (no ``www.``
  variants for a name that already starts with ``www.`` or for an IP address);
* a failed attempt moves on to the next start URL only if no HTTP response was received (an
  answer of any status, even over a bad certificate or with malformed HTTP, ends the search);
  a DNS or egress failure skips the other scheme of the same host (same name, same address,
  same outcome);
* redirects (HTTP, meta refresh, JS) share one bound; a URL seen twice is a loop.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from time import monotonic
from typing import Any
from urllib.parse import urlsplit

from icpscan.crawl.connect_to import normalise_host
from icpscan.crawl.facts import registrable_domain
from icpscan.models import (
    FetchAttempt,
    FetchError,
    FetchErrorKind,
    FetchResult,
    Hop,
    HopKind,
    TlsFacts,
)

DEFAULT_MAX_REDIRECTS = 10
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")
_HOST_ERRORS = frozenset({FetchErrorKind.DNS, FetchErrorKind.EGRESS})
# The server answered (with broken HTTP, endless redirects, or a robots.txt refusal): another
# scheme or the www. name would be another site's answer, not a second chance at this one.
_FINAL_KINDS = frozenset(
    {FetchErrorKind.HTTP, FetchErrorKind.TOO_MANY_REDIRECTS, FetchErrorKind.ROBOTS}
)


@dataclass(frozen=True)
class FetchJob:
    """What to fetch: a domain, the address the hosting stage classified, opaque context."""

    domain: str
    address: str | None = None  # pinned address for ``domain`` (None: ask the resolver)
    pins: Mapping[str, str] = field(default_factory=dict)  # more host -> address pins
    context: dict[str, Any] = field(default_factory=dict)  # passed through to the item

    def __post_init__(self) -> None:
        object.__setattr__(self, "domain", job_host(self.domain))
        object.__setattr__(self, "pins", {job_host(h): str(a) for h, a in self.pins.items()})

    @classmethod
    def from_value(cls, value: FetchJob | Mapping[str, Any] | str) -> FetchJob:
        """A job from a FetchJob, a domain (or URL), or ``{"domain", "address", ...context}``.

        Raises ValueError only for a mapping without a domain; an unusable domain still makes
        a job (its record says why it could not be fetched: :func:`invalid_host_reason`).
        """
        if isinstance(value, FetchJob):
            return value
        if isinstance(value, str):
            return cls(value)
        if not isinstance(value, Mapping) or not value.get("domain"):
            raise ValueError(f"a fetch job needs a 'domain': {value!r}")
        context = {k: v for k, v in value.items() if k not in ("domain", "address", "pins")}
        return cls(
            domain=str(value["domain"]),
            address=value.get("address") or None,
            pins=dict(value.get("pins") or {}),
            context=context,
        )

    def pin_for(self, host: str) -> dict[str, str] | None:
        """The ``icpscan_pin`` meta for a request to ``host`` (None: resolve it)."""
        if host == self.domain and self.address:
            return {"host": host, "address": self.address}
        address = self.pins.get(host)
        return {"host": host, "address": address} if address else None


def job_host(value: str) -> str:
    """The host of a domain, ``host:port`` or URL as typed (normalised); never raises."""
    text = value.strip()
    try:
        if "://" in text or text.startswith("[") or text.count(":") == 1 or "/" in text:
            parsed = urlsplit(text if "://" in text else f"//{text}")
            text = parsed.hostname or ""
    except ValueError:
        pass  # left as typed; invalid_host_reason() says what is wrong
    try:
        return normalise_host(text)
    except ValueError:  # kept (printable, encodable) for the record that says it is invalid
        return text.lower().encode("utf-8", "backslashreplace").decode("utf-8")


def invalid_host_reason(host: str) -> str | None:
    """Why ``host`` cannot be fetched as a domain (None if it can)."""
    if not host:
        return "empty domain"
    if _is_ip(host):
        return None
    if len(host) > 253:
        return f"name longer than 253 characters ({len(host)})"
    if not host.isascii() or not all(_LABEL.match(label) for label in host.split(".")):
        return f"not a valid host name: {host[:100]!r}"
    return None


def start_urls(domain: str) -> list[str]:
    hosts = [domain]
    if not domain.startswith("www.") and not _is_ip(domain):
        hosts.append(f"www.{domain}")
    netlocs = [f"[{h}]" if ":" in h else h for h in hosts]
    return [f"{scheme}://{netloc}/" for netloc in netlocs for scheme in ("https", "http")]


@dataclass
class PageFacts:
    """What the spider read from the last response (or the failed request's meta)."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    is_html: bool = False
    address: str | None = None
    peer: str | None = None
    tls: TlsFacts | None = None
    truncated: bool = False
    body_size: int = 0


class DomainFetch:
    """Per-domain crawl state; every path ends in exactly one :meth:`result`."""

    def __init__(self, job: FetchJob, *, max_redirects: int = DEFAULT_MAX_REDIRECTS) -> None:
        self.job = job
        self.key: int | None = None  # set by the spider that tracks it
        self.max_redirects = max_redirects
        self.started: float | None = None  # when its first request reached the downloader
        self.attempts: list[FetchAttempt] = []
        self.chain: list[Hop] = []
        self._candidates = start_urls(job.domain)
        self._candidate_index = 0
        self.current_url = self._candidates[0]
        self._visited = {self.current_url}
        self.finished = False

    @property
    def domain(self) -> str:
        return self.job.domain

    def saw_download(self, started: float | None) -> None:
        """Note when a request of this domain reached the downloader (the first one counts)."""
        if self.started is None and started is not None:
            self.started = started

    def pin_for_url(self, url: str) -> dict[str, str] | None:
        host = urlsplit(url).hostname or ""
        return self.job.pin_for(normalise_host(host))

    def follow(self, kind: HopKind, status: int, url: str) -> str | FetchError:
        """Record a redirect; the URL to request next, or the error that ends the chain."""
        self.chain.append(Hop(kind, status, url))
        if url in self._visited:
            return FetchError(FetchErrorKind.TOO_MANY_REDIRECTS, f"redirect loop back to {url}")
        if len(self.chain) > self.max_redirects:
            return FetchError(
                FetchErrorKind.TOO_MANY_REDIRECTS,
                f"more than {self.max_redirects} redirects (last to {url})",
            )
        self._visited.add(url)
        self.current_url = url
        return url

    def fail(self, error: FetchError, status: int | None) -> str | None:
        """Record a failed attempt; the next start URL to try, or None when the search ends."""
        if status is None and self.chain:
            status = self.chain[-1].status  # the last answer this attempt got
        self.attempts.append(FetchAttempt(self._attempt_url(), status, error))
        answered = status is not None or bool(self.chain)
        if answered or error.kind in _FINAL_KINDS:
            return None
        failed_host = urlsplit(self._attempt_url()).hostname
        while True:
            self._candidate_index += 1
            if self._candidate_index >= len(self._candidates):
                return None
            candidate = self._candidates[self._candidate_index]
            if error.kind in _HOST_ERRORS and urlsplit(candidate).hostname == failed_host:
                continue  # same name, same address: the other scheme fails the same way
            self.chain = []
            self._visited = {candidate}
            self.current_url = candidate
            return candidate

    def succeed(self, status: int) -> None:
        self.attempts.append(FetchAttempt(self._attempt_url(), status, None))

    def result(self, page: PageFacts, error: FetchError | None) -> FetchResult:
        """The record (call once, after :meth:`succeed` or a final :meth:`fail`)."""
        self.finished = True
        status = page.status
        if status is None and self.chain:
            status = self.chain[-1].status
        if error is not None:
            error = self._reported_error(error)
        final_host = urlsplit(self.current_url).hostname or ""
        final_site = registrable_domain(final_host)
        return FetchResult(
            domain=self.job.domain,
            reached=error is None,
            attempts=tuple(self.attempts),
            chain=tuple(self.chain),
            final_url=self.current_url,
            status=status,
            left_registrable_domain=final_site != registrable_domain(self.job.domain),
            final_registrable_domain=final_site,
            headers=page.headers,
            is_html=page.is_html,
            address=page.address,
            peer=page.peer,
            tls=page.tls,
            truncated=page.truncated,
            body_size=page.body_size,
            error=error,
            elapsed=round(monotonic() - self.started, 3) if self.started is not None else 0.0,
        )

    def _reported_error(self, error: FetchError) -> FetchError:
        """When the ``www.`` guess merely did not resolve, the apex's own failure says more."""
        if error.kind is not FetchErrorKind.DNS or not self.attempts:
            return error
        last_host = urlsplit(self.attempts[-1].url).hostname
        if last_host == self.job.domain:
            return error
        for attempt in reversed(self.attempts):
            if urlsplit(attempt.url).hostname == self.job.domain and attempt.error is not None:
                return attempt.error
        return error

    def _attempt_url(self) -> str:
        return self._candidates[self._candidate_index]


def unreached_result(job: FetchJob, error: FetchError) -> FetchResult:
    """The record of a domain the crawl did not try (e.g. no address: the hosting stage's
    DNS failure says why); one attempt, at the first start URL, carrying ``error``."""
    fetch = DomainFetch(job)
    fetch.attempts.append(FetchAttempt(fetch.current_url, None, error))
    return fetch.result(PageFacts(), error)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
