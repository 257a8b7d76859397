"""Small pure readings of a response: headers worth keeping, charset, "is this HTML", site.

Header values come from hostile servers: they are decoded leniently, stripped of control
characters and capped.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

import tldextract

# Headers that tell who serves the site (server software, CDN, cache) and what the body is.
INTERESTING_HEADERS = (
    "server",
    "x-powered-by",
    "via",
    "x-via",
    "x-cache",
    "x-cache-lookup",
    "x-cdn",
    "x-served-by",
    "cf-ray",
    "x-amz-cf-pop",
    "eagleid",
    "x-swift-cachetime",
    "x-nws-log-uuid",
    "content-type",
    "content-length",
    "content-encoding",
    "content-language",
    "location",
    "strict-transport-security",
)
_INTERESTING = frozenset(INTERESTING_HEADERS)
MAX_HEADER_VALUE = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")  # C0, DEL and C1 controls
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';,\s]{1,40})""", re.IGNORECASE)
_HTML_MIME = frozenset({"text/html", "application/xhtml+xml"})
_UNKNOWN_MIME = frozenset({"", "unknown/unknown", "application/unknown", "*/*"})
# WHATWG MIME sniffing: tags that mark a resource as HTML when no type is declared.
_HTML_SNIFF = re.compile(
    rb"<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p"
    rb"|!--)(?:[ \t\n\r\f>]|$)",
    re.IGNORECASE,
)

# Offline public suffix list (the snapshot bundled with tldextract; never fetched). Private
# suffixes (github.io, cloud-provider domains...) count as suffixes, as they do in browsers:
# alice.github.io and bob.github.io are different sites.
_EXTRACT = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
)


def registrable_domain(host: str) -> str | None:
    """The registrable domain ("site") of a host; an IP address is its own site."""
    host = host.strip().rstrip(".").lower()
    if not host:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    site = _EXTRACT(host).top_domain_under_public_suffix
    if site:
        return site
    # No listed suffix matched (e.g. ".test", ".internal"): the PSL's implicit "*" rule makes
    # the last label the suffix, as browsers do.
    return ".".join(host.split(".")[-2:])


def interesting_headers(raw_headers: Iterable[tuple[bytes, Iterable[bytes]]]) -> dict[str, str]:
    """``{lower-case name: value}`` for :data:`INTERESTING_HEADERS` (repeats joined by ", ")."""
    found: dict[str, list[str]] = {}
    for name, values in raw_headers:
        key = name.decode("latin-1").strip().lower()
        if key in _INTERESTING:
            found.setdefault(key, []).extend(_header_text(v) for v in values)
    ordered = {name: ", ".join(found[name]) for name in INTERESTING_HEADERS if name in found}
    return {name: _clip(value) for name, value in ordered.items()}


def header_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type value as sent (lower-case), or None."""
    if not content_type:
        return None
    match = _CHARSET.search(content_type)
    return match.group(1).lower() if match else None


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_html(content_type: str | None, body: bytes) -> bool:
    """HTML by declared type, or by sniffing the body when no usable type is declared."""
    declared = media_type(content_type)
    if declared in _HTML_MIME:
        return True
    if declared not in _UNKNOWN_MIME:
        return False
    start = body[:1024].lstrip(b"\xef\xbb\xbf \t\n\r\f")
    return bool(_HTML_SNIFF.match(start))


def _header_text(value: bytes) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("latin-1")
    return _CONTROL.sub(" ", text).strip()


def _clip(text: str) -> str:
    return text if len(text) <= MAX_HEADER_VALUE else text[: MAX_HEADER_VALUE - 1] + "…"
