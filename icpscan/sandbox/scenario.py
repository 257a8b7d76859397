"""The scenario generator: N realistic sites, the world that serves them, and the ground truth.

``generate(sites, seed, profile)`` builds each site from its traits (:mod:`.plan`) and a
per-site random stream seeded by (seed, profile, index), so site *i* never depends on how many
sites there are and the same arguments always give byte-identical files and bodies. Bodies are
not stored: each :class:`~icpscan.sandbox.world.Response` holds a :class:`LazyBody` that rebuilds
the site's page from (seed, profile, index) when the farm asks for it.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from icpscan.models import Location, NumberKind, Region
from icpscan.sandbox import footers as ft
from icpscan.sandbox import pages as pg
from icpscan.sandbox import plan as pl
from icpscan.sandbox.epochs import evolved_slot
from icpscan.sandbox.internet import CDNS, MAINLAND_VANTAGE_SUBNETS, POOLS, Pool, asn_tables
from icpscan.sandbox.records import (
    RecordRow,
    RecordTruth,
    record_truths,
    records_csv,
    scenario_records,
)
from icpscan.sandbox.truth import (
    ExpectedFiling,
    Occurrence,
    SiteTruth,
    apply_scan_wide,
    combine_regions,
    fold,
    site_findings,
)
from icpscan.sandbox.world import (
    CertMode,
    ConnectionMode,
    DnsFault,
    DnsName,
    Host,
    Response,
    View,
    World,
)

__all__ = ["LazyBody", "Scenario", "Site", "build_site", "generate", "iter_sites"]

PROFILES = pl.PROFILES
_V6_POOLS = tuple(k for k, p in POOLS.items() if p.has_v6)
_MAINLAND_V4 = (
    "chinatelecom",
    "chinaunicom",
    "chinamobile",
    "alibaba-cn",
    "alibaba-cn-arin",
    "tencent-cn",
)
_OFFSHORE_V4 = ("alibaba-hk", "tencent-hk", "aws-hk", "hkt", "us-hosting", "eu-hosting")
_TWO_LEVEL = frozenset(
    {
        "com.cn",
        "net.cn",
        "org.cn",
        "gov.cn",
        "edu.cn",
        "com.hk",
        "org.hk",
        "edu.hk",
        "com.mo",
        "com.tw",
        "org.tw",
    }
)
_TLDS = {
    Region.MAINLAND: (
        ".cn",
        ".cn",
        ".com.cn",
        ".com",
        ".com",
        ".net",
        ".net.cn",
        ".org.cn",
        ".top",
    ),
    Region.HONGKONG: (".com.hk", ".hk", ".com"),
    Region.MACAU: (".com.mo", ".mo"),
    Region.TAIWAN: (".com.tw", ".tw", ".org.tw"),
    Region.ABROAD: (".com", ".net", ".org", ".io"),
    Region.MIXED: (".com", ".cn", ".net"),
    Region.UNKNOWN: (".cn", ".com.cn", ".com"),
}
_SYLLABLES = (
    "hua", "xin", "chuang", "da", "heng", "tong", "bo", "yuan", "rui", "feng", "tian", "cheng",
    "ding", "sheng", "qi", "ming", "yun", "fan", "zhong", "ke", "jin", "long", "kai", "tai",
    "xing", "hai", "shan", "lan", "mei", "jia", "an", "kang", "de", "li", "wei", "zhi",
)  # fmt: skip
_CITIES = (
    "北京",
    "上海",
    "杭州",
    "深圳",
    "广州",
    "成都",
    "南京",
    "武汉",
    "西安",
    "苏州",
    "长沙",
    "郑州",
)
_WORDS = (
    "华信",
    "创达",
    "恒通",
    "博远",
    "瑞丰",
    "天成",
    "鼎盛",
    "启明",
    "云帆",
    "中科",
    "金龙",
    "凯泰",
)
_SUFFIXES = (
    "科技有限公司",
    "网络科技有限公司",
    "信息技术有限公司",
    "文化传媒有限公司",
    "电子有限公司",
)
_CITIES_T = ("香港", "九龍", "澳門", "台北", "新竹", "高雄")
_WORDS_T = ("華信", "創達", "恆通", "博遠", "瑞豐", "天成", "鼎盛", "啟明")
_SUFFIXES_T = ("科技有限公司", "網絡科技有限公司", "資訊科技有限公司")
_SERVERS = ("nginx", "Tengine", "openresty", "nginx/1.20.1", "Apache", "Microsoft-IIS/10.0")
_NS = (
    ("dns1.hichina.com", "dns2.hichina.com"),
    ("f1g1ns1.dnspod.net", "f1g1ns2.dnspod.net"),
    ("ns1.huaweicloud-dns.com", "ns1.huaweicloud-dns.cn"),
    ("ns3.dnsv5.com", "ns4.dnsv5.com"),
)


def registrable(host: str) -> str:
    labels = host.split(".")
    if ".".join(labels[-2:]) in _TWO_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def provider_ips(seed: int) -> tuple[str, ...]:
    """The hosting provider's cluster (expected-filings scenario): 3 addresses in its block."""
    rng = random.Random(f"icpscan-provider/{seed}")
    pool = POOLS["provider-idc"]
    ips: list[str] = []
    while len(ips) < 3:
        ip = pool.address(rng)
        if ip not in ips:
            ips.append(ip)
    return tuple(ips)


# ---------------------------------------------------------------------------------------------


class LazyBody:
    """A page body built on request from (seed, profile, index, page key[, epoch]): nothing
    is stored."""

    __slots__ = ("epoch", "index", "key", "profile", "seed")

    def __init__(self, seed: int, profile: str, index: int, key: str, epoch: int = 0) -> None:
        self.seed, self.profile, self.index, self.key = seed, profile, index, key
        self.epoch = epoch

    def __call__(self) -> bytes:
        return _render_page(self.seed, self.profile, self.index, self.key, self.epoch)

    def __repr__(self) -> str:
        epoch = f", epoch={self.epoch}" if self.epoch else ""
        return f"LazyBody({self.seed}, {self.profile!r}, {self.index}, {self.key!r}{epoch})"


@lru_cache(maxsize=256)
def _render_page(seed: int, profile: str, index: int, key: str, epoch: int = 0) -> bytes:
    return pg.render(build_site(seed, index, profile, epoch).pages[key])


