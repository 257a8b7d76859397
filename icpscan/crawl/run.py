"""Run the homepage crawl in this process: for workers, scripts and notebooks.

Twisted's reactor cannot be restarted, so :func:`run_fetch` works once per process; the scan
orchestrator runs it in worker processes, and ``python -m icpscan.crawl`` wraps it for shells.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from icpscan.crawl.addon import crawl_settings
from icpscan.crawl.connect_to import ConnectionOverrides
from icpscan.crawl.resolver import ResolveHost, parse_nameserver
from icpscan.crawl.tls import load_trust_store
from icpscan.models import FetchedPage

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


def run_fetch(
    jobs: Iterable[Any] | AsyncIterator[Any],
    settings: Mapping[str, Any] | None = None,
    *,
    resolve_host: ResolveHost | None = None,
    on_item: Callable[[FetchedPage], None] | None = None,
) -> list[FetchedPage]:
    """Fetch every job's homepage; one :class:`FetchedPage` per job.

    ``jobs``: FetchJob objects, ``{"domain", "address", ...context}`` dicts or domains, consumed
    lazily. ``settings``: Scrapy/icpscan settings on top of :func:`crawl_settings`.
    ``resolve_host``: the async resolver for names without a pinned address (else built from
    settings, see :mod:`icpscan.crawl.resolver`). With ``on_item`` each page is handed over as
    it arrives and the returned list stays empty (bounded memory for long lists).

    Raises ValueError, before anything starts, for a bad ``--connect-to``/``--resolve`` rule,
    nameserver or CA bundle.
    """
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from spiders.homepage import HomepageSpider

    merged = crawl_settings(**dict(settings or {}))
    _validate(Settings(merged))
    collected: list[FetchedPage] = []
    deliver = on_item or collected.append

    def item_scraped(item: Any, **_: Any) -> None:
        if isinstance(item, FetchedPage):
            deliver(item)

    process = CrawlerProcess(merged)
    crawler = process.create_crawler(HomepageSpider)
    if resolve_host is not None:
        crawler.icpscan_resolve_host = resolve_host  # type: ignore[attr-defined]
    crawler.signals.connect(item_scraped, signal=signals.item_scraped, weak=False)
    process.crawl(crawler, jobs=jobs)
    process.start()
    return collected


def _validate(settings: BaseSettings) -> None:
    """Fail here with a clear message, not in a download handler the crawler would disable."""
    ConnectionOverrides.parse(
        settings.getlist("ICPSCAN_CONNECT_TO"), settings.getlist("ICPSCAN_RESOLVE")
    )
    for nameserver in settings.getlist("ICPSCAN_NAMESERVERS"):
        parse_nameserver(nameserver)
    if settings.get("ICPSCAN_CA_BUNDLE"):
        load_trust_store(settings.get("ICPSCAN_CA_BUNDLE"))
