"""The RECORD_* rules (icpscan.reconcile) on hand-made facts: every rule, every escape."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icpscan.assess import SiteFacts
from icpscan.extract import parse_number
from icpscan.models import FilingRecord, Location, RecordCheck, RecordError, Region
from icpscan.reconcile import (
    compared_numbers,
    entity_key,
    number_key,
    numbers_to_trace,
    reconcile_site,
    records_wanted,
)


def num(text, *, location=Location.FOOTER, own=True):
    found = parse_number(text)
    assert found is not None, text
    return found.__class__(**{**found.__dict__, "location": location, "own": own})


def rec(domain, entity, site=None, *, kind="企业", contents=(), name="某某科技有限公司"):
    return FilingRecord(
        domain=domain, entity_name=name, entity_type=kind, entity_number=entity,
        site_number=site, content_types=tuple(contents), source="file:t.csv",
    )  # fmt: skip


def facts(*numbers, region=Region.MAINLAND, signals=(), domain="example.cn", reached=True):
    return SiteFacts(
        domain=domain, region=region, reached=reached, numbers=tuple(numbers),
        signals=frozenset(signals), final_registrable_domain=domain,
    )  # fmt: skip


def check(*records, owners=(), domains=("example.cn",), status=None):
    found = tuple(dict.fromkeys(r.domain for r in records if r.domain in domains))
    return RecordCheck(
        source="file:t.csv", status=status or ("found" if found else "none"), domains=domains,
        records=tuple(records), found=found, number_records=tuple(owners),
    )  # fmt: skip


def codes(findings):
    return sorted(f.code for f in findings)


SITE = "京ICP备2021012345号-2"
ENTITY = "京ICP备2021012345号"


def test_matching_record_gives_no_finding():
    findings = reconcile_site(facts(num(SITE)), check(rec("example.cn", ENTITY, SITE)))
    assert findings == []


def test_entity_number_shown_matches_at_entity_level():
    result = reconcile_site(facts(num(ENTITY)), check(rec("example.cn", ENTITY, SITE)))
    assert result == []


def test_mainland_site_without_record():
    [finding] = reconcile_site(facts(num(SITE)), check())
    assert finding.code == "RECORD_MISSING"
    assert finding.severity == "high"
    assert finding.evidence["domain"] == "example.cn"
    assert finding.evidence["shown_numbers"] == [SITE]
    assert finding.evidence["source"] == "file:t.csv"


def test_offshore_site_without_record_is_not_missing():
    assert reconcile_site(facts(num(SITE), region=Region.HONGKONG), check()) == []


def test_number_of_another_entity():
    other = rec("example.cn", "沪ICP备2020000777号", "沪ICP备2020000777号-1")
    [finding] = reconcile_site(facts(num(SITE)), check(other))
    assert finding.code == "RECORD_NUMBER_MISMATCH"
    assert finding.evidence["filed_entity_numbers"] == ["沪ICP备2020000777号"]
    assert finding.evidence["records"][0]["entity_number"] == "沪ICP备2020000777号"


def test_stolen_number_of_a_domain_without_record():
    victim = rec("victim.cn", ENTITY, SITE, name="受害公司")
    found = reconcile_site(
        facts(num(SITE), region=Region.ABROAD, domain="thief.com"),
        check(owners=[victim], domains=("thief.com",)),
    )
    assert codes(found) == ["RECORD_NUMBER_MISMATCH"]
    assert found[0].evidence["owner_records"][0]["domain"] == "victim.cn"
    # the same thief hosted in the mainland is also simply unfiled
    found = reconcile_site(
        facts(num(SITE), domain="thief.com"), check(owners=[victim], domains=("thief.com",))
    )
    assert codes(found) == ["RECORD_MISSING", "RECORD_NUMBER_MISMATCH"]


def test_site_index_of_another_domain_of_the_entity():
    mine = rec("example.cn", ENTITY, "京ICP备2021012345号-1")
    sibling = rec("sister.cn", ENTITY, SITE)
    [finding] = reconcile_site(facts(num(SITE)), check(mine, owners=[sibling]))
    assert finding.code == "RECORD_SITE_SUFFIX_MISMATCH"
    assert finding.evidence["filed_site_numbers"] == ["京ICP备2021012345号-1"]
    assert finding.evidence["owner_records"][0]["domain"] == "sister.cn"


def test_app_number_shown_instead_of_the_website_number():
    found = reconcile_site(
        facts(num("京ICP备2021012345号-1A")), check(rec("example.cn", ENTITY, f"{ENTITY}-1"))
    )
    assert codes(found) == ["RECORD_SITE_SUFFIX_MISMATCH"]


def test_no_suffix_judgement_without_filed_site_numbers():
    assert reconcile_site(facts(num(SITE)), check(rec("example.cn", ENTITY))) == []


def test_alternate_province_character_matches_the_issued_one():
    shown = num("川ICP备15095485号-1")
    record = rec("example.cn", "蜀ICP备15095485号", "蜀ICP备15095485号-1")
    assert reconcile_site(facts(shown), check(record)) == []
    assert number_key("川ICP备15095485号-1") == "蜀ICP备15095485号-1"
    assert entity_key("川ICP备15095485号-1") == "蜀ICP备15095485号"
    assert number_key("川公网安备51010502010606号") == "川公网安备51010502010606号"


def test_licence_next_to_a_filing_is_not_compared():
    shown = (num("京ICP证030173号"), num(ENTITY))
    assert [n.number for n in compared_numbers(shown)] == [ENTITY]
    assert reconcile_site(facts(*shown), check(rec("example.cn", ENTITY, SITE))) == []


def test_telecom_licence_alone_is_compared_against_the_record():
    b2 = num("粤B2-20090059-5")
    assert (
        reconcile_site(facts(b2), check(rec("example.cn", "粤B2-20090059", "粤B2-20090059-5")))
        == []
    )
    found = reconcile_site(facts(b2), check(rec("example.cn", ENTITY, SITE)))
    assert codes(found) == ["RECORD_NUMBER_MISMATCH"]


def test_placeholders_examples_and_comments_are_never_compared():
    numbers = (
        num("京ICP备12345678号"),  # placeholder
        num("沪ICP备2020000777号-1", own=False),  # an example quoted in an article
        num("浙ICP备2020000888号-1", location=Location.COMMENT),
    )
    assert compared_numbers(numbers) == []
    assert reconcile_site(facts(*numbers), check()) == []
    assert not records_wanted(facts(*numbers))


def test_individual_filing_on_a_shop():
    record = rec("example.cn", ENTITY, SITE, kind="个人", name="张伟")
    [finding] = reconcile_site(facts(num(SITE), signals={"ecommerce"}), check(record))
    assert finding.code == "RECORD_SCOPE"
    assert finding.evidence["reason"] == "individual_filing"
    assert finding.evidence["signals"] == ["ecommerce"]


def test_news_without_the_pre_approval_item():
    record = rec("example.cn", ENTITY, SITE, contents=["文化"])
    [finding] = reconcile_site(facts(num(SITE), signals={"news"}), check(record))
    assert (finding.code, finding.evidence["reason"]) == ("RECORD_SCOPE", "pre_approval_missing")
    assert finding.evidence["missing_item"] == "新闻"
    with_item = rec("example.cn", ENTITY, SITE, contents=["出版", "新闻"])
    assert reconcile_site(facts(num(SITE), signals={"news"}), check(with_item)) == []


def test_individual_news_forum_gives_both_scope_reasons():
    record = rec("example.cn", ENTITY, SITE, kind="个人")
    found = reconcile_site(facts(num(SITE), signals={"forum", "news"}), check(record))
    assert [f.evidence["reason"] for f in found] == ["individual_filing", "pre_approval_missing"]


def test_failed_lookup_gives_no_finding_at_all():
    failed = RecordCheck(
        source="service:x", status="error", domains=("example.cn",),
        error=RecordError("throttled", "429"),
    )  # fmt: skip
    assert reconcile_site(facts(num(SITE)), failed) == []
    assert reconcile_site(facts(num(SITE), reached=False), check()) == []


def test_redirected_page_is_judged_with_both_domains_records():
    src = rec("brand.cn", ENTITY, f"{ENTITY}-99")
    dst = rec("brand.com", ENTITY, SITE)
    result = reconcile_site(
        facts(num(SITE), domain="brand.cn"), check(src, dst, domains=("brand.cn", "brand.com"))
    )
    assert result == []
    # the redirecting domain itself unfiled: missing, though the page's domain is filed
    found = reconcile_site(
        facts(num(SITE), domain="brand.cn"), check(dst, domains=("brand.cn", "brand.com"))
    )
    assert codes(found) == ["RECORD_MISSING"]


def test_numbers_to_trace_are_the_unexplained_ones():
    numbers = [num(SITE), num("沪ICP备2020000777号-1")]
    assert numbers_to_trace(numbers, (rec("example.cn", ENTITY, SITE),)) == [
        "沪ICP备2020000777号-1"
    ]
    assert numbers_to_trace(numbers, ()) == [SITE, "沪ICP备2020000777号-1"]


@pytest.mark.parametrize("signals", [set(), {"ecommerce"}, {"news"}, {"forum"}])
def test_records_wanted(signals):
    assert records_wanted(facts(num(SITE), signals=signals))
    assert records_wanted(facts(signals=signals)) == bool(signals)


@given(st.sampled_from("京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝蜀黔滇藏陕陇青宁新川贵云甘秦"),
       st.from_regex(r"20[2][0-5]\d{6}", fullmatch=True), st.integers(1, 999))  # fmt: skip
def test_number_key_is_idempotent_and_keeps_the_digits(prefix, digits, index):
    number = f"{prefix}ICP备{digits}号-{index}"
    key = number_key(number)
    assert number_key(key) == key
    assert key[1:] == number[1:]
    assert entity_key(number) == key.split("-")[0]
