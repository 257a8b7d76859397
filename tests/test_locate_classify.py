"""The pure classification core on well-known public addresses (offline data only, no traffic)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icpscan.locate import classify_address, load_sources
from icpscan.locate.asn import AsnRecord
from icpscan.locate.ranges import parse_ranges
from icpscan.models import Region

SOURCES = load_sources()


def _sources_with_ranges(text: str):
    sources = load_sources()
    sources.user_ranges = parse_ranges(text, origin="test.csv")
    return sources


# (address, region, confidence, deciding source, provider) — registry-only addresses are
# "medium": iptocc is a registry country, never more than that.
WELL_KNOWN = [
    # mainland carriers and services
    ("1.2.4.8", Region.MAINLAND, "medium", "iptocc", None),  # CNNIC public DNS
    ("202.96.128.86", Region.MAINLAND, "medium", "iptocc", None),  # China Telecom Guangdong DNS
    ("202.106.0.20", Region.MAINLAND, "medium", "iptocc", None),  # China Unicom Beijing DNS
    ("211.136.192.6", Region.MAINLAND, "medium", "iptocc", None),  # China Mobile Guangdong DNS
    ("114.114.114.114", Region.MAINLAND, "medium", "iptocc", None),  # offline-data lookup
    ("220.181.38.148", Region.MAINLAND, "medium", "iptocc", None),  # Baidu
    ("39.156.66.10", Region.MAINLAND, "medium", "iptocc", None),  # Baidu on China Mobile
    ("240e::1", Region.MAINLAND, "medium", "iptocc", None),  # China Telecom IPv6
    ("2400:3200::1", Region.MAINLAND, "medium", "iptocc", None),  # AliDNS IPv6
    ("39.96.0.1", Region.MAINLAND, "medium", "iptocc", None),  # Alibaba Cloud Beijing
    ("119.29.29.29", Region.MAINLAND, "medium", "iptocc", None),  # Tencent DNSPod
    ("47.96.1.1", Region.MAINLAND, "medium", "third-party:alibaba", "Alibaba Cloud"),
    ("52.80.1.1", Region.MAINLAND, "high", "cloud:aws", "Amazon Web Services"),  # cn-north-1
    ("161.189.1.1", Region.MAINLAND, "high", "cloud:aws", "Amazon Web Services"),  # cn-northwest-1
    ("42.159.1.1", Region.MAINLAND, "high", "cloud:azure-china", "Azure China (21Vianet)"),
    # Hong Kong
    ("147.8.2.58", Region.HONGKONG, "medium", "iptocc", None),  # HKU
    ("137.189.11.1", Region.HONGKONG, "medium", "iptocc", None),  # CUHK
    ("203.218.1.1", Region.HONGKONG, "medium", "iptocc", None),  # HKT Netvigator
    ("47.52.0.1", Region.HONGKONG, "medium", "third-party:alibaba", "Alibaba Cloud"),
    ("119.28.28.28", Region.HONGKONG, "medium", "third-party:tencent", "Tencent Cloud"),
    ("18.162.0.1", Region.HONGKONG, "high", "cloud:aws", "Amazon Web Services"),  # ap-east-1
    ("43.198.0.1", Region.HONGKONG, "high", "cloud:aws", "Amazon Web Services"),
    ("34.92.1.1", Region.HONGKONG, "high", "cloud:gcp", "Google Cloud"),  # asia-east2
    # Macau, Taiwan
    ("202.175.3.3", Region.MACAU, "medium", "iptocc", None),  # CTM
    ("168.95.1.1", Region.TAIWAN, "medium", "iptocc", None),  # HiNet DNS
    # abroad
    ("8.8.8.8", Region.ABROAD, "medium", "iptocc", None),
    ("2001:4860:4860::8888", Region.ABROAD, "medium", "iptocc", None),
    ("1.1.1.1", Region.ABROAD, "medium", "iptocc", None),  # AU-registered
    ("193.0.6.139", Region.ABROAD, "medium", "iptocc", None),  # RIPE NCC, NL
    ("2a00:1450:4001::1", Region.ABROAD, "medium", "iptocc", None),  # Google, IE
    ("43.135.0.1", Region.ABROAD, "medium", "iptocc", None),  # SG-registered
]


@pytest.mark.parametrize(("address", "region", "confidence", "decider", "provider"), WELL_KNOWN)
def test_well_known_public_addresses(address, region, confidence, decider, provider):
    info = classify_address(address, sources=SOURCES)
    assert (info.region, info.confidence, info.provider) == (region, confidence, provider)
    assert info.special is None
    assert info.version == (6 if ":" in address else 4)
    sources = [e.source for e in info.evidence]
    assert decider in sources
    # the registry country is always shown, whatever decided
    assert "iptocc" in sources
    assert info.country is not None


@pytest.mark.parametrize(
    ("address", "dissenter", "dissent"),
    [
        ("47.52.0.1", "iptocc", Region.ABROAD),  # ALICLOUD-HK is ARIN/US space
        ("119.28.28.28", "iptocc", Region.MAINLAND),  # Tencent HK is APNIC/CN space
        ("18.162.0.1", "iptocc", Region.ABROAD),  # AWS Hong Kong is ARIN/US space
    ],
)
def test_registry_traps_are_recorded_as_conflicts(address, dissenter, dissent):
    info = classify_address(address, sources=SOURCES)
    conflicts = [e.claim for e in info.evidence if e.source == "conflict"]
    assert conflicts == [
        f"{address}: {_decider(info)} decides {info.region}; {dissenter} says {dissent}"
    ]


def _decider(info):
    return next(e.source for e in info.evidence if e.region == info.region)


@pytest.mark.parametrize(
    ("address", "special"),
    [
        ("10.0.0.1", "private"),
        ("192.168.1.1", "private"),
        ("172.16.5.4", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("100.64.1.1", "CGNAT (100.64.0.0/10)"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "private"),
        ("::ffff:10.1.2.3", "private"),
    ],
)
def test_special_addresses_are_classified_and_never_looked_up(address, special):
    info = classify_address(address, sources=SOURCES)
    assert (info.region, info.special, info.asn, info.country) == (
        Region.UNKNOWN,
        special,
        None,
        None,
    )
    assert [e.source for e in info.evidence] == ["special"]


def test_not_an_address():
    info = classify_address("example.cn", sources=SOURCES)
    assert (info.region, info.special) == (Region.UNKNOWN, "not an IP address")


def test_ranges_file_wins_over_everything_and_the_disagreement_is_kept():
    sources = _sources_with_ranges("prefix,region,provider\n8.8.8.0/24,mainland,Our IDC\n")
    info = classify_address("8.8.8.8", sources=sources)
    assert (info.region, info.confidence, info.provider) == (Region.MAINLAND, "high", "Our IDC")
    assert info.evidence[0].source == "ranges-file"
    assert (
        info.evidence[0].claim == "8.8.8.0/24 is mainland China per the ranges file, as of Our IDC"
    )
    conflict = [e.claim for e in info.evidence if e.source == "conflict"]
    assert conflict == ["8.8.8.8: ranges-file decides mainland; iptocc says abroad"]


def test_ranges_file_beats_a_published_cloud_range():
    sources = _sources_with_ranges("prefix,region,provider\n18.162.0.0/24,abroad,Reseller\n")
    info = classify_address("18.162.0.9", sources=sources)
    assert (info.region, info.provider) == (Region.ABROAD, "Reseller")
    conflict = next(e.claim for e in info.evidence if e.source == "conflict")
    assert conflict == "18.162.0.9: ranges-file decides abroad; cloud:aws says hongkong"


def test_ranges_file_applies_to_ipv6_and_most_specific_wins():
    text = "prefix,region,provider\n2400::/12,abroad,Wide\n2400:3200::/32,hongkong,Narrow\n"
    info = classify_address("2400:3200::1", sources=_sources_with_ranges(text))
    assert (info.region, info.provider) == (Region.HONGKONG, "Narrow")


def _asn(asns, country, name="X", prefix="1.2.3.0/24", registry="apnic"):
    return AsnRecord(tuple(asns), prefix, country, registry, "2010-01-01", name)


def test_cymru_country_agreeing_keeps_medium_and_fills_the_fields():
    record = _asn([4134], "CN", "CHINANET-BACKBONE No.31,Jin-rong Street, CN", "202.96.128.0/18")
    info = classify_address("202.96.128.86", sources=SOURCES, asn=record)
    assert (info.region, info.confidence, info.provider) == (
        Region.MAINLAND,
        "medium",
        "China Telecom",
    )
    assert (info.asn, info.asn_country, info.registry, info.prefix, info.allocated) == (
        4134, "CN", "apnic", "202.96.128.0/18", "2010-01-01",
    )  # fmt: skip
    assert info.asn_name == "CHINANET-BACKBONE No.31,Jin-rong Street, CN"
    claims = {e.source: e.claim for e in info.evidence}
    assert claims["asn-table"] == "AS4134 is China Telecom, mainland network"
    assert claims["cymru"] == (
        "origin AS4134 CHINANET-BACKBONE No.31,Jin-rong Street, CN, prefix 202.96.128.0/18, "
        "registry apnic country CN"
    )


def test_registry_sources_disagreeing_lower_confidence_and_are_recorded():
    info = classify_address("1.2.4.8", sources=SOURCES, asn=_asn([24151], "HK"))
    assert (info.region, info.confidence) == (Region.MAINLAND, "low")
    conflict = next(e.claim for e in info.evidence if e.source == "conflict")
    assert conflict == "1.2.4.8: iptocc decides mainland; cymru says hongkong"


def test_alibaba_arin_space_outside_the_lists_is_low_confidence():
    # 47.0.0.0/8 is ARIN/US, yet partly mainland: the AS mixes both, so nothing is sure.
    info = classify_address("47.240.0.1", sources=SOURCES, asn=_asn([45102], "US", registry="arin"))
    assert (info.region, info.confidence, info.provider) == (Region.ABROAD, "low", "Alibaba Cloud")
    note = next(e.claim for e in info.evidence if e.source == "verdict")
    assert note == (
        "AS45102 (Alibaba Cloud) announces both mainland and overseas space; only the registry "
        "country (abroad) decides, so confidence is low"
    )


def test_asn_alone_is_not_a_location_but_a_contradiction_refuses_to_decide():
    # Tencent's international AS on CN-registered space: registry says mainland, AS says not.
    info = classify_address("43.136.0.1", sources=SOURCES, asn=_asn([132203], "CN"))
    assert (info.region, info.confidence, info.provider) == (Region.UNKNOWN, "low", "Tencent Cloud")
    assert any(e.source == "verdict" and "cannot be trusted" in e.claim for e in info.evidence)
    # a mainland carrier AS on foreign-registered space: same refusal
    info = classify_address("8.8.4.4", sources=SOURCES, asn=_asn([4837], "US", registry="arin"))
    assert (info.region, info.confidence) == (Region.UNKNOWN, "low")


def test_unknown_as_never_moves_the_region():
    info = classify_address("8.8.8.8", sources=SOURCES, asn=_asn([64500], "US", "EXAMPLE-AS, US"))
    assert (info.region, info.confidence, info.provider) == (
        Region.ABROAD,
        "medium",
        "EXAMPLE-AS, US",
    )


def test_offshore_community_rows_take_hk_macau_taiwan_from_the_registry_else_abroad():
    # 47.74.0.0/15 is "Alibaba international" on the list; the registry country is US.
    info = classify_address("47.74.0.1", sources=SOURCES)
    assert (info.region, info.confidence, info.provider) == (Region.ABROAD, "low", "Alibaba Cloud")
    # Tencent 49.51.0.0/16: list says offshore, registry says CN -> still not mainland
    info = classify_address("49.51.0.1", sources=SOURCES)
    assert (info.region, info.confidence) == (Region.ABROAD, "low")
    assert any(e.source == "conflict" and "iptocc says mainland" in e.claim for e in info.evidence)


def test_cymru_failure_is_evidence_not_an_exception():
    from icpscan.models import DnsFailure

    failure = DnsFailure("8.8.8.8.origin.asn.cymru.com", "TXT", "timeout", "no reply")
    info = classify_address("8.8.8.8", sources=SOURCES, asn_failure=failure)
    assert info.region == Region.ABROAD
    assert ("cymru", "lookup failed: timeout (no reply)") in [
        (e.source, e.claim) for e in info.evidence
    ]


def _python_special_networks():
    import ipaddress

    for constants in (ipaddress._IPv4Constants, ipaddress._IPv6Constants):
        for value in vars(constants).values():
            for network in value if isinstance(value, list) else [value]:
                if isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network):
                    yield network


@pytest.mark.parametrize("network", list(_python_special_networks()), ids=str)
def test_fast_special_check_agrees_with_egress_policy_at_range_edges(network):
    import ipaddress

    from icpscan.egress import forbidden_reason
    from icpscan.locate.verdict import special_reason

    for ip in (
        network.network_address,
        network.broadcast_address,
        network[network.num_addresses // 2],
    ):
        assert special_reason(ip) == forbidden_reason(ip)
        for neighbour in (int(ip) - 1, int(ip) + 1):
            if 0 <= neighbour < 2**network.max_prefixlen:
                other = (
                    ipaddress.ip_address(neighbour)
                    if network.version == 4
                    else ipaddress.IPv6Address(neighbour)
                )
                assert special_reason(other) == forbidden_reason(other)


@given(st.ip_addresses())
def test_fast_special_check_agrees_with_egress_policy(ip):
    from icpscan.egress import forbidden_reason
    from icpscan.locate.verdict import special_reason

    assert special_reason(ip) == forbidden_reason(ip)
