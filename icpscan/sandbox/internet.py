"""The sandbox's picture of the real internet: address pools, their routing facts, and CDNs.

The sandbox DNS answers the *public* addresses a real site would have, so the scanner's
classification runs on real IP data; these pools say which ranges a generated site may use and
what Team-Cymru-style origin/AS-name answers the sandbox gives for them. Each network carries
its provenance in a comment. Where the registry country differs from where the servers are
(Alibaba's ARIN-registered 47.0.0.0/8, Tencent HK under an APNIC CN allocation, AWS China under
ARIN US) the pool says so: those are the cases that separate a real classifier from a naive one.

Routing facts are as published by the operators or seen in public BGP/RIR data at the time of
writing (2026); allocation dates are approximate (the field is informational in Cymru answers).
"""

from __future__ import annotations

import functools
import ipaddress
import random
from dataclasses import dataclass, field

from icpscan.models import Region
from icpscan.sandbox.world import AsnInfo, AsnPrefix


@dataclass(frozen=True)
class Network:
    """One announced prefix and what the Team-Cymru origin table says about it."""

    prefix: str
    asn: int
    country: str  # registry (allocation) country, NOT necessarily where the servers are
    registry: str
    allocated: str = ""


@dataclass(frozen=True)
class Pool:
    """Addresses of one provider in one region; a site draws its addresses from a pool."""

    key: str
    region: Region
    provider: str
    networks: tuple[Network, ...]
    # Sub-ranges addresses are drawn from (default: every network); lets a provider block
    # inside a larger announcement stay exclusive to the hosting-provider scenario.
    pick_v4: tuple[str, ...] = ()
    pick_v6: tuple[str, ...] = ()
    note: str = ""

    def ranges(self, family: int) -> tuple[str, ...]:
        explicit = self.pick_v4 if family == 4 else self.pick_v6
        if explicit:
            return explicit
        return tuple(n.prefix for n in self.networks if _family(n.prefix) == family)

    @property
    def has_v6(self) -> bool:
        return bool(self.ranges(6))

    def address(self, rng: random.Random, family: int = 4) -> str:
        """A host address inside one of the pool's ranges (never the network/broadcast)."""
        base, size = _parsed(rng.choice(self.ranges(family)))
        if family == 4:
            # avoid .0 and .255 host bytes, which look odd in a real A record
            value = base + rng.randrange(1, min(size - 1, 1 << 24))
            if value & 0xFF in (0, 255):
                value = (value & ~0xFF) | rng.randrange(1, 255)
            return str(ipaddress.IPv4Address(value))
        return str(ipaddress.IPv6Address(base + rng.randrange(1, 1 << 32)))


@functools.lru_cache(maxsize=256)
def _parsed(prefix: str) -> tuple[int, int]:
    net = ipaddress.ip_network(prefix)
    return int(net.network_address), net.num_addresses


def _family(prefix: str) -> int:
    return 6 if ":" in prefix else 4


