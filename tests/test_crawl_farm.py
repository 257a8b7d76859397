"""The homepage crawl end to end against the sandbox web farm, over real sockets.

Three crawls run once per module, in subprocesses (Twisted's reactor cannot restart), in
parallel: run "dns" asks a real DNS server on loopback (dnspython -> dnslib, UDP) and keeps the
egress policy; run "slow" has a short timeout for the hosts that never answer; run "private"
uses a static host table and ``--allow-private``. DNS answers are *public* addresses, as on the
internet; the farm's ``--connect-to`` rules land every connection on loopback, so each record
shows both the address (DNS or pin) and the peer (127.0.0.1). Every test then checks the exact
record of one domain. Timeouts are generous where nothing should time out: other test-suites
share the two cores.
"""

from __future__ import annotations

import base64
import http.server
import json
import socket
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from icpscan.sandbox.bodies import RepeatedBytes
from icpscan.sandbox.dns import DnsServer
from icpscan.sandbox.farm import Farm
from icpscan.sandbox.world import (
    CertMode,
    ConnectionMode,
    DnsFault,
    DnsName,
    Host,
    Response,
    World,
)
from tests.conftest import REPO_ROOT

TIMEOUT = 10.0  # nothing in the "dns" run should come near it, even on a loaded machine
SLOW_TIMEOUT = 2.0  # the "slow" run: hosts that never answer
PAGE_CAP = 1 << 20
MAX_REDIRECTS = 5


def page(text: str, content_type: str = "text/html; charset=utf-8", **kwargs) -> Response:
    return Response(200, [("Content-Type", content_type)], text.encode(), **kwargs)


def redirect(status: int, location: str) -> Response:
    return Response(status, [("Location", location)], b"")


def site(title: str, **extra: Response) -> dict[str, Response]:
    return {"/": page(f"<html><title>{title}</title><body>{title}</body></html>"), **extra}


def both(routes: dict[str, Response], **kwargs) -> Host:
    return Host(http=routes, https=routes, **kwargs)


