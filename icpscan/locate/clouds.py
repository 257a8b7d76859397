"""Cloud-provider address ranges shipped in ``data/cloud_ranges.csv``, and their importers.

Two kinds of rows share the file, told apart by ``source``:

* ``cloud:<provider>`` rows come from what the provider itself publishes (AWS ip-ranges.json,
  Google Cloud cloud.json, Azure service tags). A provider saying where its own region is, is
  the best location fact short of the user's own ranges file.
* ``third-party:<name>`` rows are community lists (ICP-DOMAIN.md §7.2) for providers that publish
  nothing machine-readable (Alibaba Cloud, Tencent Cloud). They are weaker and say so in evidence.
  ``offshore`` there means "outside the mainland, Hong Kong or overseas".

The ``icpscan data import-*`` commands replace one provider's rows from a downloaded file.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icpscan.locate.prefixes import PrefixTable
from icpscan.locate.ranges import RangeEntry
from icpscan.models import Region
from icpscan.resources import data_path

CLOUD_FILE = "cloud_ranges.csv"
COLUMNS = ("prefix", "region", "provider", "cloud_region", "source", "origin")
OFFSHORE = "offshore"

_REGION_VALUES = {r.value: r for r in Region if r not in (Region.MIXED, Region.UNKNOWN)}


@dataclass(frozen=True)
class CloudRow:
    prefix: str
    region: str  # a Region value, "offshore", or "" (provider known, location not)
    provider: str
    cloud_region: str
    source: str
    origin: str

    def entry(self) -> RangeEntry:
        region = _REGION_VALUES.get(self.region)
        return RangeEntry(
            network=self.prefix,
            region=region,
            provider=self.provider,
            source=self.source,
            label=self.cloud_region,
            offshore=self.region == OFFSHORE,
            origin=self.origin,
        )


class CloudDataError(ValueError):
    """A provider file that cannot be imported; the message says why in one line."""


def read_rows(path: Path) -> list[CloudRow]:
    with path.open(encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        return [CloudRow(**{k: row[k] for k in COLUMNS}) for row in csv.DictReader(lines)]


def write_rows(path: Path, rows: Iterable[CloudRow], *, comment: str) -> int:
    """Write rows (sorted by source, then address) after a provenance comment; return count."""
    ordered = sorted(rows, key=lambda r: (r.source, _sort_key(r.prefix)))
    buffer = io.StringIO()
    for line in comment.strip().splitlines():
        buffer.write(f"# {line}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in ordered:
        writer.writerow([getattr(row, c) for c in COLUMNS])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    tmp.replace(path)
    return len(ordered)


def _sort_key(prefix: str) -> tuple[int, int, int]:
    net = ipaddress.ip_network(prefix)
    return (net.version, int(net.network_address), net.prefixlen)


def cloud_file(data_dir: Path | None = None) -> Path:
    """The cloud-ranges file in use: an imported one in ``data_dir`` wins over the shipped one."""
    if data_dir is not None and (data_dir / CLOUD_FILE).is_file():
        return data_dir / CLOUD_FILE
    return data_path(CLOUD_FILE)


@dataclass
class CloudTables:
    published: PrefixTable[RangeEntry]  # the providers' own lists
    third_party: PrefixTable[RangeEntry]  # community lists, weaker


def load_cloud_tables(path: Path) -> CloudTables:
    tables = CloudTables(PrefixTable(), PrefixTable())
    for row in read_rows(path):
        table = tables.third_party if row.source.startswith("third-party:") else tables.published
        table.add(row.prefix, row.entry())
    return tables


# --- importers: provider file -> rows --------------------------------------------------------

AWS_REGIONS = {
    "cn-north-1": Region.MAINLAND,  # Beijing (operated by Sinnet)
    "cn-northwest-1": Region.MAINLAND,  # Ningxia (operated by NWCD)
    "ap-east-1": Region.HONGKONG,
    "ap-east-2": Region.TAIWAN,  # Taipei
}
GCP_REGIONS = {"asia-east2": Region.HONGKONG, "asia-east1": Region.TAIWAN}
AZURE_REGIONS = {"eastasia": Region.HONGKONG}


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise CloudDataError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CloudDataError(f"{path} is not JSON: {exc}") from None


def _network(text: Any, path: Path) -> str:
    try:
        return str(ipaddress.ip_network(str(text), strict=False))
    except ValueError:
        raise CloudDataError(f"{path}: {text!r} is not an IP network") from None


def aws_rows(path: Path) -> tuple[list[CloudRow], str]:
    """Rows from AWS ip-ranges.json; GLOBAL (CloudFront/Route 53 anycast) has no location."""
    doc = _load_json(path)
    if not isinstance(doc, dict) or "prefixes" not in doc:
        raise CloudDataError(f"{path}: not an AWS ip-ranges.json (no 'prefixes')")
    stamp = f"AWS ip-ranges.json createDate {doc.get('createDate', '?')}"
    seen: dict[str, CloudRow] = {}
    entries = [(p.get("ip_prefix"), p) for p in doc.get("prefixes", [])] + [
        (p.get("ipv6_prefix"), p) for p in doc.get("ipv6_prefixes", [])
    ]
    for prefix, item in entries:
        if prefix is None:
            raise CloudDataError(f"{path}: a prefix entry has no ip_prefix/ipv6_prefix")
        network = _network(prefix, path)
        region_id = str(item.get("region", ""))
        region = "" if region_id == "GLOBAL" else AWS_REGIONS.get(region_id, Region.ABROAD).value
        row = CloudRow(network, region, "Amazon Web Services", region_id, "cloud:aws", stamp)
        # The same prefix is listed once per service; keep the first, but a located row wins.
        if network not in seen or (not seen[network].region and region):
            seen[network] = row
    return list(seen.values()), stamp


def gcp_rows(path: Path) -> tuple[list[CloudRow], str]:
    """Rows from Google Cloud's cloud.json (scope = region)."""
    doc = _load_json(path)
    if not isinstance(doc, dict) or "prefixes" not in doc:
        raise CloudDataError(f"{path}: not a Google cloud.json (no 'prefixes')")
    stamp = f"Google Cloud cloud.json creationTime {doc.get('creationTime', '?')}"
    rows: dict[str, CloudRow] = {}
    for item in doc["prefixes"]:
        prefix = item.get("ipv4Prefix") or item.get("ipv6Prefix")
        if prefix is None:
            raise CloudDataError(f"{path}: a prefix entry has no ipv4Prefix/ipv6Prefix")
        network = _network(prefix, path)
        scope = str(item.get("scope", ""))
        region = "" if scope in ("", "global") else GCP_REGIONS.get(scope, Region.ABROAD).value
        rows.setdefault(
            network, CloudRow(network, region, "Google Cloud", scope, "cloud:gcp", stamp)
        )
    return list(rows.values()), stamp