# ---------------------------------------------------------------------------------------------
# AS names, as TXT AS<n>.asn.cymru.com answers them: (country, registry, allocated, name).
# Source: Team Cymru AS-name answers / RIR records as publicly reported (names verbatim style).
AS_NAMES: dict[int, AsnInfo] = {
    info.asn: info
    for info in (
        AsnInfo(4134, "CN", "apnic", "2002-02-21", "CHINANET-BACKBONE No.31,Jin-rong Street, CN"),
        AsnInfo(
            4837,
            "CN",
            "apnic",
            "2002-08-01",
            "CHINA169-BACKBONE CHINA UNICOM China169 Backbone, CN",
        ),
        AsnInfo(
            9808,
            "CN",
            "apnic",
            "2000-09-13",
            "CHINAMOBILE-CN China Mobile Communications Group Co., Ltd., CN",
        ),
        AsnInfo(
            37963,
            "CN",
            "apnic",
            "2007-04-30",
            "CNNIC-ALIBABA-CN-NET-AP Hangzhou Alibaba Advertising Co.,Ltd., CN",
        ),
        AsnInfo(
            45102, "US", "arin", "2015-04-09", "ALIBABA-CN-NET Alibaba US Technology Co., Ltd., CN"
        ),
        AsnInfo(
            45090,
            "CN",
            "apnic",
            "2008-12-03",
            "TENCENT-NET-AP Shenzhen Tencent Computer Systems Company Limited, CN",
        ),
        AsnInfo(
            132203,
            "CN",
            "apnic",
            "2016-03-08",
            "TENCENT-NET-AP-CN Tencent Building, Kejizhongyi Avenue, CN",
        ),
        AsnInfo(
            38365,
            "CN",
            "apnic",
            "2007-06-18",
            "BAIDU Beijing Baidu Netcom Science and Technology Co., Ltd., CN",
        ),
        AsnInfo(16509, "US", "arin", "2000-05-04", "AMAZON-02, US"),
        AsnInfo(4760, "HK", "apnic", "1996-07-17", "HKTIMS-AP HKT Limited, HK"),
        AsnInfo(4528, "HK", "apnic", "1995-07-20", "HKU-AS-HK The University of Hong Kong, HK"),
        AsnInfo(
            3661, "HK", "apnic", "1994-09-27", "CUHK-AS-AP The Chinese University of Hong Kong, HK"
        ),
        AsnInfo(
            4609,
            "MO",
            "apnic",
            "1996-03-12",
            "CTM-MO Companhia de Telecomunicacoes de Macau SARL, MO",
        ),
        AsnInfo(3462, "TW", "apnic", "1995-02-03", "HINET Data Communication Business Group, TW"),
        AsnInfo(
            1659,
            "TW",
            "apnic",
            "1991-06-04",
            "ERX-TANET-ASN1 Taiwan Academic Network (TANet) Information Center, TW",
        ),
        AsnInfo(14061, "US", "arin", "2012-09-25", "DIGITALOCEAN-ASN, US"),
        AsnInfo(24940, "DE", "ripencc", "2002-06-03", "HETZNER-AS, DE"),
        AsnInfo(2497, "JP", "apnic", "1997-02-14", "IIJ Internet Initiative Japan Inc., JP"),
        AsnInfo(13335, "US", "arin", "2010-07-14", "CLOUDFLARENET, US"),
        AsnInfo(15169, "US", "arin", "2000-03-30", "GOOGLE, US"),
        AsnInfo(20940, "EU", "ripencc", "2001-03-12", "AKAMAI-ASN1, EU"),
        AsnInfo(54113, "US", "arin", "2011-12-02", "FASTLY, US"),
    )
}

