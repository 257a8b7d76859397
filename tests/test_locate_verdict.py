"""The per-domain verdict (pure): CDN weighing, views, errors, special addresses, ordering."""

from __future__ import annotations

from icpscan.locate import classify_address, load_sources
from icpscan.locate.verdict import decide
from icpscan.models import AsnRef, DnsFailure, Region, Resolution, to_jsonable

SOURCES = load_sources()


def _verdict(*resolutions: Resolution, domain: str = "example.cn"):
    addresses = {a for r in resolutions for a in r.addresses}
    infos = {a: classify_address(a, sources=SOURCES) for a in addresses}
    return decide(domain, list(resolutions), infos, sources=SOURCES)


def _res(addresses=(), cnames=(), view="default", failures=(), name="example.cn", subnet=None):
    return Resolution(
        "example.cn",
        view,
        name,
        tuple(addresses),
        tuple(cnames),
        failures=tuple(failures),
        subnet=subnet,
    )


def test_single_mainland_address():
    v = _verdict(_res(["202.96.128.86"]))
    assert (v.region, v.confidence, v.addresses, v.cdn, v.errors) == (
        Region.MAINLAND, "medium", ("202.96.128.86",), None, (),
    )  # fmt: skip
    assert v.views["default"].region == Region.MAINLAND


def test_mainland_cdn_with_offshore_edge_is_mainland_with_the_conflict_recorded():
    v = _verdict(_res(["47.52.0.10"], ["example.cn.w.kunlunaq.com"]))
    assert (v.region, v.confidence, v.provider) == (Region.MAINLAND, "medium", "Alibaba Cloud")
    assert v.cdn.mainland_nodes == "yes"
    claims = [(e.source, e.claim) for e in v.evidence if e.source in ("cdn-cname", "conflict")]
    assert claims[-2:] == [
        (
            "cdn-cname",
            "CNAME example.cn.w.kunlunaq.com is Alibaba Cloud CDN (Alibaba Cloud, suffix "
            "kunlunaq.com): serves mainland users from mainland nodes, which needs an ICP filing",
        ),
        (
            "conflict",
            "the addresses seen from this vantage say hongkong; the CDN's mainland service "
            "decides: mainland (the edge handed to us is not the one mainland visitors get)",
        ),
    ]


def test_mainland_cdn_with_mainland_edge_keeps_the_address_confidence():
    v = _verdict(_res(["220.181.38.148"], ["x.cdn.dnsv1.com.cn"]))
    assert (v.region, v.confidence, v.cdn.name) == (Region.MAINLAND, "medium", "Tencent Cloud CDN")
    assert not [e for e in v.evidence if e.source == "conflict"]


def test_depends_cdn_keeps_the_address_region_and_caps_confidence():
    v = _verdict(_res(["18.162.0.1"], ["x.cdn.dnsv1.com"]))
    assert (v.region, v.confidence) == (Region.HONGKONG, "medium")  # high from cloud:aws, capped
    assert "--vantage mainland" in next(e.claim for e in v.evidence if e.source == "cdn-cname")


def test_non_mainland_cdn():
    v = _verdict(_res(["8.8.8.8"], ["d1.cloudfront.net"]))
    assert (v.region, v.cdn.mainland_nodes, v.provider) == (
        Region.ABROAD,
        "no",
        "Amazon Web Services",
    )


def test_mixed_answers_are_mixed_and_ipv4_comes_first():
    v = _verdict(_res(["2400:3200::1", "8.8.8.8", "202.96.128.86"]))
    assert v.region == Region.MIXED
    assert v.addresses == ("8.8.8.8", "202.96.128.86", "2400:3200::1")
    assert [i.address for i in v.address_info] == list(v.addresses)


def test_ipv6_only():
    v = _verdict(_res(["2400:3200::1"]))
    assert (v.region, v.addresses) == (Region.MAINLAND, ("2400:3200::1",))


