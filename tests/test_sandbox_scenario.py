"""The scenario generator: deterministic, N-independent, covering, and truthful about its pages."""

from __future__ import annotations

import csv
import html
import ipaddress
import json
import re
import unicodedata
from collections import Counter
from functools import cache

import pytest

from icpscan.models import FINDING_CODES, Location, NumberKind, Region
from icpscan.sandbox import footers as ft
from icpscan.sandbox import pages as pg
from icpscan.sandbox import plan as pl
from icpscan.sandbox.internet import MAINLAND_VANTAGE_SUBNETS, POOLS, asn_tables
from icpscan.sandbox.scenario import LazyBody, build_site, generate, registrable
from icpscan.sandbox.truth import numbers_match
from icpscan.sandbox.world import DnsFault, Response


@cache
def scenario(sites: int, seed: int, profile: str = "realistic"):
    return generate(sites, seed, profile)


def truth_lines(sc) -> list[str]:
    return [sc.truth[d].to_jsonl() for d in sc.domains]


def all_responses(world, hosts=None):
    for name in hosts or world.hosts:
        host = world.hosts[name]
        for scheme, paths in (("http", host.http), ("https", host.https)):
            for path, response in paths.items():
                yield name, scheme, path, response


# -- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_identical_files_and_bodies(tmp_path):
    first, second = generate(300, 11), generate(300, 11)
    a = first.write_files(tmp_path / "a")
    b = second.write_files(tmp_path / "b")
    for key in ("domains", "truth", "expected"):
        assert a[key].read_bytes() == b[key].read_bytes()
    assert sorted(first.world.dns) == sorted(second.world.dns)
    assert all(first.world.dns[n] == second.world.dns[n] for n in first.world.dns)
    hosts = sorted(first.world.hosts)[:120]
    bodies_a = [
        (n, s, p, r.status, r.body_bytes()) for n, s, p, r in all_responses(first.world, hosts)
    ]
    bodies_b = [
        (n, s, p, r.status, r.body_bytes()) for n, s, p, r in all_responses(second.world, hosts)
    ]
    assert bodies_a == bodies_b
    assert sum(len(b[-1]) for b in bodies_a) > 1_000_000  # real pages, not stubs


def test_different_seed_gives_a_different_world():
    a, b = scenario(300, 1), scenario(300, 2)
    assert a.domains != b.domains
    assert truth_lines(a) != truth_lines(b)
    assert len(set(a.domains) & set(b.domains)) < 10


def test_site_i_does_not_depend_on_the_number_of_sites():
    small, large = scenario(300, 5), generate(450, 5)
    assert large.domains[:300] == small.domains
    # 300 sites are three whole blocks, so even the scan-wide findings agree
    assert [large.truth[d].to_jsonl() for d in small.domains] == truth_lines(small)
    for index in (0, 57, 123, 299):
        site = build_site(5, index)
        for name in site.hosts:
            for scheme in ("http", "https"):
                for path, resp in getattr(small.world.hosts[name], scheme).items():
                    other = getattr(large.world.hosts[name], scheme)[path]
                    assert resp.body_bytes() == other.body_bytes()


def test_bodies_are_built_on_request_from_shared_blocks():
    sc = scenario(1000, 3)
    lazy = stored = 0
    for _name, _scheme, _path, resp in all_responses(sc.world):
        if isinstance(resp.body, LazyBody):
            lazy += 1
        else:
            stored += 1
            assert len(resp.body) < 1024  # only redirect stubs and bare error pages are stored
    assert lazy >= 1000
    assert stored > 0
    # filler is encoded once per charset, whatever the number of sites
    pg.filler.cache_clear()
    for _n, _s, _p, resp in list(all_responses(sc.world))[:400]:
        resp.body_bytes()
    assert pg.filler.cache_info().currsize <= len(pg.CODECS)
    # per-site DNS stays small (except the deliberate hundreds-of-A name)
    assert len(sc.world.dns) < 4 * 1000
    assert len(sc.world.hosts) < 3 * 1000


