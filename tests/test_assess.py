"""The assessment rules of docs/assessment-rules.md, one behaviour per test."""

from __future__ import annotations

import dataclasses

import pytest

from icpscan.assess import (
    ExpectedFiling,
    ExpectedFilings,
    SharedNumberCandidate,
    SiteFacts,
    assess_site,
    entity_number,
    find_shared_numbers,
    is_shared_number_candidate,
    numbers_match,
)
from icpscan.models import FINDING_CODES, FoundNumber, Location, NumberKind, Region, Severity
from tests.conftest import REPO_ROOT

MIIT = "https://beian.miit.gov.cn/"


def num(
    number: str,
    kind: NumberKind = NumberKind.ICP_FILING,
    *,
    valid: bool = True,
    placeholder: bool = False,
    linked: bool = True,
    location: Location = Location.FOOTER,
    own: bool = True,
    problems: tuple[str, ...] = (),
) -> FoundNumber:
    return FoundNumber(
        kind=kind,
        number=number,
        raw=number,
        province=None,
        valid=valid,
        placeholder=placeholder,
        linked=linked,
        href=MIIT if linked else None,
        location=location,
        own=own,
        problems=problems,
    )


PSB = num("京公网安备11010502030143号", NumberKind.PSB_FILING)
ICP = num("京ICP备2021012345号-1")


def site(region: Region = Region.MAINLAND, *numbers: FoundNumber, **kw) -> SiteFacts:
    kw.setdefault("reached", True)
    kw.setdefault("address_regions", {"39.156.66.10": region})
    return SiteFacts(domain="example.cn", region=region, numbers=numbers, **kw)


def codes(facts: SiteFacts, expected: ExpectedFilings | None = None) -> list[str]:
    return [f.code for f in assess_site(facts, expected)]


def test_compliant_mainland_site_has_no_findings():
    assert codes(site(Region.MAINLAND, ICP, PSB)) == []


def test_mainland_without_any_number():
    findings = assess_site(site(Region.MAINLAND))
    assert [f.code for f in findings] == ["MAINLAND_NO_ICP", "PSB_MISSING"]
    assert findings[0].severity is Severity.HIGH
    assert findings[0].evidence["region"] == "mainland"
    assert findings[0].evidence["addresses"] == {"39.156.66.10": "mainland"}


def test_mixed_hosting_with_a_mainland_address_needs_a_filing():
    facts = site(
        Region.MIXED,
        address_regions={"39.156.66.10": Region.MAINLAND, "47.52.1.1": Region.HONGKONG},
    )
    assert codes(facts) == ["MAINLAND_NO_ICP", "PSB_MISSING"]


def test_mixed_hosting_without_mainland_address_does_not():
    facts = site(
        Region.MIXED,
        address_regions={"47.52.1.1": Region.HONGKONG, "8.8.4.4": Region.ABROAD},
    )
    assert codes(facts) == []


def test_placeholder_is_reported_and_does_not_count_as_a_filing():
    placeholder = num("京ICP备12345678号", valid=False, placeholder=True)
    assert codes(site(Region.MAINLAND, placeholder, PSB)) == ["MAINLAND_NO_ICP", "ICP_PLACEHOLDER"]


def test_placeholder_in_a_comment_is_still_reported():
    placeholder = num("京ICP备XXXXXXXX号", valid=False, placeholder=True, location=Location.COMMENT)
    assert codes(site(Region.ABROAD, placeholder)) == ["ICP_PLACEHOLDER"]


def test_invalid_number():
    bad = num("京ICP备1234567号", valid=False, problems=("digits",))
    findings = assess_site(site(Region.MAINLAND, bad, PSB))
    assert [f.code for f in findings] == ["MAINLAND_NO_ICP", "ICP_INVALID"]
    assert findings[1].evidence["number"] == "京ICP备1234567号"


def test_telecom_licence_counts_as_filing_number_and_is_never_link_checked():
    licence = num("粤B2-20090059", NumberKind.TELECOM_LICENCE, linked=False)
    assert codes(site(Region.MAINLAND, licence, PSB)) == []


def test_not_linked_and_stale_link():
    unlinked = num("京ICP备2021012345号-1", linked=False)
    stale = num("沪ICP备20020896号-1", problems=("stale_link",))
    assert codes(site(Region.MAINLAND, unlinked, stale, PSB)) == [
        "ICP_NOT_LINKED",
        "ICP_STALE_LINK",
    ]


