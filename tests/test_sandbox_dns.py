"""The sandbox DNS server, queried for real with dnspython over UDP and TCP on loopback."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from unittest import mock

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import ipwhois.asn
import ipwhois.net
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icpscan.sandbox.dns import DnsServer
from icpscan.sandbox.dns_cymru import CymruTables
from icpscan.sandbox.dns_process import DnsServerProcess
from icpscan.sandbox.dns_wire import (
    Query,
    Rejection,
    parse_query,
    presentation_name,
    wire_labels,
)
from icpscan.sandbox.dns_zone import MAX_CNAME_HOPS, Zone
from icpscan.sandbox.world import (
    AsnInfo,
    AsnPrefix,
    DnsFault,
    DnsName,
    Host,
    Response,
    View,
    World,
)

HOST = "127.0.0.1"
BIG = [f"39.156.{i // 200}.{i % 200 + 1}" for i in range(300)]  # ~5 KB of A records
MEDIUM = [f"1.2.4.{i + 1}" for i in range(40)]  # ~700 bytes: > 512, < an EDNS 1232 payload
LONG_TXT = "k=" + "x" * 298  # 300 bytes: two character-strings on the wire


def sandbox_world() -> World:
    dns_names = {
        # a site behind a 2-hop CDN chain
        "www.example.cn": DnsName({"CNAME": ["example.cn.cdn.test"]}, ttl=120),
        "example.cn.cdn.test": DnsName({"CNAME": ["edge7.cdn.test"]}, ttl=90),
        "edge7.cdn.test": DnsName(
            {"A": ["39.156.66.10", "39.156.66.11"], "AAAA": ["240e:928:1400:105::b"]}, ttl=30
        ),
        "example.cn": DnsName(
            {
                "A": ["39.156.66.10"],
                "NS": ["ns1.example.cn", "ns2.example.cn"],
                "MX": ["10 mx.example.cn"],
                "TXT": ["v=spf1 -all", LONG_TXT],
                "CAA": ['0 issue "letsencrypt.org"'],
            },
            ttl=600,
        ),
        "own-soa.test": DnsName(
            {"SOA": ["ns.own-soa.test hostmaster.own-soa.test 2026112801 7200 900 1209600 120"]}
        ),
        "www.own-soa.test": DnsName({"A": ["223.5.5.5"]}),
        "10.66.156.39.in-addr.arpa": DnsName({"PTR": ["www.example.cn"]}),
        "big.example.cn": DnsName({"A": BIG}),
        "medium.example.cn": DnsName({"A": MEDIUM}),
        "geo.example.cn": DnsName(
            {"A": ["8.8.8.8"]},
            ttl=60,
            views=[
                View("mainland", ["1.80.0.0/12", "2408::/16"], {"A": ["39.156.66.10"]}),
                View("second-resolver", ["127.0.0.2/32"], {"A": ["223.5.5.5"]}),
            ],
        ),
        "www.geo.example.cn": DnsName({"CNAME": ["geo.example.cn"]}),
        "*.wild.test": DnsName({"A": ["1.1.1.1"]}, ttl=77),
        "fixed.wild.test": DnsName({"A": ["9.9.9.9"]}),
        "例子.中国": DnsName({"A": ["1.2.4.8"]}),
        # chains that end badly
        "loop-a.test": DnsName({"CNAME": ["loop-b.test"]}),
        "loop-b.test": DnsName({"CNAME": ["loop-a.test"]}),
        "to-servfail.test": DnsName({"CNAME": ["servfail.fault.test"]}),
        "to-nxdomain.test": DnsName({"CNAME": ["nxdomain.fault.test"]}),
        "to-missing.test": DnsName({"CNAME": ["missing.test"]}),
        "to-timeout.test": DnsName({"CNAME": ["timeout.fault.test"]}),
        "to-truncate.test": DnsName({"CNAME": ["truncate.fault.test"]}),
    }
    for fault in DnsFault:
        dns_names[f"{fault.value}.fault.test"] = DnsName({"A": ["1.2.4.8"]}, fault=fault)
    for hop in range(20):  # hop0 -> hop1 -> ... -> hop20 (A)
        dns_names[f"hop{hop}.chain.test"] = DnsName({"CNAME": [f"hop{hop + 1}.chain.test"]})
    dns_names["hop20.chain.test"] = DnsName({"A": ["1.2.4.8"]})
    return World(
        dns=dns_names,
        asn_prefixes=[
            AsnPrefix("1.2.4.0/24", (24151,), "CN", "apnic", "2010-05-11"),
            AsnPrefix("1.2.0.0/16", (4134,), "CN", "apnic", "2002-02-21"),
            AsnPrefix("1.0.0.0/8", (13335, 4134), "AU", "apnic", ""),
            AsnPrefix("2400:3200::/32", (37963,), "CN", "apnic", "2010-10-19"),
        ],
        asn_names={
            24151: AsnInfo(24151, "CN", "apnic", "2010-05-11", "CNNIC-CRITICAL-AP China, CN"),
            37963: AsnInfo(37963, "CN", "apnic", "2007-03-19", "ALIBABA-CN-NET Alibaba, CN"),
        },
    )


@pytest.fixture(scope="module")
def server():
    with DnsServer(sandbox_world()) as running:
        yield running


def ask(server, name, rdtype="A", *, tcp=False, timeout=2.0, source=None, **make):
    query = dns.message.make_query(name, rdtype, **make)
    if tcp:
        return dns.query.tcp(query, HOST, port=server.port, timeout=timeout, source=source)
    return dns.query.udp(query, HOST, port=server.port, timeout=timeout, source=source)


def resolver_for(server, timeout=2.0) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.address[0]]
    resolver.port = server.port
    resolver.timeout = resolver.lifetime = timeout
    return resolver


def texts(section) -> list[str]:
    return [line for rrset in section for line in rrset.to_text().splitlines()]


TRANSPORTS = pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])


# -- record types -------------------------------------------------------------------------------


@TRANSPORTS
@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        ("example.cn", "A", ["example.cn. 600 IN A 39.156.66.10"]),
        ("edge7.cdn.test", "AAAA", ["edge7.cdn.test. 30 IN AAAA 240e:928:1400:105::b"]),
        ("www.example.cn", "CNAME", ["www.example.cn. 120 IN CNAME example.cn.cdn.test."]),
        (
            "example.cn",
            "TXT",
            [
                'example.cn. 600 IN TXT "v=spf1 -all"',
                f'example.cn. 600 IN TXT "{LONG_TXT[:255]}" "{LONG_TXT[255:]}"',
            ],
        ),
        (
            "example.cn",
            "NS",
            ["example.cn. 600 IN NS ns1.example.cn.", "example.cn. 600 IN NS ns2.example.cn."],
        ),
        ("example.cn", "MX", ["example.cn. 600 IN MX 10 mx.example.cn."]),
        ("example.cn", "CAA", ['example.cn. 600 IN CAA 0 issue "letsencrypt.org"']),
        (
            "10.66.156.39.in-addr.arpa",
            "PTR",
            ["10.66.156.39.in-addr.arpa. 600 IN PTR www.example.cn."],
        ),
        (
            "example.cn",
            "SOA",
            ["example.cn. 600 IN SOA ns1.example.cn. hostmaster.example.cn. 1 3600 600 86400 600"],
        ),
        (
            "own-soa.test",
            "SOA",
            [
                "own-soa.test. 600 IN SOA ns.own-soa.test. "
                "hostmaster.own-soa.test. 2026112801 7200 900 1209600 120"
            ],
        ),
    ],
)
def test_every_record_type(server, tcp, name, rdtype, expected):
    response = ask(server, name, rdtype, tcp=tcp)
    assert response.rcode() == dns.rcode.NOERROR
    assert sorted(texts(response.answer)) == sorted(expected)
    assert response.flags & dns.flags.AA and response.flags & dns.flags.RA
    assert not response.flags & dns.flags.TC


def test_names_are_case_insensitive_and_the_question_keeps_its_case(server):
    response = ask(server, "WwW.ExAmPlE.cN", "A")
    assert str(response.question[0].name) == "WwW.ExAmPlE.cN."
    assert [
        str(a)
        for a in response.find_rrset(
            response.answer,
            dns.name.from_text("edge7.cdn.test"),
            dns.rdataclass.IN,
            dns.rdatatype.A,
        )
    ] == ["39.156.66.10", "39.156.66.11"]


def test_unicode_world_names_are_served_as_punycode(server):
    answer = resolver_for(server).resolve("xn--fsqu00a.xn--fiqs8s", "A")
    assert [a.address for a in answer] == ["1.2.4.8"]


# -- negative answers ---------------------------------------------------------------------------


@TRANSPORTS
def test_unknown_name_is_nxdomain_with_the_apex_soa(server, tcp):
    response = ask(server, "nope.example.cn", tcp=tcp)
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.answer == []
    assert texts(response.authority) == [
        "example.cn. 600 IN SOA ns1.example.cn. hostmaster.example.cn. 1 3600 600 86400 600"
    ]


def test_names_outside_every_zone_get_the_public_suffix_soa(server):
    response = ask(server, "not-in-the-world.com.cn")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert texts(response.authority) == [
        "com.cn. 300 IN SOA ns1.com.cn. hostmaster.com.cn. 1 3600 600 86400 300"
    ]


def test_explicit_soa_speaks_for_the_names_below_it(server):
    response = ask(server, "missing.own-soa.test")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert texts(response.authority) == [
        "own-soa.test. 600 IN SOA ns.own-soa.test. hostmaster.own-soa.test. "
        "2026112801 7200 900 1209600 120"
    ]


def test_existing_name_without_the_type_is_nodata_with_soa(server):
    response = ask(server, "example.cn", "AAAA")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []
    assert [rrset.rdtype for rrset in response.authority] == [dns.rdatatype.SOA]
    with pytest.raises(dns.resolver.NoAnswer):
        resolver_for(server).resolve("example.cn", "AAAA")


def test_empty_non_terminal_is_nodata_not_nxdomain(server):
    response = ask(server, "cdn.test", "A")  # only names below it exist
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []


def test_negative_answers_are_cached_by_dnspython_with_the_soa_minimum(server):
    resolver = resolver_for(server)
    resolver.cache = dns.resolver.Cache()
    before = server.queries
    for _ in range(3):
        with pytest.raises(dns.resolver.NXDOMAIN):
            resolver.resolve("cached-miss.example.cn", "A")
    assert server.queries - before == 1


def test_wildcard_synthesises_the_queried_owner_but_never_shadows_real_names(server):
    response = ask(server, "anything.at.all.wild.test")
    assert texts(response.answer) == ["anything.at.all.wild.test. 77 IN A 1.1.1.1"]
    assert texts(ask(server, "fixed.wild.test").answer) == ["fixed.wild.test. 600 IN A 9.9.9.9"]


# -- faults -------------------------------------------------------------------------------------


@TRANSPORTS
@pytest.mark.parametrize(
    ("fault", "rcode"),
    [
        (DnsFault.NXDOMAIN, dns.rcode.NXDOMAIN),
        (DnsFault.SERVFAIL, dns.rcode.SERVFAIL),
        (DnsFault.REFUSED, dns.rcode.REFUSED),
        (DnsFault.NO_ANSWER, dns.rcode.NOERROR),
    ],
)
def test_faults_give_their_rcode_and_no_records(server, tcp, fault, rcode):
    for rdtype in ("A", "TXT"):
        response = ask(server, f"{fault.value}.fault.test", rdtype, tcp=tcp)
        assert response.rcode() == rcode
        assert response.answer == []
        has_soa = fault in (DnsFault.NXDOMAIN, DnsFault.NO_ANSWER)
        assert [r.rdtype for r in response.authority] == ([dns.rdatatype.SOA] if has_soa else [])


@TRANSPORTS
def test_timeout_fault_never_replies(server, tcp):
    before = server.queries
    with pytest.raises(dns.exception.Timeout):
        ask(server, "timeout.fault.test", tcp=tcp, timeout=0.3)
    assert server.queries == before
    # the server is still fine afterwards
    assert ask(server, "example.cn", tcp=tcp).rcode() == dns.rcode.NOERROR


def test_truncate_fault_sets_tc_over_udp_and_answers_over_tcp(server):
    over_udp = ask(server, "truncate.fault.test")
    assert over_udp.flags & dns.flags.TC
    assert over_udp.answer == []
    over_tcp = ask(server, "truncate.fault.test", tcp=True)
    assert not over_tcp.flags & dns.flags.TC
    assert texts(over_tcp.answer) == ["truncate.fault.test. 600 IN A 1.2.4.8"]
    answer = resolver_for(server).resolve("truncate.fault.test", "A")  # falls back to TCP
    assert [a.address for a in answer] == ["1.2.4.8"]


def test_resolver_sees_each_fault_as_dnspython_reports_it(server):
    resolver = resolver_for(server, timeout=0.5)
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("nxdomain.fault.test")
    with pytest.raises(dns.resolver.NoNameservers, match="SERVFAIL"):
        resolver.resolve("servfail.fault.test")
    with pytest.raises(dns.resolver.NoNameservers, match="REFUSED"):
        resolver.resolve("refused.fault.test")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("no_answer.fault.test")
    with pytest.raises(dns.resolver.LifetimeTimeout):
        resolver.resolve("timeout.fault.test")


# -- CNAME chains -------------------------------------------------------------------------------


def test_two_hop_chain_is_answered_whole(server):
    answer = resolver_for(server).resolve("www.example.cn", "A")
    assert str(answer.canonical_name) == "edge7.cdn.test."
    assert [str(rrset.name) for rrset in answer.chaining_result.cnames] == [
        "www.example.cn.",
        "example.cn.cdn.test.",
    ]
    assert [a.address for a in answer] == ["39.156.66.10", "39.156.66.11"]
    assert answer.rrset.ttl == 30


@TRANSPORTS
def test_long_chain_stops_at_the_bound_with_servfail(server, tcp):
    response = ask(server, "hop0.chain.test", tcp=tcp)
    assert response.rcode() == dns.rcode.SERVFAIL
    assert [str(rrset.name) for rrset in response.answer] == [
        f"hop{i}.chain.test." for i in range(MAX_CNAME_HOPS)
    ]
    # a chain that fits within the bound is answered in full
    response = ask(server, f"hop{20 - MAX_CNAME_HOPS}.chain.test", tcp=tcp)
    assert response.rcode() == dns.rcode.NOERROR
    assert len(response.answer) == MAX_CNAME_HOPS + 1
    assert texts(response.answer)[-1] == "hop20.chain.test. 600 IN A 1.2.4.8"


@TRANSPORTS
def test_cname_loop_ends_with_servfail_after_the_hops(server, tcp):
    response = ask(server, "loop-a.test", tcp=tcp)
    assert response.rcode() == dns.rcode.SERVFAIL
    assert texts(response.answer) == [
        "loop-a.test. 600 IN CNAME loop-b.test.",
        "loop-b.test. 600 IN CNAME loop-a.test.",
    ]


@pytest.mark.parametrize(
    ("name", "rcode", "authority"),
    [
        ("to-servfail.test", dns.rcode.SERVFAIL, []),
        ("to-nxdomain.test", dns.rcode.NXDOMAIN, ["fault.test"]),
        ("to-missing.test", dns.rcode.NXDOMAIN, ["test"]),  # no such zone: its TLD speaks
    ],
)
def test_chain_into_a_fault_gets_that_rcode_after_the_hop(server, name, rcode, authority):
    response = ask(server, name)
    assert response.rcode() == rcode
    assert [str(rrset.name) for rrset in response.answer] == [f"{name}."]
    assert [str(rrset.name).rstrip(".") for rrset in response.authority] == authority


def test_chain_into_timeout_and_truncate_targets(server):
    with pytest.raises(dns.exception.Timeout):
        ask(server, "to-timeout.test", timeout=0.3)
    over_udp = ask(server, "to-truncate.test")
    assert over_udp.flags & dns.flags.TC and over_udp.answer == []
    assert texts(ask(server, "to-truncate.test", tcp=True).answer) == [
        "to-truncate.test. 600 IN CNAME truncate.fault.test.",
        "truncate.fault.test. 600 IN A 1.2.4.8",
    ]


# -- sizes --------------------------------------------------------------------------------------


def test_hundreds_of_addresses_truncate_over_udp_and_arrive_over_tcp(server):
    over_udp = ask(server, "big.example.cn")
    assert over_udp.flags & dns.flags.TC
    assert over_udp.answer == []
    with_edns = ask(server, "big.example.cn", use_edns=0, payload=4096)
    assert with_edns.flags & dns.flags.TC  # ~5 KB does not fit in 4096 either
    assert with_edns.edns == 0  # our OPT record is still there
    answer = resolver_for(server).resolve("big.example.cn", "A")
    assert sorted(a.address for a in answer) == sorted(BIG)


def test_udp_limit_is_512_without_edns_and_the_payload_with_it(server):
    plain = ask(server, "medium.example.cn")
    assert plain.flags & dns.flags.TC and plain.answer == []
    edns = ask(server, "medium.example.cn", use_edns=0, payload=1232)
    assert not edns.flags & dns.flags.TC
    assert sorted(a.address for a in edns.answer[0]) == sorted(MEDIUM)
    assert edns.payload == 1232


# -- views (GeoDNS) -----------------------------------------------------------------------------


def ecs(address, prefix):
    return {"use_edns": 0, "options": [dns.edns.ECSOption(address, prefix)]}


def test_client_subnet_in_a_view_gets_the_view_and_a_scope(server):
    response = ask(server, "geo.example.cn", **ecs("1.80.3.0", 24))
    assert texts(response.answer) == ["geo.example.cn. 60 IN A 39.156.66.10"]
    (option,) = response.options
    assert (option.address, option.srclen, option.scopelen) == ("1.80.3.0", 24, 12)


def test_scope_follows_each_queries_own_source_prefix(server):
    # same address bytes, different prefix lengths: each gets its own scope
    assert ask(server, "geo.example.cn", **ecs("8.8.0.0", 16)).options[0].scopelen == 16
    assert ask(server, "geo.example.cn", **ecs("8.8.0.0", 15)).options[0].scopelen == 15


def test_ipv6_client_subnet_selects_the_view_too(server):
    response = ask(server, "geo.example.cn", **ecs("2408:8000::", 32))
    assert texts(response.answer) == ["geo.example.cn. 60 IN A 39.156.66.10"]
    assert response.options[0].scopelen == 16


def test_client_subnet_outside_every_view_gets_the_default(server):
    response = ask(server, "geo.example.cn", **ecs("8.8.4.0", 24))
    assert texts(response.answer) == ["geo.example.cn. 60 IN A 8.8.8.8"]
    assert response.options[0].scopelen == 24


def test_names_without_views_answer_with_scope_zero(server):
    response = ask(server, "example.cn", **ecs("1.80.3.0", 24))
    assert texts(response.answer) == ["example.cn. 600 IN A 39.156.66.10"]
    assert response.options[0].scopelen == 0


def test_source_address_selects_a_view_when_there_is_no_client_subnet(server):
    second = ask(server, "geo.example.cn", source="127.0.0.2")
    first = ask(server, "geo.example.cn", source="127.0.0.1")
    again = ask(server, "geo.example.cn", source="127.0.0.2")  # served from the cache
    assert texts(second.answer) == texts(again.answer) == ["geo.example.cn. 60 IN A 223.5.5.5"]
    assert texts(first.answer) == ["geo.example.cn. 60 IN A 8.8.8.8"]


def test_zero_length_client_subnet_falls_back_to_the_source_address(server):
    response = ask(server, "geo.example.cn", source="127.0.0.2", **ecs("0.0.0.0", 0))
    assert texts(response.answer) == ["geo.example.cn. 60 IN A 223.5.5.5"]
    assert response.options[0].scopelen == 0


def test_views_apply_at_the_end_of_a_chain(server):
    response = ask(server, "www.geo.example.cn", **ecs("1.80.0.0", 16))
    assert texts(response.answer) == [
        "www.geo.example.cn. 600 IN CNAME geo.example.cn.",
        "geo.example.cn. 60 IN A 39.156.66.10",
    ]
    assert response.options[0].scopelen == 12


# -- Team Cymru zones ---------------------------------------------------------------------------


@TRANSPORTS
def test_cymru_origin_lists_every_covering_prefix_most_specific_first(server, tcp):
    response = ask(server, "8.4.2.1.origin.asn.cymru.com", "TXT", tcp=tcp)
    assert texts(response.answer) == [
        '8.4.2.1.origin.asn.cymru.com. 14400 IN TXT "24151 | 1.2.4.0/24 | CN | apnic | 2010-05-11"',
        '8.4.2.1.origin.asn.cymru.com. 14400 IN TXT "4134 | 1.2.0.0/16 | CN | apnic | 2002-02-21"',
        '8.4.2.1.origin.asn.cymru.com. 14400 IN TXT "13335 4134 | 1.0.0.0/8 | AU | apnic | "',
    ]


@pytest.mark.parametrize(
    "name",
    [
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.3.0.0.4.2.origin6.asn.cymru.com",
        "0.0.2.3.0.0.4.2.origin6.asn.cymru.com",  # only the significant nibbles
    ],
)
def test_cymru_origin6_full_and_short_names(server, name):
    response = ask(server, name, "TXT")
    assert [rd.strings for rd in response.answer[0]] == [
        (b"37963 | 2400:3200::/32 | CN | apnic | 2010-10-19",)
    ]


def test_cymru_as_name(server):
    response = ask(server, "AS24151.asn.cymru.com", "TXT")
    assert texts(response.answer) == [
        'AS24151.asn.cymru.com. 14400 IN TXT "24151 | CN | apnic | 2010-05-11 | '
        'CNNIC-CRITICAL-AP China, CN"'
    ]


@pytest.mark.parametrize(
    "name",
    [
        "8.8.8.8.origin.asn.cymru.com",  # no covering prefix
        "AS64512.asn.cymru.com",  # unknown AS
        "1.2.3.4.5.origin.asn.cymru.com",  # not an address
        "g.origin6.asn.cymru.com",
    ],
)
def test_cymru_unknowns_are_nxdomain(server, name):
    response = ask(server, name, "TXT")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert texts(response.authority)[0].startswith("asn.cymru.com. 14400 IN SOA")


def test_ipwhois_real_dns_code_path_reads_our_cymru_zone(server):
    try:
        net = ipwhois.net.Net("1.2.4.8")
    except dns.resolver.NoResolverConfiguration:
        # Net() builds a resolver from /etc/resolv.conf in its constructor (it is replaced on
        # the next line); a machine with an empty resolv.conf needs this to construct it.
        with mock.patch.object(dns.resolver, "Resolver", lambda: resolver_for(server)):
            net = ipwhois.net.Net("1.2.4.8")
    net.dns_resolver = resolver_for(server)
    result = ipwhois.asn.IPASN(net).lookup(
        asn_methods=["dns"], get_asn_description=True, retry_count=0
    )
    assert result == {
        "asn": "24151",
        "asn_cidr": "1.2.4.0/24",
        "asn_country_code": "CN",
        "asn_date": "2010-05-11",
        "asn_registry": "apnic",
        "asn_description": "CNNIC-CRITICAL-AP China, CN",
    }


# -- the server as a process component ----------------------------------------------------------


def test_world_swap_while_running_changes_answers_atomically():
    world = World(dns={"swap.test": DnsName({"A": ["1.1.1.1"]})})
    with DnsServer(world) as server:
        resolver = resolver_for(server)
        assert [a.address for a in resolver.resolve("swap.test")] == ["1.1.1.1"]
        server.world = World(dns={"swap.test": DnsName({"A": ["2.2.2.2"]})})
        assert [a.address for a in resolver.resolve("swap.test")] == ["2.2.2.2"]
        # an in-place edit takes effect when the (same) world is assigned again
        server.world.dns["swap.test"].fault = DnsFault.NXDOMAIN
        assert [a.address for a in resolver.resolve("swap.test")] == ["2.2.2.2"]
        server.world = server.world
        with pytest.raises(dns.resolver.NXDOMAIN):
            resolver.resolve("swap.test")
        # a bad world is refused and the running one stays
        bad = World(dns={"bad.test": DnsName({"A": ["not-an-address"]})})
        with pytest.raises(ValueError, match=r"world.dns\['bad.test'\]\['A'\]: 'not-an-address'"):
            server.world = bad
        assert server.world.dns["swap.test"].fault is DnsFault.NXDOMAIN


def test_queries_counts_answered_queries_over_both_transports():
    with DnsServer(sandbox_world()) as server:
        for tcp in (False, True, False):
            ask(server, "example.cn", tcp=tcp)
        with pytest.raises(dns.exception.Timeout):
            ask(server, "timeout.fault.test", timeout=0.2)
        assert server.queries == 3


def test_tcp_connection_carries_several_queries(server):
    wires = [dns.message.make_query(n, "A") for n in ("example.cn", "www.own-soa.test")]
    with socket.create_connection(server.address, timeout=2) as sock:
        sock.sendall(b"".join(struct.pack("!H", len(w)) + w for w in (q.to_wire() for q in wires)))
        answers = []
        for _ in wires:
            length = struct.unpack("!H", sock.recv(2, socket.MSG_WAITALL))[0]
            answers.append(dns.message.from_wire(sock.recv(length, socket.MSG_WAITALL)))
    assert [texts(a.answer) for a in answers] == [
        ["example.cn. 600 IN A 39.156.66.10"],
        ["www.own-soa.test. 600 IN A 223.5.5.5"],
    ]


def test_stop_frees_the_port_even_with_a_silent_tcp_client():
    server = DnsServer(sandbox_world()).start()
    port = server.port
    with socket.create_connection(server.address, timeout=2) as silent:
        wire = dns.message.make_query("timeout.fault.test", "A").to_wire()
        silent.sendall(struct.pack("!H", len(wire)) + wire)
        server.stop()
    with DnsServer(World(), port=port) as again:  # the same fixed port binds again
        assert again.address == (HOST, port)
        assert ask(again, "anything.test").rcode() == dns.rcode.NXDOMAIN


def test_ipv6_loopback():
    with DnsServer(sandbox_world(), host="::1") as server:
        query = dns.message.make_query("example.cn", "A")
        for response in (
            dns.query.udp(query, "::1", port=server.port, timeout=2),
            dns.query.tcp(query, "::1", port=server.port, timeout=2),
        ):
            assert texts(response.answer) == ["example.cn. 600 IN A 39.156.66.10"]


def test_bad_host_and_port_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match=r"must be an IP address, not 'dns\.example'"):
        DnsServer(World(), host="dns.example")
    with pytest.raises(ValueError, match=r"port must be 0\.\.65535, not 70000"):
        DnsServer(World(), port=70000)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (DnsName({"AAAA": ["1.2.3.4"]}), r"\['AAAA'\]: '1.2.3.4'"),
        (DnsName({"CNAME": ["a.test", "b.test"]}), "only one CNAME"),
        (DnsName({"MX": ["mx.test"]}), "MX needs 'preference exchange'"),
        (DnsName({"BOGUS": ["x"]}), "unknown record type 'BOGUS'"),
        (DnsName({"A": ["1.2.3.4"]}, views=[View("v", ["1.2.3.0/33"], {})]), "view 'v'"),
        (DnsName({"NS": ["bad..name"]}), "not a valid domain name"),
    ],
)
def test_invalid_world_values_are_reported_by_name(entry, message):
    with pytest.raises(ValueError, match=message):
        Zone(World(dns={"x.test": entry}))


def test_serve_forever_runs_until_ctrl_c(tmp_path):
    script = textwrap.dedent(
        """
        from icpscan.sandbox.dns import serve_forever
        from icpscan.sandbox.world import DnsName, World
        world = World(dns={"cli.test": DnsName({"A": ["1.2.4.8"]})})
        serve_forever(world, "127.0.0.1", 0, ready=lambda s: print(s.port, flush=True))
        print("stopped", flush=True)
        """
    )
    # The context manager reaps the child and closes its pipe whatever happens (a leaked one
    # would be reported against the next test). The child starts with Ctrl-C at its default:
    # an ignored SIGINT is inherited, and Scrapy ignores it in this process after an in-process
    # crawl test, so the child would otherwise never see it.
    with subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as child:
        try:
            port = int(child.stdout.readline())
            query = dns.message.make_query("cli.test", "A")
            response = dns.query.udp(query, HOST, port=port, timeout=2)
            assert texts(response.answer) == ["cli.test. 600 IN A 1.2.4.8"]
            child.send_signal(signal.SIGINT)
            out, _ = child.communicate(timeout=30)  # a loaded machine is slow to shut down
        finally:
            child.kill()
    assert (child.returncode, out) == (0, "stopped\n")


# -- hostile and odd messages -------------------------------------------------------------------


def raw_exchange(server, wire: bytes, timeout=0.3) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(wire, server.address)
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def test_garbage_and_responses_get_no_reply_but_the_server_keeps_serving(server):
    assert raw_exchange(server, b"\x01\x02\x03") is None  # shorter than a header
    response = dns.message.make_response(dns.message.make_query("example.cn", "A"))
    assert raw_exchange(server, response.to_wire()) is None  # never answer a response
    assert ask(server, "example.cn").rcode() == dns.rcode.NOERROR


@pytest.mark.parametrize(
    ("mutate", "rcode"),
    [
        (lambda w: w[:12] + b"\x05abc", dns.rcode.FORMERR),  # question cut short
        (lambda w: w[:4] + b"\x00\x02" + w[6:], dns.rcode.FORMERR),  # two questions claimed
        (lambda w: w[:2] + b"\x20\x00" + w[4:], dns.rcode.NOTIMP),  # opcode NOTIFY
        (lambda w: w[:-2] + b"\x00\x03", dns.rcode.REFUSED),  # class CHAOS
    ],
)
def test_malformed_and_unsupported_queries_get_an_error_rcode(server, mutate, rcode):
    wire = dns.message.make_query("example.cn", "A").to_wire()
    reply = raw_exchange(server, mutate(wire))
    assert reply is not None
    assert reply[:2] == wire[:2]  # same ID
    assert reply[3] & 0x0F == rcode


def test_unknown_edns_version_gets_badvers(server):
    response = ask(server, "example.cn", use_edns=1)
    assert response.rcode() == dns.rcode.BADVERS
    assert response.answer == []


def test_malformed_client_subnet_is_formerr(server):
    bad = dns.edns.GenericOption(8, b"\x00\x01\x18\x00\x01\x50")  # /24 with only 2 bytes
    response = ask(server, "geo.example.cn", use_edns=0, options=[bad])
    assert response.rcode() == dns.rcode.FORMERR


names = st.lists(
    st.text(alphabet="abcXYZ-09_*", min_size=1, max_size=20), min_size=1, max_size=5
).map(".".join)


@given(
    name=names,
    rdtype=st.sampled_from(["A", "AAAA", "TXT", "MX", "CNAME", "SOA", "NS", "CAA", "ANY"]),
    subnet=st.none() | st.tuples(st.ip_addresses(v=4), st.integers(0, 32)),
)
@settings(max_examples=200, deadline=None)
def test_parse_query_reads_what_dnspython_writes(name, rdtype, subnet):
    options = None
    if subnet is not None:
        options = [dns.edns.ECSOption(str(subnet[0]), subnet[1])]
    query = dns.message.make_query(name, rdtype, use_edns=0 if options else False, options=options)
    parsed = parse_query(query.to_wire())
    assert isinstance(parsed, Query)
    assert parsed.name == name.lower()
    assert parsed.qtype == dns.rdatatype.from_text(rdtype)
    assert (parsed.edns is not None) == bool(options)
    if options:
        ecs_option = query.options[0]
        got = parsed.edns.client_subnet
        sent = ipaddress.ip_network(f"{ecs_option.address}/{ecs_option.srclen}", strict=False)
        assert (got.address, got.source_prefix) == (sent.network_address, sent.prefixlen)


@given(data=st.binary(max_size=300))
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_arbitrary_bytes_never_break_the_server(server, data):
    parsed = parse_query(data)
    assert parsed is None or isinstance(parsed, Query | Rejection)
    server.respond(data, HOST, over_udp=True)  # must not raise


@given(tail=st.binary(max_size=80))
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_valid_header_with_hostile_tail_gets_a_well_formed_reply(server, tail):
    head = dns.message.make_query("example.cn", "A").to_wire()[:12]
    reply = server.respond(head + tail, HOST, over_udp=True)
    if reply is not None:
        message = dns.message.from_wire(reply)
        assert message.id == int.from_bytes(head[:2], "big")
        assert message.flags & dns.flags.QR


# -- the same server in a child process ----------------------------------------------------------


def test_server_process_answers_swaps_counts_and_stops():
    unpicklable_site = Host(http={"/": Response(body=lambda: b"<html>")})  # stays in this process
    world = World(dns={"proc.test": DnsName({"A": ["1.1.1.1"]})}, hosts={"x": unpicklable_site})
    with DnsServerProcess(world) as server:
        assert server.world is world
        resolver = resolver_for(server)
        assert [a.address for a in resolver.resolve("proc.test")] == ["1.1.1.1"]
        assert ask(server, "proc.test", tcp=True).answer[0][0].address == "1.1.1.1"
        server.world = World(dns={"proc.test": DnsName({"A": ["2.2.2.2"]})})
        assert [a.address for a in resolver.resolve("proc.test")] == ["2.2.2.2"]
        with pytest.raises(ValueError, match=r"world.dns\['bad.test'\]\['A'\]: 'nope'"):
            server.world = World(dns={"bad.test": DnsName({"A": ["nope"]})})
        assert [a.address for a in resolver.resolve("proc.test")] == ["2.2.2.2"]
        assert server.queries == 4
        child = server._process
    assert child.returncode == 0
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port


def test_server_process_reports_a_bad_world_and_a_taken_port_in_the_caller():
    with pytest.raises(ValueError, match=r"world.dns\['bad.test'\]"):
        DnsServerProcess(World(dns={"bad.test": DnsName({"A": ["nope"]})}))
    with DnsServer(World()) as taken, pytest.raises(OSError, match="in use"):
        DnsServerProcess(World(), port=taken.port).start()


def test_server_process_never_outlives_its_parent():
    parent_script = textwrap.dedent(
        """
        import time
        from icpscan.sandbox.dns_process import DnsServerProcess
        from icpscan.sandbox.world import World
        server = DnsServerProcess(World()).start()
        print(server._process.pid, server.port, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_script], stdout=subprocess.PIPE, text=True
    )
    try:
        child_pid, port = map(int, parent.stdout.readline().split())
        assert ask_port(port, "anything.test").rcode() == dns.rcode.NXDOMAIN
    finally:
        parent.kill()  # SIGKILL: no clean-up code runs in the parent
        parent.wait()
        parent.stdout.close()
    # the child sees its stdin close and exits; it is our grandchild, so poll for it
    for _ in range(100):
        try:
            state = Path(f"/proc/{child_pid}/stat").read_text().split()[2]
        except FileNotFoundError:
            break  # exited and reaped
        if state == "Z":
            break  # exited; waiting for init to reap it
        time.sleep(0.05)
    else:
        os.kill(child_pid, signal.SIGKILL)
        pytest.fail("the DNS server process outlived its parent")


