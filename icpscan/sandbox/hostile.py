"""Hostile and broken sites, one precise case per fault, each with the outcome a scan must record.

The scenario generator's ``faults`` profile covers the common failures (DNS rcodes and
timeouts, refused/reset/stalled connections, certificate problems, redirect loops). This module
adds the cases that need an exact construction: decompression bombs, bodies past the size cap,
lying ``Content-Length`` and charsets, non-HTML and binary bodies, 100k-character lines and
100k-deep nesting, redirect chains at and past the bound, answers and redirects that point at
private, loopback, link-local and cloud-metadata addresses, and pages full of markup meant to
attack whoever renders the results.

A :class:`FaultCase` is plain data: the DNS names and farm hosts it adds to a
:class:`~icpscan.sandbox.world.World` (:func:`install`) and an :class:`Expect` saying what the
scan must record for its domain (reached or not, the error kind, a pattern for the detail, the
numbers the page shows). The fault-injection tests scan these next to a generated scenario and
check both; ``bench/fault_memory.py`` scans the bombs and huge bodies and reports peak memory.
"""

from __future__ import annotations

import html
import itertools
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from icpscan.sandbox.bodies import RepeatedBytes, encode_repeated
from icpscan.sandbox.internet import POOLS
from icpscan.sandbox.world import DnsName, Host, Response, World

LAB_SUFFIX = "-lab.cn"  # every case is its own registrable domain: <slug>-lab.cn
MAX_REDIRECTS = 10  # the scan's default bound (--max-redirects)
PAGE_CAP = 2 * 1024 * 1024  # the scan's default page size cap (--max-page-size)
DECOMPRESSION_CAP = 16 * 1024 * 1024  # the crawl's DOWNLOAD_MAXSIZE
BOMB_SIZE = 1 << 30  # 1 GiB of zeros behind ~1 MB (gzip/deflate) or ~1 KB (brotli) on the wire
HUGE_PAGE = 6 * 1024 * 1024
NESTING = 100_000
LONG_LINE = 100_000
JUNK_SIZE = 300_000
BEIAN = "https://beian.miit.gov.cn/"


@dataclass(frozen=True)
class Expect:
    """What a scan must record for a case's domain (None: not checked)."""

    reached: bool
    error_kind: str | None = None  # FetchErrorKind value when not reached
    detail: str | None = None  # regular expression searched in the error detail
    numbers: tuple[str, ...] | None = None  # own normalised numbers, in any order
    truncated: bool | None = None
    is_html: bool | None = None
    status: int | None = None
    dns_error: str | None = None  # a hosting-stage DnsFailure.error that must be present
    dns_detail: str | None = None  # regular expression searched in that failure's detail
    body_size: int | None = None
    final_url: str | None = None


@dataclass
class FaultCase:
    name: str  # "<class>:<fault>", e.g. "http:gzip_bomb"
    domain: str
    expect: Expect
    # the outcome with --allow-private (egress cases); None: same as ``expect``
    allow_private: Expect | None = None
    dns: dict[str, DnsName] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)

    @property
    def fault_class(self) -> str:
        return self.name.partition(":")[0]


def install(world: World, cases: Iterable[FaultCase]) -> World:
    """Add the cases' DNS names and farm hosts to ``world`` (names must not collide)."""
    for case in cases:
        for name, entry in case.dns.items():
            if name in world.dns:
                raise ValueError(f"{case.name}: DNS name {name} is already in the world")
            world.dns[name] = entry
        for name, host in case.hosts.items():
            if name in world.hosts:
                raise ValueError(f"{case.name}: host {name} is already in the world")
            world.hosts[name] = host
    return world


# -- building blocks ------------------------------------------------------------------------------


def filing_number(index: int) -> str:
    """A valid, unique Beijing website filing number per case (YYYY + 6 digits, -1)."""
    return f"京ICP备2024{index:06d}号-1"


def footer(number: str) -> str:
    return f'<footer><a href="{BEIAN}" target="_blank">{html.escape(number)}</a></footer>'


def page(number: str | None, *, title: str = "lab", head: str = "", body: str = "") -> str:
    foot = footer(number) if number else ""
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title>{head}</head>"
        f"<body>{body}{foot}</body></html>"
    )


def _ok(
    text: str | bytes | RepeatedBytes,
    content_type: str = "text/html; charset=utf-8",
    *,
    encoding: str | None = None,
    content_length: int | None = None,
    trickle: float = 0.0,
) -> Response:
    body = text.encode("utf-8") if isinstance(text, str) else text
    return Response(
        200,
        [("Server", "nginx"), ("Content-Type", content_type)],
        body,
        encoding=encoding,
        content_length=content_length,
        trickle=trickle,
    )


