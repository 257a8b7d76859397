"""Where a request connects: pin, resolver, egress policy, --connect-to; and the resolvers."""

from __future__ import annotations

import asyncio

import pytest
from dnslib import AAAA, QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from icpscan.crawl.connect_to import ConnectionOverrides
from icpscan.crawl.destination import (
    AddressSource,
    Destination,
    EgressRefused,
    Pin,
    choose_destination,
)
from icpscan.crawl.resolver import (
    DnsPythonResolver,
    NameResolutionError,
    StaticResolver,
    parse_nameserver,
)

SANDBOX = ConnectionOverrides.parse(
    [
        "refused.test::127.0.0.1:9",
        "backend.test:443:origin.test:8443",
        ":80:127.0.0.1:8000",
        ":443:127.0.0.1:8443",
    ],
    ["pinned.test:*:10.9.9.9"],
)
RESOLVER = StaticResolver(
    {
        "a.test": ["93.184.1.1", "93.184.1.2"],
        "b.test": "8.8.4.4",
        "intranet.test": ["10.1.2.3"],
        "refused.test": ["1.1.1.3"],
        "backend.test": ["1.1.1.4"],
        "origin.test": ["127.0.0.2"],
        "bogus.test": ["not-an-ip"],
    }
)


def _choose(host, port=80, *, pin=None, allow_private=False, overrides=SANDBOX):
    return asyncio.run(
        choose_destination(
            host,
            port,
            pin=pin,
            overrides=overrides,
            resolve_host=RESOLVER,
            allow_private=allow_private,
        )
    )


def test_the_pin_wins_for_its_own_host_and_connect_to_lands_on_loopback():
    destination = _choose("A.test.", 443, pin=Pin("a.test", "39.156.66.10"))
    assert destination == Destination(
        "a.test", "39.156.66.10", AddressSource.PIN, "127.0.0.1", 8443
    )
    assert destination.connect_text == "127.0.0.1:8443"


def test_a_redirect_to_another_host_does_not_use_the_pin():
    destination = _choose("b.test", 80, pin=Pin("a.test", "39.156.66.10"))
    assert destination == Destination(
        "b.test", "8.8.4.4", AddressSource.RESOLVER, "127.0.0.1", 8000
    )


def test_without_connect_to_the_socket_goes_to_the_address_itself():
    destination = _choose("a.test", 8080)  # no rule for port 8080
    assert destination == Destination(
        "a.test", "93.184.1.1", AddressSource.RESOLVER, "93.184.1.1", 8080
    )


def test_private_addresses_are_refused_unless_allowed():
    with pytest.raises(EgressRefused) as caught:
        _choose("intranet.test")
    assert str(caught.value) == (
        "intranet.test -> 10.1.2.3: private address refused (--allow-private allows it)"
    )
    with pytest.raises(EgressRefused) as caught:
        _choose("169.254.169.254")
    assert str(caught.value) == (
        "169.254.169.254: cloud metadata address refused (--allow-private allows it)"
    )
    with pytest.raises(EgressRefused, match="loopback address refused"):
        _choose("a.test", pin=Pin("a.test", "127.0.0.1"))
    allowed = _choose("intranet.test", allow_private=True)
    assert (allowed.address, allowed.connect_host, allowed.connect_port) == (
        "10.1.2.3",
        "127.0.0.1",
        8000,
    )


def test_connect_to_targets_are_not_subject_to_the_policy():
    destination = _choose("refused.test", 443)
    assert (destination.address, destination.connect_text) == ("1.1.1.3", "127.0.0.1:9")


def test_a_connect_to_target_name_is_resolved_by_icpscan():
    destination = _choose("backend.test", 443)
    assert (destination.address, destination.connect_text) == ("1.1.1.4", "127.0.0.2:8443")


def test_resolve_pins_are_the_users_choice_and_exempt():
    destination = _choose("pinned.test", 80)
    assert (destination.address, destination.source) == ("10.9.9.9", AddressSource.RESOLVE_PIN)


def test_resolver_failures_are_name_resolution_errors():
    with pytest.raises(NameResolutionError, match=r"^nx\.test: NXDOMAIN \(static table\)$"):
        _choose("nx.test")
    with pytest.raises(NameResolutionError, match=r"resolver answer for bogus\.test is not an IP"):
        _choose("bogus.test")
    with pytest.raises(NameResolutionError, match=r"pinned address of a\.test is not an IP"):
        _choose("a.test", pin=Pin("a.test", "junk"))


def test_pin_from_meta():
    assert Pin.from_meta({"host": "A.test", "address": "1.2.3.4"}) == Pin("a.test", "1.2.3.4")
    assert Pin.from_meta({"host": "a.test", "address": None}) is None
    assert Pin.from_meta(None) is None


# -- dnspython against a real DNS server on loopback -------------------------------------------


class _Zone(BaseResolver):
    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        if name == "v4.test" and qtype == "A":
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("39.156.66.10"), ttl=60))
        elif name == "v6only.test" and qtype == "AAAA":
            reply.add_answer(RR(request.q.qname, QTYPE.AAAA, rdata=AAAA("240e::1"), ttl=60))
        elif name == "fail.test":
            reply.header.rcode = RCODE.SERVFAIL
        elif name not in ("v4.test", "v6only.test", "empty.test"):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@pytest.fixture(scope="module")
def dns_server():
    server = DNSServer(
        _Zone(),
        address="127.0.0.1",
        port=0,
        logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data"),
    )
    server.start_thread()
    yield server.server.server_address[1]
    server.stop()
    server.server.server_close()


def test_dnspython_resolver_answers_a_then_aaaa(dns_server):
    resolver = DnsPythonResolver([f"127.0.0.1:{dns_server}"], timeout=2)

    async def run():
        return [
            await resolver("v4.test"),
            await resolver("v6only.test"),
            *[await _error(resolver, n) for n in ("nx.test", "fail.test", "empty.test")],
        ]

    assert asyncio.run(run()) == [
        ["39.156.66.10"],
        ["240e::1"],
        "nx.test: NXDOMAIN",
        "fail.test: no nameserver answered",
        "empty.test: no A or AAAA record",
    ]


def test_dnspython_resolver_times_out_as_a_dns_error():
    import socket

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        resolver = DnsPythonResolver([f"127.0.0.1:{silent.getsockname()[1]}"], timeout=0.3)
        assert asyncio.run(_error(resolver, "v4.test")) == "v4.test: DNS timeout"
    finally:
        silent.close()


async def _error(resolver, name):
    try:
        await resolver(name)
    except NameResolutionError as exc:
        return str(exc).split(" (")[0]
    return "no error"


@pytest.mark.parametrize(
    ("text", "address", "port"),
    [
        ("1.2.4.8", "1.2.4.8", 53),
        ("127.0.0.1:5353", "127.0.0.1", 5353),
        ("::1", "::1", 53),
        ("[::1]:5300", "::1", 5300),
    ],
)
def test_parse_nameserver(text, address, port):
    nameserver = parse_nameserver(text)
    assert (nameserver.address, nameserver.port) == (address, port)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dns.test", "bad nameserver 'dns.test': not an IP address"),
        ("1.2.3.4:0", "bad nameserver '1.2.3.4:0': bad port '0'"),
        ("[::1]x", "bad nameserver '[::1]x': expected [IPv6]:PORT"),
    ],
)
def test_parse_nameserver_errors(text, message):
    with pytest.raises(ValueError) as caught:
        parse_nameserver(text)
    assert str(caught.value) == message
