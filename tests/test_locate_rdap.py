"""RDAP (opt-in) against a local RDAP server on 127.0.0.1, with the sandbox DNS."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from icpscan.cli import main
from icpscan.locate import LocateConfig, Locator, classify_address, load_sources
from icpscan.locate.rdap import RdapClient, RdapRecord, parse_network
from icpscan.models import Region
from icpscan.sandbox.dns import DnsServer
from icpscan.sandbox.world import DnsName, World

NETWORKS = {
    "202.96.128.86": {
        "objectClassName": "ip network", "handle": "202.96.128.0 - 202.96.191.255",
        "startAddress": "202.96.128.0", "endAddress": "202.96.191.255", "name": "CHINANET-GD",
        "country": "CN", "entities": [{"objectClassName": "entity", "roles": ["registrant"],
            "vcardArray": ["vcard", [["version", {}, "text", "4.0"],
                                     ["fn", {}, "text", "China Telecom Guangdong"]]]}],
    },
    "147.8.2.58": {
        "objectClassName": "ip network", "handle": "147.8.0.0 - 147.8.255.255",
        "startAddress": "147.8.0.0", "endAddress": "147.8.255.255", "name": "HKU-NET",
        "country": "CN",
    },
}  # fmt: skip


REQUESTS: list[str] = []


def _covering(address):
    for document in NETWORKS.values():
        first, last = document["startAddress"], document["endAddress"]
        if ipaddress.ip_address(first) <= address <= ipaddress.ip_address(last):
            return document
    return None


class _Rdap(BaseHTTPRequestHandler):
    def do_GET(self):
        REQUESTS.append(self.path)
        address = ipaddress.ip_address(self.path.removeprefix("/rdap/ip/"))
        document = _covering(address)
        if str(address) == "8.8.4.4":
            body, status = b"<html>not json</html>", 200
        elif document is None:
            body, status = b'{"errorCode": 404}', 404
        else:
            body, status = json.dumps(document).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/rdap+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def rdap_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Rdap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/rdap"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def nameserver():
    world = World(dns={
        "gd.test": DnsName({"A": ["202.96.128.86", "202.96.128.200"]}),
        "hku.test": DnsName({"A": ["147.8.2.58"]}),
        "google.test": DnsName({"A": ["8.8.8.8", "8.8.4.4"]}),
    })  # fmt: skip
    with DnsServer(world) as server:
        yield f"127.0.0.1:{server.port}"


def test_parse_network():
    record = parse_network(NETWORKS["202.96.128.86"], "u")
    assert record == RdapRecord(
        "202.96.128.0 - 202.96.191.255", "CHINANET-GD", "CN", "202.96.128.0", "202.96.191.255",
        "China Telecom Guangdong", "u",
    )  # fmt: skip
    for bad in (
        {},
        [],
        {"objectClassName": "entity"},
        {"objectClassName": "ip network", "startAddress": "x"},
    ):
        with pytest.raises(ValueError):
            parse_network(bad, "u")


def test_rdap_base_url_must_be_http():
    with pytest.raises(ValueError, match="must start with http:// or https://"):
        RdapClient("file:///etc")


def test_rdap_through_locate_cached_per_network(nameserver, rdap_url):
    REQUESTS.clear()
    config = LocateConfig(nameservers=[nameserver], rdap_url=rdap_url, asn=False)

    async def scan():
        async with Locator(config) as locator:
            return {
                v.domain: v
                async for v in locator.locate_many(["gd.test", "hku.test", "google.test"])
            }

    verdicts = asyncio.run(scan())
    # one request for the two addresses of 202.96.128.0/18: the second waits for the first
    gd_requests = [p for p in REQUESTS if p.startswith("/rdap/ip/202.96.128.")]
    others = sorted(p for p in REQUESTS if p not in gd_requests)
    assert len(gd_requests) == 1
    assert others == ["/rdap/ip/147.8.2.58", "/rdap/ip/8.8.4.4", "/rdap/ip/8.8.8.8"]
    gd = verdicts["gd.test"].address_info
    claims = [e.claim for e in gd[0].evidence if e.source == "rdap"]
    assert claims == [
        "network CHINANET-GD (202.96.128.0 - 202.96.191.255) 202.96.128.0-202.96.191.255, "
        "country CN, holder China Telecom Guangdong"
    ]
    assert [e.claim for e in gd[1].evidence if e.source == "rdap"] == claims
    # RDAP disagreeing with the registry data is recorded, it does not decide
    hku = verdicts["hku.test"].address_info[0]
    assert hku.region == Region.HONGKONG
    assert any(e.source == "conflict" and "rdap says mainland" in e.claim for e in hku.evidence)
    google = {i.address: i for i in verdicts["google.test"].address_info}
    failed = [e.claim for e in google["8.8.8.8"].evidence if e.source == "rdap"]
    assert failed == [f"lookup failed: {rdap_url}/ip/8.8.8.8: HTTP 404"]
    failed = [e.claim for e in google["8.8.4.4"].evidence if e.source == "rdap"]
    assert failed == [f"lookup failed: {rdap_url}/ip/8.8.4.4: RDAP answer is not JSON"]
    assert google["8.8.8.8"].region == Region.ABROAD


def test_rdap_is_the_last_registry_source():
    sources = load_sources()
    record = RdapRecord("h", "N", "HK", "1.2.4.0", "1.2.4.255", None, "u")
    info = classify_address("1.2.4.8", sources=sources, rdap=record)
    assert (info.region, info.provider) == (Region.MAINLAND, "N")  # iptocc decides; RDAP names
    assert "1.2.4.8: iptocc decides mainland; rdap says hongkong" in [
        e.claim for e in info.evidence
    ]


def test_cli_rejects_a_non_http_rdap_url(capsys):
    code = main(["locate", "example.cn", "--nameserver", "127.0.0.1", "--rdap", "ftp://x"])
    assert code == 2
    assert capsys.readouterr().err == (
        "icpscan: error: --rdap must be an http:// or https:// base URL, not 'ftp://x'\n"
    )
