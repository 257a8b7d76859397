"""``icpscan scan``: the main job — locate, crawl, extract, assess and store a domain list."""

from __future__ import annotations

import datetime
import os
import sys
from pathlib import Path
from typing import Any

import click

from icpscan import egress, store
from icpscan.cli import cli
from icpscan.cli.common import EXIT_FINDINGS, GroupedCommand, InputError, grouped
from icpscan.cli.locate import choose_nameservers
from icpscan.cli.report import emit_results
from icpscan.crawl.connect_to import (
    ConnectionOverrides,
    load_connect_to_file,
    read_rules_file,
)
from icpscan.expected import ExpectedFileError, read_expected
from icpscan.models import Severity
from icpscan.report import render_summary, scan_summary
from icpscan.resolve import Vantage
from icpscan.scan import ScanError, ScanRequest, fail_on_hit, run_scan
from icpscan.targets import InputFileError, InvalidLine
from icpscan.worker import ScanConfig

input_option = grouped("Input")
dns_option = grouped("Resolution")
crawl_option = grouped("Crawl")
assess_option = grouped("Assessment")
store_option = grouped("Storage")
run_option = grouped("Execution")
output_option = grouped("Output")


@cli.command("scan", cls=GroupedCommand)
@click.argument("input_path", metavar="INPUT", type=str)
@input_option("--column", help="CSV column holding the domains (name or 1-based index).")
@input_option(
    "--input-format",
    type=click.Choice(["auto", "text", "csv"]),
    default="auto",
    show_default=True,
    help="How to read INPUT.",
)
@dns_option(
    "--nameserver",
    "nameservers",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Nameserver to ask (repeatable). Default: /etc/resolv.conf's, unless --loopback-only.",
)
@dns_option("--dns-timeout", type=float, default=3.0, show_default=True,
            help="Seconds to wait for one DNS answer.")  # fmt: skip
@dns_option("--dns-retries", type=int, default=2, show_default=True,
            help="Extra rounds over the nameservers after timeouts.")  # fmt: skip
@dns_option(
    "--vantage",
    "vantages",
    multiple=True,
    metavar="SPEC",
    help="Also resolve as a mainland client and record both views: 'mainland' or "
    "NAME,ecs=CIDR[,ns=HOST[:PORT]] (repeatable).",
)
@dns_option("--ranges", "ranges_file", type=click.Path(exists=True, dir_okay=False),
            help="Your address space: CSV 'prefix,region,provider'; wins over all.")  # fmt: skip
@dns_option("--data-dir", type=click.Path(exists=True, file_okay=False),
            help="Directory with refreshed reference data (icpscan data import-*).")  # fmt: skip
@dns_option("--no-asn", is_flag=True, help="Skip Team-Cymru origin-AS lookups.")
@dns_option("--ns", "with_ns", is_flag=True, help="Also record NS records (one more query).")
@dns_option("--rdap", "rdap_url", metavar="URL", help="RDAP base URL to ask (off by default).")
@crawl_option(
    "--connect-to",
    multiple=True,
    metavar="HOST1:PORT1:HOST2:PORT2",
    help="Connect to HOST2:PORT2 instead, for requests to HOST1:PORT1 (curl semantics; empty "
    "= any; repeatable). Checks a server before DNS points at it.",
)
@crawl_option("--connect-to-file", type=click.Path(exists=True, dir_okay=False),
              help="File of --connect-to rules, one per line.")  # fmt: skip
@crawl_option("--resolve", "resolve_rules", multiple=True, metavar="HOST:PORT:ADDR",
              help="Pin HOST:PORT to ADDR (curl semantics; repeatable).")  # fmt: skip
@crawl_option("--ca-bundle", type=click.Path(exists=True, dir_okay=False),
              help="Extra CA certificates for the 'trusted' fact (PEM).")  # fmt: skip
@crawl_option(
    "--allow-private",
    is_flag=True,
    help="Allow private, loopback, link-local, CGNAT and metadata addresses (off: SSRF guard).",
)
@crawl_option("--timeout", "download_timeout", type=float, default=20.0, show_default=True,
              help="Seconds for one download, connection and TLS included.")  # fmt: skip
@crawl_option("--max-page-size", type=int, default=2 * 1024 * 1024, show_default=True,
              help="Bytes of a homepage kept; the rest is cut (recorded).")  # fmt: skip
@crawl_option("--max-redirects", type=int, default=10, show_default=True,
              help="HTTP, meta-refresh and JavaScript redirects followed per domain.")  # fmt: skip
@crawl_option("--concurrency", type=int, default=256, show_default=True,
              help="Requests in flight per worker.")  # fmt: skip
