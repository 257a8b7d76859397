"""User ranges file (``--ranges FILE``): hosting providers know their own address space.

CSV with header ``prefix,region,provider`` (extra columns are ignored), region one of
``mainland, hongkong, macau, taiwan, abroad``. It wins over every other source.
"""

from __future__ import annotations

import csv
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from icpscan.locate.prefixes import PrefixTable
from icpscan.models import Region

USER_REGIONS = {
    r.value: r
    for r in (Region.MAINLAND, Region.HONGKONG, Region.MACAU, Region.TAIWAN, Region.ABROAD)
}


@dataclass(frozen=True)
class RangeEntry:
    """One network a source knows something about."""

    network: str
    region: Region | None  # None: the provider is known, the location is not
    provider: str
    source: str  # evidence source, e.g. "ranges-file", "cloud:aws", "third-party:tencent"
    label: str = ""  # provider's own region id ("cn-north-1") or a short note
    offshore: bool = False  # third-party lists: outside the mainland, HK or overseas
    origin: str = ""  # provenance of the row (file, snapshot date)


class RangesFileError(ValueError):
    """A ranges file that cannot be used; the message names the file and line."""


def parse_ranges(text: str, *, origin: str = "ranges file") -> PrefixTable[RangeEntry]:
    """Parse ranges-file text; raise RangesFileError naming the first bad line."""
    lines = text.splitlines()
    rows = csv.reader(lines)
    table: PrefixTable[RangeEntry] = PrefixTable()
    header: list[str] | None = None
    columns: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        cells = [cell.strip() for cell in row]
        if header is None:
            header = [cell.lower() for cell in cells]
            missing = [c for c in ("prefix", "region", "provider") if c not in header]
            if missing:
                raise RangesFileError(
                    f"{origin}:{number}: header must name the columns prefix,region,provider "
                    f"(missing: {','.join(missing)})"
                )
            columns = {name: header.index(name) for name in ("prefix", "region", "provider")}
            continue
        if len(cells) < len(header):
            cells += [""] * (len(header) - len(cells))
        prefix, region_text, provider = (
            cells[columns[c]] for c in ("prefix", "region", "provider")
        )
        try:
            network = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            raise RangesFileError(
                f"{origin}:{number}: {prefix!r} is not an IP network (e.g. 203.0.113.0/24)"
            ) from None
        region = USER_REGIONS.get(region_text.lower())
        if region is None:
            raise RangesFileError(
                f"{origin}:{number}: region {region_text!r} is not one of "
                + ", ".join(USER_REGIONS)
            )
        table.add(network, RangeEntry(str(network), region, provider, "ranges-file"))
    if header is None:
        raise RangesFileError(f"{origin}: empty file (expected a prefix,region,provider header)")
    return table


def load_ranges_file(path: str | Path) -> PrefixTable[RangeEntry]:
    """Read a ranges file; unreadable or malformed files raise RangesFileError."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RangesFileError(f"cannot read ranges file {path}: {reason}") from None
    return parse_ranges(text, origin=str(path))