# -- coverage ----------------------------------------------------------------------------------

REQUIRED_TAGS = (
    [f"numbers:{v}" for v in pl.NUMBERS_REQUIRED]
    + [f"http:{v}" for v in pl.HTTP_REACHED + pl.HTTP_FAILED]
    + [
        f"hosting:{v}"
        for v in pl.POOL_HOSTINGS + pl.CDN_HOSTINGS + pl.SPECIAL_HOSTINGS + pl.DNS_FAULT_HOSTINGS
    ]
    + [f"icp_style:{v}" for v in pl.ICP_STYLES]
    + [f"icp_link:{v}" for v in pl.ICP_LINKS]
    + [f"psb_style:{v}" for v in pl.PSB_STYLES]
    + [f"psb_link:{v}" for v in pl.PSB_LINKS]
    + [f"placement:{v}" for v in pl.PLACEMENTS]
    + [f"trap:{v}" for v in pl.TRAPS[1:]]
    + [f"signal:{v}" for v in pl.SIGNALS[1:]]
    + [f"encoding:{v}" for v in pl.ENCODINGS]
    + [f"role:{v}" for v in pl.ROLES[1:]]
    + [f"label:{v}" for v in pl.LABELS[1:]]
    + [f"dns_fault:{f}" for f in DnsFault]
    + [f"region:{r}" for r in Region]
    + [f"cdn:{c}" for c in ("aliyun", "tencent-cn", "wangsu", "baidu", "cloudflare", "akamai")]
    + [f"cname_chain:{n}" for n in (1, 2, 3)]
    + [
        "geodns",
        "ipv6_only",
        "dual_stack",
        "apex_no_address",
        "dns_many_a",
        "cname_loop",
        "cname_long_chain",
        "registry_country_differs",
        "era_8",
        "era_10",
        "gzip",
        "lookalike",
        "psb_joined_licence",
        "redirect_chain:3",
        "redirect_cross_domain_partner",
    ]
    + [f"lookalike:{text}" for text in ft.LOOKALIKES]
)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_300_sites_exercise_every_category(seed):
    sc = scenario(300, seed)
    tags = Counter(t for tr in sc.truth.values() for t in tr.exercises)
    assert [t for t in REQUIRED_TAGS if t not in tags] == []
    codes = Counter(c for tr in sc.truth.values() for c in tr.findings_with_expected)
    codes.update(c for tr in sc.record_truth.values() for c in tr.record_findings)
    assert sorted(set(FINDING_CODES) - set(codes)) == []
    # every issued ICP prefix and every alternate appears on some page
    shown_prefixes = {
        n.number[0]
        for tr in sc.truth.values()
        for n in tr.numbers
        if n.kind is NumberKind.ICP_FILING and n.own
    }
    assert {p.icp for p in ft.PROVINCES} <= shown_prefixes
    assert set("川贵云甘秦") <= shown_prefixes


def test_tricky_hosting_is_present_and_labelled():
    sc = scenario(300, 0)
    by_tag = {}
    for tr in sc.truth.values():
        for tag in tr.exercises:
            by_tag.setdefault(tag, []).append(tr)
    # registry country says US (ARIN) but the servers are in the mainland / Hong Kong
    assert {t.region for t in by_tag["hosting:pool:alibaba-cn-arin"]} == {Region.MAINLAND}
    assert {t.region for t in by_tag["hosting:pool:aws-cn"]} == {Region.MAINLAND}
    assert {t.region for t in by_tag["hosting:pool:alibaba-hk"]} >= {Region.HONGKONG}
    # APNIC CN registry, servers in Hong Kong
    assert {t.region for t in by_tag["hosting:pool:tencent-hk"]} == {Region.HONGKONG}
    for tr in by_tag["hosting:pool:tencent-hk"] + by_tag["hosting:pool:alibaba-cn-arin"]:
        assert "registry_country_differs" in tr.exercises
    for tr in by_tag["geodns"]:
        assert tr.region_mainland_vantage is Region.MAINLAND
        assert tr.region in (Region.ABROAD, Region.HONGKONG)
    for tr in sc.truth.values():
        if "geodns" not in tr.exercises:
            assert tr.region_mainland_vantage == tr.region
    for tr in by_tag["hosting:mixed"]:
        assert tr.region is Region.MIXED
    for tag in ("hosting:cname_loop", "hosting:dns:nxdomain", "hosting:dns:timeout"):
        assert all(t.region is Region.UNKNOWN and not t.reachable for t in by_tag[tag])
    assert all(t.reachable for t in by_tag["hosting:dns:truncate"] if "http:ok" in t.exercises)