@crawl_option("--per-host", type=int, default=2, show_default=True,
              help="Requests in flight per host (politeness).")  # fmt: skip
@crawl_option("--obey-robots", is_flag=True,
              help="Obey robots.txt (off: an audit reads one page, like a visitor).")  # fmt: skip
@crawl_option("--user-agent", help="User-Agent header to send.")
@assess_option(
    "--expected",
    "expected_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Hosting provider's filings: CSV 'domain,icp_number,server_ips' (;-separated IPs).",
)
@assess_option(
    "--records",
    "records_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Filing records to reconcile with (RECORD_* findings): CSV, JSON lines or JSON; "
    "our or MIIT field names (docs/records.md).",
)
@assess_option(
    "--record-service",
    type=click.Path(exists=True, dir_okay=False),
    metavar="CONFIG",
    help="Look filing records up in your JSON lookup service (TOML/JSON config: URL, fields, "
    "auth header, rate limit); answers are cached in the dataset.",
)
@assess_option("--today", type=click.DateTime(["%Y-%m-%d"]),
               help="Judge number years against this date (default: today).")  # fmt: skip
@store_option("--db", "db_path", type=click.Path(dir_okay=False), default="icpscan.db",
              show_default=True, help="SQLite dataset to write (scans accumulate).")  # fmt: skip
@store_option(
    "--resume",
    is_flag=False,
    flag_value="latest",
    default=None,
    metavar="[SCAN_ID]",
    help="Continue an interrupted scan (the latest unfinished one, or SCAN_ID).",
)
@run_option("--workers", type=click.IntRange(min=1), default=os.cpu_count() or 1,
            show_default="CPU count", help="Worker processes (one crawler each).")  # fmt: skip
@run_option("--retire-after", type=click.IntRange(min=0), default=5000, show_default=True,
            metavar="DOMAINS", help="A worker hands over to a fresh process after this many "
            "domains: memory stays flat on long lists (0 = never).")  # fmt: skip
@run_option("--redis", "redis_url", metavar="URL",
            help="Distributed scan through Redis (redis://HOST:PORT/DB; the 'distributed' extra): "
            "this process feeds and collects, 'icpscan worker --redis URL' crawls.")  # fmt: skip
@run_option("--role", type=click.Choice(["feeder"]), default="feeder", show_default=True,
            help="With --redis: the feeder queues INPUT, collects results into --db and "
            "finishes the scan (--workers is then unused).")  # fmt: skip
@run_option("--network-rate", type=click.FloatRange(min=0), default=10.0, show_default=True,
            help="With --redis: requests/s to one /24 (IPv6 /48) shared by all workers; 0 = "
            "off.")  # fmt: skip
@run_option(
    "--loopback-only",
    is_flag=True,
    help="Refuse any packet beyond 127.0.0.0/8 and ::1 (the sandbox, tests, the demo).",
)
@output_option(
    "--format",
    "output_format",
    type=click.Choice(["table", "jsonl", "csv"]),
    default="table",
    show_default=True,
    help="Per-domain results format.",
)
@output_option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-",
               show_default=True, help="Write the results here ('-' = stdout).")  # fmt: skip
@output_option("--fail-on", type=click.Choice([s.value for s in Severity]),
               help="Exit 1 when a finding at or above this severity exists (CI use).")  # fmt: skip
@output_option("-q", "--quiet", is_flag=True, help="No progress bar and no summary on stderr.")
def scan_command(input_path: str, **options: Any) -> int:
    """Scan the domains in INPUT ('-' = stdin): where each is hosted, what its homepage shows,
    what is wrong — stored in a SQLite dataset and reported.

    INPUT is a text file (one domain or URL per line; '#' comments) or a CSV with a domain
    column (Tranco 'rank,domain' too). Invalid lines are reported with their line numbers and
    skipped.

    \b
    Examples:
      icpscan scan domains.txt --db audit.db --format jsonl -o results.jsonl
      icpscan scan top-1m.csv --workers 2 --fail-on high
      icpscan scan customers.txt --expected filings.csv --connect-to ::203.0.113.5:
      icpscan scan domains.txt --db audit.db --resume
    """
    loopback_only = options["loopback_only"] or egress.loopback_guard_armed()
    if loopback_only:
        egress.install_loopback_guard()
    config = _scan_config(options, loopback_only)
    resume = options["resume"]
    request = ScanRequest(
        input=input_path,
        config=config,
        workers=options["workers"],
        column=options["column"],
        input_format=options["input_format"],
        resume=resume is not None,
        resume_scan_id=None if resume in (None, "latest") else _scan_id(resume),
        loopback_only=loopback_only,
        options={k: _plain(v) for k, v in options.items()},
    )
    console = _console(options["quiet"])
    runner = run_scan
    if options["redis_url"]:
        from icpscan.cli.distributed import feeder_runner  # needs the 'distributed' extra

        runner = feeder_runner(options, console)
    try:
        outcome = _run(request, console, runner)
    except InputFileError as exc:
        raise InputError(str(exc)) from exc
    except (ScanError, store.StoreError) as exc:
        raise InputError(str(exc)) from exc
    db = store.open_db(config.db, create=False)
    emit_results(db, outcome.scan_id, options["output_format"], options["output"], summary=False)
    if console is not None:
        render_summary(console, scan_summary(db, outcome.scan_id))
        _print_record_summary(console, db, outcome.scan_id)
    if options["fail_on"] and fail_on_hit(db, outcome.scan_id, Severity(options["fail_on"])):
        return EXIT_FINDINGS
    return 0


