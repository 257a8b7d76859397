"""``icpscan export`` and ``icpscan datasette-metadata``: the dataset for researchers."""

from __future__ import annotations

import json
from pathlib import Path

import click

from icpscan import __version__
from icpscan.cli import cli
from icpscan.cli.common import InputError
from icpscan.cli.report import _open_output
from icpscan.dataset.datasette import database_name, datasette_metadata
from icpscan.dataset.dictionary import DATASET_VERSION, TABLES
from icpscan.dataset.export import (
    FORMATS,
    ExportError,
    file_metadata,
    write_csv,
    write_jsonl,
    write_parquet,
)
from icpscan.dataset.rows import iter_rows
from icpscan.report import ReportError, resolve_scan_id
from icpscan.store import StoreError, get_scan, open_db

_EXTENSIONS = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}


@cli.command("export")
@click.option("--db", "db_path", required=True, metavar="FILE",
              type=click.Path(dir_okay=False), help="The icpscan database.")  # fmt: skip
@click.option("--scan", "scan_id", type=int, metavar="ID", help="Scan id (default: the latest).")
@click.option("--format", "output_format", type=click.Choice(FORMATS), required=True,
              help="parquet (needs the 'research' extra), csv or jsonl.")  # fmt: skip
@click.option(
    "--table",
    type=click.Choice([*TABLES, "all"]),
    default="domains",
    show_default=True,
    help="Which table; 'all' writes every table and datapackage.json into the -o directory.",
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    metavar="PATH",
    help="File to write ('-' = stdout, csv/jsonl only); a directory for --table all.",
)
def export_command(
    db_path: str, scan_id: int | None, output_format: str, table: str, output: str
) -> None:
    """Export a scan as a documented, versioned dataset (docs/data-dictionary.md).

    \b
    icpscan export --db audit.db --format parquet -o domains.parquet
    icpscan export --db audit.db --scan 3 --format csv --table findings -o findings.csv
    icpscan export --db audit.db --format parquet --table all -o dataset/
    """
    try:
        db = open_db(db_path, create=False)
        scan_id = resolve_scan_id(db, scan_id)
    except (StoreError, ReportError) as exc:
        raise InputError(str(exc)) from None
    scan = get_scan(db, scan_id) or {}
    if table == "all":
        if output == "-":
            raise InputError("--table all needs -o DIRECTORY")
        directory = Path(output)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create {directory}: {exc.strerror}") from None
        resources = []
        for name in TABLES:
            path = directory / f"{name}.{_EXTENSIONS[output_format]}"
            count = _export_one(db, scan_id, scan, name, output_format, str(path))
            resources.append(_resource(name, path.name, output_format, count))
        package = {
            "name": f"icpscan-scan-{scan_id}",
            "title": f"icpscan scan {scan_id}",
            "version": DATASET_VERSION,
            "created": scan.get("finished_at") or scan.get("started_at"),
            "description": file_metadata(TABLES["domains"], scan)["icpscan.citation"],
            "sources": [{"title": f"icpscan {__version__}"}],
            "resources": resources,
        }
        (directory / "datapackage.json").write_text(
            json.dumps(package, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        click.echo(f"icpscan: wrote scan {scan_id} as {len(resources)} tables to {directory}",
                   err=True)  # fmt: skip
        return
    count = _export_one(db, scan_id, scan, table, output_format, output)
    click.echo(f"icpscan: exported {count} {table} rows of scan {scan_id}", err=True)


def _resource(name: str, path: str, fmt: str, count: int) -> dict[str, object]:
    spec = TABLES[name]
    return {
        "name": name,
        "path": path,
        "format": fmt,
        "description": spec.description,
        "rows": count,
        "schema": {
            "fields": [
                {"name": c.name, "type": c.type, "description": c.description} for c in spec.columns
            ]
        },
    }


def _export_one(db: object, scan_id: int, scan: dict, table: str, fmt: str, output: str) -> int:
    rows = iter_rows(db, scan_id, table)  # type: ignore[arg-type]
    spec = TABLES[table]
    try:
        if fmt == "parquet":
            if output == "-":
                raise InputError("Parquet is binary: give -o FILE")
            return write_parquet(rows, output, spec, scan)
        with _open_output(output) as stream:
            if fmt == "csv":
                return write_csv(rows, stream, spec)
            return write_jsonl(rows, stream)
    except ExportError as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None


@cli.command("datasette-metadata")
@click.option("--db", "db_path", default="icpscan.db", show_default=True, metavar="FILE",
              help="The database Datasette will serve (its file name names it).")  # fmt: skip
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE",
              help="Write the metadata here ('-' = stdout).")  # fmt: skip
def datasette_metadata_command(db_path: str, output: str) -> None:
    """Datasette metadata for an icpscan database: table and column descriptions, facets on
    region/code/severity/kind, canned queries (mainland sites without a number, numbers shared
    across domains, changes between the last two scans, a domain's history, who shows a number).

    \b
    icpscan datasette-metadata --db audit.db -o metadata.json
    datasette audit.db --metadata metadata.json
    """
    text = json.dumps(datasette_metadata(database_name(db_path)), ensure_ascii=False, indent=2)
    with _open_output(output) as stream:
        stream.write(text + "\n")