HOSTS: dict[str, Host] = {
    "pinned.test": both(
        {
            "/": Response(
                200,
                [
                    ("Server", "nginx/1.22.1"),
                    ("X-Powered-By", "PHP/7.4"),
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Set-Cookie", "s=1"),
                ],
                b"<html><title>pinned</title></html>",
            )
        }
    ),
    "redirect-other.test": both({"/": redirect(301, "https://www.other-site.test/home")}),
    "www.other-site.test": both({"/home": page("<title>other home</title>")}),
    "to-private.test": both({"/": redirect(302, "http://intranet.test/")}),
    "intranet.test": Host(http=site("intranet")),
    "https-fallback.test": Host(http=site("plain http")),
    "www-fallback.test": Host(connection=ConnectionMode.REFUSED),
    "www.www-fallback.test": both(site("www works")),
    "expired.test": both(site("expired"), cert=CertMode.EXPIRED),
    "selfsigned.test": both(site("selfsigned"), cert=CertMode.SELF_SIGNED),
    "wrongname.test": both(site("wrongname"), cert=CertMode.WRONG_NAME),
    "stall-handshake.test": both(site("after stall"), cert=CertMode.HANDSHAKE_STALL),
    "tarpit.test": both(site("never"), connection=ConnectionMode.TARPIT),
    "refused.test": both(site("never"), connection=ConnectionMode.REFUSED),
    "reset.test": both({"/": page("<p>" + "a" * 50_000, reset_after=1000)}),
    "stall-body.test": both({"/": page("<p>" + "b" * 5000, stall_after_headers=True)}),
    "dropped.test": both({"/": Response(drop_connection=True)}),
    "lying-length.test": both({"/": page("<p>short</p>", content_length=5000)}),
    "big.test": both(
        {"/": Response(200, [("Content-Type", "text/html")], RepeatedBytes(3 << 20, b"<p>big</p>"))}
    ),
    "big-gzip.test": both(
        {
            "/": Response(
                200,
                [("Content-Type", "text/html")],
                RepeatedBytes(3 << 20, b"<p>zip</p>"),
                encoding="gzip",
            )
        }
    ),
    "trickle.test": both({"/": page("<p>" + "t" * 20_000, trickle=2000.0)}),
    "gzip-page.test": both(
        {
            "/": Response(
                200, [("Content-Type", "text/html")], b"<title>zipped</title>", encoding="gzip"
            )
        }
    ),
    "gzip-bomb.test": both(
        {
            "/": Response(
                200, [("Content-Type", "text/html")], RepeatedBytes(64 << 20), encoding="gzip"
            )
        }
    ),
    "br-bomb.test": both(
        {
            "/": Response(
                200, [("Content-Type", "text/html")], RepeatedBytes(64 << 20), encoding="br"
            )
        }
    ),
    "deflate-bomb.test": both(
        {
            "/": Response(
                200, [("Content-Type", "text/html")], RepeatedBytes(64 << 20), encoding="deflate"
            )
        }
    ),
    "loop.test": both({"/": redirect(302, "/a"), "/a": redirect(302, "/")}),
    "chain.test": both(
        {"/": redirect(301, "/1"), **{f"/{n}": redirect(301, f"/{n + 1}") for n in range(1, 20)}}
    ),
    "meta.test": both(
        {
            "/": page('<meta http-equiv="refresh" content="0; url=/home"><p>moved</p>'),
            "/home": page("<title>meta home</title>"),
        }
    ),
    "js.test": both(
        {
            "/": page('<script>window.location.replace("https://www.js.test/portal");</script>'),
        }
    ),
    "www.js.test": both({"/portal": page("<title>portal</title>")}),
    "image.test": both(
        {"/": Response(200, [("Content-Type", "image/png")], b"\x89PNG\r\n\x1a\nDATA")}
    ),
    "gbk.test": both({"/": page("<p>京ICP备12345678号</p>", "text/html; charset=GBK")}),
    "alias.test": both(site("behind a CNAME chain")),
    "robots.test": both(
        {**site("robots"), "/robots.txt": page("User-agent: *\nDisallow: /\n", "text/plain")}
    ),
}
# Re-encode the GBK page's body as GBK (page() encodes UTF-8).
HOSTS["gbk.test"].https["/"].body = "<p>京ICP备12345678号</p>".encode("gbk")

# What DNS says: public addresses (the farm is reached through --connect-to).
DNS = {
    "pinned.test": "1.2.4.8",  # the job pins 39.156.66.10: DNS must not be used
    "redirect-other.test": "180.101.49.11",
    "www.other-site.test": "220.181.38.148",
    "to-private.test": "202.108.22.5",
    "intranet.test": "10.1.2.3",
    "https-fallback.test": "223.5.5.5",  # offline-data: a DNS answer, routed to loopback
    "www-fallback.test": "114.114.114.114",  # offline-data: a DNS answer, routed to loopback
    "www.www-fallback.test": "114.114.115.115",
    "expired.test": "1.2.4.9",
    "selfsigned.test": "1.2.4.10",
    "wrongname.test": "1.2.4.11",
    "stall-handshake.test": "1.2.4.12",
    "tarpit.test": "1.2.4.13",
    "refused.test": "1.2.4.14",
    "reset.test": "1.2.4.15",
    "stall-body.test": "1.2.4.16",
    "dropped.test": "1.2.4.17",
    "lying-length.test": "1.2.4.18",
    "big.test": "1.2.4.19",
    "gzip-page.test": "1.2.4.20",
    "gzip-bomb.test": "1.2.4.21",
    "br-bomb.test": "1.2.4.22",
    "deflate-bomb.test": "1.2.4.23",
    "loop.test": "1.2.4.24",
    "chain.test": "1.2.4.25",
    "meta.test": "1.2.4.26",
    "js.test": "1.2.4.27",
    "www.js.test": "1.2.4.28",
    "image.test": "2400:3200::1",  # AAAA only
    "gbk.test": "1.2.4.30",
    "robots.test": "1.2.4.31",
    "big-gzip.test": "1.2.4.32",
    "trickle.test": "1.2.4.33",
    "ipv6.test": "2400:3200::2",  # served by a plain-HTTP server on [::1], not the farm
}