def test_world_answers_asn_for_every_address_and_views_cover_mainland_pools():
    sc = scenario(300, 4)
    prefixes, names = asn_tables()
    assert sc.world.asn_prefixes == prefixes and sc.world.asn_names == names
    nets = [ipaddress.ip_network(p.prefix) for p in prefixes]
    seen = 0
    for entry in sc.world.dns.values():
        for rtype in ("A", "AAAA"):
            for address in entry.records.get(rtype, []):
                ip = ipaddress.ip_address(address)
                assert ip.is_global, address
                assert any(ip in n for n in nets if n.version == ip.version), address
                seen += 1
    assert seen > 300
    assert {p.asns[0] for p in prefixes} <= set(names)
    vantage = [ipaddress.ip_network(s) for s in MAINLAND_VANTAGE_SUBNETS]
    for pool in POOLS.values():
        if pool.region is Region.MAINLAND:
            for rng in pool.ranges(4):
                assert any(
                    ipaddress.ip_network(rng).subnet_of(v) for v in vantage if v.version == 4
                )


# -- truth -------------------------------------------------------------------------------------

CANONICAL = {
    NumberKind.ICP_FILING: re.compile(r"[\u4e00-\u9fff]ICP备[0-9X]+号(?:-\d+[AX]?)?"),
    NumberKind.ICP_LICENCE: re.compile(r"[\u4e00-\u9fff]ICP证\d{6}号(?:-\d+)?"),
    NumberKind.TELECOM_LICENCE: re.compile(
        r"(?:合字|[\u4e00-\u9fff])?(?:A[12]|B[12])(?:\.(?:A[12]|B[12]))*-\d{8}(?:-\d+)?"
    ),
    NumberKind.PSB_FILING: re.compile(r"[\u4e00-\u9fff]?公网安备[0-9X]+号"),
}


def test_truth_numbers_are_canonical_and_consistent():
    for seed in (0, 1):
        for tr in scenario(300, seed).truth.values():
            keys = [(n.kind, n.number) for n in tr.numbers]
            assert len(keys) == len(set(keys))
            for n in tr.numbers:
                assert CANONICAL[n.kind].fullmatch(n.number), n.number
                assert not re.search(r"\s", n.number)
                if n.placeholder:
                    assert not n.valid
                if n.kind is NumberKind.PSB_FILING and n.valid:
                    digits = re.sub(r"\D", "", n.number)
                    assert len(digits) in (12, 14, 15)
                if not n.own:
                    assert n.location is Location.BODY
            if not tr.reachable:
                assert tr.numbers == [] and tr.final_url is None
                assert "UNREACHABLE" in tr.findings
            else:
                assert tr.final_url and tr.final_url.startswith(("http://", "https://"))


