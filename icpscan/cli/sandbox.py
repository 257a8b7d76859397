"""``icpscan sandbox``: serve a generated offline internet on loopback until interrupted."""

from __future__ import annotations

import shlex
import signal
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType

import click

from icpscan import egress
from icpscan.cli import cli
from icpscan.cli.common import InputError
from icpscan.sandbox.plan import PROFILES


def _port(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if not 0 <= value <= 65535:
        raise click.BadParameter("must be between 0 (any free port) and 65535")
    return value


@cli.command("sandbox")
@click.option(
    "--sites",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Number of sites to generate.",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Seed: the same seed, site count and profile give the same world.",
)
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="realistic",
    show_default=True,
    help="realistic: every case, in a realistic mix; bench: mostly healthy pages "
    "(the speed benchmark's world); faults: every fault class, densely.",
)
@click.option(
    "--dir",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the files (default: a new temporary directory).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Loopback address to listen on (127.0.0.0/8 or ::1 only).",
)
@click.option(
    "--dns-port",
    type=int,
    default=0,
    callback=_port,
    show_default=True,
    help="DNS port, UDP and TCP (0: any free port).",
)
@click.option(
    "--http-port",
    type=int,
    default=0,
    callback=_port,
    show_default=True,
    help="HTTP port of the web farm (0: any free port).",
)
@click.option("--https-port", type=int, default=0, callback=_port, show_default=True,
              help="HTTPS port of the web farm (0: any free port).")  # fmt: skip
def sandbox_command(
    sites: int,
    seed: int,
    profile: str,
    state_dir: Path | None,
    host: str,
    dns_port: int,
    http_port: int,
    https_port: int,
) -> None:
    """Serve a seeded, realistic offline internet on loopback until Ctrl-C.

    \b
    Writes into --dir:
      domains.txt           the scan input, one domain per line
      truth.jsonl           what a correct scan must report, one JSON object per domain
      expected-filings.csv  a hosting provider's expected filings (for scan --expected)
      connect-to.txt        HOST:PORT:LOOPBACK:PORT rules sending every connection to the farm
      ca.pem                the farm's certificate authority

    The DNS server answers the public addresses real sites would have (so hosting is
    classified on real data) and the Team-Cymru IP-to-ASN zones; the connect-to rules make
    every connection land on loopback. The exact scan command is printed on start.
    """
    # Local imports keep `icpscan --help` fast; the runner pulls in the servers.
    from icpscan.sandbox.runner import NotLoopbackError, Sandbox, loopback_host
    from icpscan.sandbox.scenario import generate

    try:
        host = loopback_host(host)
    except NotLoopbackError as exc:
        raise InputError(str(exc)) from None
    egress.install_loopback_guard()  # the sandbox never needs anything beyond loopback
    directory = state_dir or Path(tempfile.mkdtemp(prefix="icpscan-sandbox-"))
    started = time.monotonic()
    scenario = generate(sites, seed, profile)
    box = Sandbox(scenario, directory, host, dns_port, http_port, https_port)
    try:
        box.start()
    except PermissionError:
        raise InputError(
            "cannot bind a port below 1024 without root: use 0 (any free port) or >= 1024"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot start the sandbox on {host}: {exc.strerror or exc}") from None
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _announce(box, sites, seed, profile, time.monotonic() - started)
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        box.stop()
    click.echo("icpscan sandbox: stopped", err=True)


def _announce(box: object, sites: int, seed: int, profile: str, elapsed: float) -> None:
    from icpscan.sandbox.runner import Sandbox

    assert isinstance(box, Sandbox)
    echo = lambda line="": click.echo(line, err=True)  # noqa: E731
    echo(f"icpscan sandbox: {sites} sites (seed {seed}, profile {profile}) ready in {elapsed:.1f}s")
    echo(f"  DNS (UDP+TCP)   {box.nameserver}")
    echo(f"  HTTP            {box.host}:{box.http_port}")
    echo(f"  HTTPS           {box.host}:{box.https_port}")
    echo(f"  files           {box.state_dir}")
    for label, path in (
        ("domains", box.domains_file),
        ("truth", box.truth_file),
        ("expected", box.expected_file),
        ("connect-to", box.connect_to_file),
        ("CA", box.ca_cert_path),
    ):
        echo(f"    {label:<11} {path}")
    echo()
    echo("Scan it with:")
    echo("  " + shlex.join(box.scan_command()))
    echo("or, as the hosting provider of expected-filings.csv:")
    echo("  " + shlex.join(box.scan_command(with_expected=True)))
    echo()
    echo("Serving until Ctrl-C.")
