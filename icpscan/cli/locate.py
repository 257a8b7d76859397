"""``icpscan locate``: where is each domain served from, with the evidence."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from icpscan.cli import cli
from icpscan.cli.common import InputError, output_options
from icpscan.egress import LOOPBACK_ONLY_ENV
from icpscan.locate import DEFAULT_CONCURRENCY, LocateConfig, Locator, host_of, load_sources
from icpscan.locate.ranges import RangesFileError
from icpscan.models import SCHEMA_VERSION, HostingVerdict, to_jsonable
from icpscan.resolve import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    Nameserver,
    ResolverConfigError,
    Vantage,
    normalise_name,
)

RESOLV_CONF = Path("/etc/resolv.conf")


def read_domains(arguments: tuple[str, ...], files: tuple[str, ...]) -> list[str]:
    """DOMAIN arguments, then the first field of each non-blank, non-# line of each file."""
    domains = [a.strip() for a in arguments if a.strip()]
    for name in files:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise InputError(f"cannot read domain list {name}: {reason}") from None
        for line in text.splitlines():
            field = line.strip().replace(",", " ").split(" ", 1)[0] if line.strip() else ""
            if field and not field.startswith("#"):
                domains.append(field)
    unique: dict[str, str] = {}
    for domain in domains:
        unique.setdefault(_key(domain), domain)  # the first spelling of each host wins
    return list(unique.values())


def system_nameservers(path: Path = RESOLV_CONF) -> list[Nameserver]:
    """``nameserver`` lines of resolv.conf (IP literals; zone ids dropped)."""
    servers = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                servers.append(Nameserver.parse(parts[1].split("%", 1)[0]))
            except ResolverConfigError:
                continue
    return servers


def choose_nameservers(given: tuple[str, ...]) -> list[Nameserver]:
    try:
        servers = [Nameserver.parse(text) for text in given]
    except ResolverConfigError as exc:
        raise InputError(str(exc)) from None
    if servers:
        return servers
    if os.environ.get(LOOPBACK_ONLY_ENV, "") not in ("", "0"):
        raise InputError(
            f"no --nameserver given and {LOOPBACK_ONLY_ENV} is set, so /etc/resolv.conf is not "
            "used: pass --nameserver HOST[:PORT]"
        )
    servers = system_nameservers()
    if not servers:
        raise InputError(f"no --nameserver given and none found in {RESOLV_CONF}")
    return servers


def verdict_record(verdict: HostingVerdict) -> dict[str, Any]:
    record: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    record.update(to_jsonable(verdict))
    return record


def _cell(values: tuple[str, ...] | list[str], limit: int = 2) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f" +{len(values) - limit}" if len(values) > limit else "")


def render_table(verdicts: list[HostingVerdict], out: IO[str]) -> None:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("domain", "region", "confidence", "addresses", "provider", "cdn", "errors"):
        table.add_column(column, overflow="fold")
    for v in verdicts:
        errors = _cell(list(dict.fromkeys(f.error for f in v.errors)), 3)
        cdn = f"{v.cdn.name} ({v.cdn.mainland_nodes})" if v.cdn else ""
        cells = (
            v.domain,
            str(v.region),
            v.confidence,
            _cell(v.addresses),
            v.provider or "",
            cdn,
            errors,
        )
        table.add_row(*(Text(c) for c in cells))  # Text: never interpret rich markup in data
    console = Console(
        file=out, width=160 if not out.isatty() else None, no_color="NO_COLOR" in os.environ
    )
    console.print(table)