def test_nonstandard_prefix_is_low_and_still_a_filing():
    chuan = num("川ICP备15095485号-1", problems=("nonstandard_prefix",))
    findings = assess_site(site(Region.MAINLAND, chuan, PSB))
    assert [(f.code, f.severity) for f in findings] == [("ICP_NONSTANDARD_PREFIX", Severity.LOW)]


def test_number_only_in_comment_is_hidden():
    hidden = num("京ICP备2021012345号-1", location=Location.COMMENT, linked=False)
    assert codes(site(Region.MAINLAND, hidden, PSB)) == ["MAINLAND_NO_ICP", "ICP_HIDDEN"]


def test_script_and_attribute_locations_count_as_shown():
    in_script = num("京ICP备2021012345号-1", location=Location.SCRIPT)
    in_alt = num("京公网安备11010502030143号", NumberKind.PSB_FILING, location=Location.ATTRIBUTE)
    assert codes(site(Region.MAINLAND, in_script, in_alt)) == []


def test_examples_in_an_article_are_not_the_sites_own():
    example = num("京ICP备2021099999号-1", own=False, location=Location.BODY)
    assert codes(site(Region.MAINLAND, example, PSB)) == ["MAINLAND_NO_ICP"]


def test_psb_division_mismatch_and_invalid_psb():
    mismatch = num(
        "京公网安备44030502008569号",
        NumberKind.PSB_FILING,
        valid=False,
        problems=("division_mismatch",),
    )
    short = num(
        "京公网安备1101050号", NumberKind.PSB_FILING, valid=False, problems=("digit_count",)
    )
    malformed_and_mismatched = num(
        "渝公网安备23959409434955998号",
        NumberKind.PSB_FILING,
        valid=False,
        problems=("digit_count", "division_mismatch"),
    )
    assert codes(site(Region.MAINLAND, ICP, mismatch, short, malformed_and_mismatched)) == [
        "PSB_PROVINCE_MISMATCH",
        "PSB_INVALID",
        "PSB_INVALID",
    ]


def test_licence_signals_only_with_a_bei_filing_alone():
    facts = site(Region.MAINLAND, ICP, PSB, signals=frozenset({"ecommerce", "forum"}))
    findings = assess_site(facts)
    assert [f.code for f in findings] == ["LICENCE_SIGNALS"]
    assert findings[0].evidence == {
        "signals": ["ecommerce", "forum"],
        "numbers": ["京ICP备2021012345号-1"],
    }
    licence = num("京ICP证030173号", NumberKind.ICP_LICENCE)
    with_licence = site(Region.MAINLAND, ICP, licence, PSB, signals=frozenset({"ecommerce"}))
    assert codes(with_licence) == []


def test_offshore_with_icp_is_info_and_needs_no_psb():
    findings = assess_site(site(Region.HONGKONG, ICP))
    assert [(f.code, f.severity) for f in findings] == [("OFFSHORE_WITH_ICP", Severity.INFO)]


def test_unreachable_skips_content_rules():
    findings = assess_site(site(Region.MAINLAND, reached=False))
    assert [f.code for f in findings] == ["UNREACHABLE"]


def test_unknown_region_gets_no_hosting_findings():
    assert codes(site(Region.UNKNOWN, address_regions={})) == []


def test_duplicate_numbers_give_one_finding():
    placeholder = num("京ICP备12345678号", valid=False, placeholder=True)
    again = dataclasses.replace(placeholder, location=Location.BODY)
    assert codes(site(Region.ABROAD, placeholder, again)) == ["ICP_PLACEHOLDER"]


# -- expected filings -------------------------------------------------------------------------


def expected(*rows: tuple[str, str | None, str]) -> ExpectedFilings:
    return ExpectedFilings(
        {d: ExpectedFiling(d, n, frozenset(filter(None, ips.split(";")))) for d, n, ips in rows}
    )


def test_pair_matching_number_and_server():
    exp = expected(("example.cn", "京ICP备2021012345号", "39.156.66.10"))
    assert codes(site(Region.MAINLAND, ICP, PSB), exp) == []


def test_pair_number_mismatch():
    exp = expected(("example.cn", "京ICP备2021099999号-1", "39.156.66.10"))
    findings = assess_site(site(Region.MAINLAND, ICP, PSB), exp)
    assert [f.code for f in findings] == ["PAIR_NUMBER_MISMATCH"]
    assert findings[0].evidence == {
        "expected_number": "京ICP备2021099999号-1",
        "shown_numbers": ["京ICP备2021012345号-1"],
    }


