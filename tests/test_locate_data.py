"""Offline sources and their parsers: ranges file, CDN suffixes, RIR import, cloud imports,
Cymru rows, nameserver/vantage options, the prefix table."""

from __future__ import annotations

import contextlib
import ipaddress
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icpscan.locate import classify_address, load_sources
from icpscan.locate.asn import CymruParseError, origin_name, parse_as_name, parse_origin
from icpscan.locate.cdn import load_cdn_table
from icpscan.locate.clouds import CloudDataError, import_provider, read_rows
from icpscan.locate.country import (
    DelegatedRecord,
    RirDataError,
    import_rir,
    load_rir_table,
    merge_records,
    parse_delegated,
)
from icpscan.locate.prefixes import PrefixTable
from icpscan.locate.ranges import RangesFileError, load_ranges_file, parse_ranges
from icpscan.models import Region
from icpscan.resolve import MAINLAND_SUBNET, Nameserver, ResolverConfigError, Vantage

# --- ranges file -------------------------------------------------------------------------------


def test_ranges_file_parses_with_bom_comments_extra_columns_and_host_bits(tmp_path):
    path = tmp_path / "ours.csv"
    path.write_text(
        "\ufeffprefix,region,provider,note\n"
        "# our Beijing IDC\n"
        "203.0.113.7/24,Mainland,Our IDC,rack 4\n"
        "\n"
        "2001:db8::/32,hongkong,Our HK,\n"
        "198.51.100.1,abroad,Single host\n",
        encoding="utf-8",
    )
    table = load_ranges_file(path)
    assert len(table) == 3
    net, entry = table.lookup("203.0.113.200")
    assert (str(net), entry.region, entry.provider, entry.source) == (
        "203.0.113.0/24", Region.MAINLAND, "Our IDC", "ranges-file",
    )  # fmt: skip
    assert table.lookup("2001:db8::5")[1].region == Region.HONGKONG
    assert str(table.lookup("198.51.100.1")[0]) == "198.51.100.1/32"
    assert table.lookup("198.51.100.2") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prefix,region\n1.2.3.0/24,mainland\n", "f.csv:1: header must name the columns "
         "prefix,region,provider (missing: provider)"),
        ("prefix,region,provider\n1.2.3.0/33,mainland,X\n", "f.csv:2: '1.2.3.0/33' is not an IP "
         "network (e.g. 203.0.113.0/24)"),
        ("prefix,region,provider\n1.2.3.0/24,china,X\n", "f.csv:2: region 'china' is not one of "
         "mainland, hongkong, macau, taiwan, abroad"),
        ("prefix,region,provider\n1.2.3.0/24,mixed,X\n", "f.csv:2: region 'mixed' is not one of "
         "mainland, hongkong, macau, taiwan, abroad"),
        ("# only a comment\n", "f.csv: empty file (expected a prefix,region,provider header)"),
    ],
)  # fmt: skip
def test_ranges_file_errors_name_file_and_line(text, message):
    with pytest.raises(RangesFileError) as caught:
        parse_ranges(text, origin="f.csv")
    assert str(caught.value) == message


def test_unreadable_ranges_file(tmp_path):
    with pytest.raises(RangesFileError) as caught:
        load_ranges_file(tmp_path / "missing.csv")
    assert (
        str(caught.value)
        == f"cannot read ranges file {tmp_path / 'missing.csv'}: No such file or directory"
    )


# --- CDN suffixes ------------------------------------------------------------------------------

