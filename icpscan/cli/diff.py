"""``icpscan diff``: per domain, what changed between two scans of one dataset."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import IO

import click
from rich.table import Table
from rich.text import Text
from sqlite_utils import Database

from icpscan.cli import cli
from icpscan.cli.common import InputError, output_options
from icpscan.cli.report import _open_output
from icpscan.diff import DiffSummary, DomainDiff, iter_scan_diff, summarise
from icpscan.report import console_for
from icpscan.report.files import defuse_cell
from icpscan.report.text import visible
from icpscan.store import StoreError, get_scan, open_db

CSV_COLUMNS = (
    "domain",
    "changes",
    "region_a",
    "region_b",
    "cdn_a",
    "cdn_b",
    "reached_a",
    "reached_b",
    "numbers_a",
    "numbers_b",
    "findings_opened",
    "findings_closed",
)


def _scan_ids(db: Database, scan_a: int | None, scan_b: int | None) -> tuple[int, int]:
    if scan_a is None or scan_b is None:
        rows = db.execute(
            "SELECT id FROM scans WHERE status = 'finished' ORDER BY id DESC LIMIT 2"
        ).fetchall()
        if len(rows) < 2:
            raise InputError("diff needs two finished scans (give SCAN_A SCAN_B)")
        return rows[1][0], rows[0][0]
    for scan in (scan_a, scan_b):
        if get_scan(db, scan) is None:
            raise InputError(f"no scan {scan} in this database")
    return scan_a, scan_b


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set | frozenset):
        return ";".join(sorted(str(v) for v in value))
    return str(value)


def _write_csv(diffs: Iterable[DomainDiff], stream: IO[str]) -> None:
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    for diff in diffs:
        a, b = diff.before, diff.after
        row = [
            diff.domain,
            ";".join(diff.changes),
            a.region if a else None,
            b.region if b else None,
            a.cdn if a else None,
            b.cdn if b else None,
            a.reached if a else None,
            b.reached if b else None,
            a.numbers if a else None,
            b.numbers if b else None,
            diff.findings_opened,
            diff.findings_closed,
        ]
        writer.writerow([defuse_cell(_cell(v)) for v in row])


def _describe(diff: DomainDiff) -> Text:
    a, b = diff.before, diff.after
    parts: list[str] = []
    if a and b and a.region != b.region:
        parts.append(f"region {a.region} -> {b.region}")
    if diff.numbers_added:
        parts.append("+" + " +".join(diff.numbers_added))
    if diff.numbers_removed:
        parts.append("-" + " -".join(diff.numbers_removed))
    if a and b and a.cdn != b.cdn:
        parts.append(f"cdn {a.cdn or '-'} -> {b.cdn or '-'}")
    if diff.findings_opened:
        parts.append("opened " + " ".join(diff.findings_opened))
    if diff.findings_closed:
        parts.append("closed " + " ".join(diff.findings_closed))
    return Text(visible("; ".join(parts), 400))


def _write_table(diffs: Iterable[DomainDiff], stream: IO[str], summary: DiffSummary) -> None:
    console = console_for(stream)
    table = Table(title=f"changes from scan {summary.scan_a} to scan {summary.scan_b}")
    for name in ("domain", "changes", "details"):
        table.add_column(name, overflow="fold")
    for diff in diffs:
        table.add_row(
            Text(visible(diff.domain, 253)), Text(" ".join(diff.changes)), _describe(diff)
        )
    console.print(table)
    console.print(Text(_summary_text(summary)))


def _summary_text(summary: DiffSummary) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in summary.to_json()["changes"].items()) or "none"
    return (
        f"scan {summary.scan_a}: {summary.domains_a} domains, scan {summary.scan_b}: "
        f"{summary.domains_b} domains, {summary.common} in both; {summary.changed} changed "
        f"({counts})"
    )


@cli.command("diff")
@click.option(
    "--db",
    "db_path",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="The icpscan database holding both scans.",
)
@click.argument("scan_a", type=int, required=False)
@click.argument("scan_b", type=int, required=False)
@output_options(("table", "jsonl", "csv"), default="table")
def diff_command(
    db_path: str, scan_a: int | None, scan_b: int | None, output_format: str, output: str
) -> None:
    """What changed per domain between SCAN_A and SCAN_B (default: the last two finished
    scans): numbers appeared, disappeared or changed, hosting moved into or out of the
    mainland, CDN changed, reachability, findings opened and closed — with a summary.

    \b
    Change kinds: added removed number_appeared number_disappeared number_changed
      moved_into_mainland moved_out_of_mainland region_changed cdn_changed
      became_reachable became_unreachable findings_opened findings_closed

    \b
    icpscan diff --db audit.db 3 7
    icpscan diff --db audit.db --format jsonl -o changes.jsonl

    jsonl and csv print only changed domains on stdout and the summary on stderr.
    """
    try:
        db = open_db(db_path, create=False)
    except StoreError as exc:
        raise InputError(str(exc)) from None
    first, second = _scan_ids(db, scan_a, scan_b)
    summary = DiffSummary(first, second)
    diffs = summarise(iter_scan_diff(db, first, second, unchanged=True), summary)
    with _open_output(output) as stream:
        if output_format == "jsonl":
            for diff in diffs:
                stream.write(json.dumps(diff.to_json(first, second), ensure_ascii=False) + "\n")
        elif output_format == "csv":
            _write_csv(diffs, stream)
        else:
            _write_table(diffs, stream, summary)
    if output_format != "table":
        click.echo(f"icpscan: {_summary_text(summary)}", err=True)
