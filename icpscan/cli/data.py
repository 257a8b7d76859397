"""``icpscan data``: refresh the reference data locate uses from files you downloaded."""

from __future__ import annotations

from pathlib import Path

import click

from icpscan.cli import cli
from icpscan.cli.common import InputError
from icpscan.locate.clouds import CloudDataError, import_provider
from icpscan.locate.country import RirDataError, import_rir
from icpscan.resources import data_path

_DATA_DIR_HELP = (
    "Where to write (default: the data/ directory icpscan ships). Pass the same directory to "
    "'icpscan locate --data-dir'."
)


@cli.group("data")
def data_group() -> None:
    """Import newer reference data (icpscan never downloads anything itself)."""


def _data_dir(value: str | None) -> Path:
    return Path(value) if value else data_path()


def _import_cloud(kind: str, file: str, data_dir: str | None) -> None:
    try:
        count, stamp = import_provider(kind, Path(file), _data_dir(data_dir))
    except CloudDataError as exc:
        raise InputError(str(exc)) from None
    click.echo(
        f"imported {count} prefixes ({stamp}) into {_data_dir(data_dir) / 'cloud_ranges.csv'}"
    )


def _cloud_command(kind: str, what: str, url: str) -> None:
    @data_group.command(f"import-{kind}")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--data-dir", type=click.Path(file_okay=False), default=None, help=_DATA_DIR_HELP)
    def command(file: str, data_dir: str | None) -> None:
        _import_cloud(kind, file, data_dir)

    command.__doc__ = f"Replace the {what} rows of cloud_ranges.csv from FILE ({url})."
    command.help = command.__doc__


_cloud_command("aws", "AWS", "ip-ranges.json")
_cloud_command("gcp", "Google Cloud", "cloud.json")
_cloud_command("azure", "Azure (global or China)", "a ServiceTags_*.json download")


@data_group.command("import-rir")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help=_DATA_DIR_HELP)
def import_rir_command(files: tuple[str, ...], data_dir: str | None) -> None:
    """Compile RIR delegated-statistics FILES (delegated-apnic-extended-latest, ...) into
    rir_country.csv, which then takes precedence over iptocc's built-in data."""
    try:
        count, headers = import_rir([Path(f) for f in files], _data_dir(data_dir))
    except RirDataError as exc:
        raise InputError(str(exc)) from None
    for header in headers:
        click.echo(header)
    click.echo(f"wrote {count} ranges to {_data_dir(data_dir) / 'rir_country.csv'}")