def test_expected_filings_rows_cover_every_provider_case(tmp_path):
    sc = scenario(300, 0)
    paths = sc.write_files(tmp_path)
    rows = list(csv.DictReader(paths["expected"].read_text(encoding="utf-8").splitlines()))
    assert list(rows[0]) == ["domain", "icp_number", "server_ips"]
    assert len(rows) == len(sc.expected_filings) >= 15
    by_domain = {r["domain"]: r for r in rows}
    outcome = Counter()
    for domain, tr in sc.truth.items():
        extra = set(tr.findings_with_expected) - set(tr.findings)
        row = by_domain.get(domain)
        if "role:provider_match" in tr.exercises:
            assert row and row["icp_number"] and extra == set()
            shown = [n.number for n in tr.numbers if n.own]
            assert any(numbers_match(s, row["icp_number"]) for s in shown)
            outcome["match"] += 1
        if "role:provider_other_number" in tr.exercises:
            assert extra == {"PAIR_NUMBER_MISMATCH"}
            outcome["other"] += 1
        if "role:provider_moved" in tr.exercises:
            assert extra == {"PAIR_SERVER_MISMATCH"} and row
            assert not set(row["server_ips"].split(";")) & set(tr.addresses)
            outcome["moved"] += 1
        if "role:provider_unlisted" in tr.exercises:
            assert row is None and extra == {"UNFILED_ON_OUR_SERVERS"}
            outcome["unlisted"] += 1
        if "role:provider_empty_number" in tr.exercises:
            assert row and row["icp_number"] == "" and extra == {"UNFILED_ON_OUR_SERVERS"}
            outcome["empty"] += 1
    assert outcome == {"match": 3, "other": 3, "moved": 3, "unlisted": 3, "empty": 3}
    assert any(d not in sc.truth for d in by_domain)  # a filing for a domain nobody scanned


def test_cross_domain_cases():
    sc = scenario(300, 1)
    roles = {}
    for tr in sc.truth.values():
        for tag in tr.exercises:
            if tag.startswith("role:"):
                roles.setdefault(tag[5:], []).append(tr)
    for victim, thief in zip(roles["stolen_victim"], roles["stolen_thief"], strict=True):
        assert "NUMBER_SHARED" in victim.findings and "NUMBER_SHARED" in thief.findings
        stolen = {n.number for n in victim.numbers} & {n.number for n in thief.numbers}
        assert len(stolen) == 1 and "号-" in stolen.pop()
        assert registrable(victim.domain) != registrable(thief.domain)
    for a, b in zip(roles["entity_a"], roles["entity_b"], strict=True):
        shared = {n.number for n in a.numbers if n.kind is NumberKind.ICP_FILING}
        assert shared == {n.number for n in b.numbers if n.kind is NumberKind.ICP_FILING}
        assert "号-" not in next(iter(shared))
        assert "NUMBER_SHARED" not in a.findings + b.findings
    for src, dst in zip(roles["redirect_src"], roles["redirect_dst"], strict=True):
        assert src.final_url == dst.final_url == f"https://{dst.domain}/"
        assert src.numbers == dst.numbers and src.numbers
        assert "NUMBER_SHARED" not in src.findings + dst.findings
    # nothing else shares a website number by accident
    shared = [tr for tr in sc.truth.values() if "NUMBER_SHARED" in tr.findings]
    assert all("numbers:stolen" in tr.exercises for tr in shared)


def test_profiles_differ_in_mix():
    bench = scenario(1000, 9, "bench")
    failed = sum(not t.reachable for t in bench.truth.values()) / 1000
    redirected = (
        sum(t.reachable and t.final_url != f"https://{t.domain}/" for t in bench.truth.values())
        / 1000
    )
    assert 0.02 <= failed <= 0.08
    assert 0.05 <= redirected <= 0.18
    slow = {"http:slow", "http:trickle", "http:stall", "http:tarpit", "hosting:dns:timeout"}
    assert not any(slow & set(t.exercises) for t in bench.truth.values())
    sizes = [len(pg.render(build_site(9, i, "bench").pages["home"])) for i in range(0, 1000, 40)]
    assert min(sizes) >= 20_000 and max(sizes) <= 160_000
    faults = scenario(300, 9, "faults")
    assert sum(not t.reachable for t in faults.truth.values()) / 300 > 0.25
    with pytest.raises(ValueError, match="unknown profile"):
        generate(10, 1, "nope")


# -- every number a body shows is in the truth (and nothing else) ------------------------------

