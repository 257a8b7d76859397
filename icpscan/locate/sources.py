"""Load every offline source once: ranges file, cloud ranges, CDN suffixes, country, AS table."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass, field
from pathlib import Path

from icpscan.locate.cdn import CdnTable, load_cdn_table
from icpscan.locate.clouds import CloudTables, cloud_file, load_cloud_tables
from icpscan.locate.country import CountryLookup, iptocc_version, load_rir_table, rir_file
from icpscan.locate.prefixes import PrefixTable
from icpscan.locate.ranges import RangeEntry, load_ranges_file
from icpscan.resources import data_path

ASN_FILE = "asn_providers.csv"
SCOPES = ("mainland", "international", "mixed")


@dataclass(frozen=True)
class AsnProvider:
    asn: int
    provider: str
    scope: str  # one of SCOPES
    source: str


@dataclass
class Sources:
    """The offline knowledge classification runs on (no I/O after loading)."""

    clouds: CloudTables
    cdn: CdnTable
    country: CountryLookup
    asn_providers: dict[int, AsnProvider]
    user_ranges: PrefixTable[RangeEntry] | None = None
    versions: dict[str, str] = field(default_factory=dict)  # source -> data version/origin


def load_asn_providers(path: Path) -> dict[int, AsnProvider]:
    with path.open(encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        table = {}
        for row in csv.DictReader(lines):
            if row["scope"] not in SCOPES:
                raise ValueError(f"{path}: AS{row['asn']} scope must be one of {SCOPES}")
            table[int(row["asn"])] = AsnProvider(
                int(row["asn"]), row["provider"], row["scope"], row["source"]
            )
        return table


@functools.lru_cache(maxsize=8)
def _shared(
    data_dir: Path | None,
) -> tuple[CloudTables, CdnTable, CountryLookup, dict[int, AsnProvider], dict[str, str]]:
    clouds_path = cloud_file(data_dir)
    rir_path = rir_file(data_dir)
    rir = load_rir_table(rir_path) if rir_path is not None else None
    versions = {
        "cloud": str(clouds_path),
        "country": f"rir: {rir.origin}; fallback {iptocc_version()}" if rir else iptocc_version(),
    }
    return (
        load_cloud_tables(clouds_path),
        load_cdn_table(),
        CountryLookup(rir),
        load_asn_providers(data_path(ASN_FILE)),
        versions,
    )


def load_sources(
    *, ranges_file: str | Path | None = None, data_dir: str | Path | None = None
) -> Sources:
    """Shipped data (or imported files in ``data_dir``) plus an optional user ranges file.

    Raises RangesFileError for a bad ranges file. Shipped tables are loaded once per process.
    """
    clouds, cdn, country, asn_providers, versions = _shared(Path(data_dir) if data_dir else None)
    user = load_ranges_file(ranges_file) if ranges_file is not None else None
    versions = dict(versions)
    if ranges_file is not None:
        versions["ranges-file"] = str(ranges_file)
    return Sources(clouds, cdn, country, asn_providers, user, versions)