@dataclass
class Site:
    index: int
    domain: str
    slot: pl.Slot
    dns: dict[str, DnsName]
    hosts: dict[str, Host]
    pages: dict[str, pg.Page]
    truth: SiteTruth
    expected: list[ExpectedFiling] = field(default_factory=list)
    occurrences: list[Occurrence] = field(default_factory=list)


def domain_of(seed: int, index: int, profile: str) -> str:
    """``<pinyin><index>.<tld>``: unique per index; a pair's second site reuses its brand."""
    slot = pl.slot_of(seed, index, profile)
    rng = random.Random(f"icpscan-name/{seed}/{index}")
    label = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 2, 3))))
    if slot.get("role") in ("redirect_src", "entity_b"):
        # one brand, two registrable domains: kaitai57.com and kaitai57.cn
        partner = pl.partner_index(seed, index, profile)
        assert partner is not None
        brand, _, tld = domain_of(seed, partner, profile).partition(".")
        return f"{brand}.{'cn' if tld != 'cn' else 'com'}"
    hosting = slot["hosting"]
    region = pl.hosting_region(hosting)
    if slot.get("role") == "stolen_thief":
        region = Region.ABROAD
    if hosting.startswith("pool:") and POOLS[hosting[5:]].key == "hk-university":
        return f"{label}{index}.edu.hk"
    return f"{label}{index}{rng.choice(_TLDS[region])}"


def build_site(seed: int, index: int, profile: str = "realistic", epoch: int = 0) -> Site:
    return _SiteBuilder(seed, index, profile, epoch).build()


@dataclass
class _Resolved:
    addresses: list[tuple[str, str]]  # (address, pool key), the default answer
    mainland_view: list[tuple[str, str]] | None = None  # GeoDNS: what a mainland client gets


