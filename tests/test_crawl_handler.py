"""The Scrapy glue: the internals the handler relies on, the add-on, the retry middleware.

The end-to-end behaviour of the handler (pinning, connect-to, TLS facts, caps) is tested
against the sandbox farm in ``test_crawl_farm.py``.
"""

from __future__ import annotations

import inspect
import tomllib
from types import SimpleNamespace

import scrapy
import twisted
from OpenSSL import SSL
from scrapy.core.downloader.handlers import http11
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import DownloadTimeoutError
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler
from twisted.internet import error as tx_error
from twisted.python.failure import Failure
from twisted.web import client as tx_client
from twisted.web._newclient import ResponseNeverReceived

from icpscan.crawl import IcpscanAddon, crawl_settings
from icpscan.crawl.addon import TUNED_SETTINGS
from icpscan.crawl.destination import EgressRefused
from icpscan.crawl.middlewares import TransientRetryMiddleware
from tests.conftest import REPO_ROOT


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_scrapy_and_twisted_are_the_pinned_versions():
    pins = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"scrapy=={scrapy.__version__}" in pins
    assert f"twisted=={twisted.__version__}" in pins


def test_the_scrapy_internals_the_handler_subclasses_are_unchanged():
    """If this fails, Scrapy or Twisted changed underneath: re-read handler.py against them."""
    assert _parameters(http11._ScrapyAgent.__init__) == [
        "self", "contextFactory", "connectTimeout", "bindAddress", "pool", "maxsize",
        "warnsize", "fail_on_dataloss", "crawler", "tls_verbose_logging",
    ]  # fmt: skip
    assert _parameters(http11._ScrapyAgent._get_agent) == ["self", "request", "timeout"]
    assert _parameters(http11._ScrapyAgent._cb_bodyready) == ["self", "txresponse", "request"]
    assert "agent = self._get_agent(request, timeout)" in inspect.getsource(
        http11._ScrapyAgent.download_request
    )
    assert _parameters(http11._BindAddressAgent._requestWithEndpoint) == [
        "self", "key", "endpoint", "method", "parsedURI", "headers", "bodyProducer",
        "requestPath",
    ]  # fmt: skip
    assert _parameters(http11._BindAddressAgent.__init__) == [
        "self", "reactor", "contextFactory", "connectTimeout", "bindAddress", "pool",
    ]  # fmt: skip
    assert "endpoint = self._getEndpoint(parsedURI)" in inspect.getsource(tx_client.Agent.request)
    handler_init = inspect.getsource(http11.HTTP11DownloadHandler.__init__)
    for attribute in ("self._pool", "self._contextFactory", "self._bind_address", "._factory"):
        assert attribute in handler_init
    base_init = inspect.getsource(http11.BaseHttpDownloadHandler.__init__)
    for attribute in ("self._fail_on_dataloss", "self._tls_verbose_logging"):
        assert attribute in base_init
    assert "_scrapy_ip_address" in inspect.getsource(http11._LenientHTTP11ClientProtocol.request)
    assert _parameters(http11._LenientHTTP11ClientProtocol.__init__)[:2] == [
        "self",
        "quiescentCallback",
    ]
    assert "self._quiescentCallback" in inspect.getsource(
        http11._LenientHTTP11ClientFactory.buildProtocol
    )