@contextmanager
def _open_output(path: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdout
        return
    try:
        handle = Path(path).open("w", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        yield handle
    finally:
        handle.close()


@cli.command("locate")
@click.argument("domains", nargs=-1)
@click.option(
    "-f", "--file", "files", multiple=True, type=str, metavar="FILE",
    help="Read domains from FILE, one per line ('-' = stdin; '#' comments).",
)  # fmt: skip
@click.option(
    "--nameserver", "nameservers", multiple=True, metavar="HOST[:PORT]",
    help="Nameserver to ask (repeatable; IP address). Default: /etc/resolv.conf's, unless "
    f"{LOOPBACK_ONLY_ENV} is set.",
)  # fmt: skip
@click.option(
    "--vantage", "vantages", multiple=True, metavar="SPEC",
    help="Also resolve from another vantage and record both views: 'mainland' (EDNS Client "
    "Subnet of 114DNS's /24, a mainland resolver), or NAME,ecs=CIDR and/or "
    "NAME,ns=HOST[:PORT] (repeatable).",
)  # fmt: skip
@click.option(
    "--ranges", "ranges_file", type=click.Path(dir_okay=False), default=None,
    help="CSV prefix,region,provider of your own address space; wins over every other source.",
)  # fmt: skip
@click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None,
    help="Directory with files written by 'icpscan data import-*' (they override shipped data).",
)  # fmt: skip
@click.option("--timeout", type=click.FloatRange(min=0.01), default=DEFAULT_TIMEOUT,
              show_default=True, help="Seconds to wait for one DNS reply.")  # fmt: skip
@click.option("--retries", type=click.IntRange(min=0), default=DEFAULT_RETRIES,
              show_default=True,
              help="Extra rounds over the nameservers after timeouts.")  # fmt: skip
@click.option("--concurrency", type=click.IntRange(min=1), default=DEFAULT_CONCURRENCY,
              show_default=True, help="Domains resolved at the same time.")  # fmt: skip
@click.option("--ns/--no-ns", "with_ns", default=False, show_default=True,
              help="Also look up NS records (context; one more query per domain).")  # fmt: skip
@click.option("--asn/--no-asn", "with_asn", default=True, show_default=True,
              help="Look up origin AS and prefix in Team Cymru's DNS zone "
              "(through the same nameservers).")  # fmt: skip
@click.option("--rdap", "rdap_url", metavar="URL", default=None,
              help="Also ask this RDAP server (base URL, e.g. https://rdap.apnic.net) about "
              "each address; off by default (slow, rate-limited).")  # fmt: skip
@output_options(("jsonl", "json", "table"), default="jsonl")
def locate_command(
    domains: tuple[str, ...],
    files: tuple[str, ...],
    nameservers: tuple[str, ...],
    vantages: tuple[str, ...],
    ranges_file: str | None,
    data_dir: str | None,
    timeout: float,
    retries: int,
    concurrency: int,
    with_ns: bool,
    with_asn: bool,
    rdap_url: str | None,
    output: str,
    output_format: str,
) -> None:
    """Say where each DOMAIN is served from: mainland, hongkong, macau, taiwan, abroad, mixed
    or unknown, with addresses, CNAMEs, ASNs, provider, CDN, confidence and evidence.

    \b
    Examples:
      icpscan locate example.cn --nameserver 223.5.5.5
      icpscan locate -f domains.txt --vantage mainland --format table
    """
    names = read_domains(domains, files)
    if not names:
        raise click.UsageError("no domains: give DOMAIN arguments or -f FILE")
    servers = choose_nameservers(nameservers)
    try:
        views = [Vantage.parse(spec) for spec in vantages]
    except ResolverConfigError as exc:
        raise InputError(str(exc)) from None
    if len({v.name for v in views}) < len(views):
        raise InputError("each --vantage needs its own name")
    try:
        sources = load_sources(ranges_file=ranges_file, data_dir=data_dir)
    except RangesFileError as exc:
        raise InputError(str(exc)) from None
    if rdap_url is not None and not rdap_url.lower().startswith(("http://", "https://")):
        raise InputError(f"--rdap must be an http:// or https:// base URL, not {rdap_url!r}")
    config = LocateConfig(
        nameservers=servers,
        timeout=timeout,
        retries=retries,
        concurrency=concurrency,
        vantages=views,
        with_ns=with_ns,
        asn=with_asn,
        rdap_url=rdap_url,
        sources=sources,
    )
    with _open_output(output) as out:
        asyncio.run(_run(names, config, output_format, out))


def _key(name: str) -> str:
    host = host_of(name)
    try:
        return normalise_name(host)
    except ValueError:
        return host


async def _run(names: list[str], config: LocateConfig, output_format: str, out: IO[str]) -> None:
    collected: list[HostingVerdict] = []
    async with Locator(config) as locator:
        async for verdict in locator.locate_many(names):
            if output_format == "jsonl":
                out.write(json.dumps(verdict_record(verdict), ensure_ascii=False) + "\n")
                out.flush()
            else:
                collected.append(verdict)
    order = {_key(name): index for index, name in enumerate(names)}
    collected.sort(key=lambda v: order.get(v.domain, len(order)))
    if output_format == "json":
        json.dump([verdict_record(v) for v in collected], out, ensure_ascii=False, indent=2)
        out.write("\n")
    elif output_format == "table":
        render_table(collected, out)
