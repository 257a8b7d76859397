"""The homepage spider: one :class:`~icpscan.models.FetchedPage` item per input domain, always.

Feeding it (pick one):

* ``HomepageSpider(jobs=...)`` / ``crawler.crawl(HomepageSpider, jobs=...)``: any iterable or
  async iterable of :class:`~icpscan.crawl.FetchJob`, ``{"domain", "address", ...context}``
  dicts or bare domains, consumed lazily (a million-line input is never held in memory);
* ``crawler.icpscan_jobs``, set before the crawl starts, when the spider is built by name;
* ``scrapy crawl homepage -a domains=a.com,b.com`` or ``-a input=jobs.txt`` (one domain or JSON
  job per line);
* other feeders (a scrapy-redis queue) call :meth:`HomepageSpider.request_for_job` per job.

The decisions (which URL next, redirect bound, fallbacks, the record) live in
:mod:`icpscan.crawl.job`; redirects in page content in :mod:`icpscan.crawl.redirects`.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from icpscan.crawl.facts import header_charset, is_html
from icpscan.crawl.failures import classify_exception
from icpscan.crawl.handler import (
    META_ADDRESS,
    META_HEADERS,
    META_PEER,
    META_PIN,
    META_RECEIVED,
    META_STARTED,
    META_STATUS,
    META_TLS,
)
from icpscan.crawl.job import DomainFetch, FetchJob, PageFacts, invalid_host_reason
from icpscan.crawl.redirects import (
    REDIRECT_STATUSES,
    find_html_redirect,
    may_hold_html_redirect,
    resolve_location,
)
from icpscan.extract.decode import decode
from icpscan.models import FetchedPage, FetchError, FetchErrorKind, HopKind

logger = logging.getLogger(__name__)

META_FETCH = "icpscan_fetch"


class HomepageSpider(Spider):
    name = "homepage"
    _max_redirects: int = 10
    _max_page_bytes: int = 2 * 1024 * 1024
    _headers: dict[str, Any] | None = None  # read on first use (see _read_settings)

    def __init__(
        self,
        jobs: Iterable[Any] | AsyncIterator[Any] | None = None,
        domains: str | None = None,
        input: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if domains:
            jobs = [d for d in domains.split(",") if d.strip()]
        elif input:
            jobs = _read_jobs_file(Path(input))
        self.jobs = jobs
        self._pending: dict[int, DomainFetch] = {}
        self._serial = itertools.count()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> HomepageSpider:
        spider: HomepageSpider = super().from_crawler(crawler, *args, **kwargs)
        if spider.jobs is None:
            spider.jobs = getattr(crawler, "icpscan_jobs", None)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        if self.jobs is None:
            logger.warning("homepage spider started without jobs (jobs=, -a domains=, -a input=)")
            return
        if hasattr(self.jobs, "__aiter__"):
            async for job in self.jobs:
                if (request := self._first_request(job)) is not None:
                    yield request
        else:
            for job in self.jobs:
                if (request := self._first_request(job)) is not None:
                    yield request

    def _first_request(self, job: Any) -> Request | None:
        try:
            return self.request_for_job(job)
        except ValueError as exc:  # a job without a domain has nothing to record
            logger.error("skipping a bad fetch job: %s", exc)
        except Exception:  # never let one job stop the rest of the input
            logger.exception("skipping a fetch job that could not be read: %r", job)
        return None

    def _read_settings(self) -> dict[str, Any]:
        """The request headers and limits, read once the settings are final.

        Scrapy builds the spider (``from_crawler``) *before* it applies the add-ons' settings:
        read there, the headers were Scrapy's defaults -- no ``Connection: close`` (every
        connection then idled in the pool for 240 s: one file descriptor and ~80 KB per domain)
        and Scrapy's User-Agent instead of icpscan's.
        """
        if self._headers is None:
            settings = self.crawler.settings
            self._max_redirects = settings.getint("ICPSCAN_MAX_REDIRECTS", 10)
            self._max_page_bytes = settings.getint("ICPSCAN_MAX_PAGE_BYTES", 2 * 1024 * 1024)
            headers = dict(settings.getdict("DEFAULT_REQUEST_HEADERS"))
            headers["User-Agent"] = settings.get("USER_AGENT")
            self._headers = headers
        return self._headers

    def request_for_job(self, job: FetchJob | dict[str, Any] | str) -> Request:
        """The first request for one job (public: other feeders use it).

        A domain that cannot be fetched at all (empty, not a host name) still gets its record,
        through a ``data:`` request that needs no network.
        """
        self._read_settings()
        fetch = DomainFetch(FetchJob.from_value(job), max_redirects=self._max_redirects)
        fetch.key = next(self._serial)
        self._pending[fetch.key] = fetch
        reason = invalid_host_reason(fetch.domain)
        if reason is not None:
            return Request(
                "data:,",
                callback=self._record_invalid,
                dont_filter=True,
                meta={META_FETCH: fetch, "reason": reason},
            )
        return self._request(fetch, fetch.current_url)

    def _record_invalid(self, response: Response) -> FetchedPage:
        fetch: DomainFetch = response.meta[META_FETCH]
        error = FetchError(FetchErrorKind.DNS, response.meta["reason"])
        fetch.fail(error, None)
        return self._item(fetch, PageFacts(), error)

    # -- callbacks (each returns exactly one Request or one item) ------------------------------

    def parse(self, response: Response) -> Request | FetchedPage:
        fetch: DomainFetch = response.meta[META_FETCH]
        fetch.saw_download(response.meta.get(META_STARTED))
        try:
            return self._on_response(fetch, response)
        except Exception as exc:  # a bug may cost this domain its page, never its record
            logger.exception("unexpected error handling %s", response.url)
            error = FetchError(FetchErrorKind.OTHER, f"internal error: {exc!r}"[:300])
            return self._item(fetch, self._facts(response.meta), error)

    def on_error(self, failure: Failure) -> Request | FetchedPage:
        request: Request = failure.request  # type: ignore[attr-defined]
        fetch: DomainFetch = request.meta[META_FETCH]
        fetch.saw_download(request.meta.get(META_STARTED))
        try:
            status = request.meta.get(META_STATUS)
            received = request.meta.get(META_RECEIVED) if status is not None else None
            error = classify_exception(failure.value, received=received)
            next_url = fetch.fail(error, status)
            if next_url is not None:
                return self._request(fetch, next_url)
            return self._item(fetch, self._facts(request.meta), error)
        except Exception as exc:
            logger.exception("unexpected error handling the failure of %s", request.url)
            error = FetchError(FetchErrorKind.OTHER, f"internal error: {exc!r}"[:300])
            return self._item(fetch, self._facts(request.meta), error)

    def _on_response(self, fetch: DomainFetch, response: Response) -> Request | FetchedPage:
        status = response.status
        facts = self._facts(response.meta, status)
        if status in REDIRECT_STATUSES and b"Location" in response.headers:
            location = response.headers[b"Location"] or b""
            target = resolve_location(location, response.url)
            if target is None:
                text = location.decode("latin-1")[:200]
                return self._end(fetch, facts, f"redirect to an unusable Location: {text!r}")
            return self._follow(fetch, HopKind.HTTP, status, target, facts)

        body = response.body
        facts.truncated = "download_stopped" in response.flags or len(body) > self._max_page_bytes
        body = body[: self._max_page_bytes]
        facts.body_size = len(body)
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        facts.is_html = is_html(content_type, body)
        if (
            facts.is_html
            and isinstance(response, TextResponse)
            and may_hold_html_redirect(response.body)
        ):
            redirect = find_html_redirect(_page_text(response, content_type), response.url)
            if redirect is not None:
                return self._follow(fetch, redirect.kind, status, redirect.url, facts)
        fetch.succeed(status)
        return self._item(fetch, facts, None, body, header_charset(content_type))

    def _follow(
        self, fetch: DomainFetch, kind: HopKind, status: int, url: str, facts: PageFacts
    ) -> Request | FetchedPage:
        step = fetch.follow(kind, status, url)
        if isinstance(step, FetchError):
            fetch.fail(step, status)
            return self._item(fetch, facts, step)
        return self._request(fetch, step)

    def _end(self, fetch: DomainFetch, facts: PageFacts, detail: str) -> FetchedPage:
        error = FetchError(FetchErrorKind.HTTP, detail)
        fetch.fail(error, facts.status)
        return self._item(fetch, facts, error)

    # -- building requests and items -----------------------------------------------------------

    def _request(self, fetch: DomainFetch, url: str) -> Request:
        return Request(
            url,
            callback=self.parse,
            errback=self.on_error,
            headers=self._read_settings(),
            dont_filter=True,
            meta={
                META_FETCH: fetch,
                META_PIN: fetch.pin_for_url(url),
                "handle_httpstatus_all": True,
            },
        )

    def _item(
        self,
        fetch: DomainFetch,
        facts: PageFacts,
        error: FetchError | None,
        body: bytes = b"",
        charset: str | None = None,
    ) -> FetchedPage:
        if fetch.key is not None:
            self._pending.pop(fetch.key, None)
        return FetchedPage(
            result=fetch.result(facts, error),
            body=body,
            charset=charset,
            context=fetch.job.context,
        )

    @staticmethod
    def _facts(meta: dict[str, Any], status: int | None = None) -> PageFacts:
        return PageFacts(
            status=status if status is not None else meta.get(META_STATUS),
            headers=meta.get(META_HEADERS) or {},
            address=meta.get(META_ADDRESS),
            peer=meta.get(META_PEER),
            tls=meta.get(META_TLS),
        )

    # -- the exactly-once guard ----------------------------------------------------------------

    def _on_idle(self) -> None:
        """Idle with domains still unrecorded means a request was lost: record them anyway."""
        lost = [f for f in self._pending.values() if not f.finished]
        if not lost:
            return
        logger.error("%d domain(s) lost their requests; recording them as errors", len(lost))
        self.crawler.engine.crawl(
            Request("data:,", callback=self._record_lost, dont_filter=True, meta={"lost": lost})
        )
        raise DontCloseSpider

    def _record_lost(self, response: Response) -> list[FetchedPage]:
        error = FetchError(FetchErrorKind.OTHER, "request lost by the crawler")
        items = []
        for fetch in response.meta["lost"]:
            if not fetch.finished:
                fetch.fail(error, None)
                items.append(self._item(fetch, PageFacts(), error))
        return items


def _page_text(response: TextResponse, content_type: str) -> str:
    """The page as text for redirect detection. A charset Python cannot decode a page with
    (``charset=zlib``, ``undefined``, a NUL: Scrapy would raise) falls back to icpscan's decoder."""
    try:
        return response.text
    except (LookupError, ValueError):  # UnicodeError is a ValueError; a NUL in the label too
        return decode(response.body, header_charset(content_type)).text


def _read_jobs_file(path: Path) -> Iterable[Any]:
    """One domain or one JSON job object per line; ``#`` comments and blank lines skipped."""
    with path.open(encoding="utf-8-sig") as lines:
        for line in lines:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            yield json.loads(text) if text.startswith("{") else text