def test_views_disagreeing_make_the_domain_mixed_and_are_both_recorded():
    plain = _res(["8.8.8.8"], ["example.cn.cdn.cloudflare.net"])
    mainland = _res(
        ["202.96.128.86"], ["example.cn.wscdns.com"], view="mainland", subnet="202.96.128.0/24"
    )
    v = _verdict(plain, mainland)
    assert v.region == Region.MIXED
    assert {name: (s.region, s.addresses, s.cnames, s.subnet) for name, s in v.views.items()} == {
        "default": (Region.ABROAD, ("8.8.8.8",), ("example.cn.cdn.cloudflare.net",), None),
        "mainland": (
            Region.MAINLAND,
            ("202.96.128.86",),
            ("example.cn.wscdns.com",),
            "202.96.128.0/24",
        ),
    }
    assert v.cdn.name == "Wangsu CDN"  # the mainland-nodes CDN outranks Cloudflare
    views = next(e.claim for e in v.evidence if e.source == "views")
    assert views == (
        "vantages see different hosting: default view: abroad (8.8.8.8); "
        "mainland view: mainland (202.96.128.86)"
    )


def test_only_private_addresses():
    v = _verdict(_res(["10.1.2.3", "fd00::1"]))
    assert (v.region, v.confidence, v.asns) == (Region.UNKNOWN, "low", ())
    assert (
        v.evidence[-1].claim
        == "resolves only to non-public addresses: 10.1.2.3 (private), fd00::1 (private)"
    )


def test_private_address_next_to_a_public_one_is_ignored_for_the_region():
    v = _verdict(_res(["10.1.2.3", "8.8.8.8"]))
    assert (v.region, v.confidence) == (Region.ABROAD, "medium")


def test_no_address_lists_the_dns_failures():
    failures = [
        DnsFailure("example.cn", "A", "nxdomain", "NXDOMAIN from 127.0.0.1:53"),
        DnsFailure("example.cn", "AAAA", "nxdomain", "NXDOMAIN from 127.0.0.1:53"),
        DnsFailure("example.cn", "NS", "no_answer", "no NS records"),
    ]
    v = _verdict(_res(failures=failures))
    assert (v.region, v.confidence, v.addresses) == (Region.UNKNOWN, "low", ())
    assert [f.rtype for f in v.errors] == ["A", "AAAA"]  # NS is context, never an error
    assert v.evidence[-1].claim == (
        "no address from any view (example.cn A: nxdomain; example.cn AAAA: nxdomain)"
    )


def test_missing_aaaa_is_not_an_error_but_a_timeout_is():
    failures = [
        DnsFailure("example.cn", "AAAA", "no_answer", "no AAAA records"),
        DnsFailure("example.cn", "A", "timeout", "no reply from 127.0.0.1:53 after 3 tries"),
    ]
    v = _verdict(_res(["8.8.8.8"], failures=failures))
    assert [(f.rtype, f.error) for f in v.errors] == [("A", "timeout")]


def test_www_fallback_is_said():
    v = _verdict(_res(["8.8.8.8"], name="www.example.cn"))
    assert ("dns", "example.cn has no address; used www.example.cn (default view)") in [
        (e.source, e.claim) for e in v.evidence
    ]


def test_asns_and_json_fields():
    from icpscan.locate.asn import AsnRecord

    record = AsnRecord((4134,), "202.96.128.0/18", "CN", "apnic", "2002-02-21", "CHINANET-BACKBONE")
    infos = {"202.96.128.86": classify_address("202.96.128.86", sources=SOURCES, asn=record)}
    v = decide("example.cn", [_res(["202.96.128.86"])], infos, sources=SOURCES)
    assert v.asns == (AsnRef(4134, "CHINANET-BACKBONE"),)
    assert v.provider == "China Telecom"
    data = to_jsonable(v)
    for key in (
        "domain",
        "region",
        "addresses",
        "cnames",
        "asns",
        "provider",
        "cdn",
        "confidence",
        "evidence",
        "errors",
    ):
        assert key in data
    assert data["asns"] == [{"asn": 4134, "name": "CHINANET-BACKBONE"}]
    assert data["region"] == "mainland"
