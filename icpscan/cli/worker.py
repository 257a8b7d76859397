"""``icpscan worker``: crawl for distributed scans (run it on any number of machines)."""

from __future__ import annotations

import os

import click

from icpscan.cli import cli
from icpscan.cli.distributed import (
    distributed_errors,
    lease_option,
    notice_printer,
    redis_option,
    require_distributed,
)


@cli.command("worker")
@redis_option
@click.option("--processes", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default="CPU count", help="Crawler processes here (one per core).")  # fmt: skip
@click.option("--scan", "token", metavar="TOKEN",
              help="Work only on this scan (its token, from 'icpscan status').")  # fmt: skip
@click.option("--once", is_flag=True, help="Exit when the scan worked on ends.")
@lease_option
@click.option("--name", "name_prefix", metavar="PREFIX",
              help="Worker name prefix in 'icpscan status' (default: host name).")  # fmt: skip
def worker_command(
    redis_url: str,
    processes: int,
    token: str | None,
    once: bool,
    lease: float,
    name_prefix: str | None,
) -> int:
    """Crawl for the scans a feeder ('icpscan scan INPUT --redis URL') queued in Redis.

    Takes domains from the oldest running scan, locates, fetches and judges them exactly as a
    local scan does, and delivers the records through Redis to the scan's collector. Domains a
    worker holds when it dies go back to the queue after --lease seconds. SIGTERM or Ctrl-C
    drains (finish the domains in flight, deliver, exit); a second signal stops at once.

    \b
    Examples:
      icpscan worker --redis redis://10.0.0.5:6379/0
      icpscan worker --redis redis://10.0.0.5:6379/0 --processes 8 --once
    """
    require_distributed()
    from icpscan.distributed.keys import is_token
    from icpscan.distributed.supervisor import WorkerOptions, run_workers

    if token is not None and not is_token(token):
        message = f"{token!r} is not a scan token (12 hex digits)"
        raise click.BadParameter(message, param_hint="--scan")
    options = WorkerOptions(
        redis_url=redis_url,
        processes=processes,
        scan=token,
        once=once,
        lease=lease,
        name=name_prefix,
    )
    with distributed_errors():
        return run_workers(options, notice_printer(None))