def _scan_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(f"--resume takes a scan id (a number), not {text!r}") from None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _scan_config(options: dict[str, Any], loopback_only: bool) -> ScanConfig:
    nameservers = [str(n) for n in choose_nameservers(options["nameservers"])]
    for spec in options["vantages"]:
        try:
            Vantage.parse(spec)
        except ValueError as exc:
            raise InputError(f"--vantage {spec!r}: {exc}") from None
    connect_to = list(options["connect_to"])
    if options["connect_to_file"]:
        try:
            load_connect_to_file(options["connect_to_file"])  # errors name the file and line
            connect_to.extend(rule for _, rule in read_rules_file(options["connect_to_file"]))
        except ValueError as exc:
            raise InputError(str(exc)) from None
    try:
        ConnectionOverrides.parse(connect_to, list(options["resolve_rules"]))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if options["expected_file"]:
        try:
            read_expected(options["expected_file"])
        except ExpectedFileError as exc:
            raise InputError(str(exc)) from None
    _check_record_source(options["records_file"], options["record_service"])
    today = options["today"]
    return ScanConfig(
        db=str(Path(options["db_path"])),
        scan_id=0,
        nameservers=nameservers,
        dns_timeout=options["dns_timeout"],
        dns_retries=options["dns_retries"],
        vantages=list(options["vantages"]),
        with_ns=options["with_ns"],
        asn=not options["no_asn"],
        ranges_file=options["ranges_file"],
        data_dir=options["data_dir"],
        rdap_url=options["rdap_url"],
        connect_to=connect_to,
        resolve=list(options["resolve_rules"]),
        ca_bundle=options["ca_bundle"],
        allow_private=options["allow_private"],
        download_timeout=options["download_timeout"],
        max_page_bytes=options["max_page_size"],
        max_redirects=options["max_redirects"],
        concurrent_requests=options["concurrency"],
        per_host_requests=options["per_host"],
        obey_robots=options["obey_robots"],
        user_agent=options["user_agent"],
        expected_file=options["expected_file"],
        records_file=options["records_file"],
        record_service=options["record_service"],
        today=today.date().isoformat() if today else None,
        retire_after=options["retire_after"],
    )


def _check_record_source(records_file: str | None, record_service: str | None) -> None:
    """Read the records file / service configuration now: errors before any worker starts."""
    from icpscan.records.errors import RecordConfigError
    from icpscan.records.scan import open_source

    try:
        source = open_source(records_file, record_service)
    except RecordConfigError as exc:
        raise InputError(str(exc)) from None
    if source is not None:
        source.close()


def _print_record_summary(console: Any, db: Any, scan_id: int) -> None:
    from rich.text import Text

    from icpscan.records.scan import record_summary, summary_line

    line = summary_line(record_summary(db.conn, scan_id))
    if line is not None:
        console.print(Text(line))


def _console(quiet: bool) -> Any:
    if quiet:
        return None
    from rich.console import Console

    return Console(stderr=True)


def _run(request: ScanRequest, console: Any, runner: Any = run_scan) -> Any:
    def report_invalid(item: InvalidLine) -> None:
        if console is not None:
            from rich.text import Text

            console.print(Text(f"line {item.line}: {item.message} ({item.reason})", style="yellow"))

    if console is None or not sys.stderr.isatty():
        return runner(request, on_invalid=report_invalid)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.0f} domains/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("scan", total=None, rate=0.0)

        def on_progress(progress: Any) -> None:
            total = progress.queued if progress.input_complete else None
            elapsed = bar.tasks[0].elapsed or 0.0
            rate = progress.done / elapsed if elapsed else 0.0
            bar.update(task, completed=progress.done, total=total, rate=rate)

        return runner(request, on_progress=on_progress, on_invalid=report_invalid)
