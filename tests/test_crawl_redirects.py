"""Redirects a browser follows: Location headers, meta refresh, simple JavaScript."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icpscan.crawl.redirects import (
    HtmlRedirect,
    find_html_redirect,
    may_hold_html_redirect,
    parse_refresh,
    resolve_location,
)
from icpscan.models import HopKind

PAGE = "http://site.test/dir/page.html"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("0; url=http://x.test/", (0.0, "http://x.test/")),
        ("0;URL='/a b'", (0.0, "/a b")),
        ('0; url="/q"; ignored', (0.0, "/q")),
        ("5", (5.0, None)),
        ("0.5; /next", (0.0, "/next")),
        (" 3 , url = x ", (3.0, "x")),
        ("5 url=y", (5.0, "y")),
        ("0;urlfoo", (0.0, "urlfoo")),
        (".5;url=/d", (0.0, "/d")),
        ("url=/x", None),  # a number is required
        ("5x", None),
        ("", None),
    ],
)
def test_parse_refresh(content, expected):
    assert parse_refresh(content) == expected


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (b"/new", "http://site.test/new"),
        (b"next.html", "http://site.test/dir/next.html"),
        (b"//cdn.test/x", "http://cdn.test/x"),
        (b"https://www.site.test/", "https://www.site.test/"),
        ("/路径".encode(), "http://site.test/%E8%B7%AF%E5%BE%84"),
        (b"/caf\xe9", "http://site.test/caf%C3%A9"),  # latin-1 bytes, as Scrapy reads them
        (b"http://\xe4\xbe\x8b\xe5\xad\x90.test/", "http://xn--fsqu00a.test/"),
        (b"ftp://site.test/", None),
        (b"javascript:alert(1)", None),
        (b"http://[::1/", None),
        (b"http://site.test:99999/", None),
        (b"   ", None),
        (None, None),
    ],
)
def test_resolve_location(location, expected):
    assert resolve_location(location, PAGE) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param(
            '<meta http-equiv="refresh" content="0; url=/home">',
            HtmlRedirect(HopKind.META, "http://site.test/home", 0.0),
            id="meta",
        ),
        pytest.param(
            "<HEAD><META HTTP-EQUIV=Refresh CONTENT='3;URL=https://www.site.test/'></HEAD>",
            HtmlRedirect(HopKind.META, "https://www.site.test/", 3.0),
            id="meta-upper-case",
        ),
        pytest.param(
            '<head><base href="http://other.test/base/"><meta http-equiv="refresh"'
            ' content="0;url=x.html"></head>',
            HtmlRedirect(HopKind.META, "http://other.test/base/x.html", 0.0),
            id="meta-relative-to-base",
        ),
        pytest.param(
            '<meta http-equiv="refresh" content="600; url=/later">',
            None,
            id="meta-long-delay-is-a-reload",
        ),
        pytest.param('<meta http-equiv="refresh" content="30">', None, id="meta-reload-self"),
        pytest.param(
            '<meta http-equiv="refresh" content="0; url=page.html">', None, id="meta-same-page"
        ),
        pytest.param(
            '<noscript><meta http-equiv="refresh" content="0;url=/nojs"></noscript>',
            None,
            id="meta-in-noscript-ignored",
        ),
        pytest.param(
            '<script>window.location.href = "https:\\/\\/www.site.test\\/index.html";</script>',
            HtmlRedirect(HopKind.JS, "https://www.site.test/index.html"),
            id="js-href-json-escaped",
        ),
        pytest.param(
            "<script>location='/cn/'</script>",
            HtmlRedirect(HopKind.JS, "http://site.test/cn/"),
            id="js-bare-location",
        ),
        pytest.param(
            "<script>\n  top.location.replace('/portal/');\n</script><p>x</p>",
            HtmlRedirect(HopKind.JS, "http://site.test/portal/"),
            id="js-replace",
        ),
        pytest.param(
            '<script>self.location.assign("\\x2fa\\u002fb")</script>',
            HtmlRedirect(HopKind.JS, "http://site.test/a/b"),
            id="js-assign-escapes",
        ),
        pytest.param(
            "<script>document.location.href = `/tpl`;</script>",
            HtmlRedirect(HopKind.JS, "http://site.test/tpl"),
            id="js-template-literal",
        ),
        pytest.param(
            "<script>function go(){ location.href = '/m/'; } go();</script><p>loading</p>",
            HtmlRedirect(HopKind.JS, "http://site.test/m/"),
            id="js-nested-on-a-stub-page",
        ),
        pytest.param(
            "<script>if (/Mobile/.test(navigator.userAgent)) { location.href = '/m/'; }</script>"
            "<p>" + "新闻 " * 150 + "</p>",
            None,
            id="js-conditional-on-a-real-page",
        ),
        pytest.param(
            "<script>var s = '{'; location.href = '/after-brace-in-string';</script>"
            "<p>" + "text " * 100 + "</p>",
            HtmlRedirect(HopKind.JS, "http://site.test/after-brace-in-string"),
            id="js-brace-inside-string-ignored",
        ),
        pytest.param(
            "<script>/* { */ location.href = '/after-comment';</script>" + "<p>t</p>" * 100,
            HtmlRedirect(HopKind.JS, "http://site.test/after-comment"),
            id="js-brace-inside-comment-ignored",
        ),
        pytest.param("<script>location.href = '/m/' + path;</script>", None, id="js-concatenation"),
        pytest.param("<script>if (location == '/x') {}</script>", None, id="js-comparison"),
        pytest.param("<script>foo.location = '/x';</script>", None, id="js-other-object"),
        pytest.param("<script>mylocation = '/x';</script>", None, id="js-other-variable"),
        pytest.param(
            "<script>location.href = 'javascript:void(0)';</script>", None, id="js-javascript-url"
        ),
        pytest.param("<p>Set location.href = '/x' in your code</p>", None, id="text-not-script"),
        pytest.param('<script src="/r.js">location.href="/x"</script>', None, id="external-script"),
        pytest.param(
            '<script>location.href="/js";</script>'
            '<meta http-equiv="refresh" content="0;url=/meta">',
            HtmlRedirect(HopKind.JS, "http://site.test/js"),
            id="top-level-js-runs-before-refresh",
        ),
        pytest.param(
            "<script>function f(){location.href='/js'}</script>"
            '<meta http-equiv="refresh" content="0;url=/meta">',
            HtmlRedirect(HopKind.META, "http://site.test/meta", 0.0),
            id="refresh-before-nested-js",
        ),
        pytest.param("<html><body>no redirect</body></html>", None, id="plain-page"),
    ],
)
def test_find_html_redirect(html, expected):
    assert find_html_redirect(html, PAGE) == expected


def test_adversarial_pages_stay_linear():
    # Many unclosed strings / comments / tags: each would be quadratic with a naive regex.
    pages = [
        "<script>" + "location='" + "a" * 200_000 + "</script>",
        "<script>" + "/*{" * 50_000 + "location.href='/x'</script>",
        "<script>" * 20_000 + "location",
        "<meta http-equiv=refresh content='0;url=" * 20_000,
        "<script>" + "location.href = '/x' + " * 20_000 + "</script><p>x</p>",
    ]
    for html in pages:
        find_html_redirect(html, PAGE)  # a quadratic engine would not return for minutes


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_refresh_never_raises(content):
    result = parse_refresh(content)
    assert result is None or (result[0] >= 0 and (result[1] is None or result[1].strip()))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<script>",
                "</script>",
                "location",
                ".href",
                " = ",
                "'",
                '"',
                "/x",
                "{",
                "}",
                ";",
                "<meta http-equiv=refresh content='0;url=/y'>",
                "<noscript>",
                "\\",
                "http://a.test/",
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_find_html_redirect_only_returns_absolute_http_urls(html):
    redirect = find_html_redirect(html, PAGE)
    if redirect is not None:
        assert redirect.url.startswith(("http://", "https://"))
        assert redirect.url != PAGE


_REDIRECT_PARTS = st.sampled_from(
    [
        "<script>",
        "</script>",
        "location",
        "window.location.href",
        " = ",
        "'/x'",
        '"http://b.test/"',
        "<meta http-equiv=",
        "REFRESH",
        "Refresh",
        "rEfReSh",
        " content='0;url=/y'>",
        "备案",
        "京ICP备12345678号",
        "<p>",
        "{",
        "}",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_REDIRECT_PARTS, max_size=30).map("".join),
    st.sampled_from(["utf-8", "gb18030", "big5", "utf-16", "utf-16-le", "utf-32"]),
)
def test_the_byte_check_never_hides_a_redirect(html, encoding):
    # the spider skips decoding when the raw bytes cannot hold a redirect: that must never
    # lose one, in any encoding a page may come in
    body = html.encode(encoding, errors="xmlcharrefreplace")  # big5 has no 备
    if find_html_redirect(html, PAGE) is not None:
        assert may_hold_html_redirect(body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html><p>plain page</p></html>", False),
        ("<p>京ICP备12345678号 北京</p>".encode("gb18030"), False),
        (b"<script>location.href='/x'</script>", True),
        (b"<META HTTP-EQUIV=REFRESH CONTENT=0;url=/y>", True),
        (b"<p>Location: the office</p>", False),  # JavaScript's location is lower-case
        ("<p>plain</p>".encode("utf-16"), True),  # BOM: decided on the text
        ("<p>plain</p>".encode("utf-16-le"), True),  # NUL bytes: decided on the text
    ],
)
def test_the_byte_check(body, expected):
    assert may_hold_html_redirect(body) is expected