_TRAD = {
    **{v: k for k, v in ft._TRAD.items() if k != v},
    "備": "备",
    "號": "号",
    "證": "证",
    "網": "网",
}
_PROV_CHARS = (
    {p.icp for p in ft.PROVINCES} | {p.psb for p in ft.PROVINCES} | set("川贵云甘秦港澳台")
)
ICP_RE = re.compile(r"(?<!星)(.)ICP([备证])([0-9X]+)(?:-(\d+[AX]?))?(号)?(?:-(\d+[AX]?))?")
PSB_RE = re.compile(r"(.)公(?:网安|安网)备号?[:：]?(\d{6,17}|X{14})号?")
PSB_NOPREFIX_RE = re.compile(r"公安机关备案号[:：](\d{12,15})")
PSB_HREF_RE = re.compile(r'(?:recordcode|code)=(\d+)"[^>]*><img[^>]*>(.)公安网备</a>')
TELECOM_RE = re.compile(r"(合字|.)((?:A[12]|B[12])(?:\.(?:A[12]|B[12]))*)-(\d{8})(?:-(\d+))?")


def page_text(raw_html: str) -> str:
    """A crude but independent reading of what the page shows (comments and attributes kept)."""
    text = raw_html.replace("<!--", " ").replace("-->", " ")
    attributes = " ".join(re.findall(r'(?:alt|title|content)="([^"]*)"', text))
    text = re.sub(r"<(?:br|/?p|/?div|/?li|/?footer|/?section|/?article)\b[^>]*>", "|", text)
    text = re.sub(r"<[^>]+>", "", text) + " " + attributes
    text = unicodedata.normalize("NFKC", html.unescape(text))
    text = "".join(_TRAD.get(ch, ch) for ch in text)
    return re.sub(r"\s+", "", text).replace("icp", "ICP")


def numbers_in(raw_html: str) -> set[str]:
    text = page_text(raw_html)
    found = set()
    for m in ICP_RE.finditer(text):
        prefix, kind, digits, idx1, _hao, idx2 = m.groups()
        if prefix not in _PROV_CHARS:
            continue
        index = idx1 or idx2
        found.add(f"{prefix}ICP{kind}{digits}号" + (f"-{index}" if index else ""))
    for m in PSB_RE.finditer(text):
        prefix = m.group(1) if m.group(1) in _PROV_CHARS else ""
        found.add(f"{prefix}公网安备{m.group(2)}号")
    for m in PSB_NOPREFIX_RE.finditer(text):
        found.add(f"公网安备{m.group(1)}号")
    for m in PSB_HREF_RE.finditer(raw_html):
        found.add(f"{m.group(2)}公网安备{m.group(1)}号")
    for m in TELECOM_RE.finditer(text):
        prefix = m.group(1) if m.group(1) == "合字" or m.group(1) in _PROV_CHARS else ""
        found.add(f"{prefix}{m.group(2)}-{m.group(3)}" + (f"-{m.group(4)}" if m.group(4) else ""))
    return found


@pytest.mark.parametrize("seed", [0, 1])
def test_every_number_a_page_shows_is_in_the_truth(seed):
    sc = scenario(300, seed)
    checked = 0
    for index, domain in enumerate(sc.domains):
        tr = sc.truth[domain]
        site = build_site(seed, index)
        page = site.pages["home"]
        body = pg.render(page).decode(pg.CODECS[page.charset])
        shown = numbers_in(body)
        # the site's own page holds exactly its occurrences (look-alikes and traps excluded)
        assert shown == {o.number for o in site.occurrences}, (domain, tr.exercises)
        if tr.reachable and "numbers:" in " ".join(tr.exercises):
            assert {n.number for n in tr.numbers} == shown, domain
            checked += 1
        for key in ("meta", "js"):
            assert numbers_in(pg.render(site.pages[key]).decode(pg.CODECS[page.charset])) == set()
    assert checked > 200


def test_traps_and_lookalikes_never_reach_the_truth():
    sc = scenario(300, 2)
    lookalike_digits = {re.sub(r"\D", "", t) for t in ft.LOOKALIKES}
    for tr in sc.truth.values():
        for n in tr.numbers:
            assert re.sub(r"\D", "", n.number.split("号")[0]) not in lookalike_digits
            assert "D3" not in n.number and "网文" not in n.number
        if "trap:tutorial" in tr.exercises:
            assert any(not n.own for n in tr.numbers)
            assert any(n.own for n in tr.numbers)
        own_placeholders = sum(n.own and n.placeholder for n in tr.numbers)
        assert tr.findings.count("ICP_PLACEHOLDER") == own_placeholders


