"""``icpscan status``: progress, rate and workers of distributed scans, from any machine."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from icpscan.cli import cli
from icpscan.cli.distributed import distributed_errors, redis_option, require_distributed


@cli.command("status")
@redis_option
@click.option("--scan", "token", metavar="TOKEN", help="Only this scan (finished ones too).")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")  # fmt: skip
def status_command(redis_url: str, token: str | None, output_format: str) -> int:
    """Show distributed scans: how far each got, how fast, and which workers hold what.

    'silent' workers stopped sending heartbeats (killed, machine down); the domains they hold
    go back to the queue when their lease expires.
    """
    require_distributed()
    from icpscan.distributed.connection import connect, ping
    from icpscan.distributed.status import gather

    with distributed_errors():
        server = connect(redis_url, patient=False, name="icpscan-status")
        ping(redis_url)
        scans = gather(server, token)
    if output_format == "json":
        click.echo(json.dumps([s.to_json() for s in scans], indent=2))
        return 0
    _render(scans)
    return 0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _render(scans: list[Any]) -> None:
    from rich.table import Table

    from icpscan.report import console_for

    console = console_for(sys.stdout)
    if not scans:
        console.print("no distributed scan is running")
        return
    for scan in scans:
        record = scan.record
        table = Table(title=f"scan {record.scan_id} (token {record.token}): {record.status}",
                      show_header=False, title_justify="left")  # fmt: skip
        table.add_column("what", style="bold")
        table.add_column("value")
        rows = [
            ("dataset", record.database),
            ("feeder", record.feeder),
            ("input", "read to the end" if record.input_complete else "still being read"),
            ("queued in total", str(record.fed)),
            ("stored", str(record.stored)),
            ("waiting in redis", str(scan.queued)),
            ("held by workers", str(scan.in_flight)),
            ("awaiting collection", str(scan.awaiting_collection)),
            ("requeued from dead workers", str(record.requeued)),
            ("rate", f"{scan.rate:.1f} domains/s"),
            ("remaining", "-" if scan.remaining is None else str(scan.remaining)),
            ("time left", _duration(scan.eta_seconds)),
        ]
        rows += [(name, str(value)) for name, value in scan.stats.items()]
        for row in rows:
            table.add_row(*row)
        console.print(table)
        workers = Table(title="workers", title_justify="left")
        for column in ("worker", "state", "held", "delivered", "domains/s", "seen", "redis trips"):
            workers.add_column(column)
        for w in scan.workers:
            seen = "-" if w.seen_ago is None else f"{w.seen_ago:.0f}s ago"
            workers.add_row(w.name, w.state, str(w.held), str(w.delivered), f"{w.rate:.1f}",
                            seen, str(w.round_trips))  # fmt: skip
        console.print(workers)
