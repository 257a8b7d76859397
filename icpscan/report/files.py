"""JSON lines and CSV renderings of result records.

JSON lines is the lossless format: one record per line, byte for byte the JSON stored in the
``domains.record`` column (compact, sorted keys, UTF-8). CSV is the flat view for spreadsheets:
one row per domain with the columns of :data:`CSV_COLUMNS` (documented in docs/report.md),
lists joined with ``;``, and cells that a spreadsheet would run as a formula defused.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from typing import IO, Any

from icpscan.models import ICP_KINDS, NumberKind
from icpscan.report.data import SEVERITIES, severity_rank
from icpscan.store import dumps

CSV_COLUMNS: tuple[str, ...] = (
    "domain",
    "display",
    "region",
    "confidence",
    "provider",
    "cdn",
    "reached",
    "status",
    "final_url",
    "error_kind",
    "icp_numbers",
    "psb_numbers",
    "licence_numbers",
    "finding_codes",
    "max_severity",
)

LIST_SEPARATOR = ";"

# Spreadsheets evaluate a cell starting with these as a formula (OWASP "CSV injection"); tab
# and carriage return are on the list because some importers strip them and then see the rest.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

_LICENCE_KINDS = frozenset(ICP_KINDS - {NumberKind.ICP_FILING})


def record_json(record: Mapping[str, Any]) -> str:
    """A record as one JSON line, serialised exactly as :mod:`icpscan.store` stores it."""
    return dumps(record)


def write_jsonl(records: Iterable[Mapping[str, Any] | str], fh: IO[str]) -> int:
    """One JSON line per record (a ``str`` is an already-stored line); returns the count."""
    count = 0
    for record in records:
        line = record if isinstance(record, str) else record_json(record)
        fh.write(line.rstrip("\r\n"))
        fh.write("\n")
        count += 1
    return count


def defuse_cell(value: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would evaluate (``=HYPERLINK(...)``, ``@SUM``...)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _own_numbers(record: Mapping[str, Any], kinds: frozenset[str]) -> str:
    seen: dict[str, None] = {}
    for number in record.get("numbers") or []:
        if number.get("own", True) and number.get("kind") in kinds:
            seen.setdefault(str(number.get("number") or ""), None)
    return LIST_SEPARATOR.join(n for n in seen if n)


def max_severity(findings: Iterable[Mapping[str, Any]]) -> str:
    ranks = [severity_rank(f.get("severity")) for f in findings]
    best = max(ranks, default=0)
    return SEVERITIES[best - 1] if best else ""


def _flag(value: Any) -> str:
    return "" if value is None else ("true" if value else "false")


def csv_row(record: Mapping[str, Any]) -> dict[str, str]:
    """The flat CSV row of one record (before formula defusing)."""
    hosting = record.get("hosting") or {}
    fetch = record.get("fetch") or {}
    cdn = hosting.get("cdn") or {}
    error = fetch.get("error") or {}
    findings = record.get("findings") or []
    status = fetch.get("status")
    return {
        "domain": str(record.get("domain") or ""),
        "display": str(record.get("display") or record.get("domain") or ""),
        "region": str(hosting.get("region") or ""),
        "confidence": str(hosting.get("confidence") or ""),
        "provider": str(hosting.get("provider") or ""),
        "cdn": str(cdn.get("name") or ""),
        "reached": _flag(fetch.get("reached")),
        "status": "" if status is None else str(status),
        "final_url": str(fetch.get("final_url") or ""),
        "error_kind": str(error.get("kind") or ""),
        "icp_numbers": _own_numbers(record, frozenset({NumberKind.ICP_FILING.value})),
        "psb_numbers": _own_numbers(record, frozenset({NumberKind.PSB_FILING.value})),
        "licence_numbers": _own_numbers(record, frozenset(k.value for k in _LICENCE_KINDS)),
        "finding_codes": LIST_SEPARATOR.join(sorted({str(f.get("code")) for f in findings})),
        "max_severity": max_severity(findings),
    }


def write_csv(records: Iterable[Mapping[str, Any] | str], fh: IO[str]) -> int:
    """A header and one row per record (open ``fh`` with ``newline=""``); returns the count."""
    writer = csv.writer(fh)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for record in records:
        row = csv_row(json.loads(record) if isinstance(record, str) else record)
        writer.writerow([_LONE_SURROGATE.sub("\ufffd", defuse_cell(row[c])) for c in CSV_COLUMNS])
        count += 1
    return count