class _SiteBuilder:
    def __init__(self, seed: int, index: int, profile: str, epoch: int = 0) -> None:
        self.seed, self.index, self.profile, self.epoch = seed, index, profile, epoch
        self.slot = evolved_slot(seed, index, profile, epoch)
        self.rng = random.Random(f"icpscan-site/{seed}/{profile}/{index}")
        self.domain = domain_of(seed, index, profile)
        self.tags: list[str] = []
        self.dns: dict[str, DnsName] = {}
        self.hosts: dict[str, Host] = {}
        self.pages: dict[str, pg.Page] = {}
        self.expected: list[ExpectedFiling] = []
        self.occurrences: list[Occurrence] = []
        self.partner: Site | None = None
        self.company = ""

    # -- DNS -----------------------------------------------------------------------------------
    def _addresses(self, pool: Pool, count: int, family: int = 4) -> list[tuple[str, str]]:
        out: dict[str, str] = {}
        while len(out) < count:
            out.setdefault(pool.address(self.rng, family), pool.key)
        return list(out.items())

    def _set_addresses(self, name: str, addrs: list[tuple[str, str]]) -> None:
        records: dict[str, list[str]] = {}
        for ip, _pool in addrs:
            records.setdefault("AAAA" if ":" in ip else "A", []).append(ip)
        self.dns[name] = DnsName(records=records, ttl=self.rng.choice((60, 300, 600, 3600)))

    def _apex_extras(self, name: str) -> None:
        entry = self.dns.setdefault(name, DnsName())
        entry.records["NS"] = list(self.rng.choice(_NS))
        entry.records["TXT"] = ["v=spf1 include:spf.mail.qq.com ~all"]

    def _cdn_chain(self, owner: str, cdn_key: str, hops: int) -> tuple[str, list[tuple[str, str]]]:
        """CNAME chain for ``owner`` into a CDN; returns (first target, terminal addresses)."""
        cdn = CDNS[cdn_key]
        names: list[str] = []
        if hops >= 3 or (hops == 2 and len(cdn.hops) == 1):
            names.append(f"cdn.{self.domain}")
        tag = f"{self.index:x}{self.rng.randrange(16**4):04x}"
        for template in cdn.hops[: max(1, hops - len(names))]:
            names.append(template.format(host=owner, tag=tag))
        for current, target in itertools.pairwise(names):
            self.dns[current] = DnsName(records={"CNAME": [target]}, ttl=300)
        pool = POOLS[self.rng.choice(cdn.pools)]
        addrs = self._addresses(pool, self.rng.choice((1, 2, 2)))
        self._set_addresses(names[-1], addrs)
        self.tags += [f"cdn:{cdn_key}", f"cname_chain:{len(names)}"]
        return names[0], addrs

    def _hosting(self) -> tuple[str, _Resolved | None]:
        """Write DNS for the site; returns (name the content is served on, resolution)."""
        h = self.slot["hosting"]
        apex, www = self.domain, f"www.{self.domain}"
        rng = self.rng
        resolved: _Resolved | None = None
        main = apex
        self.tags.append(f"hosting:{h}")
        if h.startswith("pool:") or h == "provider":
            if h == "provider":
                ips = provider_ips(self.seed)
                addrs = [(rng.choice(ips), "provider-idc")]
            else:
                addrs = self._addresses(POOLS[h[5:]], rng.choice((1, 1, 1, 2, 2, 4)))
            self._set_addresses(apex, addrs)
            self._apex_extras(apex)
            resolved = _Resolved(addrs)
        elif h == "dualstack":
            pool = POOLS[rng.choice(("chinatelecom", "chinaunicom", "alibaba-cn", "chinamobile"))]
            addrs = self._addresses(pool, 2) + self._addresses(pool, 1, 6)
            self._set_addresses(apex, addrs)
            self._apex_extras(apex)
            resolved = _Resolved(addrs)
            self.tags.append("dual_stack")
        elif h == "v6only":
            pool = POOLS[rng.choice(_V6_POOLS)]
            addrs = self._addresses(pool, rng.choice((1, 2)), 6)
            self._set_addresses(apex, addrs)
            self._apex_extras(apex)
            resolved = _Resolved(addrs)
            self.tags.append("ipv6_only")
        elif h == "mixed":
            addrs = self._addresses(POOLS[rng.choice(_MAINLAND_V4)], 1)
            addrs += self._addresses(POOLS[rng.choice(_OFFSHORE_V4)], 1)
            self._set_addresses(apex, addrs)
            self._apex_extras(apex)
            resolved = _Resolved(addrs)
        elif h == "many_a":
            addrs = self._addresses(POOLS["chinamobile"], 300)
            self._set_addresses(apex, addrs)
            resolved = _Resolved(addrs)
            self.tags.append("dns_many_a")
        elif h.startswith("cdn:"):
            first, addrs = self._cdn_chain(apex, h[4:], rng.choice((1, 2, 3)))
            self.dns[apex] = DnsName(records={"CNAME": [first]}, ttl=600)
            resolved = _Resolved(addrs)
        elif h == "geodns":
            abroad_first, abroad = self._cdn_chain(
                apex, rng.choice(("cloudflare", "akamai", "tencent-intl")), 2
            )
            cn_first, cn = self._cdn_chain(apex, rng.choice(("aliyun", "tencent-cn", "wangsu")), 1)
            view = View("mainland", list(MAINLAND_VANTAGE_SUBNETS), {"CNAME": [cn_first]})
            self.dns[apex] = DnsName(records={"CNAME": [abroad_first]}, ttl=600, views=[view])
            resolved = _Resolved(abroad, cn)
            self.tags.append("geodns")
        elif h == "long_chain":
            hops = [f"hop{k}.gslb.{apex}" for k in range(1, 9)]
            self.dns[apex] = DnsName(records={"CNAME": [hops[0]]})
            for current, target in itertools.pairwise(hops):
                self.dns[current] = DnsName(records={"CNAME": [target]})
            addrs = self._addresses(POOLS["alibaba-cn"], 1)
            self._set_addresses(hops[-1], addrs)
            resolved = _Resolved(addrs)
            self.tags += ["cname_long_chain", "cname_chain:9"]
        elif h == "cname_loop":
            a, b = f"edge.{apex}", f"origin.{apex}"
            self.dns[apex] = DnsName(records={"CNAME": [a]})
            self.dns[a] = DnsName(records={"CNAME": [b]})
            self.dns[b] = DnsName(records={"CNAME": [apex]})
            self.tags.append("cname_loop")
        elif h.startswith("dns:"):
            fault = DnsFault(h[4:])
            addrs = self._addresses(POOLS["chinatelecom"], 1)
            self._set_addresses(apex, addrs)
            self.dns[apex].fault = fault
            self.tags.append(f"dns_fault:{fault}")
            if fault is DnsFault.TRUNCATE:
                resolved = _Resolved(addrs)
        elif h == "www_only":
            self._apex_extras(apex)
            addrs = self._addresses(POOLS[rng.choice(_MAINLAND_V4)], 1)
            self._set_addresses(www, addrs)
            resolved = _Resolved(addrs)
            main = www
            self.tags.append("apex_no_address")
        else:  # pragma: no cover - decks only hold the values above
            raise ValueError(h)
        if main == apex and www not in self.dns:
            self.dns[www] = DnsName(records={"CNAME": [apex]}, ttl=600)
        return main, resolved

    # -- numbers ---------------------------------------------------------------------------------
    def _entity(self, key: str) -> tuple[ft.Prov, str, str]:
        """(province, filing digits, psb division) — shared by a pair when ``key`` is a pair key."""
        rng = random.Random(key)
        prov = ft.PROVINCES[rng.randrange(len(ft.PROVINCES))]
        serial = rng.randrange(1_000_000)
        return prov, ft.filing_digits(rng, serial, rng.choice((8, 10))), rng.choice(prov.divisions)

    def _numbers(self) -> tuple[list[ft.Num], ft.Num | None, str, list[str]]:
        """(ICP-family numbers, main first; PSB number; PSB mode; look-alike texts)."""
        value = self.slot["numbers"]
        rng = self.rng
        prov = ft.PROVINCES[(self.index + self.seed) % len(ft.PROVINCES)]
        if value.startswith("psb_split:"):
            prov = ft.PROV_BY_CODE[value.split(":", 1)[1]]
        if value.startswith("alt_prefix:"):
            alt = value.split(":", 1)[1]
            prov = next(p for p in ft.PROVINCES if p.alt == alt)
        era = rng.choice((8, 10, 10))
        serial = (self.index * 7919 + self.seed * 104729 + 12345) % 1_000_000
        if self.slot.get("renumber"):  # a later epoch: the entity filed again
            serial = (serial + 333_331 * int(self.slot["renumber"])) % 1_000_000
        digits = ft.filing_digits(rng, serial, era)
        index = str(rng.choice((1, 1, 1, 1, 2, 2, 3, 4, 5, 7, 12)))
        division = rng.choice(prov.divisions)
        psb_serial = (self.index * 6007 + self.seed * 31337 + 777) % 1_000_000
        psb14 = ft.psb(prov.psb, ft.psb_digits(rng, division, psb_serial))
        with_psb = rng.random() < 0.75
        filing = ft.icp_filing(prov, digits, index)
        entity = ft.icp_filing(prov, digits)
        lic_digits = f"{rng.randint(0, 23):02d}{serial % 10_000:04d}"
        telecom_digits = f"{rng.randint(2008, 2024)}{serial % 10_000:04d}"
        psb_mode = "styled"
        icps: list[ft.Num] = []
        psb: ft.Num | None = psb14 if with_psb else None
        lookalikes: list[str] = []
        self.tags.append(f"numbers:{value}")
        if value in ("filing_site", "filing_only"):
            icps = [filing]
            if value == "filing_only":
                psb = None
        elif value == "filing_entity":
            icps = [entity]
        elif value.startswith("filing_appsuffix:"):
            icps = [ft.icp_filing(prov, digits, f"{rng.choice((1, 1, 2))}{value[-1]}")]
        elif value == "licence_and_filing":
            icps = [ft.icp_licence(prov, lic_digits), entity]
        elif value == "licence_index":
            icps = [ft.icp_licence(prov, lic_digits, str(rng.randint(2, 9)))]
            psb = ft.psb(prov.psb, ft.psb_digits(rng, division, psb_serial, 12))
        elif value == "joined_psb_licence":
            icps = [ft.icp_licence(prov, lic_digits)]
            psb, psb_mode = psb14, "joined"
        elif value == "telecom_provincial":
            lic_index = rng.choice((None, None, "1"))
            icps = [filing, ft.telecom(prov.psb, "B2", telecom_digits, lic_index)]
        elif value.startswith("telecom_cross:"):
            cats = value.split(":", 1)[1]
            suffix = "(全网)" if cats == "B2" else ""
            icps = [filing, ft.telecom("", cats, telecom_digits, suffix=suffix)]
        elif value == "telecom_jv":
            icps = [entity, ft.telecom("合字", "B1.B2", telecom_digits)]
        elif value == "telecom_only":
            icps = [ft.telecom(prov.psb, "B2", telecom_digits)]
        elif value.startswith("alt_prefix:"):
            icps = [ft.icp_filing(prov, digits, index, prefix=value.split(":", 1)[1])]
            psb = psb14
        elif value == "placeholder_icp":
            icps = [
                rng.choice([n for n in ft.placeholder_numbers() if n.kind is NumberKind.ICP_FILING])
            ]
        elif value == "placeholder_psb":
            icps = [filing]
            psb = rng.choice(
                [n for n in ft.placeholder_numbers() if n.kind is NumberKind.PSB_FILING]
            )
        elif value.startswith("invalid_icp:"):
            tag = value.split(":", 1)[1]
            icps = [dict(ft.invalid_numbers(rng))[tag]]
        elif value == "invalid_psb":
            icps = [filing]
            psb = dict(ft.invalid_numbers(rng))["psb_invalid_digits"]
        elif value in ("psb_old12", "psb_old15"):
            icps = [filing]
            length = 12 if value == "psb_old12" else 15
            psb = ft.psb(
                prov.psb, ft.psb_digits(rng, division, psb_serial, length), problems=("old_format",)
            )
        elif value.startswith("psb_split:"):
            icps, psb = [filing], psb14
        elif value == "psb_mismatch":
            other = rng.choice([p for p in ft.PROVINCES if p.code != prov.code])
            digits14 = ft.psb_digits(rng, rng.choice(other.divisions), psb_serial)
            icps = [filing]
            psb = ft.psb(prov.psb, digits14, valid=False, problems=("division_mismatch",))
        elif value == "psb_no_prefix":
            icps = [filing]
            psb, psb_mode = ft.psb("", psb14.digits), "no_prefix"
        elif value == "psb_swapped":
            icps, psb, psb_mode = [filing], psb14, "swapped"
        elif value == "psb_href_only":
            icps, psb, psb_mode = [filing], psb14, "href_only"
        elif value in ("lookalike_only", "lookalike_and_real"):
            # rotate through the look-alikes block by block: two blocks show all of them
            turn = 3 * (self.index // pl.BLOCK)
            picks = (0, 1) if value == "lookalike_only" else (2,)
            lookalikes = [ft.LOOKALIKES[(turn + k) % len(ft.LOOKALIKES)] for k in picks]
            icps = [filing] if value == "lookalike_and_real" else []
            psb = None if value == "lookalike_only" else psb
        elif value == "stolen":
            key = f"icpscan-stolen/{self.seed}/{self.profile}/{self.index // pl.BLOCK}"
            sprov, sdigits, _div = self._entity(key)
            icps = [ft.icp_filing(sprov, sdigits, "1")]
            psb = psb14 if self.slot.get("role") == "stolen_victim" else None
        elif value == "entity_shared":
            key = f"icpscan-entity/{self.seed}/{self.profile}/{self.index // pl.BLOCK}"
            eprov, edigits, ediv = self._entity(key)
            icps = [ft.icp_filing(eprov, edigits)]
            psb = ft.psb(eprov.psb, ft.psb_digits(rng, ediv, psb_serial))
        elif value == "none":
            psb = None
        else:  # pragma: no cover
            raise ValueError(value)
        for num in icps:
            if num.kind is NumberKind.ICP_FILING and num.valid and not num.placeholder:
                self.tags.append(f"era_{len(num.digits)}")
        return icps, psb, psb_mode, lookalikes

    # -- page ------------------------------------------------------------------------------------
    def _occ(self, num: ft.Num, location: Location, link: str | None, own: bool = True) -> None:
        self.occurrences.append(
            Occurrence(
                num.kind, num.number, num.valid, num.placeholder, num.problems, num.site_index,
                location, link, own,
            )
        )  # fmt: skip

    def _footer(self, traditional: bool) -> tuple[str, str, str]:
        """(footer inner HTML, tail HTML, extra <head> HTML); records occurrences."""
        slot, rng = self.slot, self.rng
        icps, psb, psb_mode, lookalikes = self._numbers()
        placement = slot["placement"]
        style, label = slot["icp_style"], slot["label"]
        if traditional:
            label = {"备案号：": "備案號：", "ICP备案号：": "ICP備案號："}.get(label, "")
        icp_link = slot["icp_link"]
        href = {
            "current": rng.choice(ft.MIIT_LINKS),
            "stale_miibeian": ft.STALE_MIIT_LINKS[0],
            "stale_miitbeian": ft.STALE_MIIT_LINKS[1],
            "none": None,
        }[icp_link]
        link_kind = {"current": "current", "none": None}.get(icp_link, "stale")
        pieces: list[str] = []
        tail = head = ""
        company = self.company
        start = rng.randint(2003, 2020)
        rights = "版權所有" if traditional else "版权所有"
        shown_main = bool(icps) and placement == "footer"
        if icps:
            self.tags.append(f"placement:{placement}")
        if shown_main and icps[0].kind in (NumberKind.ICP_FILING, NumberKind.ICP_LICENCE):
            self.tags += [f"icp_style:{style}", f"icp_link:{icp_link}"]
            if icps[0].kind is NumberKind.ICP_FILING:
                self.tags.append(f"label:{label or 'none'}")
        script_items: list[str] = []
        for k, num in enumerate(icps):
            if psb_mode == "joined" and k == 0:
                continue
            is_icp = num.kind in (NumberKind.ICP_FILING, NumberKind.ICP_LICENCE)
            num_style = style if k == 0 else "plain"
            if num_style == "year_range":
                text = f"{start}-{start + rng.randint(2, 6)} " + ft.render(
                    num, "plain", traditional=traditional
                )
            else:
                text = ft.render(num, num_style, traditional=traditional)
            plain = ft.render(num, "plain", traditional=traditional)
            if num.kind is NumberKind.TELECOM_LICENCE:
                lab = rng.choice(ft.TELECOM_LABELS)
            elif num.kind is NumberKind.ICP_LICENCE:
                lab = rng.choice(ft.LICENCE_LABELS) if not traditional else ""
            else:
                lab = label if k == 0 else ""
            record_link = is_icp or slot["numbers"] == "telecom_only"
            if placement == "footer":
                if href and record_link:
                    pieces.append(f"{lab}{ft.link(href, text)}")
                    self._occ(num, Location.FOOTER, link_kind)
                else:
                    pieces.append(f"{lab}{text}")
                    self._occ(num, Location.FOOTER, None)
            elif placement == "script_only":
                script_items.append(plain)
                self._occ(num, Location.SCRIPT, None)
            elif placement == "comment_only":
                pieces.append(f"<!-- {lab}{plain} -->")
                self._occ(num, Location.COMMENT, None)
            elif placement == "alt_only":
                img = f'<img src="/static/images/icp.png" alt="{plain}" width="88" height="31">'
                pieces.append(ft.link(ft.MIIT_LINKS[0], img))
                self._occ(num, Location.ATTRIBUTE, "current")
            elif placement == "title_only":
                word = "備案信息" if traditional else "备案信息"
                pieces.append(f'<span class="beian" title="{plain}">{word}</span>')
                self._occ(num, Location.ATTRIBUTE, None)
            elif placement == "meta_only":
                head += f'<meta name="icp" content="{plain}">\n'
                self._occ(num, Location.ATTRIBUTE, None)
        if psb is not None:
            psb_html = self._psb(psb, psb_mode, icps, traditional, script_items, placement)
            if psb_html:
                pieces.append(psb_html)
        for text in lookalikes:
            if text.startswith("萌"):
                serial = "".join(ch for ch in text if ch.isdigit())
                pieces.append(ft.link(f"https://icp.gov.moe/?keyword={serial}", text))
            else:
                pieces.append(f"<span>{text}</span>")
            self.tags += ["lookalike", f"lookalike:{text}"]
        if slot["traps"] == "d3_licence":
            pieces.append("域名注册服务机构许可：浙D3-20210002")
        if slot["traps"] == "wenhua_licence":
            pieces.append(
                f"网络文化经营许可证：浙网文[20{rng.randint(10, 23)}]"
                f"{rng.randint(1000, 9999)}-{rng.randint(100, 999)}号"
            )
        if script_items:
            config = ",".join(
                f'"{key}":"{value}"'
                for key, value in zip(("icp", "psb", "icp2"), script_items, strict=False)
            )
            footer_id = "app-beian"
            pieces.append(f'<p id="{footer_id}"></p>')
            tail = (
                f'<script>window.__APP_CONFIG__={{"siteName":"{company}",{config}}};'
                f'(function(c){{var e=document.getElementById("{footer_id}");'
                'if(e){e.textContent=[c.icp,c.psb].filter(Boolean).join(" | ")}})'
                "(window.__APP_CONFIG__);</script>\n"
            )
        separator = rng.choice((" | ", "&nbsp;&nbsp;", "<br>\n", "　", " "))
        phone = f"0{rng.randint(10, 999)}-{rng.randint(2, 8)}{rng.randint(100_0000, 999_9999)}"
        contact = (
            f'<p class="contact">{"電話" if traditional else "电话"}：{phone}　'
            f"地址：{rng.choice(_CITIES_T if traditional else _CITIES)}"
            f"{rng.randint(1, 300)}{'號' if traditional else '号'}</p>"
        )
        footer = (
            f"{contact}\n"
            f'<p class="copyright">&copy; {start}-{ft.CURRENT_YEAR} {company} {rights}</p>\n'
            f'<p class="beian">{separator.join(pieces)}</p>'
        )
        return footer, tail, head

    def _psb(
        self,
        psb: ft.Num,
        mode: str,
        icps: list[ft.Num],
        traditional: bool,
        script_items: list[str],
        placement: str,
    ) -> str:
        slot = self.slot
        if placement == "script_only":
            script_items.append(ft.render(psb, "plain", traditional=traditional))
            self._occ(psb, Location.SCRIPT, None)
            return ""
        new_platform = slot["psb_link"] == "mps" or (
            mode == "href_only" and self.rng.random() < 0.5
        )
        icon = '<img src="/static/images/gongan.png" alt="" width="16" height="16">'
        if mode == "joined":
            licence = icps[0]
            self._occ(psb, Location.FOOTER, None)
            self._occ(licence, Location.FOOTER, None)
            self.tags.append("psb_joined_licence")
            return ft.render(psb, "plain") + "-" + ft.render(licence, "plain")
        if mode == "href_only":
            # the link sits in the footer: its number is shown there (as a lookup link)
            self._occ(psb, Location.FOOTER, "psb")
            self.tags.append(f"psb_link:{'mps' if new_platform else 'beian_gov'}")
            return ft.link(ft.psb_link(psb, new_platform), f"{icon}{psb.prefix}公安网备")
        style = {"no_prefix": "no_prefix", "swapped": "swapped"}.get(mode, slot["psb_style"])
        text = ft.render(psb, style, traditional=traditional)
        if mode == "styled":
            self.tags.append(f"psb_style:{style}")
        if slot["psb_link"] == "none" or (mode != "styled" and self.rng.random() < 0.3):
            self._occ(psb, Location.FOOTER, None)
            if mode == "styled":
                self.tags.append("psb_link:none")
            return text
        self._occ(psb, Location.FOOTER, "psb")
        self.tags.append(f"psb_link:{'mps' if new_platform else 'beian_gov'}")
        return ft.link(ft.psb_link(psb, new_platform), f"{icon}{text}")

    def _sections(self, charset: str) -> str:
        slot, rng = self.slot, self.rng
        parts: list[str] = []
        trap = slot["traps"]
        if trap != "none":
            self.tags.append(f"trap:{trap}")
        if trap == "tutorial":
            examples = rng.sample(ft.TUTORIAL_EXAMPLES, 3)
            for num in examples:
                self._occ(num, Location.BODY, None, own=False)
            a, b, c = (ft.render(n) for n in examples)
            parts.append(
                '<article class="post"><h2>网站备案号在哪里查询？一文看懂</h2>'
                f"<p>很多读者问如何核对一个网站的备案信息。以大型网站为例，页面底部会写着 {a}，"
                f"另一些网站展示的是 {b}。</p><p>公安备案的格式与之不同，例如 {c}，"
                "可以在全国互联网安全管理服务平台查询。注意：备案号与营业执照号不是一回事。</p>"
                "</article>\n"
            )
        if trap in ("phone_date_order", "tutorial"):
            parts.append(
                '<div class="service"><p>客服热线：400-820-8820（工作日 9:00-18:00）　'
                f"传真：021-6435{rng.randint(1000, 9999)}</p>"
                f"<p>订单号：2023111500{rng.randint(10**7, 10**8 - 1)}"
                f"　下单日期：2023-11-15　物流单号：SF{rng.randint(10**11, 10**12 - 1)}</p></div>\n"
            )
        if trap == "iterative_closest_point":
            parts.append(
                '<section class="paper"><h2>点云配准实验</h2><p>我们实现了 ICP（Iterative Closest '
                "Point）算法及其变种 GICP 与 NDT。在 20210430 采集的数据上，"
                "ICP 迭代 50 次后均方误差为"
                " 0.0021，ICP 2.0 版本的收敛速度提升 35%。</p></section>\n"
            )
        if trap == "lowercase_prose":
            parts.append(
                '<section class="docs"><p>配置文件中的 icp 参数控制配准阈值，例如 icp_max_iter=30；'
                "旧版 icp 模块已于 2022 年停止维护，请迁移到新接口。</p></section>\n"
            )
        signal = slot["signals"]
        if signal != "none":
            self.tags.append(f"signal:{signal}")
        if signal == "ecommerce":
            parts.append(
                '<div class="shop"><a href="/cart" class="cart">购物车(0)</a>'
                '<div class="goods"><h3>智能手环 Pro</h3><span class="price">￥199.00</span>'
                '<button class="buy">立即购买</button><button>加入购物车</button></div>'
                "<p>支持支付宝、微信支付，满99元包邮。</p></div>\n"
            )
        elif signal == "forum":
            parts.append(
                '<div class="bbs"><a href="/forum.php">论坛</a> <a href="/post/new">发帖</a>'
                '<ul><li><a href="/t/1024">新手报到帖</a> 回复 (23)</li>'
                '<li><a href="/t/1025">经验交流：如何入门</a> 回复 (8)</li></ul></div>\n'
            )
        elif signal == "news":
            parts.append(
                '<section class="news"><h2>新闻中心</h2><ul>'
                '<li><a href="/news/1.html">新闻：公司荣获年度创新奖</a></li>'
                '<li><a href="/news/2.html">行业新闻：产业大会在杭州召开</a></li></ul>'
                '<p class="source">本报记者 报道</p></section>\n'
            )
        if charset == "gbk":
            parts.append("<p>管理团队：总经理王喆、技术总监李堃、设计总监陈玥、顾问刘镕。</p>\n")
        if charset in ("gb18030", "utf-8") and rng.random() < 0.5:
            parts.append("<p>吉祥物“𠮷”与“𡈽”来自古籍字库。</p>\n")
        return "".join(parts)

    def _home(self) -> None:
        """The site's homepage (and helper pages); occurrences come from here."""
        slot, rng = self.slot, self.rng
        charset, meta, _header = pl.ENCODINGS[slot["encoding"]]
        traditional = charset == "big5"
        self.company = (
            f"{rng.choice(_CITIES_T)}{rng.choice(_WORDS_T)}{rng.choice(_SUFFIXES_T)}"
            if traditional
            else f"{rng.choice(_CITIES)}{rng.choice(_WORDS)}{rng.choice(_SUFFIXES)}"
        )
        size_range = (20_000, 150_000)
        blocks = pg.pick_blocks(rng, charset, size_range)
        footer, tail, head = self._footer(traditional)
        sections = self._sections(charset)
        oversized = slot["http"] == "oversized"
        self.pages["home"] = pg.Page(
            charset=charset,
            meta_charset=meta,
            title=self.company,
            traditional=traditional,
            blocks=blocks,
            sections=sections,
            footer=footer,
            tail=tail,
            head_extra=head,
            repeat=60 if oversized else 1,
            footer_first=oversized,
        )
        self.tags.append(f"encoding:{slot['encoding']}")
        if traditional and self.occurrences:
            self.tags.append("traditional_chars")
        waiting = "<p>頁面跳轉中…</p>" if traditional else "<p>页面跳转中…</p>"
        refresh = '<meta http-equiv="refresh" content="0; url=/portal/index.html">\n'
        js = '<script>window.location.href = "/m/index.html";</script>\n'
        noscript = "" if traditional else "<noscript>请启用 JavaScript</noscript>"
        home = self.pages["home"]
        stub = dataclasses.replace(
            home, blocks=(), footer="", tail="", repeat=1, footer_first=False
        )
        self.pages["meta"] = dataclasses.replace(stub, sections=waiting, head_extra=refresh)
        self.pages["js"] = dataclasses.replace(stub, sections=noscript, head_extra=js)

    # -- HTTP ------------------------------------------------------------------------------------
    def _http(self, main: str) -> tuple[str | None, bool, str | None]:
        """Write the farm hosts; returns (final URL, reached, content page key or None)."""
        slot, rng = self.slot, self.rng
        v = slot["http"]
        apex, www = self.domain, f"www.{self.domain}"
        other = www if main == apex else None
        _charset, _meta, header_cs = pl.ENCODINGS[slot["encoding"]]
        ctype = f"text/html; charset={header_cs}" if header_cs else "text/html"
        server = rng.choice(_SERVERS)
        gzip = rng.random() < 0.35
        base_headers = [("Server", server)]
        page_headers = [*base_headers, ("Content-Type", ctype), ("Cache-Control", "no-cache")]

        def page(key: str, status: int = 200, delay: float = 0.0, trickle: float = 0.0) -> Response:
            return Response(
                status=status,
                headers=page_headers,  # one list per site: the farm only reads it
                body=LazyBody(self.seed, self.profile, self.index, key, self.epoch),
                encoding="gzip" if gzip else None,
                delay=delay,
                trickle=trickle,
            )

        def redirect(location: str, status: int = 301) -> Response:
            return Response(
                status=status,
                headers=[*base_headers, ("Location", location), ("Content-Type", "text/html")],
                body=pg.redirect_stub(location),
            )

        to_https = redirect(f"https://{main}/")
        hosts = self.hosts
        hosts[main] = Host(http={"/": to_https}, https={"/": page("home")})
        if other:
            hosts[other] = Host(http={"/": to_https}, https={"/": to_https})
        final: str | None = f"https://{main}/"
        reached = True
        content_key: str | None = "home"
        self.tags.append(f"http:{v}")
        m = hosts[main]
        if v == "ok":
            pass
        elif v == "http_only":
            m.http, m.https = {"/": page("home")}, {}
            if other:
                hosts[other] = Host(http={"/": redirect(f"http://{main}/")})
            final = f"http://{main}/"
        elif v == "https_only":
            m.http = {}
            if other:
                hosts[other] = Host(https={"/": to_https})
        elif v == "apex_to_www":
            assert other is not None
            to_www = redirect(f"https://{other}/")
            hosts[main] = Host(http={"/": to_www}, https={"/": to_www})
            hosts[other] = Host(http={"/": to_www}, https={"/": page("home")})
            final = f"https://{other}/"
        elif v == "same_host_chain":
            m.https = {
                "/": redirect("/index.php", 302),
                "/index.php": redirect(f"https://{main}/zh-cn/index.html"),
                "/zh-cn/index.html": page("home"),
            }
            final = f"https://{main}/zh-cn/index.html"
            self.tags.append("redirect_chain:3")
        elif v in ("cross_host_same_reg", "cross_host_other_reg"):
            label = self.domain.split(".", 1)[0]
            target_host = (
                f"portal.{apex}" if v == "cross_host_same_reg" else f"www.{label}-group.com"
            )
            path = "/home/" if v == "cross_host_same_reg" else "/"
            self.dns[target_host] = DnsName(records={"CNAME": [main]}, ttl=600)
            m.https = {"/": redirect(f"https://{target_host}{path}", 302)}
            hosts[target_host] = Host(
                http={path: redirect(f"https://{target_host}{path}")}, https={path: page("home")}
            )
            final = f"https://{target_host}{path}"
        elif v == "meta_refresh":
            m.https = {"/": page("meta"), "/portal/index.html": page("home")}
            final = f"https://{main}/portal/index.html"
        elif v == "js_redirect":
            m.https = {"/": page("js"), "/m/index.html": page("home")}
            final = f"https://{main}/m/index.html"
        elif v == "status_404":
            m.https = {"/": page("home", 404)}
        elif v in ("status_500_bare", "status_503_bare"):
            status = 500 if v == "status_500_bare" else 503
            reason = "Internal Server Error" if status == 500 else "Service Temporarily Unavailable"
            m.https = {
                "/": Response(
                    status,
                    [*base_headers, ("Content-Type", "text/html")],
                    pg.bare_error(status, reason),
                )
            }
            content_key = None
        elif v == "slow":
            m.https = {"/": page("home", delay=1.5)}
        elif v == "trickle":
            m.https = {"/": page("home", trickle=160_000.0)}
        elif v == "oversized":
            pass  # the page itself is oversized (pages["home"].repeat)
        elif v in ("reset", "drop", "stall"):
            for host in [main, other]:
                if host:
                    bad = page("home")
                    bad.reset_after = 1500 if v == "reset" else None
                    bad.drop_connection = v == "drop"
                    bad.stall_after_headers = v == "stall"
                    hosts[host] = Host(http={"/": bad}, https={"/": bad})
            final, reached, content_key = None, False, None
        elif v in ("refused", "tarpit"):
            mode = ConnectionMode.REFUSED if v == "refused" else ConnectionMode.TARPIT
            for host in [main, other]:
                if host:
                    hosts[host].connection = mode
            final, reached, content_key = None, False, None
        elif v == "redirect_loop":
            assert other is not None
            hosts[main].https = {"/": redirect(f"https://{other}/", 302)}
            hosts[other].https = {"/": redirect(f"https://{main}/", 302)}
            final, reached, content_key = None, False, None
        elif v.startswith("cert_"):
            mode_name, _, fallback = v[5:].rpartition("_")
            cert = {
                "expired": CertMode.EXPIRED,
                "self_signed": CertMode.SELF_SIGNED,
                "wrong_name": CertMode.WRONG_NAME,
                "stall": CertMode.HANDSHAKE_STALL,
            }[mode_name]
            for host in [main, other]:
                if host:
                    hosts[host].cert = cert
            if fallback == "fallback":
                m.http = {"/": page("home")}
                if other:
                    hosts[other].http = {"/": redirect(f"http://{main}/")}
            if cert is not CertMode.HANDSHAKE_STALL:
                # Certificate errors are facts to record, not reasons to skip the page: the
                # crawler reads the https page whatever the certificate says.
                final = f"https://{main}/"
            elif fallback == "fallback":
                final = f"http://{main}/"
            else:
                final, reached, content_key = None, False, None
        elif v == "to_partner":
            partner = pl.partner_index(self.seed, self.index, self.profile)
            assert partner is not None
            dst = build_site(self.seed, partner, self.profile, self.epoch)
            self.dns.update(dst.dns)
            self.hosts.update(dst.hosts)
            m.https = {"/": redirect(f"https://{dst.domain}/")}
            self.partner = dst
            final = dst.truth.final_url
            content_key = None
            self.tags.append("redirect_cross_domain_partner")
        else:  # pragma: no cover
            raise ValueError(v)
        if gzip and reached:
            self.tags.append("gzip")
        return final, reached, content_key

    # -- assembly --------------------------------------------------------------------------------
    def build(self) -> Site:
        slot = self.slot
        role = slot.get("role", "normal")
        if role != "normal":
            self.tags.append(f"role:{role}")
        main, resolved = self._hosting()
        if resolved is not None and self.slot.get("epoch_change"):
            resolved = self._evolve_hosting(main, resolved)
        before = len(self.tags)
        self._home()
        page_tags = self.tags[before:]
        del self.tags[before:]
        final_url, reached, content_key = (None, False, None)
        if resolved is not None:
            final_url, reached, content_key = self._http(main)
        addresses = tuple(a for a, _ in resolved.addresses) if resolved else ()
        regions = [POOLS[p].region for _, p in resolved.addresses] if resolved else []
        region = combine_regions(regions)
        region_mv = region
        if resolved and resolved.mainland_view is not None:
            region_mv = combine_regions(POOLS[p].region for _, p in resolved.mainland_view)
        self.tags.append(f"region:{region}")
        if resolved and any(_registry_differs(p, a) for a, p in resolved.addresses):
            self.tags.append("registry_country_differs")
        occurrences: list[Occurrence] = []
        signals: tuple[str, ...] = ()
        if self.partner is not None:
            occurrences = self.partner.occurrences
            signals = self.partner.truth.signals
            reached = self.partner.truth.reachable
        elif reached and content_key == "home":
            occurrences = self.occurrences
            self.tags += page_tags
            signals = () if slot["signals"] == "none" else (slot["signals"],)
        numbers = fold(occurrences)
        mainland_addr = any(
            POOLS[p].region is Region.MAINLAND for _, p in (resolved.addresses if resolved else [])
        )
        findings = site_findings(region, mainland_addr, reached, numbers, signals)
        truth = SiteTruth(
            domain=self.domain,
            region=region,
            region_mainland_vantage=region_mv,
            reachable=reached,
            final_url=final_url if reached else None,
            numbers=numbers,
            findings=findings,
            findings_with_expected=[],
            exercises=[],
            addresses=addresses,
            final_registrable=registrable(final_url.split("/")[2])
            if reached and final_url
            else None,
            signals=signals,
        )
        self._expected(truth)
        truth.exercises = sorted({sys.intern(tag) for tag in self.tags})  # shared across sites
        return Site(
            self.index, self.domain, slot, self.dns, self.hosts, self.pages, truth,
            self.expected, self.occurrences,
        )  # fmt: skip

    def _evolve_hosting(self, main: str, resolved: _Resolved) -> _Resolved:
        """A later epoch's hosting change, drawn from its own random stream so the rest of the
        site (page, numbers) is drawn exactly as at epoch 0."""
        self.tags.append(f"epoch_change:{self.slot['epoch_change']}")
        rng = random.Random(f"icpscan-evolve/{self.seed}/{self.profile}/{self.index}")
        if "moved_to" in self.slot:
            pool = POOLS[self.slot["moved_to"]]
            moved: dict[str, str] = {}
            while len(moved) < len(resolved.addresses):
                moved.setdefault(pool.address(rng), pool.key)
            entry = self.dns[main]
            entry.records = {k: v for k, v in entry.records.items() if k not in ("A", "AAAA")}
            entry.records["A"] = list(moved)
            self.tags = [t for t in self.tags if not t.startswith("hosting:")]
            self.tags.append(f"hosting:pool:{pool.key}")
            return _Resolved(list(moved.items()))
        if "cdn_to" in self.slot:
            saved, self.rng = self.rng, rng
            try:
                self.tags = [t for t in self.tags if not t.startswith(("cdn:", "cname_chain:"))]
                first, addrs = self._cdn_chain(self.domain, self.slot["cdn_to"], rng.choice((1, 2)))
            finally:
                self.rng = saved
            self.dns[self.domain].records["CNAME"] = [first]
            return _Resolved(addrs)
        return resolved

    def _expected(self, truth: SiteTruth) -> None:
        """Rows of the provider's expected-filings file. Every row lists the provider's whole
        load-balanced cluster, so the file's server set is the same for any number of sites."""
        role = self.slot.get("role", "normal")
        if not role.startswith("provider_"):
            return
        ips = provider_ips(self.seed)
        turn = self.index % len(ips)
        servers = ips[turn:] + ips[:turn]
        own = next(
            (n.number for n in truth.numbers if n.own and n.kind is NumberKind.ICP_FILING), ""
        )
        if role == "provider_match":
            number = own if self.rng.random() < 0.5 else own.split("号-")[0] + "号"
            self.expected.append(ExpectedFiling(self.domain, number, servers))
            # a filing the provider still lists for a domain nobody scanned
            self.expected.append(ExpectedFiling(f"closed-{self.domain}", number, servers))
        elif role == "provider_other_number":
            prov, digits, _ = self._entity(f"icpscan-other/{self.seed}/{self.index}")
            other = ft.icp_filing(prov, digits, "1").number
            self.expected.append(ExpectedFiling(self.domain, other, servers))
        elif role == "provider_moved":
            self.expected.append(ExpectedFiling(self.domain, own, servers))
        elif role == "provider_empty_number":
            self.expected.append(ExpectedFiling(self.domain, "", servers))
        # provider_unlisted: on our servers, no row


def _registry_differs(pool_key: str, address: str) -> bool:
    pool = POOLS[pool_key]
    country = {
        Region.MAINLAND: "CN",
        Region.HONGKONG: "HK",
        Region.MACAU: "MO",
        Region.TAIWAN: "TW",
    }.get(pool.region)
    fam = 6 if ":" in address else 4
    nets = [n for n in pool.networks if (":" in n.prefix) == (fam == 6)]
    if country is None:
        return any(n.country in ("CN", "HK", "MO", "TW") for n in nets)
    return any(n.country != country for n in nets)


# ---------------------------------------------------------------------------------------------


def iter_sites(sites: int, seed: int, profile: str = "realistic", epoch: int = 0) -> Iterator[Site]:
    """Sites one by one (constant memory per site beyond what the caller keeps)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
    if sites < 0:
        raise ValueError("sites must be >= 0")
    for index in range(sites):
        yield build_site(seed, index, profile, epoch)


@dataclass
class Scenario:
    sites: int
    seed: int
    profile: str
    world: World
    truth: dict[str, SiteTruth]
    domains: list[str]
    expected_filings: list[ExpectedFiling]
    epoch: int = 0
    records: list[RecordRow] = field(default_factory=list)  # the filing records export
    record_truth: dict[str, RecordTruth] = field(default_factory=dict)

    def write_files(self, directory: Path | str) -> dict[str, Path]:
        """domains.txt, truth.jsonl, expected-filings.csv, records.csv, records-truth.jsonl
        (deterministic bytes)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "domains": out / "domains.txt",
            "truth": out / "truth.jsonl",
            "expected": out / "expected-filings.csv",
        }
        paths["domains"].write_text("".join(f"{d}\n" for d in self.domains), encoding="utf-8")
        paths["truth"].write_text(
            "".join(self.truth[d].to_jsonl() + "\n" for d in self.domains), encoding="utf-8"
        )
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["domain", "icp_number", "server_ips"])
        for row in self.expected_filings:
            writer.writerow([row.domain, row.icp_number, ";".join(row.server_ips)])
        paths["expected"].write_text(buffer.getvalue(), encoding="utf-8")
        paths["records"] = out / "records.csv"
        paths["records"].write_text(records_csv(self.records), encoding="utf-8")
        paths["record_truth"] = out / "records-truth.jsonl"
        paths["record_truth"].write_text(
            "".join(self.record_truth[d].to_jsonl() + "\n" for d in self.domains),
            encoding="utf-8",
        )
        return paths


def generate(sites: int, seed: int, profile: str = "realistic", epoch: int = 0) -> Scenario:
    """Build the world and ground truth of ``sites`` sites (deterministic per arguments).

    ``epoch`` > 0 is the same world later: some sites added, removed or changed their number,
    moved into or out of the mainland, or changed CDN (:mod:`icpscan.sandbox.epochs`).
    """
    world = World()
    world.asn_prefixes, world.asn_names = asn_tables()
    truths: list[SiteTruth] = []
    expected: list[ExpectedFiling] = []
    for site in iter_sites(sites, seed, profile, epoch):
        world.dns.update(site.dns)
        world.hosts.update(site.hosts)
        truths.append(site.truth)
        expected += site.expected
    apply_scan_wide(truths, expected)
    records, cases = scenario_records(seed, profile, truths)
    return Scenario(
        sites=sites,
        seed=seed,
        profile=profile,
        world=world,
        truth={t.domain: t for t in truths},
        domains=[t.domain for t in truths],
        expected_filings=expected,
        epoch=epoch,
        records=records,
        record_truth=record_truths(truths, records, cases),
    )
