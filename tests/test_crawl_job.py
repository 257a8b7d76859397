"""One domain's way through the crawl (pure): start URLs, fallbacks, redirect bound, record."""

from __future__ import annotations

import pytest

from icpscan.crawl.facts import (
    header_charset,
    interesting_headers,
    is_html,
    registrable_domain,
)
from icpscan.crawl.job import (
    DomainFetch,
    FetchJob,
    PageFacts,
    invalid_host_reason,
    job_host,
    start_urls,
)
from icpscan.models import FetchAttempt, FetchError, FetchErrorKind, Hop, HopKind

REFUSED = FetchError(FetchErrorKind.REFUSED, "refused")
DNS = FetchError(FetchErrorKind.DNS, "nx")
TLS = FetchError(FetchErrorKind.TLS, "handshake")


def test_start_urls():
    assert start_urls("a.test") == [
        "https://a.test/",
        "http://a.test/",
        "https://www.a.test/",
        "http://www.a.test/",
    ]
    assert start_urls("www.a.test") == ["https://www.a.test/", "http://www.a.test/"]
    assert start_urls("1.2.3.4") == ["https://1.2.3.4/", "http://1.2.3.4/"]
    assert start_urls("2001:db8::1") == ["https://[2001:db8::1]/", "http://[2001:db8::1]/"]


def test_job_from_values():
    assert FetchJob.from_value("Example.COM.") == FetchJob("example.com")
    job = FetchJob.from_value(
        {"domain": "a.test", "address": "1.2.3.4", "rank": 7, "pins": {"WWW.a.test": "5.6.7.8"}}
    )
    assert job == FetchJob("a.test", "1.2.3.4", {"www.a.test": "5.6.7.8"}, {"rank": 7})
    assert job.pin_for("a.test") == {"host": "a.test", "address": "1.2.3.4"}
    assert job.pin_for("www.a.test") == {"host": "www.a.test", "address": "5.6.7.8"}
    assert job.pin_for("cdn.other.test") is None
    assert FetchJob.from_value({"domain": "b.test", "address": None}).pin_for("b.test") is None
    with pytest.raises(ValueError, match="a fetch job needs a 'domain'"):
        FetchJob.from_value({"address": "1.2.3.4"})


def test_https_failure_falls_back_to_http_then_www():
    fetch = DomainFetch(FetchJob("a.test"))
    assert fetch.current_url == "https://a.test/"
    assert fetch.fail(TLS, None) == "http://a.test/"
    assert fetch.fail(REFUSED, None) == "https://www.a.test/"
    fetch.succeed(200)
    result = fetch.result(PageFacts(status=200, body_size=3), None)
    assert result.attempts == (
        FetchAttempt("https://a.test/", None, TLS),
        FetchAttempt("http://a.test/", None, REFUSED),
        FetchAttempt("https://www.a.test/", 200, None),
    )
    assert result.reached is True
    assert result.final_url == "https://www.a.test/"
    assert result.final_registrable_domain == "a.test"
    assert result.left_registrable_domain is False
    assert result.error is None


def test_dns_and_egress_failures_skip_the_other_scheme_of_the_same_host():
    fetch = DomainFetch(FetchJob("a.test"))
    assert fetch.fail(DNS, None) == "https://www.a.test/"
    assert fetch.fail(FetchError(FetchErrorKind.EGRESS, "private"), None) is None
    assert [a.url for a in fetch.attempts] == ["https://a.test/", "https://www.a.test/"]


def test_an_http_answer_of_any_status_ends_the_search():
    fetch = DomainFetch(FetchJob("a.test"))
    # headers arrived (status known), then the body reset: no fallback to http://
    assert fetch.fail(FetchError(FetchErrorKind.RESET, "reset"), 200) is None
    fetch = DomainFetch(FetchJob("a.test"))
    assert fetch.follow(HopKind.HTTP, 301, "https://www.a.test/") == "https://www.a.test/"
    assert fetch.fail(REFUSED, None) is None  # the redirect was an answer
    result = fetch.result(PageFacts(), REFUSED)
    assert result.reached is False
    assert result.chain == (Hop(HopKind.HTTP, 301, "https://www.a.test/"),)
    assert result.final_url == "https://www.a.test/"
    assert result.status == 301  # the last answer received
    assert result.attempts == (FetchAttempt("https://a.test/", 301, REFUSED),)


def test_a_www_guess_that_does_not_resolve_yields_to_the_apex_error():
    fetch = DomainFetch(FetchJob("a.test"))
    fetch.fail(TLS, None)
    fetch.fail(REFUSED, None)
    assert fetch.fail(DNS, None) is None
    result = fetch.result(PageFacts(), DNS)
    assert result.error == REFUSED
    assert [a.error for a in result.attempts] == [TLS, REFUSED, DNS]
    servfail = FetchError(FetchErrorKind.DNS, "b.test: no nameserver answered")
    only_dns = DomainFetch(FetchJob("b.test"))
    only_dns.fail(servfail, None)
    only_dns.fail(DNS, None)
    assert only_dns.result(PageFacts(), DNS).error == servfail
    www_itself = DomainFetch(FetchJob("www.c.test"))
    www_itself.fail(TLS, None)
    www_itself.fail(DNS, None)  # not a guess: the input's own name
    assert www_itself.result(PageFacts(), DNS).error == DNS


