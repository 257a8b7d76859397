"""icpscan's crawl settings as a Scrapy add-on (the settings module is :mod:`.settings`).

Use the add-on in your own Scrapy project with ``ADDONS = {"icpscan.crawl.IcpscanAddon": 0}``
and ``TWISTED_DNS_RESOLVER = "icpscan.crawl.resolver.RefusingTwistedResolver"`` (a process-wide
setting an add-on cannot change). From the repository root ``scrapy crawl homepage -a
domains=example.com`` uses this module (``scrapy.cfg``).

Why these values (measured on the project machine, ENGINEERING-NOTES §6):

* ``CONCURRENT_ITEMS = 1`` and ``WARN_ON_GENERATOR_RETURN_VALUE = False`` roughly double
  throughput (Scrapy 2.13+ spawns 100 tasks per callback result; the warning re-parses the
  callback's source on every call);
* only the components the homepage crawl needs are enabled (the notes measured +35%);
  request headers are set by the spider itself, so no header middlewares;
* ``Connection: close`` (sent by the spider): one idle pooled connection per host piles up to
  thousands of file descriptors over a large list;
* robots.txt is not obeyed by default: an audit fetches one public page, the homepage, once,
  like a visitor's browser; ``ROBOTSTXT_OBEY = True`` (``RobotsTxtMiddleware`` is kept in the
  list for that) makes a disallowed homepage a recorded ``robots`` error instead;
* ``DOWNLOAD_MAXSIZE`` is the *decompression* cap (a gzip/deflate/br bomb becomes a ``size``
  error); the wire is capped by ``ICPSCAN_MAX_PAGE_BYTES``, which keeps a partial page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from icpscan import __version__
from icpscan.crawl import settings as settings_module

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

PROJECT_URL = "https://example.invalid/icpscan"
USER_AGENT = f"Mozilla/5.0 (compatible; icpscan/{__version__}; +{PROJECT_URL})"
REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8",
    "Accept-Encoding": "gzip, deflate, br",
    "Connection": "close",
}
HANDLER = "icpscan.crawl.handler.PinnedDownloadHandler"

# Tuning, applied with the add-on's priority: a project's own settings still win.
TUNED_SETTINGS: dict[str, Any] = {
    "CONCURRENT_REQUESTS": 256,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    "CONCURRENT_ITEMS": 1,
    "WARN_ON_GENERATOR_RETURN_VALUE": False,
    "TELNETCONSOLE_ENABLED": False,
    "ROBOTSTXT_OBEY": False,
    "USER_AGENT": USER_AGENT,
    "DEFAULT_REQUEST_HEADERS": REQUEST_HEADERS,
    "DOWNLOAD_TIMEOUT": 20,
    "DOWNLOAD_MAXSIZE": 16 * 1024 * 1024,
    "DOWNLOAD_WARNSIZE": 0,
    "DOWNLOAD_FAIL_ON_DATALOSS": True,
    "RETRY_TIMES": 1,
    "RETRY_HTTP_CODES": [],
    "RETRY_GIVE_UP_LOG_LEVEL": "DEBUG",  # the give-up is recorded in the item, not an error
    "COOKIES_ENABLED": False,
    "REDIRECT_ENABLED": False,  # the spider follows redirects itself (one bound for all kinds)
    "METAREFRESH_ENABLED": False,
    "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
    # One slot per domain: the downloader-aware queue's per-pop scan of every slot buys nothing.
    "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.ScrapyPriorityQueue",
    "DOWNLOADER_MIDDLEWARES_BASE": {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100,
        "icpscan.crawl.middlewares.TransientRetryMiddleware": 550,
        "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": 590,
    },
    "SPIDER_MIDDLEWARES_BASE": {"scrapy.spidermiddlewares.start.StartSpiderMiddleware": 25},
    "EXTENSIONS_BASE": {
        "scrapy.extensions.corestats.CoreStats": 0,
        "scrapy.extensions.logcount.LogCount": 0,
        "scrapy.extensions.logstats.LogStats": 0,
        "scrapy.extensions.closespider.CloseSpider": 0,
        "scrapy.extensions.memusage.MemoryUsage": 0,
        "scrapy.extensions.feedexport.FeedExporter": 0,  # off unless FEEDS/-O is given
    },
    # icpscan's own settings (documented in icpscan.crawl.handler / the spider):
    "ICPSCAN_MAX_PAGE_BYTES": 2 * 1024 * 1024,
    "ICPSCAN_MAX_REDIRECTS": 10,
    "ICPSCAN_ALLOW_PRIVATE": False,
}

# Schemes the crawl must never fetch, whatever a redirect says (file:// would read local files).
DISABLED_SCHEMES = ("file", "ftp", "s3")


class IcpscanAddon:
    """Scrapy add-on: icpscan's download handler for http/https plus the tuned settings."""

    def update_settings(self, settings: BaseSettings) -> None:
        for name, value in TUNED_SETTINGS.items():
            settings.set(name, value, "addon")
        # The handler is what makes the crawl icpscan's: merged in, whatever the priority.
        handlers = settings.getdict("DOWNLOAD_HANDLERS")
        handlers.update({"http": HANDLER, "https": HANDLER})
        handlers.update(dict.fromkeys(DISABLED_SCHEMES))
        settings.set("DOWNLOAD_HANDLERS", handlers, settings.getpriority("DOWNLOAD_HANDLERS") or 0)


def crawl_settings(**icpscan_settings: Any) -> dict[str, Any]:
    """Settings for a ``CrawlerProcess`` running icpscan's spider, plus any overrides.

    >>> crawl_settings(ICPSCAN_CONNECT_TO=[":80:127.0.0.1:8080"])["ADDONS"]
    {'icpscan.crawl.IcpscanAddon': 0}
    """
    settings: dict[str, Any] = {
        name: getattr(settings_module, name) for name in dir(settings_module) if name.isupper()
    }
    settings.update(icpscan_settings)
    return settings