N = Network
# fmt: off
POOLS: dict[str, Pool] = {p.key: p for p in (
    # --- mainland carriers ------------------------------------------------------------------
    # China Telecom: 180.96.0.0/11 (Jiangsu), 114.80.0.0/12 (Shanghai), 240e::/20 — APNIC CN,
    # AS4134 (ICP-DOMAIN §7, ENGINEERING-NOTES §5: 180.101.49.11 and 240e::1 are CN/CN).
    # 180.97.40.0/24 is kept out of the general pool: it is the hosting provider's block below.
    Pool("chinatelecom", Region.MAINLAND, "China Telecom",
         (N("180.96.0.0/11", 4134, "CN", "apnic", "2009-11-19"),
          N("114.80.0.0/12", 4134, "CN", "apnic", "2007-08-06"),
          N("240e::/20", 4134, "CN", "apnic", "2013-04-12")),
         pick_v4=("180.101.0.0/16", "114.80.0.0/12")),
    # China Unicom (China169 backbone): 123.112.0.0/12 (Beijing), 60.0.0.0/13 (Hebei),
    # 2408:8000::/20 — APNIC CN, AS4837.
    Pool("chinaunicom", Region.MAINLAND, "China Unicom",
         (N("123.112.0.0/12", 4837, "CN", "apnic", "2007-01-04"),
          N("60.0.0.0/13", 4837, "CN", "apnic", "2003-04-23"),
          N("2408:8000::/20", 4837, "CN", "apnic", "2013-05-15"))),
    # China Mobile (CMNET): 39.128.0.0/10, 120.192.0.0/10, 2409:8000::/20 — APNIC CN, AS9808
    # (39.156.66.10 is CN/CN in ENGINEERING-NOTES §5).
    Pool("chinamobile", Region.MAINLAND, "China Mobile",
         (N("39.128.0.0/10", 9808, "CN", "apnic", "2011-01-11"),
          N("120.192.0.0/10", 9808, "CN", "apnic", "2007-10-30"),
          N("2409:8000::/20", 9808, "CN", "apnic", "2013-06-05"))),
    # --- mainland clouds ------------------------------------------------------------------------
    # Alibaba Cloud mainland on APNIC CN space: 39.96.0.0/13 (Beijing), 120.24.0.0/14
    # (Shenzhen), 2400:3200::/32 (2400:3200::1 is CN/CN) — AS37963.
    Pool("alibaba-cn", Region.MAINLAND, "Alibaba Cloud",
         (N("39.96.0.0/13", 37963, "CN", "apnic", "2011-01-11"),
          N("120.24.0.0/14", 37963, "CN", "apnic", "2007-10-30"),
          N("2400:3200::/32", 37963, "CN", "apnic", "2011-05-17"))),
    # Alibaba Cloud mainland ECS on ARIN space: 47.92.0.0/14 and 47.96.0.0/11 are registered to
    # Alibaba US (registry country US) yet serve mainland regions (ICP-DOMAIN §7.2 pitfall:
    # "47.9x are routinely reported as mainland Alibaba"). Origin AS37963.
    Pool("alibaba-cn-arin", Region.MAINLAND, "Alibaba Cloud",
         (N("47.92.0.0/14", 37963, "US", "arin", "2015-11-05"),
          N("47.96.0.0/11", 37963, "US", "arin", "2015-11-05")),
         note="registry US, servers in mainland China"),
    # Tencent Cloud mainland: 119.29.0.0/16 (DNSPod 119.29.29.29), 129.204.0.0/16 (Guangzhou),
    # 42.192.0.0/15 (Shanghai) — APNIC CN, AS45090. IPv6: 2402:4e00::/32 (Tencent's APNIC CN
    # allocation) [uncertain as to which parts serve mainland regions].
    Pool("tencent-cn", Region.MAINLAND, "Tencent Cloud",
         (N("119.29.0.0/16", 45090, "CN", "apnic", "2011-03-30"),
          N("129.204.0.0/16", 45090, "CN", "apnic", "2017-01-13"),
          N("42.192.0.0/15", 45090, "CN", "apnic", "2010-10-29"),
          N("2402:4e00::/32", 45090, "CN", "apnic", "2013-03-20"))),
    # Baidu Cloud: 180.76.0.0/16 (180.76.76.76 is Baidu DNS) — APNIC CN, AS38365.
    Pool("baidu", Region.MAINLAND, "Baidu Cloud",
         (N("180.76.0.0/16", 38365, "CN", "apnic", "2010-04-12"),)),
    # AWS China: cn-north-1 (Beijing) 52.80.0.0/16, 54.222.0.0/16; cn-northwest-1 (Ningxia)
    # 52.82.0.0/16, 161.189.0.0/16 (regions as in ip-ranges.json, ICP-DOMAIN §7.1). Registered
    # at ARIN to Amazon (US) but in mainland China. Origin ASN [uncertain: the Sinnet/NWCD
    # operated regions are announced by local ASNs too]; 16509 here.
    Pool("aws-cn", Region.MAINLAND, "AWS China",
         (N("52.80.0.0/16", 16509, "US", "arin", "2015-09-02"),
          N("54.222.0.0/16", 16509, "US", "arin", "2013-12-20"),
          N("52.82.0.0/16", 16509, "US", "arin", "2015-09-02"),
          N("161.189.0.0/16", 16509, "US", "arin", "2018-06-29")),
         note="registry US, AWS cn-north-1 / cn-northwest-1"),
    # The hosting provider of the expected-filings scenario: an IDC reselling China Telecom
    # space (announced by AS4134 as part of 180.96.0.0/11).
    Pool("provider-idc", Region.MAINLAND, "Example IDC (China Telecom)",
         (N("180.96.0.0/11", 4134, "CN", "apnic", "2009-11-19"),),
         pick_v4=("180.97.40.0/24",)),
    # --- Hong Kong --------------------------------------------------------------------------------
    # Alibaba Cloud cn-hongkong: 47.52.0.0/16, 47.56.0.0/15 (ALICLOUD-HK) — ARIN, country US,
    # AS45102 (ENGINEERING-NOTES §5: 47.75.0.1 / 47.52.0.1 are US by registry, HK by geo).
    Pool("alibaba-hk", Region.HONGKONG, "Alibaba Cloud",
         (N("47.52.0.0/16", 45102, "US", "arin", "2015-11-05"),
          N("47.56.0.0/15", 45102, "US", "arin", "2015-11-05")),
         note="registry US, servers in Hong Kong"),
    # Tencent Cloud ap-hongkong: 119.28.0.0/16 — APNIC allocation to a CN entity (registry CN!)
    # while the servers are in Hong Kong; also 150.109.0.0/16. AS132203.
    Pool("tencent-hk", Region.HONGKONG, "Tencent Cloud",
         (N("119.28.0.0/16", 132203, "CN", "apnic", "2011-03-30"),
          N("150.109.0.0/16", 132203, "CN", "apnic", "2017-08-01")),
         note="registry CN, servers in Hong Kong"),
    # AWS ap-east-1 (Hong Kong): 18.162.0.0/16, 16.162.0.0/15, 43.198.0.0/15 — ARIN US, AS16509
    # (ENGINEERING-NOTES §5: US by registry, HK by geo). 2406:da1e::/32 [uncertain].
    Pool("aws-hk", Region.HONGKONG, "AWS ap-east-1",
         (N("18.162.0.0/16", 16509, "US", "arin", "2018-11-26"),
          N("16.162.0.0/15", 16509, "US", "arin", "2019-10-22"),
          N("43.198.0.0/15", 16509, "US", "arin", "2022-01-18"),
          N("2406:da1e::/32", 16509, "US", "arin", "2019-02-11"))),
    # HKT / Netvigator: 203.218.0.0/16, 218.102.0.0/16 — APNIC HK, AS4760.
    Pool("hkt", Region.HONGKONG, "HKT Netvigator",
         (N("203.218.0.0/16", 4760, "HK", "apnic", "1998-07-03"),
          N("218.102.0.0/16", 4760, "HK", "apnic", "2001-06-27"))),
    # Hong Kong universities: HKU 147.8.0.0/16 (AS4528), CUHK 137.189.0.0/16 (AS3661) — legacy
    # blocks, HK in registry data (ENGINEERING-NOTES §5).
    Pool("hk-university", Region.HONGKONG, "HK university",
         (N("147.8.0.0/16", 4528, "HK", "apnic", "1990-05-07"),
          N("137.189.0.0/16", 3661, "HK", "apnic", "1990-01-16"))),
    # --- Macau / Taiwan ---------------------------------------------------------------------------
    # CTM Macau: 202.175.0.0/17, 60.246.0.0/16 — APNIC MO, AS4609 (202.175.3.3 is MO/MO).
    Pool("ctm-macau", Region.MACAU, "CTM",
         (N("202.175.0.0/17", 4609, "MO", "apnic", "1997-08-26"),
          N("60.246.0.0/16", 4609, "MO", "apnic", "2004-03-31"))),
    # Chunghwa Telecom HiNet: 168.95.0.0/16 (168.95.1.1), 220.128.0.0/12 — APNIC TW, AS3462.
    Pool("hinet", Region.TAIWAN, "Chunghwa Telecom HiNet",
         (N("168.95.0.0/16", 3462, "TW", "apnic", "1993-11-15"),
          N("220.128.0.0/12", 3462, "TW", "apnic", "2002-08-01"))),
    # TANet (NTU 140.112.0.0/16) — AS1659, TW (140.112.8.116 is TW/TW).
    Pool("tanet", Region.TAIWAN, "TANet academic network",
         (N("140.112.0.0/16", 1659, "TW", "apnic", "1989-06-22"),)),
    # --- abroad -----------------------------------------------------------------------------------
    # DigitalOcean NYC: 104.131.0.0/16, 2604:a880::/32 — ARIN US, AS14061.
    Pool("us-hosting", Region.ABROAD, "DigitalOcean",
         (N("104.131.0.0/16", 14061, "US", "arin", "2014-02-05"),
          N("2604:a880::/32", 14061, "US", "arin", "2013-04-05"))),
    # Hetzner: 88.198.0.0/16, 2a01:4f8::/32 — RIPE NCC DE, AS24940.
    Pool("eu-hosting", Region.ABROAD, "Hetzner",
         (N("88.198.0.0/16", 24940, "DE", "ripencc", "2004-07-09"),
          N("2a01:4f8::/32", 24940, "DE", "ripencc", "2005-05-02"))),
    # IIJ: 202.232.0.0/16 — APNIC JP, AS2497.
    Pool("jp-hosting", Region.ABROAD, "IIJ",
         (N("202.232.0.0/16", 2497, "JP", "apnic", "1996-03-01"),)),
    # Cloudflare anycast: 104.16.0.0/13, 172.64.0.0/13, 2606:4700::/32 — ARIN US, AS13335.
    Pool("cloudflare", Region.ABROAD, "Cloudflare",
         (N("104.16.0.0/13", 13335, "US", "arin", "2014-03-28"),
          N("172.64.0.0/13", 13335, "US", "arin", "2015-02-25"),
          N("2606:4700::/32", 13335, "US", "arin", "2011-11-01"))),
    # Google: 142.250.0.0/15, 2607:f8b0::/32 — ARIN US, AS15169.
    Pool("google", Region.ABROAD, "Google",
         (N("142.250.0.0/15", 15169, "US", "arin", "2020-07-29"),
          N("2607:f8b0::/32", 15169, "US", "arin", "2009-03-05"))),
    # Akamai edge: 23.32.0.0/11 — ARIN US, AS20940 (AS name "AKAMAI-ASN1, EU").
    Pool("akamai", Region.ABROAD, "Akamai",
         (N("23.32.0.0/11", 20940, "US", "arin", "2011-02-14"),)),
    # Fastly: 151.101.0.0/16, 2a04:4e40::/32 — RIPE NCC registered, AS54113 [country uncertain].
    Pool("fastly", Region.ABROAD, "Fastly",
         (N("151.101.0.0/16", 54113, "US", "ripencc", "2015-04-27"),
          N("2a04:4e40::/32", 54113, "US", "ripencc", "2015-03-24"))),
)}
# fmt: on
del N