CDN = load_cdn_table()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("www.example.com.w.kunlunaq.com", ("Alibaba Cloud CDN", "yes", "kunlunaq.com")),
        ("example.com.m.alikunlun.com.", ("Alibaba Cloud CDN", "yes", "alikunlun.com")),
        ("WWW.Example.COM.W.KunlunCan.com", ("Alibaba Cloud CDN", "yes", "kunluncan.com")),
        ("example.com.cdn.dnsv1.com.cn", ("Tencent Cloud CDN", "yes", "cdn.dnsv1.com.cn")),
        ("example.com.cdn.dnsv1.com", ("Tencent Cloud CDN", "depends", "cdn.dnsv1.com")),
        ("example.com.eo.dnse3.com", ("Tencent EdgeOne", "depends", "eo.dnse3.com")),
        ("d111111abcdef8.cloudfront.cn", ("AWS CloudFront China", "yes", "cloudfront.cn")),
        ("d111111abcdef8.cloudfront.net", ("AWS CloudFront", "no", "cloudfront.net")),
        ("example.com.cdngslb.com", ("Alibaba Cloud DCDN", "depends", "cdngslb.com")),
        ("example.wscdns.com", ("Wangsu CDN", "yes", "wscdns.com")),
        ("example.cdn.cloudflare.net", ("Cloudflare", "depends", "cdn.cloudflare.net")),
        ("e1234.a.akamaiedge.net", ("Akamai", "no", "akamaiedge.net")),
        ("cname.ccgslb.com.cn", ("ChinaCache", "yes", "ccgslb.com.cn")),
    ],
)
def test_cdn_suffix_matching(name, expected):
    cdn = CDN.match_name(name)
    assert (cdn.name, cdn.mainland_nodes, cdn.suffix) == expected
    assert cdn.cname == name


@pytest.mark.parametrize(
    "name",
    ["notkunlunaq.com", "kunlunaq.com.evil.example", "cdn.dnsv1.com.cn.example", "example.cn"],
)
def test_cdn_suffix_matches_only_on_label_boundaries(name):
    assert CDN.match_name(name) is None


def test_cdn_chain_prefers_mainland_nodes_then_chain_order():
    chain = ["a.cloudfront.net", "b.cdn.dnsv1.com", "c.w.kunlunaq.com", "d.wscdns.com"]
    assert CDN.match_chain(chain).suffix == "kunlunaq.com"
    assert CDN.match_chain(["a.cloudfront.net", "b.cdn.dnsv1.com"]).suffix == "cdn.dnsv1.com"
    assert CDN.match_chain(["a.example.net"]) is None


def test_cdn_table_covers_every_mainland_cdn_family_of_the_reference():
    suffixes = set(CDN._by_suffix)
    for suffix in (
        "bdydns.com", "cdnhwc1.com", "ksyuncdn.com", "qiniudns.com", "aicdn.com", "qingcdn.com",
        "ctdns.cn", "fastcdn.com", "21vokglb.cn", "163jiasu.com", "jiashule.com", "360wzb.com",
        "tl88.net", "lxdns.com", "mwcloudcdn.com", "yunjiasu-cdn.net", "tc.cdntip.com",
    ):  # fmt: skip
        assert suffix in suffixes


# --- RIR delegated statistics ------------------------------------------------------------------

DELEGATED = """\
# comment
2.3|apnic|20261127|5|19830613|20261126|+1000
apnic|*|ipv4|*|3|summary
apnic|*|ipv6|*|1|summary
apnic|CN|ipv4|1.0.1.0|256|20110414|allocated|A92E1062
apnic|CN|ipv4|1.0.2.0|512|20110414|allocated|A92E1062
apnic|HK|ipv4|1.0.4.0|768|20110412|assigned|A91A8A9B
apnic||ipv4|1.0.8.0|256||available
apnic|ZZ|ipv4|1.0.16.0|256||reserved
apnic|CN|ipv6|2400:3200::|32|20101230|allocated|A9213ABB
apnic|CN|asn|4134|1|20020221|allocated
"""


def test_parse_delegated_keeps_allocated_ip_rows_only():
    records, header = parse_delegated(DELEGATED.splitlines(), origin="delegated-apnic")
    assert header == "apnic serial 20261127 (19830613-20261126)"
    assert [
        (r.version, str(ipaddress.ip_address(r.start)), r.end - r.start, r.country) for r in records
    ] == [
        (4, "1.0.1.0", 256, "CN"),
        (4, "1.0.2.0", 512, "CN"),
        (4, "1.0.4.0", 768, "HK"),
        (6, "2400:3200::", 2**96, "CN"),
    ]


