"""Assessment: turn what a site shows and where it is hosted into findings.

Pure rules, no I/O. The exact conditions are documented in ``docs/assessment-rules.md``; the
codes and severities live in :data:`icpscan.models.FINDING_CODES`. Every finding carries the
evidence a reader needs to check it without re-running the scan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from icpscan.models import (
    ICP_KINDS,
    OFFSHORE_REGIONS,
    Finding,
    FoundNumber,
    Location,
    NumberKind,
    Region,
    finding,
    to_jsonable,
)

_MIIT_KINDS = frozenset({NumberKind.ICP_FILING, NumberKind.ICP_LICENCE})
_LICENCE_KINDS = frozenset({NumberKind.ICP_LICENCE, NumberKind.TELECOM_LICENCE})
# A malformed PSB number's division code means nothing: it is invalid, not "mismatched".
_PSB_SHAPE_PROBLEMS = frozenset({"digit_count", "unknown_prefix", "non_mainland_prefix"})


@dataclass(frozen=True)
class SiteFacts:
    """What the rules need to know about one domain, gathered from the earlier stages."""

    domain: str
    region: Region
    address_regions: Mapping[str, Region] = field(default_factory=dict)  # address -> region
    reached: bool = False
    final_registrable_domain: str | None = None
    numbers: tuple[FoundNumber, ...] = ()
    signals: frozenset[str] = frozenset()
    hosting_evidence: tuple[Any, ...] = ()

    @property
    def mainland_hosted(self) -> bool:
        if self.region is Region.MAINLAND:
            return True
        return self.region is Region.MIXED and Region.MAINLAND in self.address_regions.values()

    @property
    def offshore(self) -> bool:
        return self.region in OFFSHORE_REGIONS


@dataclass(frozen=True)
class ExpectedFiling:
    """One row of a hosting provider's expected-filings file."""

    domain: str
    icp_number: str | None
    server_ips: frozenset[str]


@dataclass(frozen=True)
class ExpectedFilings:
    rows: Mapping[str, ExpectedFiling]

    @property
    def all_server_ips(self) -> frozenset[str]:
        return frozenset(ip for row in self.rows.values() for ip in row.server_ips)


# -- helpers -----------------------------------------------------------------------------------


def _shown(number: FoundNumber) -> bool:
    return number.own and number.location is not Location.COMMENT


def _good(number: FoundNumber) -> bool:
    return number.valid and not number.placeholder


def _number_evidence(number: FoundNumber) -> dict[str, Any]:
    return {
        "number": number.number,
        "raw": number.raw,
        "kind": str(number.kind),
        "location": str(number.location),
        "linked": number.linked,
        "href": number.href,
        "problems": list(number.problems),
    }


def _hosting_evidence(facts: SiteFacts) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "region": str(facts.region),
        "addresses": {a: str(r) for a, r in facts.address_regions.items()},
    }
    if facts.hosting_evidence:
        evidence["hosting_evidence"] = to_jsonable(list(facts.hosting_evidence))
    return evidence


def entity_number(number: str) -> str:
    """The entity part of a filing number: ``京ICP备12034000号-2`` -> ``京ICP备12034000号``."""
    for marker in ("号-", "号"):
        head, sep, _ = number.partition(marker)
        if sep:
            return head + "号"
    # telecom licences: 浙B2-20080224-1 -> 浙B2-20080224
    parts = number.split("-")
    return "-".join(parts[:2]) if len(parts) > 2 else number


def numbers_match(shown: str, expected: str) -> bool:
    """Exact when both carry a site index; at entity level when either side has none."""
    shown_entity, expected_entity = entity_number(shown), entity_number(expected)
    if shown == shown_entity or expected == expected_entity:
        return shown_entity == expected_entity
    return shown == expected


# -- per-domain rules --------------------------------------------------------------------------


def assess_site(facts: SiteFacts, expected: ExpectedFilings | None = None) -> list[Finding]:
    """All per-domain findings for one site, in a stable order."""
    findings: list[Finding] = []
    if not facts.reached:
        findings.append(finding("UNREACHABLE", **_hosting_evidence(facts)))
    else:
        findings.extend(_content_findings(facts))
    if expected is not None:
        findings.extend(_pair_findings(facts, expected))
    return findings


def _distinct(numbers: Iterable[FoundNumber]) -> list[FoundNumber]:
    seen: dict[tuple[NumberKind, str], FoundNumber] = {}
    for number in numbers:
        seen.setdefault((number.kind, number.number), number)
    return list(seen.values())