def test_pair_server_mismatch():
    exp = expected(("example.cn", "京ICP备2021012345号-1", "1.2.4.8;1.2.4.9"))
    findings = assess_site(site(Region.MAINLAND, ICP, PSB), exp)
    assert [f.code for f in findings] == ["PAIR_SERVER_MISMATCH"]
    assert findings[0].evidence["expected_servers"] == ["1.2.4.8", "1.2.4.9"]


def test_unfiled_on_our_servers():
    exp = expected(("other.cn", "京ICP备2021000001号-1", "39.156.66.10"))
    findings = assess_site(site(Region.MAINLAND, ICP, PSB), exp)
    assert [f.code for f in findings] == ["UNFILED_ON_OUR_SERVERS"]
    assert findings[0].evidence == {"servers": ["39.156.66.10"], "listed_without_number": False}


def test_listed_without_number_on_our_servers_is_unfiled():
    exp = expected(("example.cn", None, "39.156.66.10"))
    assert codes(site(Region.MAINLAND, ICP, PSB), exp) == ["UNFILED_ON_OUR_SERVERS"]


@pytest.mark.parametrize(
    ("shown", "filed", "match"),
    [
        ("京ICP备12034000号-2", "京ICP备12034000号", True),
        ("京ICP备12034000号", "京ICP备12034000号-2", True),
        ("京ICP备12034000号-2", "京ICP备12034000号-2", True),
        ("京ICP备12034000号-2", "京ICP备12034000号-3", False),
        ("京ICP备12034000号", "京ICP备12034001号", False),
        ("浙B2-20080224-1", "浙B2-20080224", True),
        ("陕ICP备2024026116号-1A", "陕ICP备2024026116号-1A", True),
    ],
)
def test_numbers_match(shown, filed, match):
    assert numbers_match(shown, filed) is match


def test_entity_number():
    assert entity_number("京ICP备12034000号-2") == "京ICP备12034000号"
    assert entity_number("京ICP证040867号-3") == "京ICP证040867号"
    assert entity_number("浙B2-20080224-1") == "浙B2-20080224"
    assert entity_number("A2.B1.B2-20090003") == "A2.B1.B2-20090003"


# -- scan-wide ----------------------------------------------------------------------------------


def test_shared_site_number_on_unrelated_domains():
    found = find_shared_numbers(
        [
            SharedNumberCandidate("a.cn", "京ICP备2021012345号-1", "a.cn"),
            SharedNumberCandidate("www.a.cn", "京ICP备2021012345号-1", "a.cn"),
            SharedNumberCandidate("thief.com", "京ICP备2021012345号-1", "thief.com"),
            SharedNumberCandidate("b.cn", "京ICP备2021000002号-1", "b.cn"),
        ]
    )
    assert sorted(found) == ["a.cn", "thief.com", "www.a.cn"]
    assert found["thief.com"][0].evidence == {
        "number": "京ICP备2021012345号-1",
        "registrable_domain": "thief.com",
        "other_domains": ["a.cn", "www.a.cn"],
    }
    assert found["a.cn"][0].evidence["other_domains"] == ["thief.com"]


def test_same_registrable_domain_is_not_shared():
    assert (
        find_shared_numbers(
            [
                SharedNumberCandidate("a.example.cn", "京ICP备2021012345号-1", "example.cn"),
                SharedNumberCandidate("b.example.cn", "京ICP备2021012345号-1", "example.cn"),
            ]
        )
        == {}
    )


def test_shared_candidates_exclude_entity_numbers_licences_and_placeholders():
    assert is_shared_number_candidate(ICP)
    assert not is_shared_number_candidate(num("京ICP备2021012345号"))
    assert not is_shared_number_candidate(num("京ICP证030173号-1", NumberKind.ICP_LICENCE))
    assert not is_shared_number_candidate(num("京ICP备12345678号-1", placeholder=True))
    assert not is_shared_number_candidate(num("京ICP备2021012345号-1", own=False))


def test_every_code_in_the_registry_has_a_rule_documented():
    rules = (REPO_ROOT / "docs" / "assessment-rules.md").read_text(encoding="utf-8")
    for code in FINDING_CODES:
        assert f"`{code}`" in rules, code
