"""Resolve + locate against the sandbox DNS server: real UDP/TCP on 127.0.0.1, nothing else."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import subprocess
import sys

import pytest

from icpscan.locate import LocateConfig, Locator, load_sources, locate
from icpscan.locate.asn import AsnRecord, CymruClient
from icpscan.models import DnsFailure, Region
from icpscan.resolve import Resolver, Vantage
from icpscan.sandbox.dns import DnsServer
from icpscan.sandbox.world import AsnInfo, AsnPrefix, DnsFault, DnsName, View, World
from tests.conftest import REPO_ROOT

CYMRU = [
    AsnPrefix("202.96.128.0/18", (4134,), "CN", "apnic", "1998-07-29"),
    AsnPrefix("8.8.8.0/24", (15169,), "US", "arin", "2023-12-28"),
    AsnPrefix("47.52.0.0/16", (45102,), "US", "arin", "2016-02-25"),
    AsnPrefix("18.162.0.0/16", (16509,), "US", "arin", "2018-11-06"),
    AsnPrefix("147.8.0.0/16", (4528,), "HK", "apnic", ""),
    AsnPrefix("2400:3200::/32", (37963, 45102), "CN", "apnic", "2010-12-30"),
]
AS_NAMES = {
    4134: AsnInfo(4134, "CN", "apnic", "2002-02-21", "CHINANET-BACKBONE No.31,Jin-rong Street, CN"),
    15169: AsnInfo(15169, "US", "arin", "2000-03-30", "GOOGLE, US"),
    45102: AsnInfo(45102, "US", "arin", "2009-09-09", "ALIBABA-US-NET, US"),
    16509: AsnInfo(16509, "US", "arin", "2000-05-04", "AMAZON-02, US"),
    4528: AsnInfo(4528, "HK", "apnic", "1995-01-01", "HKU-AS-HK The University of Hong Kong, HK"),
    37963: AsnInfo(
        37963,
        "CN",
        "apnic",
        "2007-03-14",
        "ALIBABA-CN-NET Hangzhou Alibaba Advertising Co.,Ltd., CN",
    ),
}


def _world() -> World:
    a = lambda *v, **kw: DnsName({"A": list(v)}, **kw)  # noqa: E731
    dns = {
        "mainland.test": DnsName(
            {"A": ["202.96.128.86"], "NS": ["ns1.dnspod.net", "ns2.dnspod.net"]}
        ),
        "alicdn.test": DnsName({"CNAME": ["alicdn.test.w.kunlunaq.com"]}, ttl=600),
        "alicdn.test.w.kunlunaq.com": a("47.52.0.10", ttl=60),
        "cloudfront.test": DnsName({"CNAME": ["hop.cloudfront.test"]}, ttl=300),
        "hop.cloudfront.test": DnsName({"CNAME": ["d123.cloudfront.net"]}, ttl=120),
        "d123.cloudfront.net": a("18.162.0.5", "18.162.0.6", ttl=30),
        "mixed.test": a("202.96.128.86", "8.8.8.8"),
        "v6only.test": DnsName({"AAAA": ["2400:3200::1"]}),
        "dual.test": DnsName({"AAAA": ["2400:3200::1"], "A": ["8.8.8.8"]}),
        "wwwonly.test": DnsName({"TXT": ["v=spf1 -all"]}),
        "www.wwwonly.test": a("147.8.2.58"),
        "private.test": a("10.0.0.5"),
        "dangling.test": DnsName({"CNAME": ["missing.nowhere.test"]}),
        "geo.test": DnsName(
            {"A": ["8.8.8.8"]},
            views=[View("mainland", ["114.114.114.0/24"], {"CNAME": ["geo.test.w.kunlunaq.com"]})],
        ),
        "geo.test.w.kunlunaq.com": a("202.96.128.86"),
    }
    for fault in DnsFault:
        dns[f"{fault.value}.test"] = DnsName({"A": ["8.8.8.8"]}, fault=fault)
    return World(dns=dns, asn_prefixes=list(CYMRU), asn_names=dict(AS_NAMES))


@pytest.fixture(scope="module")
def server():
    with DnsServer(_world()) as running:
        yield running


@pytest.fixture(scope="module")
def nameserver(server):
    return f"127.0.0.1:{server.port}"


def run(coro):
    return asyncio.run(coro)


async def _with_resolver(nameserver, action, **options):
    async with Resolver([nameserver], **options) as resolver:
        return await action(resolver)


# --- resolver: every fault as data -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "error"),
    [("nxdomain.test", "nxdomain"), ("servfail.test", "servfail"), ("refused.test", "refused"),
     ("no_answer.test", "no_answer"), ("not-in-the-world.test", "nxdomain")],
)  # fmt: skip
def test_dns_faults_are_recorded_failures(nameserver, name, error):
    port = nameserver.split(":")[1]
    found = run(_with_resolver(nameserver, lambda r: r.lookup(name, "A"), timeout=0.5, retries=0))
    assert found.answer is None
    rcode = {"nxdomain": "NXDOMAIN", "servfail": "SERVFAIL", "refused": "REFUSED"}.get(error)
    detail = (
        f"{rcode} from 127.0.0.1:{port}"
        if rcode
        else f"no A records (NOERROR) from 127.0.0.1:{port}"
    )
    assert found.failure == DnsFailure(name, "A", error, detail, "default", ())


def test_timeout_is_recorded_after_the_retries(nameserver):
    async def action(resolver):
        found = await resolver.lookup("timeout.test", "A")
        return found, resolver.stats

    found, stats = run(_with_resolver(nameserver, action, timeout=0.15, retries=2))
    assert found.failure == DnsFailure(
        "timeout.test", "A", "timeout", f"no reply from {nameserver} after 3 tries", "default", ()
    )
    assert (stats.queries, stats.timeouts) == (3, 3)


def test_truncated_udp_answer_falls_back_to_tcp(nameserver):
    async def action(resolver):
        return await resolver.lookup("truncate.test", "A"), resolver.stats

    found, stats = run(_with_resolver(nameserver, action, timeout=1.0, retries=0))
    assert (found.records, found.failure, stats.tcp_fallbacks) == (("8.8.8.8",), None, 1)


def test_dangling_cname_is_nxdomain_with_the_chain(nameserver):
    found = run(_with_resolver(nameserver, lambda r: r.lookup("dangling.test", "A"), retries=0))
    assert (found.failure.error, found.failure.cnames) == ("nxdomain", ("missing.nowhere.test",))


def test_cname_chain_and_ttl(nameserver):
    found = run(_with_resolver(nameserver, lambda r: r.lookup("cloudfront.test", "A")))
    assert found.answer.records == ("18.162.0.5", "18.162.0.6")
    assert found.answer.cnames == ("hop.cloudfront.test", "d123.cloudfront.net")
    assert found.answer.ttl == 30  # the smallest TTL along the chain


def test_ns_is_optional_context(nameserver):
    resolution = run(_with_resolver(nameserver, lambda r: r.resolve("mainland.test", with_ns=True)))
    assert resolution.ns == ("ns1.dnspod.net", "ns2.dnspod.net")
    assert resolution.addresses == ("202.96.128.86",)


def test_www_fallback_and_ipv6_only(nameserver):
    async def action(resolver):
        return await asyncio.gather(
            resolver.resolve("wwwonly.test"), resolver.resolve("v6only.test")
        )

    www, v6 = run(_with_resolver(nameserver, action))
    assert (www.name, www.addresses) == ("www.wwwonly.test", ("147.8.2.58",))
    assert [(f.name, f.rtype, f.error) for f in www.failures] == [
        ("wwwonly.test", "A", "no_answer"),
        ("wwwonly.test", "AAAA", "no_answer"),
        ("www.wwwonly.test", "AAAA", "no_answer"),
    ]
    assert (v6.name, v6.addresses) == ("v6only.test", ("2400:3200::1",))


def test_cache_hits_and_coalescing(nameserver, server):
    async def action(resolver):
        before = server.queries
        first = await asyncio.gather(*(resolver.lookup("mixed.test", "A") for _ in range(10)))
        again = await resolver.addresses("mixed.test")
        return first, again, server.queries - before, resolver.stats

    first, again, served, stats = run(_with_resolver(nameserver, action))
    assert {f.records for f in first} == {("202.96.128.86", "8.8.8.8")}
    assert again == ["202.96.128.86", "8.8.8.8"]
    assert served == 2  # one A (shared by 11 callers), one AAAA
    assert (stats.lookups, stats.cache_hits, stats.queries) == (12, 10, 2)


def test_the_answer_cache_is_bounded_and_keeps_what_is_used(nameserver, server):
    # a scan of a million domains must not keep a million answers; a hot name stays cached
    async def action(resolver):
        await resolver.lookup("mixed.test", "A")
        await resolver.lookup("v6only.test", "AAAA")
        await resolver.lookup("mixed.test", "A")  # a hit: now the most recently used
        await resolver.lookup("www.wwwonly.test", "A")  # evicts v6only.test, not mixed.test
        before = server.queries
        await resolver.lookup("mixed.test", "A")
        hot = server.queries - before
        await resolver.lookup("v6only.test", "AAAA")
        return hot, server.queries - before - hot, len(resolver._cache)

    hot, evicted, size = run(_with_resolver(nameserver, action, cache_size=2))
    assert (hot, evicted, size) == (0, 1, 2)


def test_dead_nameserver_then_live_one(nameserver):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    silent.bind(("127.0.0.1", 0))
    dead = f"127.0.0.1:{silent.getsockname()[1]}"
    try:

        async def action(resolver):
            return await resolver.lookup("mainland.test", "A"), resolver.stats

        found, stats = run(_with_resolver_list([dead, nameserver], action, timeout=0.15, retries=0))
    finally:
        silent.close()
    assert (found.records, stats.queries, stats.timeouts) == (("202.96.128.86",), 2, 1)


def test_refusing_nameserver_then_another(server, nameserver):
    world = _world()
    world.dns["mainland.test"] = DnsName({"A": ["202.96.128.86"]}, fault=DnsFault.REFUSED)
    with DnsServer(world) as refusing:
        found = run(
            _with_resolver_list(
                [f"127.0.0.1:{refusing.port}", nameserver], lambda r: r.lookup("mainland.test", "A")
            )
        )
    assert found.records == ("202.96.128.86",)


async def _with_resolver_list(servers, action, **options):
    async with Resolver(servers, **options) as resolver:
        return await action(resolver)


def test_ecs_vantage_gets_the_mainland_answer(nameserver):
    async def action(resolver):
        return await asyncio.gather(
            resolver.resolve("geo.test"), resolver.resolve("geo.test", Vantage.parse("mainland"))
        )

    plain, mainland = run(_with_resolver(nameserver, action))
    assert (plain.view, plain.addresses, plain.cnames, plain.subnet) == (
        "default",
        ("8.8.8.8",),
        (),
        None,
    )
    assert (mainland.view, mainland.addresses, mainland.cnames, mainland.subnet) == (
        "mainland", ("202.96.128.86",), ("geo.test.w.kunlunaq.com",), "114.114.114.0/24",
    )  # fmt: skip


# --- Team Cymru through the sandbox ------------------------------------------------------------


def test_cymru_lookup_cached_per_prefix_and_as(nameserver, server):
    async def action(resolver):
        client = CymruClient(resolver)
        before = server.queries
        first = await client.lookup(ipaddress.ip_address("8.8.8.8"))
        after_first = server.queries - before
        second = await client.lookup(ipaddress.ip_address("8.8.8.4"))  # same /24: no query
        multi = await client.lookup(ipaddress.ip_address("2400:3200::1"))
        missing = await client.lookup(ipaddress.ip_address("9.9.9.9"))
        return first, second, multi, missing, after_first, server.queries - before

    first, second, multi, missing, after_first, total = run(_with_resolver(nameserver, action))
    assert first == AsnRecord((15169,), "8.8.8.0/24", "US", "arin", "2023-12-28", "GOOGLE, US")
    assert second == first
    assert after_first == 2  # origin + AS name
    assert multi == AsnRecord(
        (37963, 45102), "2400:3200::/32", "CN", "apnic", "2010-12-30",
        "ALIBABA-CN-NET Hangzhou Alibaba Advertising Co.,Ltd., CN",
    )  # fmt: skip
    assert isinstance(missing, DnsFailure) and missing.error == "nxdomain"
    assert total == 2 + 2 + 1


def test_ipwhois_reads_the_same_sandbox_zone(server):
    """The naive pattern of ENGINEERING-NOTES §3 (dns only, resolver replaced) agrees with us."""
    import dns.resolver
    from ipwhois.asn import IPASN
    from ipwhois.net import Net

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = server.port
    resolver.timeout = resolver.lifetime = 2
    net = Net("202.96.128.86")
    net.dns_resolver = resolver
    found = IPASN(net).lookup(asn_methods=["dns"], get_asn_description=True, retry_count=1)
    assert found == {
        "asn": "4134", "asn_cidr": "202.96.128.0/18", "asn_country_code": "CN",
        "asn_registry": "apnic", "asn_date": "1998-07-29",
        "asn_description": "CHINANET-BACKBONE No.31,Jin-rong Street, CN",
    }  # fmt: skip


# --- locate: verdicts --------------------------------------------------------------------------


def _locate(nameserver, domains, **options):
    config = LocateConfig(nameservers=[nameserver], timeout=0.3, retries=0, **options)

    async def collect():
        return {v.domain: v async for v in locate(domains, config=config)}

    return run(collect())


def test_verdicts_for_the_whole_world(nameserver):
    verdicts = _locate(
        nameserver,
        ["mainland.test", "alicdn.test", "cloudfront.test", "mixed.test", "v6only.test",
         "dual.test", "wwwonly.test", "private.test", "nxdomain.test", "timeout.test", "8.8.8.8"],
    )  # fmt: skip
    summary = {d: (v.region, v.confidence, v.addresses) for d, v in verdicts.items()}
    assert summary == {
        "mainland.test": (Region.MAINLAND, "medium", ("202.96.128.86",)),
        "alicdn.test": (Region.MAINLAND, "medium", ("47.52.0.10",)),
        "cloudfront.test": (Region.HONGKONG, "high", ("18.162.0.5", "18.162.0.6")),
        "mixed.test": (Region.MIXED, "medium", ("202.96.128.86", "8.8.8.8")),
        "v6only.test": (Region.MAINLAND, "low", ("2400:3200::1",)),  # AS37963 mixes regions
        "dual.test": (Region.MIXED, "low", ("8.8.8.8", "2400:3200::1")),
        "wwwonly.test": (Region.HONGKONG, "medium", ("147.8.2.58",)),
        "private.test": (Region.UNKNOWN, "low", ("10.0.0.5",)),
        "nxdomain.test": (Region.UNKNOWN, "low", ()),
        "timeout.test": (Region.UNKNOWN, "low", ()),
        "8.8.8.8": (Region.ABROAD, "medium", ("8.8.8.8",)),
    }
    alicdn = verdicts["alicdn.test"]
    assert (alicdn.cdn.name, alicdn.cdn.mainland_nodes, alicdn.cnames) == (
        "Alibaba Cloud CDN", "yes", ("alicdn.test.w.kunlunaq.com",),
    )  # fmt: skip
    assert alicdn.provider == "Alibaba Cloud"
    assert alicdn.views["default"].region == Region.MAINLAND  # the CDN rule applies per view too
    assert [(a.asn, a.name) for a in alicdn.asns] == [(45102, "ALIBABA-US-NET, US")]
    cloudfront = verdicts["cloudfront.test"]
    assert (cloudfront.cdn.name, cloudfront.cdn.mainland_nodes) == ("AWS CloudFront", "no")
    assert cloudfront.cnames == ("hop.cloudfront.test", "d123.cloudfront.net")
    assert [f.error for f in verdicts["nxdomain.test"].errors] == ["nxdomain"] * 4
    assert [f.error for f in verdicts["timeout.test"].errors] == ["timeout"] * 2 + ["nxdomain"] * 2
    assert verdicts["private.test"].address_info[0].special == "private"
    assert verdicts["private.test"].asns == ()  # never looked up
    info = verdicts["mainland.test"].address_info[0]
    assert (info.asn, info.asn_country, info.registry, info.prefix, info.provider) == (
        4134, "CN", "apnic", "202.96.128.0/18", "China Telecom",
    )  # fmt: skip


def test_both_views_recorded_when_asked(nameserver):
    verdict = _locate(nameserver, ["geo.test"], vantages=[Vantage.parse("mainland")])["geo.test"]
    assert verdict.region == Region.MIXED
    assert verdict.addresses == ("8.8.8.8", "202.96.128.86")
    assert {k: (v.region, v.addresses, v.subnet) for k, v in verdict.views.items()} == {
        "default": (Region.ABROAD, ("8.8.8.8",), None),
        "mainland": (Region.MAINLAND, ("202.96.128.86",), "114.114.114.0/24"),
    }
    assert verdict.cdn.suffix == "kunlunaq.com"
    # without the vantage, the mainland CDN is invisible
    plain = _locate(nameserver, ["geo.test"])["geo.test"]
    assert (plain.region, plain.cdn, list(plain.views)) == (Region.ABROAD, None, ["default"])


def test_named_mainland_resolver_vantage(nameserver):
    world = _world()
    world.dns["geo.test"] = DnsName({"A": ["202.96.128.99"]})
    with DnsServer(world) as mainland_resolver:
        spec = f"cn,ns=127.0.0.1:{mainland_resolver.port}"
        verdict = _locate(nameserver, ["geo.test"], vantages=[Vantage.parse(spec)])["geo.test"]
    assert {k: v.addresses for k, v in verdict.views.items()} == {
        "default": ("8.8.8.8",), "cn": ("202.96.128.99",),
    }  # fmt: skip


def test_ranges_file_override_end_to_end(nameserver, tmp_path):
    ranges = tmp_path / "ours.csv"
    ranges.write_text("prefix,region,provider\n8.8.8.0/24,mainland,Our IDC\n", encoding="utf-8")
    config = LocateConfig(nameservers=[nameserver], sources=load_sources(ranges_file=ranges))

    async def one():
        async with Locator(config) as locator:
            return await locator.locate_one("mixed.test")

    verdict = run(one())
    assert (verdict.region, verdict.confidence) == (Region.MAINLAND, "medium")
    assert [i.provider for i in verdict.address_info] == ["China Telecom", "Our IDC"]


def test_locator_reuses_address_classification(nameserver, server):
    config = LocateConfig(nameservers=[nameserver])

    async def twice():
        async with Locator(config) as locator:
            await locator.locate_one("mainland.test")
            before = server.queries
            await locator.locate_one("mixed.test")  # 202.96.128.86 is known: only 8.8.8.8 is new
            return server.queries - before

    assert run(twice()) == 2 + 2  # A + AAAA, then Cymru origin + AS name for 8.8.8.8


# --- CLI ---------------------------------------------------------------------------------------


def _cli(*argv, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "icpscan", *argv], cwd=REPO_ROOT, capture_output=True, text=True,
        input=stdin, timeout=60, check=False,
    )  # fmt: skip


def test_cli_jsonl_fields(nameserver):
    done = _cli(
        "locate", "alicdn.test", "nxdomain.test", "--nameserver", nameserver, "--timeout", "0.5"
    )
    assert (done.returncode, done.stderr) == (0, "")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(r["domain"] for r in lines) == ["alicdn.test", "nxdomain.test"]
    record = next(r for r in lines if r["domain"] == "alicdn.test")
    assert list(record) == [
        "schema_version", "domain", "region", "addresses", "cnames", "asns", "provider", "cdn",
        "confidence", "evidence", "errors", "views", "ns", "address_info", "answers",
    ]  # fmt: skip
    assert {
        k: record[k] for k in ("region", "addresses", "cnames", "asns", "provider", "confidence")
    } == {
        "region": "mainland",
        "addresses": ["47.52.0.10"],
        "cnames": ["alicdn.test.w.kunlunaq.com"],
        "asns": [{"asn": 45102, "name": "ALIBABA-US-NET, US"}],
        "provider": "Alibaba Cloud",
        "confidence": "medium",
    }
    assert record["cdn"] == {
        "name": "Alibaba Cloud CDN", "provider": "Alibaba Cloud", "mainland_nodes": "yes",
        "suffix": "kunlunaq.com", "cname": "alicdn.test.w.kunlunaq.com",
    }  # fmt: skip
    assert record["errors"] == []
    assert {"source": "cdn-cname", "region": "mainland"}.items() <= next(
        e for e in record["evidence"] if e["source"] == "cdn-cname"
    ).items()
    nx = next(r for r in lines if r["domain"] == "nxdomain.test")
    assert (nx["region"], nx["addresses"], nx["cdn"]) == ("unknown", [], None)
    assert [(e["name"], e["rtype"], e["error"]) for e in nx["errors"]] == [
        ("nxdomain.test", "A", "nxdomain"), ("nxdomain.test", "AAAA", "nxdomain"),
        ("www.nxdomain.test", "A", "nxdomain"), ("www.nxdomain.test", "AAAA", "nxdomain"),
    ]  # fmt: skip


def test_cli_json_table_file_and_vantage(nameserver, tmp_path):
    listing = tmp_path / "domains.txt"
    listing.write_text("# list\ngeo.test\nmainland.test\n", encoding="utf-8")
    done = _cli(
        "locate",
        "-f",
        str(listing),
        "--nameserver",
        nameserver,
        "--vantage",
        "mainland",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    assert [(r["domain"], r["region"]) for r in records] == [
        ("geo.test", "mixed"),
        ("mainland.test", "mainland"),
    ]
    assert list(records[0]["views"]) == ["default", "mainland"]
    done = _cli(
        "locate", "mainland.test", "geo.test", "--nameserver", nameserver, "--format", "table"
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert rows[0] == ["domain", "region", "confidence", "addresses", "provider", "cdn", "errors"]
    assert rows[1][:4] == ["mainland.test", "mainland", "medium", "202.96.128.86"]
    assert rows[2][:4] == ["geo.test", "abroad", "medium", "8.8.8.8"]


def test_one_failing_domain_does_not_stop_the_scan(nameserver, caplog):
    class Fragile(Locator):
        async def locate_one(self, domain):
            if domain == "boom.test":
                raise RuntimeError("boom")
            return await super().locate_one(domain)

    async def scan():
        async with Fragile(LocateConfig(nameservers=[nameserver])) as locator:
            return {v.domain: v async for v in locator.locate_many(["mainland.test", "boom.test"])}

    verdicts = run(scan())
    assert verdicts["mainland.test"].region == Region.MAINLAND
    boom = verdicts["boom.test"]
    assert (boom.region, [(f.error, f.detail) for f in boom.errors]) == (
        Region.UNKNOWN, [("error", "internal error: RuntimeError('boom')")],
    )  # fmt: skip
    assert "locate 'boom.test' failed" in caplog.text


def test_cli_without_asn_lookups(nameserver, server):
    before = server.queries
    done = _cli("locate", "mainland.test", "--nameserver", nameserver, "--no-asn")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert (record["region"], record["asns"], record["address_info"][0]["asn"]) == (
        "mainland",
        [],
        None,
    )
    assert server.queries - before == 2  # A and AAAA only


def test_cli_output_file(nameserver, tmp_path):
    target = tmp_path / "out.jsonl"
    done = _cli("locate", "mainland.test", "--nameserver", nameserver, "-o", str(target))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert json.loads(target.read_text(encoding="utf-8"))["region"] == "mainland"


# --- the scenario generator's ground truth -------------------------------------------------------

# The scenario puts Tencent's mainland IPv6 in 240d:c000::/20 [marked uncertain there]; iptocc
# registers it to SG while the sandbox's Cymru zone says CN/AS45090 (a mainland AS): locate
# refuses to decide between them (unknown), which is the honest answer for such data.
_DISPUTED = ipaddress.ip_network("240d:c000::/20")


@pytest.mark.parametrize(("sites", "seed", "profile"), [(300, 1, "realistic"), (300, 7, "faults")])
def test_regions_agree_with_scenario_truth(sandbox_factory, sites, seed, profile):
    sandbox = sandbox_factory(sites, seed, profile)
    domains = sandbox.scenario.domains
    config = {"nameservers": [sandbox.nameserver], "timeout": 0.5, "retries": 1}

    async def scan(**extra):
        async with Locator(LocateConfig(**config, **extra)) as locator:
            return {v.domain: v async for v in locator.locate_many(domains)}

    plain = run(scan())
    mainland = run(scan(vantages=[Vantage.parse("mainland")]))
    wrong = {}
    for domain in domains:
        truth = sandbox.scenario.truth[domain]
        seen = (plain[domain].region, mainland[domain].views["mainland"].region)
        if seen != (truth.region, truth.region_mainland_vantage):
            wrong[domain] = (seen, plain[domain].addresses)
    disputed = {
        d: w for d, w in wrong.items()
        if w[0] == (Region.UNKNOWN, Region.UNKNOWN)
        and any(ipaddress.ip_address(a) in _DISPUTED for a in w[1])
    }  # fmt: skip
    assert {d: w for d, w in wrong.items() if d not in disputed} == {}
    assert len(disputed) <= sites // 50