def _redirect(location: str, status: int = 302) -> Response:
    return Response(status, [("Server", "nginx"), ("Location", location)], b"")


def _mainland_address(name: str) -> str:
    return POOLS["chinatelecom"].address(random.Random(f"icpscan-hostile/{name}"))


class _Builder:
    def __init__(self, beacon: str) -> None:
        self.beacon = beacon.rstrip("/")  # where hostile pages point their resources
        self.cases: list[FaultCase] = []

    def case(
        self,
        name: str,
        expect: Expect,
        *,
        https: dict[str, Response] | None = None,
        http: dict[str, Response] | None = None,
        records: dict[str, list[str]] | None = None,
        allow_private: Expect | None = None,
    ) -> FaultCase:
        slug = name.partition(":")[2].replace("_", "-")
        domain = f"{slug}{LAB_SUFFIX}"
        records = records if records is not None else {"A": [_mainland_address(domain)]}
        case = FaultCase(
            name,
            domain,
            expect,
            allow_private,
            dns={domain: DnsName(records=records, ttl=300)},
            hosts={domain: Host(http=http or {}, https=https or {})},
        )
        self.cases.append(case)
        return case

    def number(self) -> str:
        return filing_number(len(self.cases) + 1)


# -- the catalogue --------------------------------------------------------------------------------


def fault_cases(beacon: str = "http://127.0.0.1:9") -> list[FaultCase]:
    """Every hand-built fault case; ``beacon`` is the base URL hostile pages load things from."""
    b = _Builder(beacon)
    _dns_cases(b)
    _egress_cases(b)
    _http_cases(b)
    _hostile_cases(b)
    return b.cases


def warm(cases: Iterable[FaultCase]) -> None:
    """Compress the bombs now, so a client meets the bomb instead of waiting for the farm."""
    for case in cases:
        for host in case.hosts.values():
            for response in (*host.http.values(), *host.https.values()):
                if isinstance(response.body, RepeatedBytes) and response.encoding:
                    encode_repeated(response.body, response.encoding)


def cases_by_name(cases: Iterable[FaultCase]) -> dict[str, FaultCase]:
    return {c.name: c for c in cases}


def _dns_cases(b: _Builder) -> None:
    # A chain past the resolver's bound (12 CNAMEs): a hop limit, not an endless chase.
    case = b.case(
        "dns:chain_past_bound",
        Expect(False, "dns", dns_error="error", dns_detail=r"CNAME chain longer than 12"),
        records={},
    )
    hops = [f"hop{k}.cdn-{case.domain}" for k in range(1, 16)]
    case.dns[case.domain] = DnsName(records={"CNAME": [hops[0]]}, ttl=300)
    for current, target in itertools.pairwise(hops):
        case.dns[current] = DnsName(records={"CNAME": [target]}, ttl=300)
    case.dns[hops[-1]] = DnsName(records={"A": [_mainland_address(hops[-1])]}, ttl=300)
    # Hundreds of IPv6 addresses: the answer needs TCP; the site is still fetched.
    number = b.number()
    pool = POOLS["chinatelecom"]
    rng = random.Random("icpscan-hostile/many-aaaa")
    addresses = sorted({pool.address(rng, 6) for _ in range(300)})
    b.case(
        "dns:many_aaaa",
        Expect(True, numbers=(number,)),
        https={"/": _ok(page(number))},
        records={"AAAA": addresses},
    )


_PRIVATE_ANSWERS = (
    ("dns_private", "A", "10.20.30.40", "private"),
    ("dns_loopback", "A", "127.0.0.2", "loopback"),
    ("dns_metadata", "A", "169.254.169.254", "cloud metadata"),
    ("dns_link_local", "A", "169.254.10.10", "link-local"),
    ("dns_cgnat", "A", "100.64.7.7", r"CGNAT \(100\.64\.0\.0/10\)"),
    ("dns_v6_loopback", "AAAA", "::1", "loopback"),
    ("dns_v6_ula", "AAAA", "fd12:3456::1", "private"),
    ("dns_v4_mapped", "AAAA", "::ffff:192.168.0.1", "private"),
)