def test_merge_joins_adjacent_same_country_and_drops_overlaps():
    rec = lambda s, e, c: DelegatedRecord(4, s, e, c)  # noqa: E731
    merged = list(
        merge_records(
            [
                rec(0, 10, "CN"),
                rec(10, 20, "CN"),
                rec(15, 30, "HK"),
                rec(30, 40, "HK"),
                rec(50, 60, "CN"),
            ]
        )
    )
    assert merged == [rec(0, 20, "CN"), rec(20, 40, "HK"), rec(50, 60, "CN")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("apnic|CN|ipv4|1.0.1.0", "f:2: not a delegated-statistics record"),
        ("nosuch|CN|ipv4|1.0.1.0|256|20110414|allocated", "f:2: unknown registry 'nosuch'"),
        ("apnic|CN|ipv4|1.0.1.x|256|20110414|allocated", "f:2: bad start '1.0.1.x' or value '256'"),
        ("apnic|CN|ipv6|2400::|129|20110414|allocated", "f:2: bad ipv6 record"),
    ],
)
def test_parse_delegated_errors(line, message):
    with pytest.raises(RirDataError) as caught:
        parse_delegated(["2|apnic|1|1|1|1|+0", line], origin="f")
    assert str(caught.value) == message


def test_not_a_delegated_file():
    with pytest.raises(RirDataError) as caught:
        parse_delegated(["# nothing"], origin="f")
    assert str(caught.value) == "f: no version line: not a delegated-statistics file"


def test_import_rir_takes_precedence_over_iptocc(tmp_path):
    source = tmp_path / "delegated-apnic-latest"
    # Pretend Google's 8.8.8.0/24 were registered in Hong Kong: the import must win.
    source.write_text(
        DELEGATED + "apnic|HK|ipv4|8.8.8.0|256|20200101|allocated\n", encoding="utf-8"
    )
    count, headers = import_rir([source], tmp_path)
    assert (count, headers) == (
        4,
        ["delegated-apnic-latest: apnic serial 20261127 (19830613-20261126), 5 records"],
    )
    table = load_rir_table(tmp_path / "rir_country.csv")
    assert table.country(ipaddress.ip_address("1.0.3.255")) == "CN"  # 1.0.2.0 + 512 addresses
    assert table.country(ipaddress.ip_address("1.0.6.255")) == "HK"
    assert table.country(ipaddress.ip_address("1.0.7.0")) is None
    assert table.country(ipaddress.ip_address("1.0.8.1")) is None  # "available" rows are skipped
    sources = load_sources(data_dir=tmp_path)
    info = classify_address("8.8.8.8", sources=sources)
    assert (info.region, info.country) == (Region.HONGKONG, "HK")
    assert [(e.source, e.region) for e in info.evidence[:2]] == [
        ("rir", Region.HONGKONG),
        ("iptocc", Region.ABROAD),
    ]
    # an address the import does not cover falls back to iptocc
    info = classify_address("147.8.2.58", sources=sources)
    assert [e.source for e in info.evidence] == ["iptocc"]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**32 - 2), st.integers(1, 2**20), st.sampled_from(["CN", "HK", "US"])
        ),
        max_size=30,
    ),
    st.integers(0, 2**32 - 1),
)
def test_rir_table_lookup_matches_first_covering_range(rows, probe):
    from icpscan.locate.country import RirTable

    records = [DelegatedRecord(4, s, min(s + n, 2**32), c) for s, n, c in rows]
    table = RirTable()
    for r in merge_records(records):
        table.starts[4].append(r.start)
        table.ends[4].append(r.end)
        table.countries[4].append(r.country)
    expected = next(
        (
            r.country
            for r in sorted(records, key=lambda r: (r.start, r.end))
            if r.start <= probe < r.end
        ),
        None,
    )
    covering = [r for r in records if r.start <= probe < r.end]
    if covering:
        assert table.country(ipaddress.IPv4Address(probe)) in {r.country for r in covering}
        assert expected is not None
    else:
        assert table.country(ipaddress.IPv4Address(probe)) is None


# --- cloud imports -----------------------------------------------------------------------------

AWS = {
    "syncToken": "1",
    "createDate": "2026-11-20-10-00-00",
    "prefixes": [
        {
            "ip_prefix": "52.80.0.0/16",
            "region": "cn-north-1",
            "service": "AMAZON",
            "network_border_group": "cn-north-1",
        },
        {
            "ip_prefix": "52.80.0.0/16",
            "region": "cn-north-1",
            "service": "EC2",
            "network_border_group": "cn-north-1",
        },
        {
            "ip_prefix": "18.162.0.0/16",
            "region": "ap-east-1",
            "service": "EC2",
            "network_border_group": "ap-east-1",
        },
        {
            "ip_prefix": "3.5.0.0/19",
            "region": "ap-east-2",
            "service": "S3",
            "network_border_group": "ap-east-2",
        },
        {
            "ip_prefix": "3.0.0.0/15",
            "region": "us-east-1",
            "service": "EC2",
            "network_border_group": "us-east-1",
        },
        {
            "ip_prefix": "13.32.0.0/15",
            "region": "GLOBAL",
            "service": "CLOUDFRONT",
            "network_border_group": "GLOBAL",
        },
    ],
    "ipv6_prefixes": [
        {
            "ipv6_prefix": "2406:da1e::/32",
            "region": "ap-east-1",
            "service": "EC2",
            "network_border_group": "ap-east-1",
        },
    ],
}


