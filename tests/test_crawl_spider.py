"""The homepage spider's callbacks, fed fabricated responses and failures (no network).

The same paths run for real against the sandbox farm in ``test_crawl_farm.py``; here each
decision is pinned down exactly and quickly, including the ones the farm cannot provoke (a
lost request, an internal error, a bad job).
"""

from __future__ import annotations

import asyncio
import logging
import pickle

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, DownloadTimeoutError, IgnoreRequest
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.request import request_from_dict
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from icpscan.crawl.addon import TUNED_SETTINGS, IcpscanAddon
from icpscan.crawl.handler import META_ADDRESS, META_HEADERS, META_PEER, META_STATUS
from icpscan.models import FetchedPage, FetchError, FetchErrorKind, Hop, HopKind
from spiders.homepage import HomepageSpider


def _spider(jobs=None, **settings) -> HomepageSpider:
    crawler = get_crawler(HomepageSpider, {**TUNED_SETTINGS, **settings})
    spider = HomepageSpider.from_crawler(crawler, jobs=jobs)
    crawler.spider = spider
    return spider


def _respond(request: Request, status=200, body=b"", headers=None, cls=HtmlResponse, flags=None):
    request.meta.update({META_STATUS: status, META_ADDRESS: "39.156.66.10", META_PEER: "127.0.0.1"})
    request.meta[META_HEADERS] = {"server": "nginx"}
    return cls(
        url=request.url,
        status=status,
        body=body,
        headers=headers or {"Content-Type": "text/html; charset=utf-8"},
        request=request,
        flags=flags or [],
    )


def _fail(request: Request, exc: BaseException) -> Failure:
    failure = Failure(exc)
    failure.request = request  # what Scrapy sets for errbacks
    return failure


def test_requests_carry_the_pin_headers_and_state():
    spider = _spider()
    request = spider.request_for_job({"domain": "a.test", "address": "39.156.66.10", "row": 3})
    assert request.url == "https://a.test/"
    assert request.meta["icpscan_pin"] == {"host": "a.test", "address": "39.156.66.10"}
    assert request.dont_filter is True
    assert request.headers[b"Connection"] == b"close"
    assert request.headers[b"User-Agent"].startswith(b"Mozilla/5.0 (compatible; icpscan/")
    assert request.headers[b"Accept-Encoding"] == b"gzip, deflate, br"


def test_request_headers_come_from_the_add_on_applied_after_the_spider_is_built():
    crawler = Crawler(HomepageSpider, {"ADDONS": {"icpscan.crawl.IcpscanAddon": 0}})
    spider = HomepageSpider.from_crawler(crawler)  # Crawler.crawl() builds the spider first...
    crawler.spider = spider
    IcpscanAddon().update_settings(crawler.settings)  # ...and applies the add-ons' settings after
    request = spider.request_for_job("a.test")
    assert request.headers[b"Connection"] == b"close"  # else every connection idles in the pool
    assert request.headers[b"User-Agent"].startswith(b"Mozilla/5.0 (compatible; icpscan/")
    assert request.headers[b"Accept-Language"] == b"zh-CN,zh;q=0.9,en;q=0.8"


def test_a_page_becomes_one_item_with_body_and_charset():
    spider = _spider()
    request = spider.request_for_job("a.test")
    item = spider.parse(_respond(request, body="<p>京ICP备1号</p>".encode()))
    assert isinstance(item, FetchedPage)
    assert item.body == "<p>京ICP备1号</p>".encode()
    assert item.charset == "utf-8"
    result = item.result
    assert (result.reached, result.status, result.error, result.is_html) == (True, 200, None, True)
    assert (result.address, result.peer, result.headers) == (
        "39.156.66.10",
        "127.0.0.1",
        {"server": "nginx"},
    )
    assert spider._pending == {}


def test_http_redirect_then_meta_refresh_are_followed():
    spider = _spider()
    first = spider.request_for_job("a.test")
    second = spider.parse(_respond(first, 301, headers={"Location": "/home"}))
    assert isinstance(second, Request)
    assert second.url == "https://a.test/home"
    assert second.meta["icpscan_pin"] is None  # no address in the job: the resolver decides
    third = spider.parse(
        _respond(second, body=b'<meta http-equiv="refresh" content="0;url=//b.test/">')
    )
    assert isinstance(third, Request)
    assert third.url == "https://b.test/"
    item = spider.parse(_respond(third, body=b"<p>final</p>"))
    assert item.result.chain == (
        Hop(HopKind.HTTP, 301, "https://a.test/home"),
        Hop(HopKind.META, 200, "https://b.test/"),
    )
    assert item.result.final_url == "https://b.test/"
    assert item.result.left_registrable_domain is True


def test_unusable_location_is_an_http_error():
    spider = _spider()
    request = spider.request_for_job("a.test")
    item = spider.parse(_respond(request, 302, headers={"Location": "ftp://a.test/x"}))
    assert item.result.error == FetchError(
        FetchErrorKind.HTTP, "redirect to an unusable Location: 'ftp://a.test/x'"
    )
    assert item.result.status == 302
    assert item.result.reached is False


def test_3xx_without_location_is_a_page():
    spider = _spider()
    item = spider.parse(_respond(spider.request_for_job("a.test"), 304))
    assert (item.result.reached, item.result.status) == (True, 304)


def test_truncated_bodies_are_cut_to_the_cap_and_flagged():
    spider = _spider(ICPSCAN_MAX_PAGE_BYTES=10)
    request = spider.request_for_job("a.test")
    item = spider.parse(_respond(request, body=b"0123456789ABCDEF", flags=["download_stopped"]))
    assert item.body == b"0123456789"
    assert (item.result.truncated, item.result.body_size, item.result.reached) == (True, 10, True)


