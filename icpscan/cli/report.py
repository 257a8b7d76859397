"""``icpscan report``: render a stored scan as a table, JSON lines, CSV or an HTML report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import click
from sqlite_utils import Database

from icpscan.cli import cli
from icpscan.cli.common import InputError, output_options
from icpscan.report import (
    DEFAULT_MAX_ROWS,
    ReportError,
    console_for,
    iter_record_json,
    iter_records,
    render_summary,
    resolve_scan_id,
    scan_summary,
    write_csv,
    write_html,
    write_jsonl,
    write_table,
)
from icpscan.store import StoreError, open_db


@contextmanager
def _open_output(output: str) -> Iterator[IO[str]]:
    """stdout for '-', else the file (UTF-8, newlines written as given: CSV keeps its CRLF)."""
    if output == "-":
        with click.open_file("-", "w", encoding="utf-8") as stream:
            yield stream
        return
    try:
        handle = Path(output).open("w", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None
    with handle:
        yield handle


@cli.command("report")
@click.option(
    "--db",
    "db_path",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, allow_dash=False),
    help="The icpscan database (SQLite) holding the scan.",
)
@click.option("--scan", "scan_id", type=int, metavar="ID", help="Scan id (default: the latest).")
@click.option(
    "--html",
    "html_path",
    metavar="OUT.html",
    type=click.Path(dir_okay=False, writable=True, allow_dash=False),
    help="Write the self-contained HTML report to this file.",
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_ROWS,
    show_default=True,
    help="Domains in the HTML table (most severe first); charts always count every domain.",
)
@output_options(("table", "jsonl", "csv"), default="table")
@click.pass_context
def report_command(
    ctx: click.Context,
    db_path: str,
    scan_id: int | None,
    html_path: str | None,
    max_rows: int,
    output_format: str,
    output: str,
) -> None:
    """Render a stored scan: summary and table, JSON lines, CSV, or an HTML report.

    \b
    icpscan report --db results.db                      summary and per-domain table
    icpscan report --db results.db --format jsonl       one JSON record per domain
    icpscan report --db results.db --format csv -o r.csv
    icpscan report --db results.db --scan 3 --html report.html

    With --html only the HTML file is written (plus one line on stderr), unless --format or
    -o is also given. Everything shown from crawled sites is escaped.
    """
    try:
        db = open_db(db_path, create=False)
    except StoreError as exc:
        raise InputError(str(exc)) from None
    try:
        scan_id = resolve_scan_id(db, scan_id)
    except ReportError as exc:
        raise InputError(f"{exc}: {db_path}") from None

    explicit = any(
        ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
        for name in ("output_format", "output")
    )
    if html_path is not None:
        try:
            path = write_html(db, scan_id, html_path, max_rows=max_rows)
        except OSError as exc:
            raise InputError(f"cannot write {html_path}: {exc.strerror or exc}") from None
        click.echo(f"icpscan: wrote the HTML report of scan {scan_id} to {path}", err=True)
        if not explicit:
            return

    emit_results(db, scan_id, output_format, output, summary=True)


def emit_results(
    db: Database, scan_id: int, output_format: str, output: str, *, summary: bool
) -> None:
    """Per-domain results of a scan in ``output_format`` to ``output`` ('-' = stdout).

    ``summary`` adds the end-of-scan summary after a table (``report`` does; ``scan`` prints
    its summary on stderr instead, so stdout stays the results alone).
    """
    with _open_output(output) as stream:
        if output_format == "jsonl":
            write_jsonl(iter_record_json(db, scan_id), stream)
        elif output_format == "csv":
            write_csv(iter_record_json(db, scan_id), stream)
        else:
            console = console_for(stream)
            write_table(console, iter_records(db, scan_id))
            if summary:
                console.print()
                render_summary(console, scan_summary(db, scan_id))