SLOW = (
    "tarpit.test",
    "stall-handshake.test",
    "stall-body.test",
    "trickle.test",
    "dns-timeout.test",
)
JOBS = [
    {"domain": "pinned.test", "address": "39.156.66.10", "row": 1},
    {"domain": "pinned.test", "address": "39.156.66.10", "row": 2},  # duplicates: two records
    *(
        {"domain": name}
        for name in DNS
        if not name.startswith("www.") and name not in ("pinned.test", "intranet.test", *SLOW)
    ),
    {"domain": "nxdomain.test"},
    {"domain": "servfail.test"},
    {"domain": "alias.test"},
    {"domain": "127.0.0.1"},
]


class _PlainV6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _V6Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<p>over IPv6</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _dns_world() -> World:
    names = {
        name: DnsName({"AAAA" if ":" in address else "A": [address]})
        for name, address in DNS.items()
    }
    names["alias.test"] = DnsName({"CNAME": ["edge.cdn-provider.test"]})
    names["edge.cdn-provider.test"] = DnsName({"CNAME": ["node.cdn-provider.test"]})
    names["node.cdn-provider.test"] = DnsName({"A": ["203.208.40.1"]})
    names["servfail.test"] = DnsName(fault=DnsFault.SERVFAIL)
    names["dns-timeout.test"] = DnsName(fault=DnsFault.TIMEOUT)
    return World(dns=names)


