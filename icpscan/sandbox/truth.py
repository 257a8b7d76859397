"""Ground truth: what a correct scan must report for each sandbox domain.

The scenario knows every occurrence of every number it wrote into a page; this module folds
them into the per-number verdicts (``numbers``) and applies ``docs/assessment-rules.md`` to get
the findings, including the scan-wide rules. It is a second, independent statement of those
rules (written from the document, not from the assessor's code), so a disagreement between
the two is a bug in one of them.

Conventions a comparison must know (each case carries an ``exercises`` tag naming it):

* ``findings`` / ``findings_with_expected``: one code per finding (a code repeats when it fires
  for two numbers), sorted; compare as multisets.
* ``numbers``: sorted by (kind, number); ``valid`` is false for every placeholder (compare
  ``valid`` only where ``placeholder`` is false). A PSB number shown without a province
  character (``公安机关备案号：…``) is valid; 12- and 15-digit PSB numbers are valid (old forms).
* Location: a PSB whose digits are only in the link's href (``numbers:psb_href_only``) is
  where the link is (``footer``); numbers only in an SPA config are ``script`` and not
  linked; only in ``alt``/``title``/``<meta name="icp">`` are ``attribute``.
* Reaching a page: https is tried before http, then ``www.`` when the apex has no address;
  certificate errors are recorded facts, not failures (an expired, self-signed or wrong-name
  certificate still yields the https page), but a TLS handshake that never completes is a failed
  attempt (``http:cert_stall_nofallback`` is unreachable); HTTP, meta-refresh and simple JavaScript
  ``location`` redirects are followed (``final_url`` is where they end); 4xx/5xx pages count as
  reached. ``http:oversized`` pages (~5 MB) put the footer first: a scanner that caps the body
  and keeps the first part still reads the numbers (one that aborts reports UNREACHABLE).
* ``region`` is decided from the addresses of the name that was fetched (the apex, or ``www.``
  when the apex has none); ``region_mainland_vantage`` differs only for ``geodns`` sites.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from icpscan.models import FINDING_CODES, Location, NumberKind, Region

FILING_KINDS = frozenset(
    {NumberKind.ICP_FILING, NumberKind.ICP_LICENCE, NumberKind.TELECOM_LICENCE}
)
ICP_ONLY = frozenset({NumberKind.ICP_FILING, NumberKind.ICP_LICENCE})
VISIBILITY = (Location.FOOTER, Location.BODY, Location.SCRIPT, Location.ATTRIBUTE, Location.COMMENT)
OFFSHORE = frozenset({Region.HONGKONG, Region.MACAU, Region.TAIWAN, Region.ABROAD})


@dataclass(frozen=True)
class Occurrence:
    """One place a page shows a number."""

    kind: NumberKind
    number: str
    valid: bool
    placeholder: bool
    problems: tuple[str, ...]
    site_index: str | None
    location: Location
    link: str | None  # None, "current" (beian.miit.gov.cn), "stale" (old MIIT hosts), "psb"
    own: bool


@dataclass
class TruthNumber:
    kind: NumberKind
    number: str
    own: bool
    valid: bool
    placeholder: bool
    linked: bool
    location: Location
    problems: tuple[str, ...] = ()
    site_index: str | None = None
    links: frozenset[str] = frozenset()

    @property
    def shown(self) -> bool:
        return self.own and self.location is not Location.COMMENT

    @property
    def good(self) -> bool:
        return self.valid and not self.placeholder

    def to_json(self) -> dict[str, object]:
        return {
            "kind": str(self.kind),
            "number": self.number,
            "own": self.own,
            "valid": self.valid,
            "placeholder": self.placeholder,
            "linked": self.linked,
            "location": str(self.location),
        }


def fold(occurrences: Iterable[Occurrence]) -> list[TruthNumber]:
    """Each distinct (kind, number) once: most visible location, linked if any occurrence is.

    A number the page shows both as its own and as an example counts as its own.
    """
    merged: dict[tuple[NumberKind, str], TruthNumber] = {}
    for occ in occurrences:
        key = (occ.kind, occ.number)
        links = frozenset({occ.link}) if occ.link else frozenset()
        current = merged.get(key)
        if current is None:
            merged[key] = TruthNumber(
                occ.kind, occ.number, occ.own, occ.valid, occ.placeholder, bool(occ.link),
                occ.location, occ.problems, occ.site_index, links,
            )  # fmt: skip
            continue
        current.own = current.own or occ.own
        current.linked = current.linked or bool(occ.link)
        current.links = current.links | links
        if VISIBILITY.index(occ.location) < VISIBILITY.index(current.location):
            current.location = occ.location
    return sorted(merged.values(), key=lambda n: (str(n.kind), n.number))


@dataclass(frozen=True)
class ExpectedFiling:
    """One row of a hosting provider's expected-filings file."""

    domain: str
    icp_number: str  # may be empty: the provider knows the domain but holds no filing for it
    server_ips: tuple[str, ...]


@dataclass
class SiteTruth:
    domain: str
    region: Region
    region_mainland_vantage: Region
    reachable: bool
    final_url: str | None
    numbers: list[TruthNumber]
    findings: list[str]
    findings_with_expected: list[str]
    exercises: list[str]
    # bookkeeping for the scan-wide rules (not written to truth.jsonl)
    addresses: tuple[str, ...] = ()
    final_registrable: str | None = None
    signals: tuple[str, ...] = ()
    expected: ExpectedFiling | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, object]:
        return {
            "domain": self.domain,
            "region": str(self.region),
            "region_mainland_vantage": str(self.region_mainland_vantage),
            "reachable": self.reachable,
            "final_url": self.final_url,
            "numbers": [n.to_json() for n in self.numbers],
            "findings": self.findings,
            "findings_with_expected": self.findings_with_expected,
            "exercises": self.exercises,
        }

    def to_jsonl(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))


