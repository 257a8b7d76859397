"""One domain through the pure stages: fetched page + hosting verdict -> DomainResult.

No I/O here: the scan worker (``icpscan.worker``), the distributed worker and notebooks all call
:func:`build_result` with what the network stages produced, and get the record every output
renders.
"""

from __future__ import annotations

import datetime

from icpscan.assess import ExpectedFilings, SiteFacts, assess_site
from icpscan.extract import extract
from icpscan.models import (
    DomainResult,
    Evidence,
    Extraction,
    FetchedPage,
    FetchResult,
    HostingVerdict,
    RecordCheck,
    Region,
)
from icpscan.reconcile import reconcile_site

_NO_EXTRACTION = Extraction(numbers=(), encoding="")


def fetch_pins(verdict: HostingVerdict) -> tuple[str | None, dict[str, str]]:
    """The address to pin for the domain itself, and pins for other names (``www.``).

    The hosting stage resolves ``www.`` only when the apex has no address; then its addresses
    belong to ``www.<domain>`` and must be pinned there, not on the apex.
    """
    if not verdict.addresses:
        return None, {}
    first = verdict.addresses[0]
    for answer in verdict.answers:
        if answer.view == "default" and first in answer.records:
            if answer.name != verdict.domain:
                return None, {answer.name: first}
            break
    return first, {}


def dns_failure_detail(verdict: HostingVerdict) -> str:
    """Why a domain without any address cannot be fetched, from the hosting stage's failures."""
    failures = [f for f in verdict.errors if f.view == "default"] or list(verdict.errors)
    failures.sort(key=lambda f: (f.name != verdict.domain, f.rtype != "A"))
    if failures:
        first = failures[0]
        return f"{first.name}: {first.detail or first.error}"
    claims = "; ".join(e.claim for e in verdict.evidence)
    return f"{verdict.domain}: no address" + (f" ({claims})" if claims else "")


def page_extraction(page: FetchedPage, today: datetime.date | None = None) -> Extraction:
    """Extract from a reached HTML page; anything else shows nothing."""
    result = page.result
    if not result.reached or not result.is_html or not page.body:
        return _NO_EXTRACTION
    return extract(page.body, base_url=result.final_url, encoding=page.charset, today=today)


def site_facts(verdict: HostingVerdict, fetch: FetchResult, extraction: Extraction) -> SiteFacts:
    return SiteFacts(
        domain=verdict.domain,
        region=verdict.region,
        address_regions={
            info.address: info.region for info in verdict.address_info if info.special is None
        },
        reached=fetch.reached,
        final_registrable_domain=fetch.final_registrable_domain,
        numbers=extraction.numbers,
        signals=extraction.signals,
        hosting_evidence=verdict.evidence,
    )


def build_result(
    *,
    domain: str,
    display: str,
    line: int | None,
    verdict: HostingVerdict,
    page: FetchedPage,
    expected: ExpectedFilings | None = None,
    today: datetime.date | None = None,
    scan_id: int | None = None,
    records: RecordCheck | None = None,
    extraction: Extraction | None = None,
) -> DomainResult:
    """Extract, assess and assemble the record of one domain.

    ``records`` are the filing records looked up for it (RECORD_* rules); ``extraction`` is
    given when the caller already extracted the page (to decide whether records are needed).
    """
    if extraction is None:
        extraction = page_extraction(page, today)
    facts = site_facts(verdict, page.result, extraction)
    findings = assess_site(facts, expected)
    if records is not None:
        findings.extend(reconcile_site(facts, records))
    return DomainResult(
        domain=domain,
        display=display,
        line=line,
        hosting=verdict,
        fetch=page.result,
        numbers=extraction.numbers,
        signals=tuple(sorted(extraction.signals)),
        encoding=extraction.encoding or None,
        title=extraction.title,
        findings=tuple(findings),
        scan_id=scan_id,
        records=records,
    )


def unresolved_verdict(domain: str, detail: str) -> HostingVerdict:
    """A verdict for a domain the hosting stage could not judge at all (an internal error)."""
    return HostingVerdict(
        domain=domain,
        region=Region.UNKNOWN,
        addresses=(),
        cnames=(),
        asns=(),
        provider=None,
        cdn=None,
        confidence="low",
        evidence=(Evidence("icpscan", f"hosting stage failed: {detail}"),),
        errors=(),
    )
