"""icpscan.dnswire against dnspython, the reference: same query bytes, same answers read."""

from __future__ import annotations

import contextlib
import ipaddress

import dns.edns
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given
from hypothesis import strategies as st

from icpscan.dnswire import (
    TYPE_A,
    TYPES,
    WireError,
    build_query,
    encode_name,
    parse_reply,
)

LDH = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
PLAIN_NAMES = st.lists(LDH, min_size=1, max_size=5).map(".".join)
ANY_LABEL = st.binary(min_size=1, max_size=20)
RAW_NAMES = st.lists(ANY_LABEL, min_size=1, max_size=4).map(
    lambda labels: dns.name.Name([*labels, b""])
)


@given(PLAIN_NAMES, st.sampled_from(sorted(TYPES)), st.integers(0, 65535))
def test_query_matches_dnspython(name, rtype, query_id):
    reference = dns.message.make_query(name, rtype, use_edns=0, payload=1232, id=query_id)
    assert build_query(query_id, name, TYPES[rtype]) == reference.to_wire()


@given(PLAIN_NAMES, st.ip_addresses(), st.data())
def test_query_with_client_subnet_matches_dnspython(name, address, data):
    length = data.draw(st.integers(0, 32 if address.version == 4 else 128))
    subnet = str(ipaddress.ip_network(f"{address}/{length}", strict=False))
    network = ipaddress.ip_network(subnet)
    option = dns.edns.ECSOption(str(network.network_address), network.prefixlen)
    reference = dns.message.make_query(name, "A", use_edns=0, payload=1232, options=[option], id=7)
    assert build_query(7, name, TYPE_A, subnet=subnet) == reference.to_wire()


@given(RAW_NAMES)
def test_names_with_any_bytes_encode_like_dnspython(name):
    text = name.to_text()
    assert encode_name(text) == dns.name.from_text(text).to_wire()


def _rdata(rtype, draw):
    if rtype == "A":
        return str(draw(st.ip_addresses(v=4)))
    if rtype == "AAAA":
        return str(draw(st.ip_addresses(v=6)))
    if rtype in ("CNAME", "NS"):
        return draw(RAW_NAMES).to_text()
    strings = draw(st.lists(st.binary(max_size=40), min_size=1, max_size=3))
    return " ".join('"' + "".join(f"\\{b:03d}" for b in s) + '"' for s in strings)


@given(RAW_NAMES, st.data())
def test_reply_answers_match_dnspython(qname, data):
    query = dns.message.make_query(qname, "A", id=data.draw(st.integers(0, 65535)))
    reply = dns.message.make_response(query)
    reply.set_rcode(data.draw(st.sampled_from([0, 2, 3, 5])))
    for _ in range(data.draw(st.integers(0, 4))):
        rtype = data.draw(st.sampled_from(["A", "AAAA", "CNAME", "NS", "TXT", "MX"]))
        owner = data.draw(st.sampled_from([qname, data.draw(RAW_NAMES)]))
        cnames = [r for r in reply.answer if r.name == owner and r.rdtype == dns.rdatatype.CNAME]
        if rtype == "CNAME" and cnames:
            continue  # one CNAME per owner (dnspython would keep only the last one)
        value = "10 mail.example." if rtype == "MX" else _rdata(rtype, data.draw)
        ttl = data.draw(st.integers(0, 2**31 - 1))
        reply.answer.append(dns.rrset.from_text(owner, ttl, "IN", rtype, value))
    wire = reply.to_wire()  # dnspython compresses names: pointers get exercised
    parsed = parse_reply(wire)
    reference = dns.message.from_wire(wire)
    assert (parsed.query_id, parsed.rcode, parsed.flags) == (
        reference.id,
        reference.rcode(),
        reference.flags,
    )
    assert parsed.question == (qname.to_text(omit_final_dot=True).lower(), 1)
    expected = {}
    for rrset in reference.answer:  # dnspython merges duplicates and keeps the smallest TTL
        if rrset.rdtype != dns.rdatatype.MX:
            key = (rrset.name.to_text(omit_final_dot=True).lower(), int(rrset.rdtype))
            expected[key] = (rrset.ttl, {_text(rdata) for rdata in rrset})
    got = {}
    for record in parsed.answers:
        ttl, values = got.get((record.owner, record.rtype), (record.ttl, set()))
        got[(record.owner, record.rtype)] = (min(ttl, record.ttl), values | {record.value})
    assert got == expected


def _text(rdata):
    if rdata.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return str(ipaddress.ip_address(rdata.address))
    if rdata.rdtype in (dns.rdatatype.CNAME, dns.rdatatype.NS):
        return rdata.target.to_text(omit_final_dot=True).lower()
    return b"".join(rdata.strings).decode("utf-8", "replace")


@given(st.binary(max_size=300))
def test_garbage_raises_only_wire_error(wire):
    with contextlib.suppress(WireError):
        parse_reply(wire)


def test_truncations_of_a_real_reply_raise_wire_error():
    query = dns.message.make_query("www.example.cn", "A")
    reply = dns.message.make_response(query)
    reply.answer.append(
        dns.rrset.from_text("www.example.cn.", 60, "IN", "CNAME", "x.w.kunlunaq.com.")
    )
    reply.answer.append(dns.rrset.from_text("x.w.kunlunaq.com.", 60, "IN", "A", "1.2.3.4"))
    wire = reply.to_wire()
    assert [r.value for r in parse_reply(wire).answers] == ["x.w.kunlunaq.com", "1.2.3.4"]
    for cut in range(len(wire)):
        with pytest.raises(WireError):
            parse_reply(wire[:cut])


def test_compression_loop_is_refused():
    header = bytes.fromhex("1234 8180 0001 0000 0000 0000".replace(" ", ""))
    looping = header + b"\xc0\x0c" + b"\x00\x01\x00\x01"  # the name points at itself
    with pytest.raises(WireError, match="compression pointer loop"):
        parse_reply(looping)
