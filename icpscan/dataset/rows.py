"""A scan as the rows of the exported tables, derived from the stored per-domain records.

Every export (and ``icpscan.load``) is a rendering of the same ``DomainResult`` JSON the
dataset stores, read in one streaming pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import sqlite_utils

from icpscan.dataset.dictionary import TABLES
from icpscan.diff import DomainState
from icpscan.report.data import iter_records


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text or None


def _codes(findings: list[Mapping[str, Any]]) -> list[str]:
    return sorted({str(f.get("code")) for f in findings})


_SEVERITIES = ("info", "low", "medium", "high")


def domain_row(scan_id: int, record: Mapping[str, Any]) -> dict[str, Any]:
    hosting = record.get("hosting") or {}
    fetch = record.get("fetch") or {}
    findings = record.get("findings") or []
    numbers = record.get("numbers") or []
    checks = record.get("records") or {}
    severities = [f.get("severity") for f in findings if f.get("severity") in _SEVERITIES]
    filed = list(checks.get("records") or [])
    return {
        "scan_id": scan_id,
        "domain": record.get("domain"),
        "display": _text(record.get("display")),
        "line": record.get("line"),
        "region": _text(hosting.get("region")),
        "confidence": _text(hosting.get("confidence")),
        "provider": _text(hosting.get("provider")),
        "cdn": _text((hosting.get("cdn") or {}).get("name")),
        "addresses": [str(a) for a in hosting.get("addresses") or []],
        "asns": [int(a["asn"]) for a in hosting.get("asns") or [] if a.get("asn") is not None],
        "reached": fetch.get("reached"),
        "status": fetch.get("status"),
        "final_url": _text(fetch.get("final_url")),
        "final_registrable_domain": _text(fetch.get("final_registrable_domain")),
        "left_registrable_domain": fetch.get("left_registrable_domain"),
        "error_kind": _text((fetch.get("error") or {}).get("kind")),
        "encoding": _text(record.get("encoding")),
        "title": _text(record.get("title")),
        "filing_numbers": sorted(DomainState.from_record(record).numbers),
        "psb_numbers": sorted(
            {
                str(n["number"])
                for n in numbers
                if n.get("kind") == "psb_filing" and n.get("own") and n.get("location") != "comment"
            }
        ),
        "numbers_count": len(numbers),
        "signals": [str(s) for s in record.get("signals") or []],
        "finding_codes": _codes(findings),
        "findings_count": len(findings),
        "max_severity": max(severities, key=_SEVERITIES.index) if severities else None,
        "record_status": _text(checks.get("status")),
        "record_source": _text(checks.get("source")),
        "record_error": _text((checks.get("error") or {}).get("kind")),
        "record_entity_numbers": sorted(
            {r["entity_number"] for r in filed if r.get("entity_number")}
        ),
        "record_site_numbers": sorted({r["site_number"] for r in filed if r.get("site_number")}),
        "schema_version": _text(record.get("schema_version")),
    }


def number_rows(scan_id: int, record: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for n in record.get("numbers") or []:
        province = n.get("province") or {}
        yield {
            "scan_id": scan_id,
            "domain": record.get("domain"),
            "kind": n.get("kind"),
            "number": n.get("number"),
            "raw": _text(n.get("raw")),
            "province_code": _text(province.get("code")),
            "province": _text(province.get("name")),
            "valid": n.get("valid"),
            "placeholder": n.get("placeholder"),
            "linked": n.get("linked"),
            "href": _text(n.get("href")),
            "location": n.get("location"),
            "own": n.get("own"),
            "site_index": _text(n.get("site_index")),
            "problems": [str(p) for p in n.get("problems") or []],
        }


def finding_rows(scan_id: int, record: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for f in record.get("findings") or []:
        yield {
            "scan_id": scan_id,
            "domain": record.get("domain"),
            "code": f.get("code"),
            "severity": f.get("severity"),
            "message": _text(f.get("message")),
            "evidence": json.dumps(f.get("evidence") or {}, ensure_ascii=False, sort_keys=True),
        }


def record_rows(scan_id: int, record: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    checks = record.get("records") or {}
    for relation, key in (("domain", "records"), ("number", "number_records")):
        for r in checks.get(key) or []:
            access = r.get("limit_access")
            yield {
                "scan_id": scan_id,
                "domain": record.get("domain"),
                "relation": relation,
                "filed_domain": r.get("domain"),
                "entity_name": _text(r.get("entity_name")),
                "entity_type": _text(r.get("entity_type")),
                "entity_number": _text(r.get("entity_number")),
                "site_number": _text(r.get("site_number")),
                "site_name": _text(r.get("site_name")),
                "content_types": [str(c) for c in r.get("content_types") or []],
                "approval_time": _text(r.get("approval_time")),
                "limit_access": None if access is None else bool(access),
                "source": _text(r.get("source")),
                "fetched_at": _text(r.get("fetched_at")),
            }


_MAKERS = {
    "domains": lambda scan_id, record: iter((domain_row(scan_id, record),)),
    "numbers": number_rows,
    "findings": finding_rows,
    "records": record_rows,
}


def iter_rows(db: sqlite_utils.Database, scan_id: int, table: str) -> Iterator[dict[str, Any]]:
    """The rows of ``table`` for a scan, in input order (streamed)."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r} (choose from {', '.join(TABLES)})")
    make = _MAKERS[table]
    for record in iter_records(db, scan_id):
        yield from make(scan_id, record)