def test_encodings_decode_as_declared_and_big5_is_traditional():
    sc = scenario(300, 0)
    seen = Counter()
    for index, domain in enumerate(sc.domains):
        site = build_site(0, index)
        page = site.pages["home"]
        body = pg.render(page)
        text = body.decode(pg.CODECS[page.charset])  # strict: the bytes are what we say
        seen[page.charset] += 1
        if page.charset == "gbk":
            assert "王喆" in text
            with pytest.raises(UnicodeDecodeError):
                body.decode("gb2312")
        if page.charset == "big5":
            assert "版權所有" in text and "版权所有" not in text
        if page.charset == "gb18030" and "𠮷" in text:
            assert "𠮷".encode("gb18030") in body and len("𠮷".encode("gb18030")) == 4
        if page.meta_charset:
            assert f'<meta charset="{page.meta_charset}">' in text
        _ = domain
    assert set(seen) == {"utf-8", "gbk", "gb18030", "big5"}


def test_pages_are_realistic_html():
    site = build_site(0, 5)
    body = pg.render(site.pages["home"]).decode(pg.CODECS[site.pages["home"].charset])
    assert body.startswith("<!DOCTYPE html>") and body.rstrip().endswith("</html>")
    assert body.count("<nav") == 1 and "<style>" in body and "<script>" in body
    assert body.index("<footer") > body.index("<main>")
    assert 20_000 <= len(body.encode()) <= 160_000


def test_responses_model_the_http_cases():
    sc = scenario(300, 0)
    by_tag = {}
    for index, domain in enumerate(sc.domains):
        for tag in sc.truth[domain].exercises:
            by_tag.setdefault(tag, []).append((index, domain))
    index, domain = by_tag["http:oversized"][0]
    resp = sc.world.hosts[domain].https["/"]
    body = resp.body_bytes()
    assert len(body) > 2_000_000 and body.index(b"<footer") < 10_000
    index, domain = by_tag["http:same_host_chain"][0]
    chain = sc.world.hosts[domain].https
    assert chain["/"].status == 302 and dict(chain["/"].headers)["Location"] == "/index.php"
    assert chain["/zh-cn/index.html"].status == 200
    index, domain = by_tag["http:cert_expired_fallback"][0]
    assert sc.world.hosts[domain].cert.value == "expired"
    # certificate errors are facts: the https page is read whatever the certificate says
    assert sc.truth[domain].final_url == f"https://{domain}/"
    assert sc.truth[domain].reachable
    index, domain = by_tag["http:cert_stall_fallback"][0]
    assert sc.world.hosts[domain].cert.value == "handshake_stall"
    assert sc.truth[domain].final_url == f"http://{domain}/"
    index, domain = by_tag["http:js_redirect"][0]
    js = sc.world.hosts[domain].https["/"].body_bytes()
    assert b'window.location.href = "/m/index.html"' in js
    for tag, attr in (("http:reset", "reset_after"), ("http:stall", "stall_after_headers")):
        index, domain = by_tag[tag][0]
        assert getattr(sc.world.hosts[domain].https["/"], attr)
    assert isinstance(sc.world.hosts[domain].http["/"], Response)
    index, domain = by_tag["hosting:dns:truncate"][0]
    assert sc.world.dns[domain].fault is DnsFault.TRUNCATE
    index, domain = by_tag["dns_many_a"][0]
    assert len(sc.world.dns[domain].records["A"]) == 300