def combine_regions(regions: Iterable[Region]) -> Region:
    distinct = set(regions)
    if not distinct:
        return Region.UNKNOWN
    if len(distinct) == 1:
        return distinct.pop()
    return Region.MIXED


def site_findings(
    region: Region,
    mainland_address: bool,
    reachable: bool,
    numbers: list[TruthNumber],
    signals: tuple[str, ...],
) -> list[str]:
    """The per-domain rules of docs/assessment-rules.md (scan-wide ones are added later)."""
    if not reachable:
        return ["UNREACHABLE"]
    found: list[str] = []
    own = [n for n in numbers if n.own]
    shown = [n for n in own if n.shown]
    shown_good_filing = [n for n in shown if n.kind in FILING_KINDS and n.good]
    mainland_hosted = region is Region.MAINLAND or (region is Region.MIXED and mainland_address)
    if mainland_hosted and not shown_good_filing:
        found.append("MAINLAND_NO_ICP")
    found += ["ICP_PLACEHOLDER" for n in own if n.placeholder]
    found += [
        "ICP_INVALID" for n in shown if n.kind in FILING_KINDS and not n.valid and not n.placeholder
    ]
    shown_good_icp = [n for n in shown_good_filing if n.kind in ICP_ONLY]
    found += [
        "ICP_NONSTANDARD_PREFIX" for n in shown_good_icp if "nonstandard_prefix" in n.problems
    ]
    found += ["ICP_NOT_LINKED" for n in shown_good_icp if not (n.links & {"current", "stale"})]
    found += [
        "ICP_STALE_LINK" for n in shown_good_icp if n.links & {"current", "stale"} == {"stale"}
    ]
    hidden_good = [
        n for n in own if n.kind in FILING_KINDS and n.good and n.location is Location.COMMENT
    ]
    if hidden_good and not shown_good_filing:
        found.append("ICP_HIDDEN")
    shown_psb = [n for n in shown if n.kind is NumberKind.PSB_FILING]
    if mainland_hosted and not shown_psb:
        found.append("PSB_MISSING")
    for n in shown_psb:
        if "division_mismatch" in n.problems:
            found.append("PSB_PROVINCE_MISMATCH")
        elif not n.valid and not n.placeholder:
            found.append("PSB_INVALID")
    has_licence = any(
        n.kind in (NumberKind.ICP_LICENCE, NumberKind.TELECOM_LICENCE) and n.good for n in shown
    )
    shows_good_filing_bei = any(n.kind is NumberKind.ICP_FILING for n in shown_good_filing)
    if signals and shows_good_filing_bei and not has_licence:
        found.append("LICENCE_SIGNALS")
    if region in OFFSHORE and shown_good_filing:
        found.append("OFFSHORE_WITH_ICP")
    return found


_TELECOM_INDEX = re.compile(r"(.*-\d{8})-(\w+)")


def split_index(number: str) -> tuple[str, str | None]:
    """(entity number, site index or None) of a canonical filing/licence number."""
    if "号-" in number:
        entity, index = number.split("号-", 1)
        return entity + "号", index
    match = _TELECOM_INDEX.fullmatch(number)
    if match and "ICP" not in number:
        return match.group(1), match.group(2)
    return number, None


def numbers_match(shown: str, expected: str) -> bool:
    """Entity-level when either side has no -N, exact otherwise (assessment rules)."""
    shown_entity, shown_index = split_index(shown)
    expected_entity, expected_index = split_index(expected)
    if shown_index and expected_index:
        return shown == expected
    return shown_entity == expected_entity


def pair_findings(
    truth: SiteTruth, expected_row: ExpectedFiling | None, all_server_ips: frozenset[str]
) -> list[str]:
    found: list[str] = []
    if expected_row and expected_row.icp_number and truth.reachable:
        good = [n for n in truth.numbers if n.shown and n.kind in FILING_KINDS and n.good]
        if good and not any(numbers_match(n.number, expected_row.icp_number) for n in good):
            found.append("PAIR_NUMBER_MISMATCH")
    if (
        expected_row
        and expected_row.server_ips
        and truth.addresses
        and not set(truth.addresses) & set(expected_row.server_ips)
    ):
        found.append("PAIR_SERVER_MISMATCH")
    if (expected_row is None or not expected_row.icp_number) and set(
        truth.addresses
    ) & all_server_ips:
        found.append("UNFILED_ON_OUR_SERVERS")
    return found


def apply_scan_wide(truths: list[SiteTruth], expected: list[ExpectedFiling]) -> None:
    """NUMBER_SHARED, then the expected-filings rules; fills findings_with_expected."""
    holders: dict[str, set[str]] = defaultdict(set)
    for t in truths:
        if not t.reachable or t.final_registrable is None:
            continue
        for n in t.numbers:
            if n.shown and n.good and n.kind is NumberKind.ICP_FILING and n.site_index:
                holders[n.number].add(t.final_registrable)
    shared = {num for num, regs in holders.items() if len(regs) > 1}
    rows = {row.domain: row for row in expected}
    all_ips = frozenset(ip for row in expected for ip in row.server_ips)
    for t in truths:
        if t.reachable:
            t.findings += [
                "NUMBER_SHARED"
                for n in t.numbers
                if n.number in shared and n.shown and n.good and n.kind is NumberKind.ICP_FILING
            ]
        t.findings.sort()
        t.findings_with_expected = sorted(
            t.findings + pair_findings(t, rows.get(t.domain), all_ips)
        )
        assert all(code in FINDING_CODES for code in t.findings_with_expected)