MAINLAND_POOLS = tuple(
    k for k, p in POOLS.items() if p.region is Region.MAINLAND and k != "provider-idc"
)

# Client subnets the sandbox's GeoDNS views treat as "a mainland client": every mainland pool
# above plus the /24s of the well-known mainland public resolvers (ICP-DOMAIN §7.4). A scanner
# asking as a mainland client sends an EDNS Client Subnet inside one of these.
MAINLAND_VANTAGE_SUBNETS: tuple[str, ...] = (
    "223.5.5.0/24",  # AliDNS
    "223.6.6.0/24",  # AliDNS
    "119.29.29.0/24",  # DNSPod
    "114.114.114.0/24",  # 114DNS
    "180.76.76.0/24",  # Baidu DNS
    "1.2.4.0/24",  # CNNIC SDNS
    *dict.fromkeys(n.prefix for k in MAINLAND_POOLS for n in POOLS[k].networks),
)


def asn_tables() -> tuple[list[AsnPrefix], dict[int, AsnInfo]]:
    """The Team-Cymru origin and AS-name tables for every pool (what World.asn_* hold)."""
    seen: dict[str, AsnPrefix] = {}
    for pool in POOLS.values():
        for net in pool.networks:
            seen.setdefault(
                net.prefix,
                AsnPrefix(net.prefix, (net.asn,), net.country, net.registry, net.allocated),
            )
    used = {asn for row in seen.values() for asn in row.asns}
    return list(seen.values()), {asn: AS_NAMES[asn] for asn in sorted(used)}