def azure_rows(path: Path) -> tuple[list[CloudRow], str]:
    """Rows from an Azure service-tags file (global 56519 or China 57062).

    Only region-specific tags are used; every Azure China region is on the mainland.
    """
    doc = _load_json(path)
    if not isinstance(doc, dict) or "values" not in doc:
        raise CloudDataError(f"{path}: not an Azure service-tags file (no 'values')")
    china = str(doc.get("cloud", "")).lower() == "azurechinacloud"
    source = "cloud:azure-china" if china else "cloud:azure"
    provider = "Azure China (21Vianet)" if china else "Microsoft Azure"
    stamp = (
        f"Azure service tags ({doc.get('cloud', '?')}) changeNumber {doc.get('changeNumber', '?')}"
    )
    rows: dict[str, CloudRow] = {}
    for tag in doc["values"]:
        props = tag.get("properties", {})
        region_id = str(props.get("region", ""))
        if not region_id:
            continue
        if china:
            region = Region.MAINLAND.value
        else:
            region = AZURE_REGIONS.get(region_id, Region.ABROAD).value
        for prefix in props.get("addressPrefixes", []):
            network = _network(prefix, path)
            rows.setdefault(network, CloudRow(network, region, provider, region_id, source, stamp))
    return list(rows.values()), stamp


IMPORTERS = {"aws": aws_rows, "gcp": gcp_rows, "azure": azure_rows}


def import_provider(kind: str, source_file: Path, data_dir: Path) -> tuple[int, str]:
    """Replace one provider's rows in ``data_dir``'s cloud-ranges file; return (rows, stamp)."""
    new_rows, stamp = IMPORTERS[kind](source_file)
    if not new_rows:
        raise CloudDataError(f"{source_file}: no prefixes found")
    replaced = {r.source for r in new_rows}
    current = read_rows(cloud_file(data_dir))
    kept = [r for r in current if r.source not in replaced]
    comment = (
        "Cloud and hosting-provider address ranges used by icpscan locate.\n"
        "Columns: prefix, region (mainland|hongkong|macau|taiwan|abroad|offshore|empty),\n"
        "provider, cloud_region, source (cloud:* = provider-published,\n"
        "third-party:* = community list), origin (where the row came from).\n"
        "See data/README.md. Refresh with: icpscan data import-aws|import-gcp|import-azure FILE"
    )
    write_rows(data_dir / CLOUD_FILE, [*kept, *new_rows], comment=comment)
    return len(new_rows), stamp


def iter_sources(rows: Iterable[CloudRow]) -> Iterator[tuple[str, int]]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.source] = counts.get(row.source, 0) + 1
    yield from sorted(counts.items())
