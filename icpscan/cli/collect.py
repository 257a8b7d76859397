"""``icpscan collect``: write a distributed scan's results into its dataset, without feeding."""

from __future__ import annotations

import sys

import click

from icpscan import store
from icpscan.cli import cli
from icpscan.cli.common import InputError
from icpscan.cli.distributed import (
    distributed_errors,
    notice_printer,
    redis_option,
    require_distributed,
)


@cli.command("collect")
@redis_option
@click.option("--db", "db_path", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The dataset the feeder created for the scan.")  # fmt: skip
@click.option("--scan", "scan_id", type=int, metavar="ID",
              help="Scan id in --db (default: latest unfinished distributed scan).")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr.")
def collect_command(redis_url: str, db_path: str, scan_id: int | None, quiet: bool) -> int:
    """Collect a distributed scan whose feeder stopped, and finish it.

    The feeder ('icpscan scan INPUT --redis URL') collects its scan itself; this command
    takes over when it cannot (its machine died, its input was stdin). It writes every
    delivered result into --db, keeps the queue honest (requeues domains of dead workers) and
    finishes the scan when the input was fully read. If it was not, it stops once everything
    queued is stored; 'icpscan scan INPUT --redis URL --resume' feeds the rest.
    """
    require_distributed()
    from icpscan.distributed.collector import run_collect
    from icpscan.report import console_for, render_summary, scan_summary
    from icpscan.scan import ScanError

    notice = notice_printer(None)
    try:
        with distributed_errors():
            outcome, finished = run_collect(db_path, redis_url, scan_id=scan_id, notice=notice)
    except (ScanError, store.StoreError) as exc:
        raise InputError(str(exc)) from None
    if not finished:
        notice(
            f"scan {outcome.scan_id}: every queued domain is stored, but its input was not read"
            " to the end; run the feeder with --resume to finish it"
        )
        return 0
    if not quiet:
        db = store.open_db(db_path, create=False)
        render_summary(console_for(sys.stderr), scan_summary(db, outcome.scan_id))
    return 0