def test_import_aws_replaces_only_aws_rows(tmp_path):
    src = tmp_path / "ip-ranges.json"
    src.write_text(json.dumps(AWS), encoding="utf-8")
    count, stamp = import_provider("aws", src, tmp_path)
    assert (count, stamp) == (6, "AWS ip-ranges.json createDate 2026-11-20-10-00-00")
    rows = read_rows(tmp_path / "cloud_ranges.csv")
    aws = {(r.prefix, r.region, r.cloud_region) for r in rows if r.source == "cloud:aws"}
    assert aws == {
        ("52.80.0.0/16", "mainland", "cn-north-1"),
        ("18.162.0.0/16", "hongkong", "ap-east-1"),
        ("3.5.0.0/19", "taiwan", "ap-east-2"),
        ("3.0.0.0/15", "abroad", "us-east-1"),
        ("13.32.0.0/15", "", "GLOBAL"),
        ("2406:da1e::/32", "hongkong", "ap-east-1"),
    }
    # the other providers' rows are kept
    assert any(r.source == "third-party:tencent" for r in rows)
    assert any(r.source == "cloud:azure-china" for r in rows)
    sources = load_sources(data_dir=tmp_path)
    assert classify_address("2406:da1e::1", sources=sources).region == Region.HONGKONG
    # 54.222.0.0/15 was a seed row: the import replaced it, so only the registry speaks now
    info = classify_address("54.222.0.1", sources=sources)
    assert "cloud:aws" not in [e.source for e in info.evidence]
    # GLOBAL: provider known, location not -> the registry decides
    info = classify_address("13.32.0.1", sources=sources)
    assert (info.provider, info.region) == ("Amazon Web Services", Region.ABROAD)


def test_import_gcp_and_azure(tmp_path):
    gcp = {"creationTime": "2026-11-20T00:00:00", "prefixes": [
        {"ipv4Prefix": "34.92.0.0/16", "service": "Google Cloud", "scope": "asia-east2"},
        {"ipv4Prefix": "35.194.128.0/17", "service": "Google Cloud", "scope": "asia-east1"},
        {"ipv6Prefix": "2600:1900::/35", "service": "Google Cloud", "scope": "us-central1"},
    ]}  # fmt: skip
    azure = {"changeNumber": 42, "cloud": "AzureChinaCloud", "values": [
        {"name": "AzureCloud.chinaeast2",
         "properties": {"region": "chinaeast2", "addressPrefixes": ["40.73.0.0/16"]}},
        {"name": "AzureCloud", "properties": {"region": "", "addressPrefixes": ["1.1.1.0/24"]}},
    ]}  # fmt: skip
    (tmp_path / "cloud.json").write_text(json.dumps(gcp), encoding="utf-8")
    (tmp_path / "tags.json").write_text(json.dumps(azure), encoding="utf-8")
    assert import_provider("gcp", tmp_path / "cloud.json", tmp_path)[0] == 3
    assert import_provider("azure", tmp_path / "tags.json", tmp_path) == (
        1, "Azure service tags (AzureChinaCloud) changeNumber 42",
    )  # fmt: skip
    sources = load_sources(data_dir=tmp_path)
    assert classify_address("35.194.200.1", sources=sources).region == Region.TAIWAN
    info = classify_address("40.73.1.1", sources=sources)
    assert (info.region, info.confidence, info.provider) == (
        Region.MAINLAND,
        "high",
        "Azure China (21Vianet)",
    )


