"""Throughput of resolve + classify (``icpscan.locate``) against the sandbox DNS server.

Builds a synthetic World of N domains (CNAMEs into mainland and foreign CDNs, IPv4/IPv6 mixes,
IPv6-only and www-only sites, NXDOMAIN/SERVFAIL/NODATA faults, a Team-Cymru table of real
public prefixes), serves it with the sandbox DnsServer on 127.0.0.1, and prints:

* domains/s of ``Locator.locate_many`` (A + AAAA + Cymru per new prefix) at 1k and 20k domains;
* the same with ``--vantage``-style second view (ECS) and with NS lookups, for reference;
* the naive baseline in the same run: sync dnspython ``Resolver.resolve`` per query plus
  ipwhois ``IPASN(Net(ip)).lookup(asn_methods=["dns"])`` per address (with Net's resolver
  replaced by one pointing at the sandbox, as ENGINEERING-NOTES §3 shows);
* lookups/s of the pure classification core (``classify_address``).

Everything stays on loopback (the egress guard is armed). Run:
    /work/venv/bin/python bench/locate_bench.py [--sizes 1000 20000] [--baseline 400]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from icpscan import egress
from icpscan.locate import LocateConfig, Locator, classify_address, load_sources
from icpscan.resolve import Vantage
from icpscan.sandbox.dns_process import DnsServerProcess
from icpscan.sandbox.world import AsnInfo, AsnPrefix, DnsFault, DnsName, View, World

# (prefix, asn, country, registry, as name) — real public space, so classification is real.
PREFIXES = [
    ("1.80.0.0/13", 4134, "CN", "apnic", "CHINANET-BACKBONE No.31,Jin-rong Street, CN"),
    ("202.96.128.0/18", 4134, "CN", "apnic", "CHINANET-BACKBONE No.31,Jin-rong Street, CN"),
    (
        "220.181.0.0/16",
        23724,
        "CN",
        "apnic",
        "CHINANET-IDC-BJ-AP IDC, China Telecommunications Corporation, CN",
    ),
    (
        "123.125.0.0/16",
        4808,
        "CN",
        "apnic",
        "CHINA169-BJ China Unicom Beijing Province Network, CN",
    ),
    ("39.156.0.0/16", 9808, "CN", "apnic", "CMNET-GD Guangdong Mobile Communication Co.Ltd., CN"),
    (
        "47.96.0.0/11",
        37963,
        "CN",
        "apnic",
        "ALIBABA-CN-NET Hangzhou Alibaba Advertising Co.,Ltd., CN",
    ),
    (
        "39.96.0.0/13",
        37963,
        "CN",
        "apnic",
        "ALIBABA-CN-NET Hangzhou Alibaba Advertising Co.,Ltd., CN",
    ),
    (
        "119.29.0.0/16",
        45090,
        "CN",
        "apnic",
        "TENCENT-NET-AP Shenzhen Tencent Computer Systems Company Limited, CN",
    ),
    ("52.80.0.0/15", 55960, "CN", "apnic", "BJ-GUANGHUAN-AP Beijing Guanghuan Xinwang Digital, CN"),
    ("47.52.0.0/16", 45102, "US", "arin", "ALIBABA-US-NET, US"),
    (
        "119.28.0.0/16",
        132203,
        "CN",
        "apnic",
        "TENCENT-NET-AP-CN Tencent Building, Kejizhongyi Avenue, CN",
    ),
    ("147.8.0.0/16", 4528, "HK", "apnic", "HKU-AS-HK The University of Hong Kong, HK"),
    ("203.218.0.0/16", 4760, "HK", "apnic", "HKTIMS-AP HKT Limited, HK"),
    ("18.162.0.0/16", 16509, "US", "arin", "AMAZON-02, US"),
    (
        "202.175.0.0/16",
        4609,
        "MO",
        "apnic",
        "CTM-MO Companhia de Telecomunicacoes de Macau SARL, MO",
    ),
    ("168.95.0.0/16", 3462, "TW", "apnic", "HINET Data Communication Business Group, TW"),
    ("8.8.8.0/24", 15169, "US", "arin", "GOOGLE, US"),
    ("104.16.0.0/13", 13335, "US", "arin", "CLOUDFLARENET, US"),
    ("151.101.0.0/16", 54113, "US", "arin", "FASTLY, US"),
    (
        "193.0.0.0/21",
        3333,
        "NL",
        "ripencc",
        "RIPE-NCC-AS Reseaux IP Europeens Network Coordination Centre, NL",
    ),
    (
        "2400:3200::/32",
        37963,
        "CN",
        "apnic",
        "ALIBABA-CN-NET Hangzhou Alibaba Advertising Co.,Ltd., CN",
    ),
    ("240e::/20", 4134, "CN", "apnic", "CHINANET-BACKBONE No.31,Jin-rong Street, CN"),
    ("2001:4860::/32", 15169, "US", "arin", "GOOGLE, US"),
]
V4 = [p for p in PREFIXES if ":" not in p[0]]
V6 = [p for p in PREFIXES if ":" in p[0]]
CDN_TARGETS = [
    "w.kunlunaq.com",
    "cdn.dnsv1.com.cn",
    "cdn.dnsv1.com",
    "cloudfront.net",
    "cdn.cloudflare.net",
    "wscdns.com",
]


def _address(rng: random.Random, pool) -> str:
    net = ipaddress.ip_network(rng.choice(pool)[0])
    offset = rng.randrange(1, min(net.num_addresses - 1, 1 << 16))
    return str(net.network_address + offset)


def build_world(n: int, seed: int = 7) -> tuple[World, list[str]]:
    """A World of ``n`` domains with a realistic mix; returns it and the domain list."""
    rng = random.Random(seed)
    world = World()
    for prefix, asn, country, registry, name in PREFIXES:
        world.asn_prefixes.append(AsnPrefix(prefix, (asn,), country, registry, "2010-01-01"))
        world.asn_names[asn] = AsnInfo(asn, country, registry, "2002-01-01", name)
    # a few hundred CDN edge names shared by many customers, as real CDNs are
    edges = {}
    for i in range(300):
        suffix = CDN_TARGETS[i % len(CDN_TARGETS)]
        edge = f"e{i}.{suffix}"
        edges[edge] = True
        world.dns[edge] = DnsName({"A": [_address(rng, V4) for _ in range(2)]}, ttl=60)
    edge_names = list(edges)
    domains = []
    for i in range(n):
        domain = f"site{i}.bench-{i % 97}.cn"
        domains.append(domain)
        roll = rng.random()
        if roll < 0.30:  # plain A
            world.dns[domain] = DnsName({"A": [_address(rng, V4)]})
        elif roll < 0.55:  # CNAME into a CDN (chain of 1-2)
            target = rng.choice(edge_names)
            if rng.random() < 0.5:
                hop = f"cdn.{domain}"
                world.dns[hop] = DnsName({"CNAME": [target]})
                target = hop
            world.dns[domain] = DnsName({"CNAME": [target]})
        elif roll < 0.75:  # dual stack
            world.dns[domain] = DnsName({"A": [_address(rng, V4)], "AAAA": [_address(rng, V6)]})
        elif roll < 0.80:  # IPv6 only
            world.dns[domain] = DnsName({"AAAA": [_address(rng, V6)]})
        elif roll < 0.85:  # only www has an address
            world.dns[domain] = DnsName({"TXT": ["v=spf1 -all"]})
            world.dns[f"www.{domain}"] = DnsName({"A": [_address(rng, V4)]})
        elif roll < 0.90:  # GeoDNS: mainland clients get a mainland CDN
            world.dns[domain] = DnsName(
                {"A": [_address(rng, [p for p in V4 if p[2] == "US"])]},
                views=[
                    View("mainland", ["114.114.114.0/24"], {"CNAME": [rng.choice(edge_names[:50])]})
                ],
            )
        elif roll < 0.94:  # mixed answer
            world.dns[domain] = DnsName({"A": [_address(rng, V4), _address(rng, V4)]})
        elif roll < 0.97:
            world.dns[domain] = DnsName(fault=rng.choice([DnsFault.SERVFAIL, DnsFault.NO_ANSWER]))
        # else: not in the world at all -> NXDOMAIN
    return world, domains


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_locate(port: int, domains: list[str], **options) -> tuple[float, float, dict]:
    config = LocateConfig(nameservers=[f"127.0.0.1:{port}"], timeout=2.0, retries=1, **options)
    start, cpu = time.perf_counter(), _cpu()
    regions: dict[str, int] = {}
    async with Locator(config) as locator:
        async for verdict in locator.locate_many(domains):
            regions[str(verdict.region)] = regions.get(str(verdict.region), 0) + 1
        stats = locator.resolver.stats
        cymru = locator.cymru.queries
    wall = time.perf_counter() - start
    return (
        len(domains) / wall,
        (_cpu() - cpu) / len(domains) * 1e3,
        {
            "queries": stats.queries,
            "cymru": cymru,
            "tcp": stats.tcp_fallbacks,
            "regions": regions,
        },
    )


def run_naive(port: int, domains: list[str]) -> float:
    """Sync dnspython + ipwhois per address: what a straightforward script does."""
    import dns.resolver
    from ipwhois.asn import IPASN
    from ipwhois.exceptions import ASNRegistryError, IPDefinedError
    from ipwhois.net import Net

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.timeout = resolver.lifetime = 2.0
    sources = load_sources()
    start = time.perf_counter()
    for domain in domains:
        addresses = []
        for rtype in ("A", "AAAA"):
            with contextlib.suppress(dns.exception.DNSException):
                addresses += [r.to_text() for r in resolver.resolve(domain, rtype)]
        for address in addresses:
            try:
                net = Net(address)  # reads /etc/resolv.conf: replaced below, as the notes show
                net.dns_resolver = resolver
                IPASN(net).lookup(asn_methods=["dns"], get_asn_description=True, retry_count=1)
            except (IPDefinedError, ASNRegistryError, dns.resolver.NoResolverConfiguration):
                pass
            classify_address(address, sources=sources)
    return len(domains) / (time.perf_counter() - start)


def bench_classify(count: int = 100_000) -> float:
    rng = random.Random(3)
    sources = load_sources()
    addresses = [_address(rng, PREFIXES) for _ in range(count)]
    start = time.perf_counter()
    for address in addresses:
        classify_address(address, sources=sources)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--baseline", type=int, default=400, help="domains for the naive baseline")
    args = parser.parse_args()
    egress.install_loopback_guard()

    world, domains = build_world(max(args.sizes))
    # The server runs in its own process (own GIL, the other core), as a real resolver would.
    with DnsServerProcess(world) as server:
        names, prefixes = len(world.dns), len(world.asn_prefixes)
        print(f"sandbox DNS on 127.0.0.1:{server.port}; {names} names, {prefixes} Cymru prefixes")
        naive = run_naive(server.port, domains[: args.baseline])
        print(f"naive (sync dnspython + ipwhois per address), {args.baseline} domains: ", end="")
        print(f"{naive:,.0f} domains/s")
        for size in args.sizes:
            rate, cpu, info = asyncio.run(run_locate(server.port, domains[:size]))
            print(
                f"locate {size:>6} domains: {rate:,.0f} domains/s ({rate / naive:.1f}x naive), ",
                end="",
            )
            print(f"client CPU {cpu:.2f} ms/domain, {info['queries']} queries ", end="")
            print(f"({info['cymru']} Cymru), regions {dict(sorted(info['regions'].items()))}")
        size = args.sizes[0]
        rate, cpu, _ = asyncio.run(run_locate(server.port, domains[:size], with_ns=True))
        print(
            f"locate {size:>6} domains + NS: {rate:,.0f} domains/s, client CPU {cpu:.2f} ms/domain"
        )
        mainland = [Vantage.parse("mainland")]
        rate, cpu, _ = asyncio.run(run_locate(server.port, domains[:size], vantages=mainland))
        print(f"locate {size:>6} domains, 2 views (ECS mainland): {rate:,.0f} domains/s, ", end="")
        print(f"client CPU {cpu:.2f} ms/domain")
    print(f"classification core: {bench_classify():,.0f} addresses/s (classify_address)")


if __name__ == "__main__":
    main()