def ask_port(port, name):
    return dns.query.udp(dns.message.make_query(name, "A"), HOST, port=port, timeout=2)


# -- properties of the Cymru index and of answers to arbitrary names ----------------------------


def covering_by_linear_scan(prefixes, address):
    hits = [
        (network, prefix)
        for prefix in prefixes
        if address in (network := ipaddress.ip_network(prefix.prefix, strict=False))
    ]
    hits.sort(key=lambda hit: -hit[0].prefixlen)  # stable: table order within one length
    return [
        f"{' '.join(map(str, p.asns))} | {n} | {p.country} | {p.registry} | {p.allocated}"
        for n, p in hits
    ]


v4_prefixes = st.builds(
    lambda address, length: AsnPrefix(
        str(ipaddress.ip_network(f"{address}/{length}", strict=False)), (64500,), "CN", "apnic", ""
    ),
    st.ip_addresses(v=4),
    st.integers(0, 32),
)


@given(prefixes=st.lists(v4_prefixes, max_size=30), address=st.ip_addresses(v=4))
@settings(max_examples=300, deadline=None)
def test_cymru_index_agrees_with_a_linear_scan(prefixes, address):
    near = [  # prefixes around the address too, so there are hits to find
        AsnPrefix(
            str(ipaddress.ip_network(f"{address}/{n}", strict=False)), (n,), "CN", "apnic", ""
        )
        for n in (8, 20, 32)
    ]
    tables = CymruTables(prefixes + near, {})
    expected = covering_by_linear_scan(prefixes + near, address)
    assert tables.origin(address) == expected
    name = ".".join(reversed(str(address).split("."))) + ".origin.asn.cymru.com"
    assert tables.lookup(name) == expected


