"""``icpscan extract``: the numbers one saved page shows, as JSON or a table."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import click

from icpscan.cli import cli
from icpscan.cli.common import InputError, output_options
from icpscan.extract import extract as extract_page
from icpscan.extract.decode import normalise_label
from icpscan.models import Extraction, to_jsonable

MAX_INPUT_BYTES = 64 * 1024 * 1024


def _read_input(source: str) -> bytes:
    if source == "-":
        if sys.stdin.isatty():
            raise InputError("no input: give a FILE or pipe a page into '-'")
        return sys.stdin.buffer.read(MAX_INPUT_BYTES)
    path = Path(source)
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_INPUT_BYTES)
    except FileNotFoundError:
        raise InputError(f"cannot read {source}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"cannot read {source}: is a directory") from None
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror or exc}") from None


def _check_base_url(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"--base-url must be an http(s) URL with a host, got {value!r}")
    return value


def render_json(result: Extraction) -> str:
    """The ``--format json`` document: exactly ``{"numbers": [...]}``."""
    numbers = [to_jsonable(number) for number in result.numbers]
    return json.dumps({"numbers": numbers}, ensure_ascii=False, indent=2)


def _render_table(result: Extraction, stream: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        caption=f"{len(result.numbers)} number(s); decoded as {result.encoding}"
        + (" (declaration overruled)" if result.encoding_mismatch else ""),
    )
    for column in ("kind", "number", "location", "valid", "placeholder", "linked", "own"):
        table.add_column(column)
    table.add_column("problems")
    table.add_column("raw", overflow="fold")
    for n in result.numbers:
        table.add_row(
            n.kind.value,
            n.number,
            n.location.value,
            "yes" if n.valid else "no",
            "yes" if n.placeholder else "",
            "yes" if n.linked else "no",
            "yes" if n.own else "no",
            ", ".join(n.problems),
            n.raw,
            style=None if n.valid else "yellow",
        )
    width = None if stream.isatty() else 200  # files and pipes get whole numbers, not "京ICP…"
    Console(file=stream, width=width).print(table)


@cli.command("extract")
@click.argument("source", metavar="[FILE|-]", default="-", required=False)
@click.option("--base-url", metavar="URL", help="URL the page was fetched from (resolves links).")
@click.option(
    "--encoding",
    metavar="ENC",
    help="Charset hint, as an HTTP Content-Type would give it (overruled if the bytes disagree).",
)
@output_options(("table", "json"), default="table")
def extract_command(
    source: str, base_url: str | None, encoding: str | None, output_format: str, output: str
) -> None:
    """Extract ICP, licence and public-security numbers from a saved page.

    Reads FILE (or standard input with '-') as raw bytes, decodes it with charset sniffing,
    and prints every number with its kind, normalised form, validity, placeholder flag, link
    and location. '--format json' prints one object: {"numbers": [...]}.
    """
    base_url = _check_base_url(base_url)
    if encoding is not None and normalise_label(encoding) is None:
        raise InputError(f"unknown encoding {encoding!r}")
    data = _read_input(source)
    result = extract_page(data, base_url=base_url, encoding=encoding)
    with click.open_file(output, "w", encoding="utf-8") as stream:
        if output_format == "json":
            stream.write(render_json(result) + "\n")
        else:
            _render_table(result, stream)
