"""Reports of a scan, rendered from the SQLite dataset (or from records as a scan produces them).

* :func:`scan_summary` / :func:`render_summary`: the end-of-scan summary (rich, terminal).
* :func:`write_table`, :func:`write_jsonl`, :func:`write_csv`: per-domain results
  (``--format table|jsonl|csv``).
* :func:`write_html`: the self-contained HTML report (charts, filterable table, evidence).

Everything a crawled site controls is treated as hostile by every renderer; see
``docs/report.md`` for the formats, the caps and the HTML security model.
"""

from __future__ import annotations

from icpscan.report.data import (
    ReportError,
    ScanSummary,
    iter_record_json,
    iter_records,
    resolve_scan_id,
    scan_summary,
)
from icpscan.report.files import CSV_COLUMNS, write_csv, write_jsonl
from icpscan.report.html import DEFAULT_MAX_ROWS, render_html, write_html
from icpscan.report.terminal import console_for, render_summary, write_table

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_MAX_ROWS",
    "ReportError",
    "ScanSummary",
    "console_for",
    "iter_record_json",
    "iter_records",
    "render_html",
    "render_summary",
    "resolve_scan_id",
    "scan_summary",
    "write_csv",
    "write_html",
    "write_jsonl",
    "write_table",
]