@pytest.mark.parametrize(
    ("content", "kind", "message"),
    [
        ("{", "aws", "is not JSON"),
        ('{"values": []}', "aws", "not an AWS ip-ranges.json (no 'prefixes')"),
        ('{"prefixes": [{"ip_prefix": "1.2.3.0/99"}]}', "aws", "'1.2.3.0/99' is not an IP network"),
        ('{"prefixes": []}', "aws", "no prefixes found"),
        ('{"prefixes": []}', "azure", "not an Azure service-tags file (no 'values')"),
    ],
)
def test_cloud_import_errors(tmp_path, content, kind, message):
    src = tmp_path / "in.json"
    src.write_text(content, encoding="utf-8")
    with pytest.raises(CloudDataError) as caught:
        import_provider(kind, src, tmp_path)
    assert message in str(caught.value)
    assert not (tmp_path / "cloud_ranges.csv").exists()


# --- Cymru rows --------------------------------------------------------------------------------


def test_parse_origin_rows():
    record = parse_origin('"24151 | 1.2.4.0/24 | CN | apnic | 2010-05-11"')
    assert (record.asns, record.prefix, record.country, record.registry, record.allocated) == (
        (24151,), "1.2.4.0/24", "CN", "apnic", "2010-05-11",
    )  # fmt: skip
    multi = parse_origin("4134 4837 | 1.80.0.0/13 | cn | apnic |")
    assert (multi.asns, multi.country, multi.allocated) == ((4134, 4837), "CN", None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "24151 | 1.2.4.0/24 | CN | nosuchrir | 2010",
        "x | 1.2.4.0/24 | CN | apnic | 2010",
        "24151 | nope | CN | apnic | 2010",
    ],
)
def test_parse_origin_rejects_bad_rows(text):
    with pytest.raises(CymruParseError):
        parse_origin(text)


def test_parse_as_name():
    text = "4134 | CN | apnic | 2002-02-21 | CHINANET-BACKBONE No.31,Jin-rong Street, CN"
    assert parse_as_name(text) == "CHINANET-BACKBONE No.31,Jin-rong Street, CN"
    with pytest.raises(CymruParseError):
        parse_as_name("4134 | CN | apnic | 2002-02-21 | ")


def test_origin_names():
    assert origin_name(ipaddress.ip_address("1.2.4.8")) == "8.4.2.1.origin.asn.cymru.com"
    assert origin_name(ipaddress.ip_address("2400:3200::1"), "zone.test") == (
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.3.0.0.4.2.origin6.zone.test"
    )
    # trailing zero groups are dropped, as ipwhois does
    assert (
        origin_name(ipaddress.ip_address("2400:3200::")) == "0.0.2.3.0.0.4.2.origin6.asn.cymru.com"
    )


@given(st.ip_addresses())
def test_origin_name_reverses_to_the_address(ip):
    name = origin_name(ip)
    labels = name.split(".")
    if ip.version == 4:
        assert ".".join(reversed(labels[:4])) == str(ip)
    else:
        nibbles = "".join(reversed(labels[: labels.index("origin6")]))
        assert len(nibbles) % 4 == 0
        assert ipaddress.IPv6Address(int(nibbles.ljust(32, "0"), 16)) == ip


@given(st.text(max_size=80))
def test_cymru_parsers_never_raise_anything_but_their_error(text):
    for parse in (parse_origin, parse_as_name):
        with contextlib.suppress(CymruParseError):
            parse(text)


# --- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [("1.2.3.4", "1.2.3.4", 53), ("127.0.0.1:5353", "127.0.0.1", 5353), ("::1", "::1", 53),
     ("[::1]:5353", "::1", 5353), ("[2400:3200::1]", "2400:3200::1", 53)],
)  # fmt: skip
def test_nameserver_parse(text, host, port):
    ns = Nameserver.parse(text)
    assert (ns.host, ns.port) == (host, port)
    assert Nameserver.parse(str(ns)) == ns


@pytest.mark.parametrize(
    "text", ["dns.google", "1.2.3.4:0", "1.2.3.4:99999", "[::1]:x", "", "1.2.3.4:53:53"]
)
def test_nameserver_parse_rejects(text):
    with pytest.raises(ResolverConfigError):
        Nameserver.parse(text)


@given(st.ip_addresses(), st.integers(1, 65535))
def test_nameserver_round_trip(ip, port):
    ns = Nameserver(str(ip), port)
    assert Nameserver.parse(str(ns)) == ns