def test_the_addon_enables_the_handler_and_the_tuned_settings():
    settings = Settings({"DOWNLOAD_HANDLERS": {"ftp": "x.Y", "gopher": "g.H"}, "RETRY_TIMES": 5})
    IcpscanAddon().update_settings(settings)
    handler = "icpscan.crawl.handler.PinnedDownloadHandler"
    assert settings.getdict("DOWNLOAD_HANDLERS") == {
        "http": handler,
        "https": handler,
        "gopher": "g.H",
        "ftp": None,  # never fetch file:, ftp: or s3: whatever a redirect says
        "file": None,
        "s3": None,
    }
    assert settings.getint("RETRY_TIMES") == 5  # the project's own setting wins
    assert settings.getint("CONCURRENT_ITEMS") == 1
    assert settings.getbool("WARN_ON_GENERATOR_RETURN_VALUE") is False
    assert settings.getint("CONCURRENT_REQUESTS") == 256
    assert settings.getbool("ROBOTSTXT_OBEY") is False
    assert settings.getdict("DEFAULT_REQUEST_HEADERS")["Connection"] == "close"
    assert settings.get("USER_AGENT").startswith("Mozilla/5.0 (compatible; icpscan/")
    assert list(settings.getdict("SPIDER_MIDDLEWARES_BASE")) == [
        "scrapy.spidermiddlewares.start.StartSpiderMiddleware"
    ]
    assert list(settings.getdict("DOWNLOADER_MIDDLEWARES_BASE")) == [
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",
        "icpscan.crawl.middlewares.TransientRetryMiddleware",
        "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware",
    ]
    assert set(TUNED_SETTINGS) <= set(settings.attributes)


def test_crawl_settings_are_the_settings_module_plus_overrides():
    assert crawl_settings(ICPSCAN_ALLOW_PRIVATE=True) == {
        "ADDONS": {"icpscan.crawl.IcpscanAddon": 0},
        "BOT_NAME": "icpscan",
        "LOG_LEVEL": "INFO",
        "SPIDER_MODULES": ["spiders"],
        "TWISTED_DNS_RESOLVER": "icpscan.crawl.resolver.RefusingTwistedResolver",
        "ICPSCAN_ALLOW_PRIVATE": True,
    }


def _middleware() -> TransientRetryMiddleware:
    crawler = get_crawler(scrapy.Spider, {"RETRY_TIMES": 1})
    crawler.spider = crawler._create_spider("probe")
    middleware = TransientRetryMiddleware.from_crawler(crawler)
    assert isinstance(middleware, RetryMiddleware)
    return middleware


def test_retry_only_timeouts_and_resets():
    middleware = _middleware()
    request = scrapy.Request("https://a.test/")
    retry = middleware.process_exception(request, DownloadTimeoutError("slow"))
    assert isinstance(retry, scrapy.Request)
    assert (retry.url, retry.meta["retry_times"], retry.dont_filter) == ("https://a.test/", 1, True)
    assert middleware.process_exception(retry, DownloadTimeoutError("slow")) is None  # 1 retry
    reset = ResponseNeverReceived([Failure(tx_error.ConnectionLost())])
    assert isinstance(middleware.process_exception(request, reset), scrapy.Request)
    tls = ResponseNeverReceived([Failure(SSL.Error([("SSL routines", "", "bad record")]))])
    assert middleware.process_exception(request, tls) is None
    assert middleware.process_exception(request, tx_error.ConnectionRefusedError()) is None
    assert middleware.process_exception(request, EgressRefused("10.0.0.1")) is None
    dont = scrapy.Request("https://a.test/", meta={"dont_retry": True})
    assert middleware.process_exception(dont, DownloadTimeoutError("slow")) is None


def test_https_connections_share_one_context_and_send_sni():
    from scrapy.core.downloader.contextfactory import _ScrapyClientContextFactory

    from icpscan.crawl.handler import CLIENT_TLS_GROUPS, _SharedContextPolicy

    # what clientConnectionForTLS reads of the TLS protocol: its factory's wrapped factory
    tls_protocol = SimpleNamespace(factory=SimpleNamespace(wrappedFactory=object()))
    policy = _SharedContextPolicy.wrap(_ScrapyClientContextFactory())
    assert isinstance(policy, _SharedContextPolicy)
    first = policy.creatorForNetloc(b"a.test", 443).clientConnectionForTLS(tls_protocol)
    second = policy.creatorForNetloc(b"b.test", 443).clientConnectionForTLS(tls_protocol)
    assert first.get_context() is second.get_context()  # built once, not per connection
    assert (first.get_servername(), second.get_servername()) == (b"a.test", b"b.test")
    assert CLIENT_TLS_GROUPS.startswith(b"X25519:")