def test_non_html_is_not_searched_for_redirects():
    spider = _spider()
    request = spider.request_for_job("a.test")
    body = b'<meta http-equiv="refresh" content="0;url=/x">'
    item = spider.parse(
        _respond(request, body=body, headers={"Content-Type": "text/plain"}, cls=TextResponse)
    )
    assert isinstance(item, FetchedPage)
    assert (item.result.is_html, item.result.chain) == (False, ())
    binary = spider.parse(
        _respond(
            spider.request_for_job("b.test"),
            body=b"\x00\x01",
            headers={"Content-Type": "image/png"},
            cls=Response,
        )
    )
    assert binary.body == b"\x00\x01"
    assert binary.result.is_html is False


def test_failures_fall_back_then_end_in_one_item():
    spider = _spider()
    request = spider.request_for_job("a.test")
    retry = spider.on_error(_fail(request, DownloadTimeoutError("slow")))
    assert isinstance(retry, Request)
    assert retry.url == "http://a.test/"
    www = spider.on_error(
        _fail(retry, IgnoreRequest("Forbidden by robots.txt: <GET http://a.test/>"))
    )
    assert isinstance(www, FetchedPage)  # robots ends the search
    assert www.result.error.kind is FetchErrorKind.ROBOTS
    assert [a.url for a in www.result.attempts] == ["https://a.test/", "http://a.test/"]


def test_an_internal_error_still_yields_the_domains_item(monkeypatch, caplog):
    spider = _spider()
    request = spider.request_for_job("a.test")

    def explode(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("spiders.homepage.find_html_redirect", explode)
    with caplog.at_level(logging.ERROR):
        # "location": the page passes the cheap byte check, so the redirect finder runs
        item = spider.parse(_respond(request, body=b"<p>location</p>"))
    assert item.result.error == FetchError(
        FetchErrorKind.OTHER, "internal error: RuntimeError('bug')"
    )
    assert "unexpected error handling https://a.test/" in caplog.text


def test_lost_requests_are_recorded_when_the_spider_goes_idle(caplog):
    spider = _spider()
    spider.request_for_job("a.test")  # its request never comes back
    done = spider.request_for_job("b.test")
    spider.parse(_respond(done, body=b"<p>ok</p>"))
    crawled = []
    spider.crawler.engine = type("Engine", (), {"crawl": staticmethod(crawled.append)})()
    with caplog.at_level(logging.ERROR), pytest.raises(DontCloseSpider):
        spider._on_idle()
    assert "1 domain(s) lost their requests" in caplog.text
    (sweep,) = crawled
    items = sweep.callback(Response("data:,", request=sweep, body=b""))
    assert [i.result.domain for i in items] == ["a.test"]
    assert items[0].result.error == FetchError(FetchErrorKind.OTHER, "request lost by the crawler")
    assert spider._on_idle() is None  # nothing pending any more


def test_start_is_lazy_and_skips_bad_jobs(caplog):
    consumed = []

    def jobs():
        for job in ["a.test", {"address": "1.2.3.4"}, {"domain": "b.test", "k": 1}]:
            consumed.append(job)
            yield job

    spider = _spider(jobs())

    async def first_two():
        agen = spider.start()
        first = await agen.__anext__()
        assert consumed == ["a.test"]  # nothing read ahead
        return [first, await agen.__anext__()]

    with caplog.at_level(logging.ERROR):
        requests = asyncio.run(first_two())
    assert [r.url for r in requests] == ["https://a.test/", "https://b.test/"]
    assert "skipping a bad fetch job: a fetch job needs a 'domain'" in caplog.text
    assert requests[1].meta["icpscan_fetch"].job.context == {"k": 1}


def test_async_iterables_and_domain_lists_feed_the_spider():
    async def agen():
        yield "a.test"
        yield "b.test"

    async def collect(spider):
        return [r.url async for r in spider.start()]

    assert asyncio.run(collect(_spider(agen()))) == ["https://a.test/", "https://b.test/"]
    crawler = get_crawler(HomepageSpider, TUNED_SETTINGS)
    by_arg = HomepageSpider.from_crawler(crawler, domains="c.test, ,d.test")
    assert asyncio.run(collect(by_arg)) == ["https://c.test/", "https://d.test/"]


def test_an_unusable_domain_still_gets_its_record_without_network():
    spider = _spider()
    request = spider.request_for_job("bad domain.test")
    assert request.url == "data:,"
    item = request.callback(Response("data:,", body=b"", request=request))
    assert item.result.domain == "bad domain.test"
    assert item.result.error == FetchError(
        FetchErrorKind.DNS, "not a valid host name: 'bad domain.test'"
    )
    assert [a.url for a in item.result.attempts] == ["https://bad domain.test/"]
    assert spider._pending == {}


def test_requests_survive_serialisation_for_disk_and_redis_queues():
    spider = _spider()
    spider.crawler.spider = spider
    request = spider.request_for_job({"domain": "a.test", "address": "1.2.3.4", "row": 1})
    restored = request_from_dict(
        pickle.loads(pickle.dumps(request.to_dict(spider=spider))), spider=spider
    )
    assert (restored.url, restored.callback, restored.errback) == (
        "https://a.test/",
        spider.parse,
        spider.on_error,
    )
    assert restored.meta["icpscan_pin"] == {"host": "a.test", "address": "1.2.3.4"}
    assert restored.meta["icpscan_fetch"].job == request.meta["icpscan_fetch"].job
    item = spider.parse(_respond(restored, body=b"<p>ok</p>"))
    assert item.context == {"row": 1}
