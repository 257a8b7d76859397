"""Where a response sends the browser next: HTTP Location, meta refresh, simple JS redirects.

Many Chinese homepages are a stub that forwards to the real portal (``/index.html``,
``/cn/``, another domain) with ``<meta http-equiv="refresh">`` or a line of JavaScript. Judging
the stub would report "no ICP number" for a site that shows one on the page a visitor sees, so
the crawl follows these like a browser would -- within the same bound as HTTP redirects.

JavaScript is never executed. A redirect is recognised only as a plain string literal assigned
to ``location``/``location.href`` (optionally on ``window``/``self``/``top``/``parent``/
``document``) or passed to ``location.replace()``/``location.assign()``, inside a ``<script>``
element. Redirects at the top level of a script (outside any ``{...}`` block) are taken as
unconditional; one inside a block (a function, an ``if``) is followed only when the page has
almost no visible text of its own -- a stub -- so a portal's ``if (mobile) location = "/m/"``
does not take the crawl away from the real homepage.

Pure functions; regular expressions are linear (bounded repetitions, literal prefixes) and the
HTML is parsed by lxml only when a cheap pre-check finds a candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from parsel import Selector
from w3lib.url import safe_url_string

from icpscan.models import HopKind

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_META_REFRESH_DELAY = 100.0  # seconds; longer refreshes are page reloads, not redirects
STUB_TEXT_CHARS = 200  # a page with less visible text than this is a redirect stub
_MAX_URL = 4096

_UTF16_OR_32_BOMS = (b"\xff\xfe", b"\xfe\xff")

_JS_STRING = (
    r"""(?:"(?P<dq>(?:[^"\\\r\n]|\\[^\r\n]){0,4096})"|'(?P<sq>(?:[^'\\\r\n]|\\[^\r\n]){0,4096})'"""
    r"""|`(?P<bq>[^`\\$\r\n]{0,4096})`)"""
)
_JS_OWNER = r"(?:(?:window|self|top|parent|document)\s*\.\s*)?"
# location = "..."; location.href = '...'; window.location.href = `...`
_JS_ASSIGN = re.compile(
    r"(?<![\w$.])"
    + _JS_OWNER
    + r"location(?:\s*\.\s*href)?\s*=(?!=)\s*"
    + _JS_STRING
    + r"\s*(?=[;,)}\r\n<]|$)"
)
# location.replace("..."); window.location.assign('...')
_JS_CALL = re.compile(
    r"(?<![\w$.])"
    + _JS_OWNER
    + r"location\s*\.\s*(?:replace|assign)\s*\(\s*"
    + _JS_STRING
    + r"\s*\)"
)
_JS_UNESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|u\{([0-9a-fA-F]{1,6})\}|(.))")
_JS_TOKENS = re.compile(
    r"""//[^\n]*|/\*(?:[^*]|\*(?!/))*(?:\*/)?|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?"""
    r"""|`(?:[^`\\]|\\.)*`?|[{}]""",
    re.DOTALL,
)
_WHITESPACE = " \t\n\r\f"
_REFRESH_TIME = re.compile(r"[ \t\n\r\f]*(\d*)(?:\.[\d.]*)?")
_REFRESH_URL_KEY = re.compile(r"url\s*=\s*", re.IGNORECASE)


@dataclass(frozen=True)
class HtmlRedirect:
    kind: HopKind  # META or JS
    url: str  # absolute http(s) URL
    delay: float | None = None  # meta refresh delay in seconds


def resolve_location(location: bytes | str | None, base_url: str) -> str | None:
    """Absolute http(s) URL a ``Location`` header points to, or None if unusable."""
    if location is None:
        return None
    if isinstance(location, bytes):
        try:
            text = location.decode("utf-8")
        except UnicodeDecodeError:
            text = location.decode("latin-1")
    else:
        text = location
    return _absolute_http_url(text, base_url)


def may_hold_html_redirect(body: bytes) -> bool:
    """False when the raw page cannot hold a redirect :func:`find_html_redirect` would follow.

    The JS patterns need ``location`` (JavaScript is case-sensitive) and a meta refresh needs
    ``refresh`` in some case. In every ASCII-compatible encoding (UTF-8, GBK, Big5...) those
    letters are the same bytes, so most pages are ruled out without decoding them (about 20x
    cheaper than decoding and searching the text). UTF-16/32 (a BOM or NUL bytes) always go
    on to the text check.
    """
    head = body[:1024]
    if b"\x00" in head or head.startswith(_UTF16_OR_32_BOMS):
        return True
    return b"location" in body or b"refresh" in body.lower()