def test_vantage_parse():
    assert Vantage.parse("mainland") == Vantage("mainland", MAINLAND_SUBNET, ())
    assert Vantage.parse("gz,ecs=1.80.3.4/24") == Vantage("gz", "1.80.3.0/24", ())
    assert Vantage.parse("cn, ns=223.5.5.5, ns=[::1]:5353") == Vantage(
        "cn", None, (Nameserver("223.5.5.5"), Nameserver("::1", 5353))
    )
    both = Vantage.parse("cn,ecs=240e::/24,ns=127.0.0.1:53")
    assert (both.subnet, both.nameservers) == ("240e::/24", (Nameserver("127.0.0.1"),))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "vantage '' must start with a name, e.g. mainland"),
        ("ecs=1.2.3.0/24", "vantage 'ecs=1.2.3.0/24' must start with a name, e.g. mainland"),
        ("default", "vantage name 'default' is reserved for the plain view"),
        ("x,ecs=nope", "vantage 'x,ecs=nope': 'nope' is not a subnet"),
        ("x,foo=1", "vantage 'x,foo=1': unknown key 'foo' (ecs=, ns=)"),
        (
            "beijing",
            "vantage 'beijing' needs ecs=CIDR and/or ns=HOST[:PORT] "
            "(only 'mainland' has a built-in subnet)",
        ),
    ],
)
def test_vantage_parse_errors(text, message):
    with pytest.raises(ResolverConfigError) as caught:
        Vantage.parse(text)
    assert str(caught.value) == message


# --- prefix table ------------------------------------------------------------------------------


@given(
    st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)), max_size=40),
    st.integers(0, 2**32 - 1),
)
def test_prefix_table_is_longest_match(raw, probe):
    table: PrefixTable[str] = PrefixTable()
    networks = set()
    for value, length in raw:
        net = ipaddress.IPv4Network((value >> (32 - length) << (32 - length), length))
        networks.add(net)
        table.add(net, str(net))
    address = ipaddress.IPv4Address(probe)
    containing = [n for n in networks if address in n]
    hit = table.lookup(address)
    if containing:
        best = max(containing, key=lambda n: n.prefixlen)
        assert hit == (best, str(best))
    else:
        assert hit is None
    assert len(table) == len(networks)


@given(st.from_regex(r"[a-zA-Z0-9_.-]{1,40}", fullmatch=True))
def test_name_normalisation_fast_path_matches_dnspython(text):
    import dns.exception
    import dns.name

    from icpscan.resolve import normalise_name

    try:
        slow = dns.name.from_text(text.strip().rstrip(".")).to_text(omit_final_dot=True).lower()
    except (dns.exception.DNSException, UnicodeError):
        slow = None
    if not text.strip().rstrip("."):
        slow = None
    try:
        fast = normalise_name(text)
    except ValueError:
        fast = None
    assert fast == slow
    if fast is not None:
        assert normalise_name(fast) == fast


# --- resolver configuration (no traffic) -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        ([], {}, "no nameserver given: pass --nameserver HOST[:PORT] (icpscan never falls back "
         "to the system resolver)"),
        (["127.0.0.1"], {"timeout": 0}, "timeout must be positive"),
        (["127.0.0.1"], {"retries": -1}, "retries must be 0 or more"),
        (["localhost"], {}, "nameserver 'localhost' must be an IP address with an optional port "
         "(HOST[:PORT], [V6]:PORT)"),
    ],
)  # fmt: skip
def test_resolver_configuration_errors(args, options, message):
    from icpscan.resolve import Resolver

    with pytest.raises(ResolverConfigError) as caught:
        Resolver(args, **options)
    assert str(caught.value) == message


def test_impossible_names_fail_as_data_without_a_query():
    import asyncio

    from icpscan.models import DnsFailure
    from icpscan.resolve import Resolver

    async def go():
        async with Resolver(["127.0.0.1:9"]) as resolver:
            found = await resolver.lookup("a..b", "A")
            resolution = await resolver.resolve("x" * 64 + ".cn")
            with pytest.raises(ValueError, match="unsupported record type 'MX'"):
                await resolver.lookup("example.cn", "MX")
            return found, resolution, resolver.stats.queries

    found, resolution, queries = asyncio.run(go())
    assert found.failure == DnsFailure(
        "a..b", "A", "error", "invalid name 'a..b': A DNS label is empty."
    )
    assert resolution.failures[0].error == "error"
    assert "label is > 63 octets" in resolution.failures[0].detail
    assert queries == 0