def pool_of(address: str) -> Pool | None:
    """The pool whose pick ranges hold ``address`` (the generator's own bookkeeping)."""
    ip = ipaddress.ip_address(address)
    for pool in POOLS.values():
        for prefix in pool.ranges(ip.version):
            if ip in ipaddress.ip_network(prefix):
                return pool
    return None


# ---------------------------------------------------------------------------------------------
# CDNs: CNAME suffixes from ICP-DOMAIN §7.3 (cdncheck / OneForAll / CDNRevealer lists). Each
# hop template may use {host} (the customer name, dots kept) and {tag} (a short token).


@dataclass(frozen=True)
class Cdn:
    key: str
    name: str
    mainland: bool  # nodes the chain ends on are in mainland China
    hops: tuple[str, ...]  # CNAME targets in order; the last one carries the A/AAAA records
    pools: tuple[str, ...] = field(default=())


CDNS: dict[str, Cdn] = {
    c.key: c
    for c in (
        # Alibaba Cloud CDN/DCDN: *.cdngslb.com (global scheduling) -> *.w.kunlun*.com nodes,
        # which sit on carrier and Alibaba mainland space.
        Cdn(
            "aliyun",
            "Alibaba Cloud CDN",
            True,
            ("{host}.w.cdngslb.com", "{tag}.w.kunlunsl.com"),
            ("chinatelecom", "chinaunicom", "alibaba-cn"),
        ),
        # Tencent Cloud CDN, mainland/global acceleration: .cdn.dnsv1.com.cn (since 2021-01-10).
        Cdn(
            "tencent-cn",
            "Tencent Cloud CDN (mainland)",
            True,
            ("{host}.cdn.dnsv1.com.cn", "{tag}.tc.cdntip.com"),
            ("tencent-cn", "chinatelecom"),
        ),
        # Wangsu / ChinaNetCenter: wscdns.com -> wsglb0.com.
        Cdn(
            "wangsu",
            "Wangsu CDN",
            True,
            ("{host}.wscdns.com", "{tag}.wsglb0.com"),
            ("chinatelecom", "chinamobile"),
        ),
        # Baidu Cloud CDN: bdydns.com -> jomodns.com.
        Cdn(
            "baidu", "Baidu Cloud CDN", True, ("{host}.bdydns.com", "{tag}.jomodns.com"), ("baidu",)
        ),
        # Cloudflare: customer names under cdn.cloudflare.net, anycast addresses abroad.
        Cdn("cloudflare", "Cloudflare", False, ("{host}.cdn.cloudflare.net",), ("cloudflare",)),
        # Akamai: edgekey.net -> e<N>.a.akamaiedge.net.
        Cdn(
            "akamai",
            "Akamai",
            False,
            ("{host}.edgekey.net", "e{tag}.a.akamaiedge.net"),
            ("akamai",),
        ),
        # Fastly: the global SSL map.
        Cdn(
            "fastly",
            "Fastly",
            False,
            ("{host}.global.ssl.fastly.net", "{tag}.map.fastly.net"),
            ("fastly",),
        ),
        # Tencent Cloud CDN, outside-mainland-only acceleration: keeps .cdn.dnsv1.com (no .cn),
        # nodes in Hong Kong.
        Cdn(
            "tencent-intl",
            "Tencent Cloud CDN (outside mainland)",
            False,
            ("{host}.cdn.dnsv1.com", "{tag}.ovscdns.com"),
            ("tencent-hk",),
        ),
    )
}

MAINLAND_CDNS = tuple(k for k, c in CDNS.items() if c.mainland)
OFFSHORE_CDNS = tuple(k for k, c in CDNS.items() if not c.mainland)