def find_html_redirect(html: str, page_url: str) -> HtmlRedirect | None:
    """The meta refresh or JS redirect a browser would follow on this page, if any."""
    if "location" not in html and "refresh" not in html.lower():
        return None
    try:
        selector = Selector(text=html, type="html")
    except (ValueError, TypeError):
        return None
    base_url = _base_url(selector, page_url)
    scripts = [s for s in selector.xpath("//script[not(@src)]/text()").getall() if s.strip()]
    confident, nested = _script_redirects(scripts, base_url, page_url)
    if confident is not None:  # top-level script runs while parsing, before any refresh
        return HtmlRedirect(HopKind.JS, confident)
    meta = _meta_refresh(selector, base_url, page_url)
    if meta is not None:
        return meta
    if nested is not None and _visible_text_length(selector) < STUB_TEXT_CHARS:
        return HtmlRedirect(HopKind.JS, nested)
    return None


def parse_refresh(content: str) -> tuple[float, str | None] | None:
    """``(delay, url-or-None)`` from a refresh value (HTML's declarative-refresh steps)."""
    match = _REFRESH_TIME.match(content)
    assert match is not None  # every part of the pattern is optional
    if not match.group(0).strip():
        return None
    digits = match.group(1)
    delay = float(digits) if digits else 0.0
    after = content[match.end() :]
    if after and after[0] not in ";," + _WHITESPACE:
        return None  # e.g. "5x": not a refresh value
    rest = after.lstrip(_WHITESPACE)
    if rest[:1] in (";", ","):
        rest = rest[1:].lstrip(_WHITESPACE)
    if not rest:
        return delay, None
    key = _REFRESH_URL_KEY.match(rest)
    if key is not None:
        rest = rest[key.end() :]
    if rest[:1] in ("'", '"'):
        quote, rest = rest[0], rest[1:]
        rest = rest.split(quote, 1)[0]
    url = rest.strip()
    return delay, (url or None)


# -- internals ---------------------------------------------------------------------------------


def _meta_refresh(selector: Selector, base_url: str, page_url: str) -> HtmlRedirect | None:
    # Browsers with scripting enabled ignore <noscript> content, and we behave like them.
    for content in selector.xpath(
        "//meta[translate(normalize-space(@http-equiv), 'REFSH', 'refsh')='refresh']"
        "[not(ancestor::noscript)]/@content"
    ).getall():
        parsed = parse_refresh(content)
        if parsed is None:
            continue
        delay, raw_url = parsed
        if raw_url is None or delay > MAX_META_REFRESH_DELAY:
            continue
        url = _absolute_http_url(raw_url, base_url)
        if url is not None and not _same_page(url, page_url):
            return HtmlRedirect(HopKind.META, url, delay)
    return None


def _script_redirects(
    scripts: list[str], base_url: str, page_url: str
) -> tuple[str | None, str | None]:
    """(first top-level redirect URL, first nested one)."""
    nested: str | None = None
    for script in scripts:
        if "location" not in script:
            continue
        matches = sorted(
            [*_JS_ASSIGN.finditer(script), *_JS_CALL.finditer(script)], key=lambda m: m.start()
        )
        if not matches:
            continue
        depths = _brace_depths(script, [m.start() for m in matches])
        for match, depth in zip(matches, depths, strict=True):
            literal = match.group("dq") or match.group("sq") or match.group("bq") or ""
            url = _absolute_http_url(_js_unescape(literal), base_url)
            if url is None or _same_page(url, page_url):
                continue
            if depth == 0:
                return url, nested
            if nested is None:
                nested = url
    return None, nested


def _brace_depths(script: str, positions: list[int]) -> list[int]:
    """Brace depth at each position, ignoring braces in strings and comments (approximate)."""
    depths = []
    depth = 0
    tokens = _JS_TOKENS.finditer(script)
    token = next(tokens, None)
    for position in positions:
        while token is not None and token.start() < position:
            text = token.group(0)
            if text == "{":
                depth += 1
            elif text == "}":
                depth = max(depth - 1, 0)
            token = next(tokens, None)
        depths.append(depth)
    return depths


def _js_unescape(literal: str) -> str:
    def replace(match: re.Match[str]) -> str:
        hex2, hex4, code_point, other = match.groups()
        value = hex2 or hex4 or code_point
        if value:
            number = int(value, 16)
            return chr(number) if number <= 0x10FFFF else ""
        return {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(other, other)

    return _JS_UNESCAPE.sub(replace, literal)


def _visible_text_length(selector: Selector) -> int:
    total = 0
    for text in selector.xpath(
        "//body//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)]"
    ).getall():
        total += len("".join(text.split()))
        if total >= STUB_TEXT_CHARS:
            break
    return total


def _base_url(selector: Selector, page_url: str) -> str:
    href = selector.xpath("//head/base/@href").get()
    if href:
        resolved = _absolute_http_url(href, page_url)
        if resolved:
            return resolved
    return page_url


def _absolute_http_url(text: str, base_url: str) -> str | None:
    text = text.strip()
    if not text or len(text) > _MAX_URL:
        return None
    try:
        url = safe_url_string(urljoin(base_url, text))
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return None
    return url


def _same_page(url: str, page_url: str) -> bool:
    return url.split("#", 1)[0] == page_url.split("#", 1)[0]