def _start(jobs_file: Path, *args: str, timeout: float = TIMEOUT) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "icpscan.crawl", str(jobs_file), "--with-body",
        "--timeout", str(timeout),
        "--set", f"ICPSCAN_MAX_PAGE_BYTES={PAGE_CAP}",
        "--set", f"ICPSCAN_MAX_REDIRECTS={MAX_REDIRECTS}",
        "--set", f"DOWNLOAD_MAXSIZE={8 << 20}",
        "--set", "LOG_LEVEL=WARNING",
        *args,
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _records(process: subprocess.Popen) -> list[dict]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crawl")
    dns = DnsServer(_dns_world()).start()
    farm = Farm(World(hosts=HOSTS), state_dir=tmp / "farm").start()
    v6 = _PlainV6Server(("::1", 0), _V6Page)
    threading.Thread(target=v6.serve_forever, daemon=True).start()
    try:
        rules = tmp / "connect-to.txt"
        # Ours first (first match wins): every port of ipv6.test goes to the plain server.
        rules.write_text(
            f"# test rules\nipv6.test::[::1]:{v6.server_address[1]}\n"
            + "".join(f"{rule}\n" for rule in farm.connect_to_rules()),
            encoding="ascii",
        )
        jobs = tmp / "jobs.jsonl"
        jobs.write_text("".join(json.dumps(j) + "\n" for j in JOBS), encoding="utf-8")
        private_jobs = tmp / "private.txt"
        private_jobs.write_text("to-private.test\n# a comment\n\nrobots.test\n", encoding="utf-8")
        slow_jobs = tmp / "slow.txt"
        slow_jobs.write_text("".join(f"{name}\n" for name in SLOW), encoding="utf-8")
        static = tmp / "hosts.json"
        static.write_text(json.dumps({k: [v] for k, v in DNS.items()}), encoding="utf-8")
        common = ["--connect-to-file", str(rules), "--ca-bundle", str(farm.ca_cert_path)]
        nameserver = f"{dns.address[0]}:{dns.port}"
        with_dns = _start(jobs, *common, "--nameserver", nameserver)
        private = _start(
            private_jobs, *common, "--static-hosts", str(static), "--allow-private",
            "--set", "ROBOTSTXT_OBEY=true",
        )  # fmt: skip
        slow = _start(
            slow_jobs, *common, "--nameserver", nameserver, "--set", "RETRY_TIMES=0",
            "--set", f"ICPSCAN_DNS_TIMEOUT={SLOW_TIMEOUT}", timeout=SLOW_TIMEOUT,
        )  # fmt: skip
        feed = tmp / "scrapy-crawl.jsonl"
        scrapy_cli = subprocess.Popen(
            [
                sys.executable, "-m", "scrapy", "crawl", "homepage",
                "-a", "domains=pinned.test,nxdomain.test",
                "-s", "ICPSCAN_CONNECT_TO=" + ",".join(farm.connect_to_rules()),
                "-s", "ICPSCAN_STATIC_HOSTS=" + json.dumps(DNS),
                "-s", f"ICPSCAN_CA_BUNDLE={farm.ca_cert_path}",
                "-s", "LOG_LEVEL=WARNING", "-O", f"{feed}:jsonl",
            ],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        runs = {"dns": _records(with_dns), "private": _records(private), "slow": _records(slow)}
        _, err = scrapy_cli.communicate(timeout=120)
        assert scrapy_cli.returncode == 0, err
        runs["scrapy"] = [json.loads(line) for line in feed.read_text().splitlines()]
        yield runs
    finally:
        farm.stop()
        v6.shutdown()
        v6.server_close()
        dns.stop()


@pytest.fixture(scope="module")
def records(runs) -> dict[str, dict]:
    return {r["domain"]: r for r in runs["dns"] + runs["slow"]}


def _body(record: dict) -> bytes:
    return base64.b64decode(record["body_b64"])


def test_exactly_one_record_per_input_job(runs):
    expected = Counter(j["domain"] for j in JOBS)
    assert Counter(r["domain"] for r in runs["dns"]) == expected
    assert sorted(r["domain"] for r in runs["private"]) == ["robots.test", "to-private.test"]
    assert sorted(r["domain"] for r in runs["slow"]) == sorted(SLOW)
    pinned = sorted(r["context"]["row"] for r in runs["dns"] if r["domain"] == "pinned.test")
    assert pinned == [1, 2]  # the job's context travels through
    assert all(r["schema_version"] == "1.0" and r["elapsed"] >= 0 for r in runs["dns"])


def test_pinned_address_is_used_and_both_address_and_peer_are_recorded(records):
    record = records["pinned.test"]
    assert record["reached"] is True
    assert record["error"] is None
    assert record["status"] == 200
    assert record["address"] == "39.156.66.10"  # the hosting stage's pin, not DNS's 1.2.4.8
    assert record["peer"] == "127.0.0.1"
    assert record["attempts"] == [{"url": "https://pinned.test/", "status": 200, "error": None}]
    assert record["chain"] == []
    assert record["final_url"] == "https://pinned.test/"
    assert record["headers"] == {
        "server": "nginx/1.22.1",
        "x-powered-by": "PHP/7.4",
        "content-type": "text/html; charset=utf-8",
        "content-length": "34",
    }
    assert record["charset"] == "utf-8"
    assert record["is_html"] is True
    assert _body(record) == b"<html><title>pinned</title></html>"
    assert record["body_size"] == 34
    assert record["truncated"] is False
    tls = record["tls"]
    assert (tls["hostname_match"], tls["trusted"], tls["expired"], tls["self_signed"]) == (
        True, True, False, False,
    )  # fmt: skip
    assert tls["sans"][0] == "pinned.test"
    assert tls["protocol"].startswith("TLSv1.")


def test_redirect_to_another_host_is_resolved_through_icpscans_resolver(records):
    record = records["redirect-other.test"]
    assert record["reached"] is True
    assert record["chain"] == [
        {"kind": "http", "status": 301, "url": "https://www.other-site.test/home"}
    ]
    assert record["final_url"] == "https://www.other-site.test/home"
    assert record["address"] == "220.181.38.148"
    assert record["peer"] == "127.0.0.1"
    assert record["left_registrable_domain"] is True
    assert record["final_registrable_domain"] == "other-site.test"
    assert _body(record) == b"<title>other home</title>"
    assert record["tls"]["sans"][0] == "www.other-site.test"  # SNI named the redirect's host


def test_redirect_to_a_private_address_is_refused(records):
    record = records["to-private.test"]
    assert record["reached"] is False
    assert record["error"] == {
        "kind": "egress",
        "detail": "intranet.test -> 10.1.2.3: private address refused (--allow-private allows it)",
    }
    assert record["chain"] == [{"kind": "http", "status": 302, "url": "http://intranet.test/"}]
    assert record["attempts"] == [
        {"url": "https://to-private.test/", "status": 302, "error": record["error"]}
    ]
    assert record["status"] == 302
    assert record["peer"] is None


def test_allow_private_lets_the_same_redirect_through(runs):
    (record,) = [r for r in runs["private"] if r["domain"] == "to-private.test"]
    assert record["reached"] is True
    assert record["final_url"] == "http://intranet.test/"
    assert record["address"] == "10.1.2.3"
    assert record["peer"] == "127.0.0.1"
    assert _body(record) == b"<html><title>intranet</title><body>intranet</body></html>"


def test_https_failing_at_connection_level_falls_back_to_http(records):
    record = records["https-fallback.test"]
    assert record["reached"] is True
    assert [
        (a["url"], a["status"], a["error"] and a["error"]["kind"]) for a in record["attempts"]
    ] == [
        ("https://https-fallback.test/", None, "refused"),
        ("http://https-fallback.test/", 200, None),
    ]
    assert record["final_url"] == "http://https-fallback.test/"
    assert record["tls"] is None


def test_apex_failing_falls_back_to_www(records):
    record = records["www-fallback.test"]
    assert record["reached"] is True
    assert [(a["url"], a["error"] and a["error"]["kind"]) for a in record["attempts"]] == [
        ("https://www-fallback.test/", "refused"),
        ("http://www-fallback.test/", "refused"),
        ("https://www.www-fallback.test/", None),
    ]
    assert record["address"] == "114.114.115.115"
    assert record["left_registrable_domain"] is False
    assert record["final_registrable_domain"] == "www-fallback.test"


@pytest.mark.parametrize(
    ("domain", "expired", "self_signed", "hostname_match", "trusted"),
    [
        ("expired.test", True, False, True, True),
        ("selfsigned.test", False, True, True, False),
        ("wrongname.test", False, False, False, True),
    ],
)
def test_bad_certificates_are_recorded_and_the_page_still_fetched(
    records, domain, expired, self_signed, hostname_match, trusted
):
    record = records[domain]
    assert record["reached"] is True
    assert record["attempts"] == [{"url": f"https://{domain}/", "status": 200, "error": None}]
    tls = record["tls"]
    assert (tls["expired"], tls["self_signed"], tls["hostname_match"], tls["trusted"]) == (
        expired, self_signed, hostname_match, trusted,
    )  # fmt: skip
    title = domain.split(".")[0]
    assert _body(record) == f"<html><title>{title}</title><body>{title}</body></html>".encode()


def test_tls_handshake_stall_times_out_then_http_answers(records):
    record = records["stall-handshake.test"]
    first, second = record["attempts"]
    assert first["url"] == "https://stall-handshake.test/"
    assert first["error"]["kind"] == "timeout"
    assert first["status"] is None
    assert second == {"url": "http://stall-handshake.test/", "status": 200, "error": None}
    assert record["reached"] is True


def test_tarpit_times_out_everywhere(records):
    record = records["tarpit.test"]
    assert record["reached"] is False
    assert [(a["url"], a["error"]["kind"]) for a in record["attempts"]] == [
        ("https://tarpit.test/", "timeout"),
        ("http://tarpit.test/", "timeout"),
        ("https://www.tarpit.test/", "dns"),
    ]
    assert record["error"]["kind"] == "timeout"  # the apex's failure, not the www guess
    assert record["error"]["detail"] == (
        f"DownloadTimeoutError: Getting http://tarpit.test/ took longer than {SLOW_TIMEOUT} "
        "seconds."
    )
    assert record["address"] is None  # from the last (www) attempt, which did not resolve


def test_refused(records):
    record = records["refused.test"]
    assert record["reached"] is False
    assert record["error"]["kind"] == "refused"
    assert record["error"]["detail"].startswith(
        "DownloadConnectionRefusedError: Connection was refused"
    )
    assert [a["error"]["kind"] for a in record["attempts"]] == ["refused", "refused", "dns"]


def test_reset_mid_body_is_recorded_with_the_status(records):
    record = records["reset.test"]
    assert record["reached"] is False
    assert record["status"] == 200
    assert record["error"]["kind"] == "reset"
    assert record["error"]["detail"].startswith("connection closed or reset after ")
    assert len(record["attempts"]) == 1  # an answer ends the search: no http:// fallback


def test_stall_after_headers_times_out_with_the_status(records):
    record = records["stall-body.test"]
    assert (record["reached"], record["status"], record["error"]["kind"]) == (False, 200, "timeout")
    assert len(record["attempts"]) == 1


def test_dropped_connection_and_lying_length(records):
    dropped = records["dropped.test"]
    assert dropped["reached"] is False
    assert dropped["error"]["kind"] == "reset"
    assert [a["error"]["kind"] for a in dropped["attempts"]] == ["reset", "reset", "dns"]
    lying = records["lying-length.test"]
    assert (lying["reached"], lying["status"], lying["error"]["kind"]) == (False, 200, "reset")


def test_page_over_the_size_cap_is_kept_truncated(records):
    record = records["big.test"]
    assert record["reached"] is True
    assert record["error"] is None
    assert record["truncated"] is True
    assert record["body_size"] == PAGE_CAP
    body = _body(record)
    assert len(body) == PAGE_CAP
    assert body == (b"<p>big</p>" * (PAGE_CAP // 10 + 1))[:PAGE_CAP]


def test_the_cap_applies_to_the_decoded_page_too(records):
    record = records["big-gzip.test"]  # ~3 KB on the wire, 3 MiB decoded: big, not a bomb
    assert (record["reached"], record["truncated"], record["body_size"]) == (True, True, PAGE_CAP)
    assert _body(record) == (b"<p>zip</p>" * (PAGE_CAP // 10 + 1))[:PAGE_CAP]


def test_a_trickling_body_hits_the_total_timeout(records):
    record = records["trickle.test"]  # 20 KB at 2 KB/s: every read is timely, the whole is not
    assert (record["reached"], record["status"], record["error"]["kind"]) == (False, 200, "timeout")


def test_compressed_page_is_decoded(records):
    record = records["gzip-page.test"]
    assert record["reached"] is True
    assert _body(record) == b"<title>zipped</title>"
    assert record["headers"]["content-encoding"] == "gzip"
    assert record["body_size"] == len(b"<title>zipped</title>")


@pytest.mark.parametrize("domain", ["gzip-bomb.test", "br-bomb.test", "deflate-bomb.test"])
def test_decompression_bombs_are_size_errors(records, domain):
    record = records[domain]
    assert record["reached"] is False
    assert record["error"]["kind"] == "size"
    assert "exceeded DOWNLOAD_MAXSIZE (8388608 B) during decompression" in record["error"]["detail"]
    assert record["status"] == 200
    assert _body(record) == b""


def test_redirect_loop(records):
    record = records["loop.test"]
    assert record["reached"] is False
    assert record["error"] == {
        "kind": "too_many_redirects",
        "detail": "redirect loop back to https://loop.test/",
    }
    assert record["chain"] == [
        {"kind": "http", "status": 302, "url": "https://loop.test/a"},
        {"kind": "http", "status": 302, "url": "https://loop.test/"},
    ]


def test_redirect_chain_past_the_bound(records):
    record = records["chain.test"]
    last = MAX_REDIRECTS + 1  # the redirect past the bound is recorded, not followed
    assert record["error"] == {
        "kind": "too_many_redirects",
        "detail": f"more than {MAX_REDIRECTS} redirects (last to https://chain.test/{last})",
    }
    assert [hop["url"] for hop in record["chain"]] == [
        f"https://chain.test/{n}" for n in range(1, last + 1)
    ]
    assert record["status"] == 301


def test_meta_refresh_is_followed_and_recorded(records):
    record = records["meta.test"]
    assert record["reached"] is True
    assert record["chain"] == [{"kind": "meta", "status": 200, "url": "https://meta.test/home"}]
    assert _body(record) == b"<title>meta home</title>"


def test_js_redirect_is_followed_and_recorded(records):
    record = records["js.test"]
    assert record["reached"] is True
    assert record["chain"] == [{"kind": "js", "status": 200, "url": "https://www.js.test/portal"}]
    assert record["final_url"] == "https://www.js.test/portal"
    assert record["address"] == "1.2.4.28"
    assert record["left_registrable_domain"] is False
    assert _body(record) == b"<title>portal</title>"


def test_non_html_is_recorded_not_parsed(records):
    record = records["image.test"]
    assert record["reached"] is True
    assert record["is_html"] is False
    assert record["headers"]["content-type"] == "image/png"
    assert record["address"] == "2400:3200::1"  # an AAAA-only name
    assert _body(record) == b"\x89PNG\r\n\x1a\nDATA"


def test_gbk_page_bytes_and_charset_are_passed_through(records):
    record = records["gbk.test"]
    assert record["charset"] == "gbk"
    assert _body(record) == "<p>京ICP备12345678号</p>".encode("gbk")


def test_nxdomain_and_ip_literals(records):
    nx = records["nxdomain.test"]
    assert nx["reached"] is False
    assert nx["error"] == {"kind": "dns", "detail": "nxdomain.test: NXDOMAIN"}
    assert [a["url"] for a in nx["attempts"]] == [
        "https://nxdomain.test/",
        "https://www.nxdomain.test/",
    ]
    literal = records["127.0.0.1"]
    assert literal["error"] == {
        "kind": "egress",
        "detail": "127.0.0.1: loopback address refused (--allow-private allows it)",
    }
    assert [a["url"] for a in literal["attempts"]] == ["https://127.0.0.1/"]


def test_scrapy_crawl_homepage_from_the_repository_root(runs):
    """``scrapy crawl homepage`` (scrapy.cfg -> icpscan.crawl.settings) and a feed export."""
    pages = {page["result"]["domain"]: page for page in runs["scrapy"]}
    assert sorted(pages) == ["nxdomain.test", "pinned.test"]
    pinned = pages["pinned.test"]
    assert pinned["result"]["reached"] is True
    assert pinned["result"]["address"] == "1.2.4.8"  # no pin given here: the static table
    assert pinned["result"]["tls"]["trusted"] is True
    assert base64.b64decode(pinned["body"]) == b"<html><title>pinned</title></html>"
    assert pinned["charset"] == "utf-8"
    assert pages["nxdomain.test"]["result"]["error"]["kind"] == "dns"


def test_robots_txt_is_ignored_by_default_and_obeyed_on_request(runs, records):
    assert records["robots.test"]["reached"] is True  # default: fetched like a browser
    (obeyed,) = [r for r in runs["private"] if r["domain"] == "robots.test"]
    assert obeyed["reached"] is False
    assert obeyed["error"] == {"kind": "robots", "detail": "Forbidden by robots.txt"}
    assert len(obeyed["attempts"]) == 1  # the answer is final: no http:// or www. retries


def test_ipv6_peer_and_a_tls_failure_fall_back_to_http(records):
    record = records["ipv6.test"]
    first, second = record["attempts"]
    assert first["url"] == "https://ipv6.test/"
    assert first["error"]["kind"] == "tls"  # a plain-HTTP server answering a TLS handshake
    assert first["error"]["detail"].startswith("TLS handshake failed: ")
    assert second == {"url": "http://ipv6.test/", "status": 200, "error": None}
    assert record["address"] == "2400:3200::2"  # the AAAA answer
    assert record["peer"] == "::1"  # connected over IPv6, no DNS involved
    assert _body(record) == b"<p>over IPv6</p>"


def test_dns_faults_and_cname_chains_through_the_sandbox_dns(records):
    alias = records["alias.test"]
    assert alias["reached"] is True
    assert alias["address"] == "203.208.40.1"  # the end of a two-CNAME chain
    servfail = records["servfail.test"]
    assert [a["error"]["detail"].split(" (")[0] for a in servfail["attempts"]] == [
        "servfail.test: no nameserver answered",
        "www.servfail.test: NXDOMAIN",
    ]
    assert servfail["error"] == servfail["attempts"][0]["error"]  # the apex's, not the guess's
    timed_out = records["dns-timeout.test"]
    assert timed_out["error"]["kind"] == "dns"
    assert timed_out["error"]["detail"] in (
        "dns-timeout.test: DNS timeout",  # dnspython's lifetime ran out first
        f"dns-timeout.test: DNS timeout (no answer within {SLOW_TIMEOUT} s)",  # or ours
    )
