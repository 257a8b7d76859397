"""Terminal renderings (rich): the end-of-scan summary and the ``table`` format.

Crawled text reaches the terminal only as :class:`rich.text.Text` built from
:func:`icpscan.report.text.visible` output: rich never parses markup from data, and escape
sequences, bidi overrides and other invisible characters are shown as ``\\x1b``/``\\u202e``
instead of acting on the terminal. Colour follows the console: rich turns it off for pipes and
files and when ``NO_COLOR`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from icpscan.models import NumberKind
from icpscan.report.data import ScanSummary
from icpscan.report.files import max_severity
from icpscan.report.text import visible

PIPE_WIDTH = 160  # columns for files and pipes (a terminal uses its own width)

SEVERITY_STYLES = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}
REGION_STYLES = {
    "mainland": "red",
    "hongkong": "magenta",
    "macau": "magenta",
    "taiwan": "magenta",
    "abroad": "green",
    "mixed": "yellow",
    "unknown": "dim",
}
TABLE_CHUNK = 500  # rows rendered per rich Table: the table format streams in chunks
MAX_CELL = 200  # characters of one crawled value shown in a cell
MAX_NUMBERS = 4  # numbers listed per domain in the table (then "+N")

_NUMBER_ORDER = {
    NumberKind.ICP_FILING.value: 0,
    NumberKind.ICP_LICENCE.value: 1,
    NumberKind.TELECOM_LICENCE.value: 2,
    NumberKind.PSB_FILING.value: 3,
}


def console_for(stream: IO[str]) -> Console:
    """A rich console for ``stream``: colour and terminal width only on a terminal.

    rich itself turns colour off for non-terminals and when ``NO_COLOR`` is set; files and pipes
    get a fixed width (unless ``COLUMNS`` says otherwise) so a table is not cut at 80 columns.
    """
    fixed = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(file=stream, width=PIPE_WIDTH if fixed else None)


def _text(value: object, style: str = "", limit: int = MAX_CELL) -> Text:
    return Text(visible(value, limit), style=style)


def _count(value: int) -> Text:
    return Text(f"{value:,}", justify="right")


def _percent(part: int, whole: int) -> Text:
    return Text(f"{100 * part / whole:.1f}%" if whole else "-", justify="right")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f}s"


def _rate(per_second: float) -> str:
    return f"{per_second:,.1f}" if per_second >= 10 else f"{per_second:.2f}"


def _counts_line(counts: Mapping[str, int]) -> Text:
    return Text(", ".join(f"{visible(k, 60)} {v:,}" for k, v in counts.items()) or "none")


def summary_header(summary: ScanSummary) -> Text:
    """Two lines: which scan, when and how fast; then what happened to its domains."""
    scan = summary.scan
    text = Text()
    text.append(f"Scan {scan.id}", style="bold")
    text.append(f" · {visible(scan.input, 120) or '-'} · ")
    text.append(scan.status or "unknown", style="green" if scan.status == "finished" else "yellow")
    text.append(f" · started {scan.started_at or '-'}")
    if scan.finished_at:
        text.append(f", finished {scan.finished_at} ({_duration(scan.duration)}")
        rate = summary.rate
        text.append(f", {_rate(rate)} domains/s)" if rate else ")")
    text.append("\n")
    text.append(f"{summary.domains:,} domains", style="bold")
    text.append(f": {summary.reached:,} reached, {summary.unreached:,} unreached")
    if summary.pending:
        text.append(f" · {summary.pending:,} of {summary.queued:,} not scanned", style="yellow")
    if scan.invalid_lines or scan.duplicate_lines:
        text.append(
            f" · input: {scan.invalid_lines:,} invalid, {scan.duplicate_lines:,} duplicate lines"
        )
    return text


def _summary_table(title: str, *, show_header: bool = True) -> Table:
    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        show_header=show_header,
    )


def region_table(summary: ScanSummary) -> Table:
    table = _summary_table("Hosting region")
    table.add_column("region")
    table.add_column("domains", justify="right")
    table.add_column("share", justify="right")
    for region, count in summary.regions.items():
        table.add_row(
            _text(region, REGION_STYLES.get(region, "")),
            _count(count),
            _percent(count, summary.domains),
        )
    return table


def findings_table(summary: ScanSummary) -> Table:
    table = _summary_table("Findings")
    table.add_column("code")
    table.add_column("severity")
    table.add_column("findings", justify="right")
    table.add_column("domains", justify="right")
    for count in summary.codes:
        table.add_row(
            _text(count.code),
            _text(count.severity, SEVERITY_STYLES.get(count.severity, "")),
            _count(count.findings),
            _count(count.domains),
        )
    return table


def errors_table(summary: ScanSummary) -> Table:
    table = _summary_table("Errors", show_header=False)
    table.add_column("stage")
    table.add_column("counts")
    table.add_row(Text("fetch"), _counts_line(summary.fetch_errors))
    table.add_row(Text("dns"), _counts_line(summary.dns_errors))
    table.add_row(Text("input"), _counts_line(summary.input_errors))
    return table


def render_summary(console: Console, summary: ScanSummary) -> None:
    """The end-of-scan summary: header, hosting regions, findings by code, errors."""
    console.print(summary_header(summary))
    if summary.regions:
        console.print()
        console.print(region_table(summary))
    console.print()
    if summary.codes:
        console.print(findings_table(summary))
    else:
        console.print(Text("No findings.", style="green"))
    console.print()
    console.print(errors_table(summary))


# -- the table format --------------------------------------------------------------------------


def _numbers_cell(record: Mapping[str, Any]) -> Text:
    own: dict[str, str] = {}
    numbers = sorted(
        (n for n in record.get("numbers") or [] if n.get("own", True)),
        key=lambda n: _NUMBER_ORDER.get(str(n.get("kind")), 9),
    )
    for number in numbers:
        own.setdefault(str(number.get("number") or ""), "" if number.get("valid") else "yellow")
    text = Text()
    for index, (number, style) in enumerate(own.items()):
        if index == MAX_NUMBERS:
            text.append(f"\n+{len(own) - MAX_NUMBERS} more", style="dim")
            break
        if index:
            text.append("\n")
        text.append(visible(number, 60), style=style)
    return text


def _status_cell(fetch: Mapping[str, Any]) -> Text:
    status = fetch.get("status")
    error = (fetch.get("error") or {}).get("kind")
    if fetch.get("reached"):
        return _text(status if status is not None else "ok", "green" if status == 200 else "")
    if error:
        return _text(error if status is None else f"{status} {error}", "red", 40)
    return Text("-", style="dim")


def _findings_cell(findings: list[Mapping[str, Any]]) -> Text:
    text = Text()
    for index, code in enumerate(sorted({str(f.get("code")) for f in findings})):
        if index:
            text.append(" ")
        severity = next(str(f.get("severity")) for f in findings if str(f.get("code")) == code)
        text.append(visible(code, 40), style=SEVERITY_STYLES.get(severity, ""))
    return text


def _domain_cell(record: Mapping[str, Any]) -> Text:
    domain = str(record.get("domain") or "")
    display = str(record.get("display") or domain)
    text = _text(display)
    if display != domain:
        text.append(f"\n{visible(domain, MAX_CELL)}", style="dim")
    return text


def domain_row(record: Mapping[str, Any]) -> tuple[Text, ...]:
    """The table cells of one record (a record of an unexpected shape says so in its row)."""
    try:
        return _domain_row(record)
    except (AttributeError, TypeError, ValueError, KeyError, StopIteration):
        domain = record.get("domain") if isinstance(record, Mapping) else None
        unreadable = Text("unreadable record", style="red")
        return (_text(domain or "?"), Text("-"), Text("-"), Text(""), unreadable, Text("-"))


def _domain_row(record: Mapping[str, Any]) -> tuple[Text, ...]:
    hosting = record.get("hosting") or {}
    findings = list(record.get("findings") or [])
    severity = max_severity(findings)
    region = str(hosting.get("region") or "unknown")
    return (
        _domain_cell(record),
        _text(region, REGION_STYLES.get(region, ""), 20),
        _status_cell(record.get("fetch") or {}),
        _numbers_cell(record),
        _findings_cell(findings),
        _text(severity or "-", SEVERITY_STYLES.get(severity, "dim"), 10),
    )


_COLUMNS = ("domain", "region", "status", "numbers", "findings", "severity")
# Fixed widths (cells) keep the chunks of a long table aligned; domain and findings share the
# rest of the console width. 26 cells hold a full public-security number (京公网安备 + 14 digits).
_FIXED_WIDTHS = {"region": 8, "status": 10, "numbers": 26, "severity": 8}
_RATIOS = {"domain": 1, "findings": 1}
_MIN_WIDTHS = {"domain": 16, "findings": 22}  # the longest finding code has 22 characters


def _new_table(first: bool) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        show_header=first,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        expand=True,
    )
    for name in _COLUMNS:
        table.add_column(
            name,
            width=_FIXED_WIDTHS.get(name),
            ratio=_RATIOS.get(name),
            min_width=_MIN_WIDTHS.get(name),
            overflow="fold",
        )
    return table


def write_table(console: Console, records: Iterable[Mapping[str, Any]]) -> int:
    """Per-domain results as a table, streamed in chunks of :data:`TABLE_CHUNK` rows."""
    count = 0
    table: Table | None = None
    for record in records:
        if table is None:
            table = _new_table(first=count == 0)
        table.add_row(*domain_row(record))
        count += 1
        if count % TABLE_CHUNK == 0:
            console.print(table)
            table = None
    if table is not None:
        console.print(table)
    if count == 0:
        console.print(Text("No domains stored for this scan.", style="dim"))
    return count