def test_truth_jsonl_has_the_documented_keys(tmp_path):
    sc = scenario(300, 0)
    paths = sc.write_files(tmp_path)
    lines = paths["truth"].read_text(encoding="utf-8").splitlines()
    assert len(lines) == 300
    assert paths["domains"].read_text(encoding="utf-8").split() == sc.domains
    for line in lines:
        obj = json.loads(line)
        assert list(obj) == [
            "domain",
            "region",
            "region_mainland_vantage",
            "reachable",
            "final_url",
            "numbers",
            "findings",
            "findings_with_expected",
            "exercises",
        ]
        for n in obj["numbers"]:
            assert list(n) == [
                "kind",
                "number",
                "own",
                "valid",
                "placeholder",
                "linked",
                "location",
            ]
        assert obj["findings"] == sorted(obj["findings"])


# -- the truth agrees with icpscan.assess ------------------------------------------------------


def _facts(tr):
    from icpscan.assess import SiteFacts
    from icpscan.models import FoundNumber
    from icpscan.sandbox.internet import pool_of

    numbers = tuple(
        FoundNumber(
            kind=n.kind,
            number=n.number,
            raw=n.number,
            province=None,
            valid=n.valid,
            placeholder=n.placeholder,
            linked=n.linked,
            href=None,
            location=n.location,
            own=n.own,
            problems=n.problems + (("stale_link",) if n.links == {"stale"} else ()),
            site_index=n.site_index,
        )
        for n in tr.numbers
    )
    return SiteFacts(
        domain=tr.domain,
        region=tr.region,
        address_regions={a: pool_of(a).region for a in tr.addresses},
        reached=tr.reachable,
        final_registrable_domain=tr.final_registrable,
        numbers=numbers,
        signals=frozenset(tr.signals),
    )


@pytest.mark.parametrize("seed", [0, 3])
def test_truth_findings_match_the_assessor(seed):
    """Two independent statements of docs/assessment-rules.md must agree on every site."""
    from icpscan.assess import (
        ExpectedFiling,
        ExpectedFilings,
        SharedNumberCandidate,
        assess_site,
        find_shared_numbers,
        is_shared_number_candidate,
    )

    sc = scenario(300, seed)
    facts = {d: _facts(sc.truth[d]) for d in sc.domains}
    candidates = [
        SharedNumberCandidate(d, n.number, f.final_registrable_domain)
        for d, f in facts.items()
        if f.reached
        for n in f.numbers
        if is_shared_number_candidate(n)
    ]
    shared = find_shared_numbers(candidates)
    expected = ExpectedFilings(
        {
            row.domain: ExpectedFiling(
                row.domain, row.icp_number or None, frozenset(row.server_ips)
            )
            for row in sc.expected_filings
        }
    )
    for domain in sc.domains:
        tr = sc.truth[domain]
        scan_wide = [f.code for f in shared.get(domain, [])]
        plain = sorted([f.code for f in assess_site(facts[domain])] + scan_wide)
        assert plain == tr.findings, (domain, tr.exercises)
        paired = sorted([f.code for f in assess_site(facts[domain], expected)] + scan_wide)
        assert paired == tr.findings_with_expected, (domain, tr.exercises)


def test_output_does_not_depend_on_hash_randomisation(tmp_path):
    import hashlib
    import os
    import subprocess
    import sys

    script = (
        "import hashlib, sys\n"
        "from icpscan.sandbox.scenario import generate\n"
        "sc = generate(200, 17)\n"
        "sc.write_files(sys.argv[1])\n"
        "h = hashlib.sha256()\n"
        "for name in sorted(sc.world.hosts)[:150]:\n"
        "    for path, resp in sorted(sc.world.hosts[name].https.items()):\n"
        "        h.update(name.encode() + path.encode() + resp.body_bytes())\n"
        "print(h.hexdigest())\n"
    )
    digests = []
    for hashseed in ("1", "2"):
        out = tmp_path / hashseed
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        run = subprocess.run(
            [sys.executable, "-c", script, str(out)], env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        files = b"".join(
            (out / f).read_bytes() for f in ("domains.txt", "truth.jsonl", "expected-filings.csv")
        )
        digests.append((run.stdout, hashlib.sha256(files).hexdigest()))
    assert digests[0] == digests[1]