def _content_findings(facts: SiteFacts) -> list[Finding]:
    own = _distinct(n for n in facts.numbers if n.own)
    shown = [n for n in own if _shown(n)]
    shown_filings = [n for n in shown if n.kind in ICP_KINDS]
    good_filings = [n for n in shown_filings if _good(n)]
    shown_psb = [n for n in shown if n.kind is NumberKind.PSB_FILING]
    findings: list[Finding] = []

    if facts.mainland_hosted and not good_filings:
        findings.append(
            finding(
                "MAINLAND_NO_ICP",
                shown_numbers=[_number_evidence(n) for n in shown_filings],
                **_hosting_evidence(facts),
            )
        )
    for number in own:
        if number.placeholder:
            findings.append(finding("ICP_PLACEHOLDER", **_number_evidence(number)))
    for number in shown_filings:
        if not number.valid and not number.placeholder:
            findings.append(finding("ICP_INVALID", **_number_evidence(number)))
    for number in good_filings:
        if number.kind not in _MIIT_KINDS:
            continue
        if "nonstandard_prefix" in number.problems:
            findings.append(finding("ICP_NONSTANDARD_PREFIX", **_number_evidence(number)))
        if not number.linked:
            findings.append(finding("ICP_NOT_LINKED", **_number_evidence(number)))
        elif "stale_link" in number.problems:
            findings.append(finding("ICP_STALE_LINK", **_number_evidence(number)))
    hidden = [n for n in own if n.kind in ICP_KINDS and _good(n) and not _shown(n)]
    if hidden and not good_filings:
        findings.append(finding("ICP_HIDDEN", numbers=[_number_evidence(n) for n in hidden]))
    if facts.mainland_hosted and not shown_psb:
        findings.append(finding("PSB_MISSING", **_hosting_evidence(facts)))
    for number in shown_psb:
        if number.placeholder:
            continue
        malformed = any(p in _PSB_SHAPE_PROBLEMS for p in number.problems)
        if "division_mismatch" in number.problems and not malformed:
            findings.append(finding("PSB_PROVINCE_MISMATCH", **_number_evidence(number)))
        elif not number.valid:
            findings.append(finding("PSB_INVALID", **_number_evidence(number)))
    good_kinds = {n.kind for n in good_filings}
    if NumberKind.ICP_FILING in good_kinds and not good_kinds & _LICENCE_KINDS and facts.signals:
        findings.append(
            finding(
                "LICENCE_SIGNALS",
                signals=sorted(facts.signals),
                numbers=[n.number for n in good_filings],
            )
        )
    if facts.offshore and good_filings:
        findings.append(
            finding(
                "OFFSHORE_WITH_ICP",
                numbers=[n.number for n in good_filings],
                **_hosting_evidence(facts),
            )
        )
    return findings


def _pair_findings(facts: SiteFacts, expected: ExpectedFilings) -> list[Finding]:
    findings: list[Finding] = []
    row = expected.rows.get(facts.domain)
    addresses = set(facts.address_regions)
    if row is not None and row.icp_number and facts.reached:
        shown = [
            n for n in _distinct(facts.numbers) if _shown(n) and n.kind in ICP_KINDS and _good(n)
        ]
        if shown and not any(numbers_match(n.number, row.icp_number) for n in shown):
            findings.append(
                finding(
                    "PAIR_NUMBER_MISMATCH",
                    expected_number=row.icp_number,
                    shown_numbers=[n.number for n in shown],
                )
            )
    if row is not None and row.server_ips and addresses and not addresses & row.server_ips:
        findings.append(
            finding(
                "PAIR_SERVER_MISMATCH",
                expected_servers=sorted(row.server_ips),
                resolved_addresses=sorted(addresses),
            )
        )
    if row is None or not row.icp_number:
        on_ours = sorted(addresses & expected.all_server_ips)
        if on_ours:
            findings.append(
                finding(
                    "UNFILED_ON_OUR_SERVERS",
                    servers=on_ours,
                    listed_without_number=row is not None,
                )
            )
    return findings


# -- scan-wide rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedNumberCandidate:
    """A shown good site-indexed ICP filing number seen on one domain of the scan."""

    domain: str
    number: str
    registrable_domain: str


def is_shared_number_candidate(number: FoundNumber) -> bool:
    """Whether a number can take part in NUMBER_SHARED (see docs/assessment-rules.md)."""
    return (
        number.kind is NumberKind.ICP_FILING
        and _shown(number)
        and _good(number)
        and entity_number(number.number) != number.number
    )


def find_shared_numbers(candidates: Iterable[SharedNumberCandidate]) -> dict[str, list[Finding]]:
    """NUMBER_SHARED findings per domain from every candidate of a scan."""
    by_number: dict[str, list[SharedNumberCandidate]] = defaultdict(list)
    for candidate in candidates:
        by_number[candidate.number].append(candidate)
    findings: dict[str, list[Finding]] = defaultdict(list)
    for number, group in sorted(by_number.items()):
        registrables = {c.registrable_domain for c in group}
        if len(registrables) < 2:
            continue
        for candidate in group:
            others = sorted(
                {c.domain for c in group if c.registrable_domain != candidate.registrable_domain}
            )
            findings[candidate.domain].append(
                finding(
                    "NUMBER_SHARED",
                    number=number,
                    registrable_domain=candidate.registrable_domain,
                    other_domains=others,
                )
            )
    return dict(findings)