_PRIVATE_REDIRECTS = (
    ("redirect_private_ip", "http://10.1.2.3/", "private"),
    ("redirect_loopback", "http://127.0.0.1/admin", "loopback"),
    ("redirect_metadata", "http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("redirect_v6_loopback", "http://[::1]/", "loopback"),
)


def _egress_cases(b: _Builder) -> None:
    """The SSRF policy, after DNS and on every redirect hop; --allow-private lifts it."""
    for slug, rtype, address, reason in _PRIVATE_ANSWERS:
        number = b.number()
        b.case(
            f"egress:{slug}",
            Expect(False, "egress", detail=reason),
            https={"/": _ok(page(number))},
            records={rtype: [address]},
            allow_private=Expect(True, numbers=(number,)),
        )
    for slug, location, reason in _PRIVATE_REDIRECTS:
        b.case(
            f"egress:{slug}",
            Expect(False, "egress", detail=reason, status=302),
            https={"/": _redirect(location)},
            # the farm has no such host: what the private address answered is a 404 page
            allow_private=Expect(True, status=404, final_url=location),
        )
    case = b.case(
        "egress:redirect_private_name",
        Expect(False, "egress", detail="private", status=302),
        records=None,
    )
    intranet = f"intranet.{case.domain}"
    case.hosts[case.domain].https = {"/": _redirect(f"https://{intranet}/")}
    case.dns[intranet] = DnsName(records={"A": [("192.168.10.10")]}, ttl=300)
    number = b.number()
    case.hosts[intranet] = Host(https={"/": _ok(page(number))})
    case.allow_private = Expect(True, numbers=(number,), final_url=f"https://{intranet}/")
    for slug, markup, target, reason in (
        (
            "meta_refresh_metadata",
            '<meta http-equiv="refresh" content="0; url=http://169.254.169.254/latest/">',
            "http://169.254.169.254/latest/",
            "cloud metadata",
        ),
        (
            "js_redirect_loopback",
            '<script>location.href = "http://127.0.0.1/";</script>',
            "http://127.0.0.1/",
            "loopback",
        ),
    ):
        b.case(
            f"egress:{slug}",
            Expect(False, "egress", detail=reason, status=200),
            https={"/": _ok(page(None, head=markup))},
            allow_private=Expect(True, status=404, final_url=target),
        )


def _chain(domain: str, hops: int, number: str) -> dict[str, Response]:
    routes = {"/": _redirect(f"https://{domain}/hop/1")}
    for k in range(1, hops):
        routes[f"/hop/{k}"] = _redirect(f"https://{domain}/hop/{k + 1}")
    routes[f"/hop/{hops}"] = _ok(page(number))
    return routes


def _http_cases(b: _Builder) -> None:
    # Redirects: exactly at the bound is followed, one more is not; loops end at once.
    number = b.number()
    case = b.case("http:redirect_chain_at_bound", Expect(True, numbers=(number,)))
    case.hosts[case.domain].https = _chain(case.domain, MAX_REDIRECTS, number)
    number = b.number()
    case = b.case(
        "http:redirect_chain_past_bound",
        Expect(False, "too_many_redirects", detail=rf"more than {MAX_REDIRECTS} redirects"),
    )
    case.hosts[case.domain].https = _chain(case.domain, MAX_REDIRECTS + 1, number)
    case = b.case(
        "http:redirect_self_loop", Expect(False, "too_many_redirects", detail="redirect loop")
    )
    case.hosts[case.domain].https = {"/": _redirect(f"https://{case.domain}/")}
    # A page that refreshes to itself is read as it is (a browser would reload it for ever).
    case = b.case("http:meta_refresh_to_itself", Expect(True, numbers=(), status=200))
    case.hosts[case.domain].https = {
        "/": _ok(page(None, head='<meta http-equiv="refresh" content="0; url=/">'))
    }

    # Sizes: a page past the cap is cut (and read), bombs are stopped.
    number = b.number()
    huge = page(number, body="").replace("</body>", "<p>" + "x" * HUGE_PAGE + "</p></body>")
    b.case(
        "http:body_over_cap",
        Expect(True, numbers=(number,), truncated=True, body_size=PAGE_CAP),
        https={"/": _ok(huge)},
    )
    b.case(
        "http:endless_body",
        Expect(True, numbers=(), truncated=True, body_size=PAGE_CAP, is_html=True),
        https={"/": _ok(RepeatedBytes(256 * 1024 * 1024, b"<p>zzzzzzzzzzzzzzzzzzzzzz</p>\n"))},
    )
    for coding in ("gzip", "deflate", "br"):
        b.case(
            f"http:{coding}_bomb",
            Expect(False, "size", detail=r"decompress|DOWNLOAD_MAXSIZE|max"),
            https={"/": _ok(RepeatedBytes(BOMB_SIZE), encoding=coding)},
        )
    # A compressed page is read up to the page cap; past the decompression cap (16 MiB) it
    # is a bomb, whatever its ratio.
    number = b.number()
    big = page(number).replace("</body>", "<p>" + "y" * (5 * 1024 * 1024) + "</p></body>")
    b.case(
        "http:gzip_big_page",
        Expect(True, numbers=(number,), truncated=True, body_size=PAGE_CAP),
        https={"/": _ok(big, encoding="gzip")},
    )
    bigger = page(b.number()).replace("</body>", "<p>" + "y" * (20 * 1024 * 1024) + "</p></body>")
    b.case(
        "http:gzip_past_the_cap",
        Expect(False, "size", detail=rf"exceeded DOWNLOAD_MAXSIZE \({DECOMPRESSION_CAP} B\)"),
        https={"/": _ok(bigger, encoding="gzip")},
    )
    number = b.number()
    b.case(
        "http:gzip_not_gzip",
        Expect(False, "http"),
        https={
            "/": Response(
                200,
                [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                page(number).encode(),
            )
        },
    )

    # Framing: a Content-Length shorter than the body, one longer (then the connection ends).
    number = b.number()
    text = page(number).encode()
    b.case(
        "http:content_length_short",
        Expect(True, numbers=(), body_size=40),
        https={"/": _ok(text, content_length=40)},
    )
    b.case(
        "http:content_length_long",
        Expect(False, "reset", detail=rf"after {len(text)} body bytes"),
        https={"/": _ok(text, content_length=len(text) + 5000)},
    )
    b.case(
        "http:content_length_garbage",
        Expect(False, "http"),
        https={
            "/": Response(200, [("Content-Type", "text/html"), ("Content-Length", "12abc")], text)
        },
    )

    # Bodies that are not HTML: never extracted, even when they contain a number.
    number = b.number()
    text = page(number).encode()
    for slug, ctype, body in (
        ("pdf", "application/pdf", b"%PDF-1.4\n" + text),
        ("png", "image/png", b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(4000)),
        ("json", "application/json", b'{"icp": "' + number.encode() + b'"}'),
    ):
        b.case(
            f"http:type_{slug}",
            Expect(True, numbers=(), is_html=False),
            https={"/": _ok(body, ctype)},
        )
    number = b.number()
    b.case(
        "http:no_content_type",
        Expect(True, numbers=(number,), is_html=True),
        https={"/": Response(200, [("Server", "nginx")], page(number).encode())},
    )
    junk = random.Random(7).randbytes(JUNK_SIZE)
    b.case(
        "http:binary_junk",
        Expect(True, numbers=(), is_html=True, body_size=JUNK_SIZE),
        https={"/": _ok(junk, "text/html")},
    )
    b.case(
        "http:empty_body",
        Expect(True, numbers=(), body_size=0, status=200),
        https={"/": _ok(b"")},
    )

    # Charsets that lie or do not exist: the GBK bytes still give the number.
    for slug, ctype, meta in (
        ("charset_unknown", "text/html; charset=x-no-such-charset", ""),
        ("charset_header_utf16", "text/html; charset=utf-16", '<meta charset="utf-16">'),
        ("charset_meta_big5", "text/html", '<meta charset="big5">'),
        ("charset_garbage", 'text/html; charset="\x01\x02;;;"', '<meta charset="../../etc">'),
        # codecs Python has but no page can be decoded with: they used to crash the decoders
        ("charset_bytes_codec", "text/html; charset=zlib", '<meta charset="base64">'),
        ("charset_undefined", "text/html", '<meta charset="undefined">'),
        ("charset_utf7", "text/html; charset=utf-7", '<meta charset="utf-7">'),
    ):
        number = b.number()
        body = page(number, head=meta, body="<p>北京市海淀区中关村大街</p>").encode("gbk")
        b.case(
            f"http:{slug}",
            Expect(True, numbers=(number,)),
            https={"/": _ok(body, ctype)},
        )

    # Shapes that break naive parsers.
    number = b.number()
    line = "a" * (LONG_LINE // 2) + " " + footer(number) + " " + "b" * (LONG_LINE // 2)
    b.case(
        "http:long_line",
        Expect(True, numbers=(number,)),
        https={"/": _ok(f"<html><head><title>lab</title></head><body>{line}</body></html>")},
    )
    number = b.number()
    nested = "<div>" * NESTING + footer(number) + "</div>" * NESTING
    b.case(
        "http:deep_nesting",
        Expect(True, numbers=(number,)),
        https={"/": _ok(page(None, body=nested))},
    )
    number = b.number()
    b.case(
        "http:unclosed_nesting",
        Expect(True, numbers=(number,)),
        https={"/": _ok("<html><body>" + "<span><b>" * NESTING + footer(number))},
    )
    # One tag of 800 KB of attribute-name letters with "ICP" every 400: the attribute regex
    # used to re-read the rest of the run from every position (hours of CPU for this page).
    number = b.number()
    run = "<a " + ("a" * 400 + "ICP") * 2000 + ">x</a>"
    b.case(
        "http:attribute_run",
        Expect(True, numbers=(number,)),
        https={"/": _ok(page(number, body=run))},
    )
    b.case(
        "http:long_digit_run",
        Expect(True, numbers=None),
        https={"/": _ok(page(None, body="京ICP备" + "7" * LONG_LINE + "号"))},
    )

    # A slowloris server: a trickle that never finishes within the download timeout.
    b.case(
        "http:slowloris",
        Expect(False, "timeout"),
        https={"/": _ok(page(b.number()) + " " * 20_000, trickle=20.0)},
        http={"/": _ok(page(None) + " " * 20_000, trickle=20.0)},
    )
    # A 200 KB header line: Twisted's parser drops a line past 16 KiB and reads on.
    b.case(
        "http:huge_header_line",
        Expect(True, numbers=(), status=200),
        https={
            "/": Response(
                200,
                [("Content-Type", "text/html"), ("Server", "nginx " + "p" * 200_000)],
                page(None).encode(),
            )
        },
    )


def _hostile_cases(b: _Builder) -> None:
    """Pages built to attack whoever renders the results: markup, scripts, control characters."""
    beacon = b.beacon
    number = b.number()
    province, digits = number[0], number[4:]  # 京 | ICP | 备2024…号-1
    title = (
        "<script>document.title='pwned'</script>\x1b[2J\x1b[31mRED\x1b[0m\x07"
        "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\ \u202egnp.exe \u0085\x9b31m"
    )
    wrapped = (
        f'<a href="{BEIAN}"><b>{province}</b><i>ICP</i>'
        f"<span onmouseover=\"document.title='pwned'\">{html.escape(digits)}</span></a>"
    )
    body = (
        f"<p>{wrapped}</p>"
        f'<img src="{beacon}/img.png" onerror="document.title=\'pwned\'">'
        f"<a href=\"javascript:document.title='pwned'\">click</a>"
        f'<div style="background:url({beacon}/inline.png)">x</div>'
        f'<iframe src="{beacon}/frame.html"></iframe>'
        f'<script src="{beacon}/script.js"></script>'
        "<script>document.title='pwned';fetch('" + beacon + "/fetch')</script>"
        f'<svg><image href="{beacon}/svg.png"/></svg>'
        f'<form action="{beacon}/form" method="post"><input name="q"></form>'
    )
    head = (
        f"<style>@import url({beacon}/import.css);body{{background:url({beacon}/bg.png)}}</style>"
        f'<link rel="stylesheet" href="{beacon}/style.css">'
        f'<meta http-equiv="refresh" content="999; url={beacon}/refresh">'
        f'<base href="{beacon}/">'
    )
    markup = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(title, quote=False)}</title>{head}</head><body>{body}</body></html>"
    )
    b.case(
        "hostile:markup",
        Expect(True, numbers=(number,)),
        https={
            "/": Response(
                200,
                [
                    ("Server", "\x1b[31mevil\x1b[0m\x07<script>alert(1)</script>"),
                    ("X-Powered-By", "\x1b]0;pwned\x07\u009b2J"),
                    ("Content-Type", "text/html; charset=utf-8"),
                ],
                markup.encode("utf-8"),
            )
        },
    )
    for slug, target, expect in (
        ("refresh_external", "https://tracker-evil.com/", Expect(False, "dns", detail="NXDOMAIN")),
        ("refresh_javascript", "javascript:alert(1)", Expect(True, numbers=(), status=200)),
    ):
        refresh = f'<meta http-equiv="refresh" content="0; url={target}">'
        b.case(f"hostile:{slug}", expect, https={"/": _ok(page(None, head=refresh))})


def iter_interleaved(first: list[str], second: list[str]) -> Iterator[str]:
    """``second`` spread evenly through ``first`` (fault domains amid ordinary ones)."""
    if not second:
        yield from first
        return
    step = max(1, len(first) // len(second))
    pending = list(second)
    for index, item in enumerate(first):
        if index % step == 0 and pending:
            yield pending.pop(0)
        yield item
    yield from pending
