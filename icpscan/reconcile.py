"""Reconciliation: what a site shows against what is filed for it (the RECORD_* findings).

Pure rules, no I/O: the worker looks the records up (``icpscan.records``) and hands them over
as a :class:`~icpscan.models.RecordCheck`; :func:`reconcile_site` says what does not agree.
The exact conditions are in ``docs/assessment-rules.md``; every finding carries the records it
was judged against.

Matching follows ICP-DOMAIN §2.5: a footer number is compared with the record at entity level
first (``mainLicence``), then its website index ``-N`` with the domain's ``serviceLicence``.
Province characters MIIT never issues (川ICP备 for 蜀ICP备) compare as the issued one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from icpscan.assess import SiteFacts, entity_number
from icpscan.extract.provinces import tables as province_tables
from icpscan.models import (
    ICP_KINDS,
    FilingRecord,
    Finding,
    FoundNumber,
    Location,
    NumberKind,
    RecordCheck,
    finding,
    to_jsonable,
)

INDIVIDUAL = "个人"
SCOPE_SIGNALS = frozenset({"ecommerce", "forum"})  # not for individual filings (§5.4)
# page signal -> the pre-approval item (contentTypeName) it needs (§5.3)
PRE_APPROVAL_ITEMS = {"news": "新闻"}


def number_key(number: str) -> str:
    """A number for comparison: an alternate province character becomes the issued one."""
    if number and "ICP" in number:
        hit = province_tables().icp.get(number[0])
        if hit is not None:
            return hit[0].icp_prefix + number[1:]
    return number


def entity_key(number: str) -> str:
    """The entity part of a number, for comparison (``京ICP备…号-2`` -> ``京ICP备…号``)."""
    return number_key(entity_number(number))


def shown_numbers(numbers: Iterable[FoundNumber]) -> list[FoundNumber]:
    """Own, shown (not only in a comment), valid, non-placeholder filing-family numbers."""
    seen: dict[str, FoundNumber] = {}
    for n in numbers:
        if (
            n.kind in ICP_KINDS
            and n.own
            and n.location is not Location.COMMENT
            and n.valid
            and not n.placeholder
        ):
            seen.setdefault(n.number, n)
    return list(seen.values())


def compared_numbers(numbers: Iterable[FoundNumber]) -> list[FoundNumber]:
    """The numbers held against the record: the 备 filings shown, else the licences shown.

    A site that shows its filing next to a telecom or ICP licence (``京ICP证… | 京ICP备…``)
    is judged by the filing: a licence is an entity fact, not necessarily the filed number.
    """
    shown = shown_numbers(numbers)
    filings = [n for n in shown if n.kind is NumberKind.ICP_FILING]
    return filings or shown


def records_wanted(facts: SiteFacts) -> bool:
    """Whether any RECORD_* rule can fire: the page shows a number, or has scope signals."""
    if not facts.reached:
        return False
    return bool(shown_numbers(facts.numbers)) or bool(
        facts.signals & (SCOPE_SIGNALS | set(PRE_APPROVAL_ITEMS))
    )


def _entities(records: Iterable[FilingRecord]) -> set[str]:
    keys: set[str] = set()
    for record in records:
        for number in (record.entity_number, record.site_number):
            if number:
                keys.add(entity_key(number))
    return keys


def numbers_to_trace(
    numbers: Iterable[FoundNumber], records: tuple[FilingRecord, ...]
) -> list[str]:
    """Shown numbers whose owner is worth looking up: not explained by the domain's records."""
    entities = _entities(records)
    sites = {number_key(r.site_number) for r in records if r.site_number}
    wanted = []
    for n in compared_numbers(numbers):
        key = entity_key(n.number)
        if key not in entities or (n.site_index and number_key(n.number) not in sites):
            wanted.append(n.number)
    return wanted


def _records(records: Iterable[FilingRecord]) -> list[dict[str, Any]]:
    return [to_jsonable(r) for r in records]


def reconcile_site(facts: SiteFacts, check: RecordCheck) -> list[Finding]:
    """RECORD_* findings for one domain; none unless its records were looked up successfully."""
    if not check.usable or not facts.reached:
        return []
    site_domain = check.domains[0] if check.domains else facts.domain
    records = check.records
    compared = compared_numbers(facts.numbers)
    source: dict[str, Any] = {"source": check.source, "looked_up": list(check.domains)}
    findings: list[Finding] = []

    if facts.mainland_hosted and compared and site_domain not in check.found:
        findings.append(
            finding(
                "RECORD_MISSING",
                domain=site_domain,
                shown_numbers=[n.number for n in compared],
                region=str(facts.region),
                records=_records(records),
                **source,
            )
        )

    entities = _entities(records)
    for n in compared:
        key = entity_key(n.number)
        owners = [
            r
            for r in check.number_records
            if r.entity_number and entity_key(r.entity_number) == key
        ]
        if (records and key not in entities) or (not records and owners):
            findings.append(
                finding(
                    "RECORD_NUMBER_MISMATCH",
                    number=n.number,
                    domain=site_domain,
                    filed_entity_numbers=sorted(
                        {r.entity_number for r in records if r.entity_number}
                    ),
                    records=_records(records),
                    owner_records=_records(owners),
                    **source,
                )
            )
            continue
        if not n.site_index or key not in entities:
            continue
        same_entity = [r for r in records if r.site_number and entity_key(r.site_number) == key]
        filed_sites = {number_key(r.site_number) for r in same_entity if r.site_number}
        if filed_sites and number_key(n.number) not in filed_sites:
            owner = [
                r
                for r in (*check.number_records, *records)
                if r.site_number and number_key(r.site_number) == number_key(n.number)
            ]
            findings.append(
                finding(
                    "RECORD_SITE_SUFFIX_MISMATCH",
                    number=n.number,
                    domain=site_domain,
                    filed_site_numbers=sorted(r.site_number for r in same_entity if r.site_number),
                    records=_records(same_entity),
                    owner_records=_records(dict.fromkeys(owner)),
                    **source,
                )
            )

    if records:
        individual = [r for r in records if (r.entity_type or "").strip() == INDIVIDUAL]
        scope_signals = sorted(facts.signals & SCOPE_SIGNALS)
        if individual and scope_signals:
            findings.append(
                finding(
                    "RECORD_SCOPE",
                    reason="individual_filing",
                    signals=scope_signals,
                    records=_records(individual),
                    **source,
                )
            )
        for signal, item in sorted(PRE_APPROVAL_ITEMS.items()):
            if signal in facts.signals and not any(
                item in content for r in records for content in r.content_types
            ):
                findings.append(
                    finding(
                        "RECORD_SCOPE",
                        reason="pre_approval_missing",
                        signals=[signal],
                        missing_item=item,
                        records=_records(records),
                        **source,
                    )
                )
    return findings
