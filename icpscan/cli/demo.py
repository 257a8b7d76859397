"""``icpscan demo``: the whole job on the offline sandbox, no internet needed."""

from __future__ import annotations

import os
from pathlib import Path

import click

from icpscan import egress, store
from icpscan.cli import cli
from icpscan.cli.common import InputError
from icpscan.crawl.connect_to import read_rules_file
from icpscan.report import render_summary, scan_summary, write_html
from icpscan.scan import ScanRequest, run_scan
from icpscan.worker import ScanConfig


@cli.command("demo")
@click.option("--sites", type=click.IntRange(min=1, max=100_000), default=300, show_default=True,
              help="How many sandbox sites to scan.")  # fmt: skip
@click.option("--seed", type=int, default=1, show_default=True, help="Scenario seed.")
@click.option(
    "--dir",
    "out_dir",
    type=click.Path(file_okay=False),
    default="icpscan-demo",
    show_default=True,
    help="Where the database, the report and the sandbox files go.",
)
@click.option("--workers", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default="CPU count", help="Scan worker processes.")  # fmt: skip
def demo_command(sites: int, seed: int, out_dir: str, workers: int) -> int:
    """Scan a realistic offline world and write the dataset and the HTML report.

    Starts the sandbox (a DNS server and a web farm on loopback serving a seeded scenario of
    mainland, Hong Kong, Macau, Taiwan and overseas sites with every kind of footer and fault),
    scans it with the real pipeline in loopback-only mode, then prints where the SQLite dataset
    and the self-contained HTML report are. Nothing leaves this machine.
    """
    from rich.console import Console

    from icpscan.sandbox.runner import Sandbox
    from icpscan.sandbox.scenario import generate

    egress.install_loopback_guard()
    os.environ[egress.LOOPBACK_ONLY_ENV] = "1"
    console = Console(stderr=True)
    root = Path(out_dir)
    db_path = root / "icpscan.db"
    report_path = root / "report.html"
    try:
        root.mkdir(parents=True, exist_ok=True)
        if db_path.exists():
            db_path.unlink()  # a demo starts from scratch
            for suffix in ("-wal", "-shm"):
                Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    except OSError as exc:
        raise InputError(f"cannot use {root}: {exc}") from exc
    console.print(f"building a {sites}-site sandbox (seed {seed}) ...")
    scenario = generate(sites, seed)
    with Sandbox(scenario, root / "sandbox") as sandbox:
        console.print(f"sandbox: DNS {sandbox.nameserver}, web farm on loopback; scanning ...")
        config = ScanConfig(
            db=str(db_path),
            scan_id=0,
            nameservers=[sandbox.nameserver],
            dns_timeout=1.0,
            dns_retries=1,
            connect_to=[rule for _, rule in read_rules_file(sandbox.connect_to_file)],
            ca_bundle=str(sandbox.ca_cert_path),
            download_timeout=3.0,
            expected_file=str(sandbox.expected_file),
        )
        request = ScanRequest(
            input=str(sandbox.domains_file),
            config=config,
            workers=workers,
            loopback_only=True,
            options={"demo": True, "sites": sites, "seed": seed},
        )
        outcome = run_scan(request)
    db = store.open_db(db_path, create=False)
    write_html(db, outcome.scan_id, report_path)
    render_summary(console, scan_summary(db, outcome.scan_id))
    click.echo(f"dataset:     {db_path}   (datasette {db_path})")
    click.echo(f"HTML report: {report_path}")
    click.echo(f"sandbox:     {root / 'sandbox'} (domains.txt, truth.jsonl, expected-filings.csv)")
    return 0