def test_redirect_bound_and_loops():
    fetch = DomainFetch(FetchJob("a.test"), max_redirects=3)
    for n in range(3):
        assert fetch.follow(HopKind.HTTP, 302, f"https://a.test/{n}") == f"https://a.test/{n}"
    error = fetch.follow(HopKind.META, 200, "https://a.test/3")
    assert error == FetchError(
        FetchErrorKind.TOO_MANY_REDIRECTS, "more than 3 redirects (last to https://a.test/3)"
    )
    fetch = DomainFetch(FetchJob("a.test"))
    assert fetch.follow(HopKind.HTTP, 301, "http://a.test/x") == "http://a.test/x"
    assert fetch.follow(HopKind.JS, 200, "https://a.test/") == FetchError(
        FetchErrorKind.TOO_MANY_REDIRECTS, "redirect loop back to https://a.test/"
    )


def test_leaving_the_registrable_domain_is_recorded():
    fetch = DomainFetch(FetchJob("a.test"))
    fetch.follow(HopKind.HTTP, 302, "https://www.b.com.cn/home")
    fetch.succeed(200)
    result = fetch.result(PageFacts(status=200), None)
    assert result.left_registrable_domain is True
    assert result.final_registrable_domain == "b.com.cn"


def test_pin_follows_only_its_own_host():
    fetch = DomainFetch(FetchJob("a.test", "1.2.3.4"))
    assert fetch.pin_for_url("https://a.test/x") == {"host": "a.test", "address": "1.2.3.4"}
    assert fetch.pin_for_url("https://A.TEST./x") == {"host": "a.test", "address": "1.2.3.4"}
    assert fetch.pin_for_url("https://www.a.test/") is None


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("www.example.com.cn", "example.com.cn"),
        ("a.b.example.com", "example.com"),
        ("alice.github.io", "alice.github.io"),  # private suffixes count, as in browsers
        ("www.nx.test", "nx.test"),  # unknown TLD: the PSL's implicit "*" rule
        ("localhost", "localhost"),
        ("1.2.3.4", "1.2.3.4"),
        ("[2001:DB8::1]", "2001:db8::1"),
        ("WWW.例子.中国.", "例子.中国"),
    ],
)
def test_registrable_domain(host, site):
    assert registrable_domain(host) == site


def test_interesting_headers_are_decoded_capped_and_cleaned():
    headers = interesting_headers(
        [
            (b"Server", [b"nginx/1.22"]),
            (b"Via", [b"1.1 a", b"1.1 b"]),
            (b"X-Powered-By", ["中文".encode() + b"\r\n\x1b[31m"]),
            (b"Set-Cookie", [b"secret=1"]),
            (b"Content-Type", [b"text/html; charset=GBK"]),
            (b"X-Cache", [b"\xff" * 300]),
        ]
    )
    assert list(headers) == ["server", "x-powered-by", "via", "x-cache", "content-type"]
    assert headers["via"] == "1.1 a, 1.1 b"
    assert headers["x-powered-by"] == "中文 [31m"
    assert len(headers["x-cache"]) == 256
    assert headers["x-cache"].endswith("…")


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("text/html; charset=GBK", "gbk"),
        ('text/html;charset="utf-8"', "utf-8"),
        ("text/html; Charset = gb2312 ; foo=bar", "gb2312"),
        ("text/html", None),
        (None, None),
    ],
)
def test_header_charset(content_type, charset):
    assert header_charset(content_type) == charset


@pytest.mark.parametrize(
    ("content_type", "body", "html"),
    [
        ("text/html; charset=utf-8", b"", True),
        ("application/xhtml+xml", b"<x/>", True),
        ("image/png", b"<html>", False),
        ("application/json", b"<html>", False),
        ("text/plain", b"<html><body>", False),
        (None, b"\xef\xbb\xbf  <!DOCTYPE html><html>", True),
        ("", b"<p>hi</p>", True),
        (None, b"\x89PNG\r\n", False),
        (None, b"<pre>", False),  # not in the WHATWG HTML sniffing list
        ("application/unknown", b"<html>", True),
    ],
)
def test_is_html(content_type, body, html):
    assert is_html(content_type, body) is html


@pytest.mark.parametrize(
    ("typed", "host", "reason"),
    [
        ("Example.COM.", "example.com", None),
        ("HTTPS://user:pw@Example.COM:8443/x?y", "example.com", None),
        ("a.com/", "a.com", None),
        ("a.com:443", "a.com", None),
        ("1.2.3.4:80", "1.2.3.4", None),
        ("[2001:DB8::1]", "2001:db8::1", None),
        ("2001:db8::1", "2001:db8::1", None),
        ("例子.中国", "xn--fsqu00a.xn--fiqs8s", None),
        ("_dmarc.a.com", "_dmarc.a.com", None),
        ("", "", "empty domain"),
        ("a b.com", "a b.com", "not a valid host name: 'a b.com'"),
        ("a..b", "a..b", "not a valid host name: 'a..b'"),
        ("x" * 250 + ".com", "x" * 250 + ".com", "name longer than 253 characters (254)"),
        ("ab\ud800.com", "ab\\ud800.com", "not a valid host name: 'ab\\\\ud800.com'"),
    ],
)
def test_job_hosts_from_what_users_type(typed, host, reason):
    assert job_host(typed) == host
    assert invalid_host_reason(host) == reason