@given(address=st.ip_addresses(v=6), keep=st.integers(1, 32))
@settings(max_examples=300, deadline=None)
def test_origin6_short_names_mean_trailing_zero_nibbles(address, keep):
    nibbles = f"{int(address):032x}"
    network = ipaddress.ip_network(f"{address}/{keep * 4}", strict=False)
    tables = CymruTables([AsnPrefix(str(network), (1,), "CN", "apnic", "")], {})
    short = ".".join(reversed(nibbles[:keep])) + ".origin6.asn.cymru.com"
    full = ".".join(reversed(nibbles)) + ".origin6.asn.cymru.com"
    assert tables.lookup(short) == tables.lookup(full) == [f"1 | {network} | CN | apnic | "]


labels = st.lists(st.binary(min_size=1, max_size=20), min_size=0, max_size=6)


@given(labels=labels)
def test_presentation_names_map_back_to_the_same_labels(labels):
    labels = tuple(label.lower() for label in labels)
    assert wire_labels(presentation_name(labels)) == labels


@given(labels=labels, rdtype=st.sampled_from([1, 2, 5, 6, 15, 16, 28, 255, 65280]))
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_question_gets_a_well_formed_answer_to_that_question(server, labels, rdtype):
    name = dns.name.Name([*labels, b""])
    query = dns.message.make_query(name, rdtype, use_edns=False)
    reply = server.respond(query.to_wire(), HOST, over_udp=False)
    response = dns.message.from_wire(reply)
    assert response.id == query.id
    assert response.question == query.question
    assert response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL)
