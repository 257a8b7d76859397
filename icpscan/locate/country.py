"""Offline IP -> registry country: iptocc, or an imported RIR delegated-statistics file.

Both say which country the address block was *registered* to, not where the server stands
(Alibaba's ARIN 47.0.0.0/8 is "US", Tencent Cloud HK's 119.28.0.0/16 is "CN"); verdict.py treats
this as the weakest location source. geoip2fast (MaxMind GeoLite2 data) is deliberately not used:
its bundled data is from 2024-06-18 and GeoLite2's licence needs a review before we ship it
(see data/README.md).

``icpscan data import-rir FILE...`` turns RIR ``delegated-*`` files into a compact
``rir_country.csv`` that takes precedence over iptocc, for users who want a dated, auditable
snapshot.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path

import iptocc

from icpscan.locate.prefixes import IPAddress
from icpscan.resources import data_path

RIR_FILE = "rir_country.csv"
RIR_REGISTRIES = frozenset({"afrinic", "apnic", "arin", "iana", "lacnic", "ripencc"})


def iptocc_version() -> str:
    return f"iptocc {package_version('iptocc')}"


class RirDataError(ValueError):
    """A delegated-statistics file that cannot be imported (one line, names file and line)."""


@dataclass
class RirTable:
    """Sorted, non-overlapping ranges [start, end) -> country, per IP version."""

    starts: dict[int, list[int]] = field(default_factory=lambda: {4: [], 6: []})
    ends: dict[int, list[int]] = field(default_factory=lambda: {4: [], 6: []})
    countries: dict[int, list[str]] = field(default_factory=lambda: {4: [], 6: []})
    origin: str = ""

    def country(self, ip: IPAddress) -> str | None:
        value = int(ip)
        starts = self.starts[ip.version]
        index = bisect.bisect_right(starts, value) - 1
        if index >= 0 and value < self.ends[ip.version][index]:
            return self.countries[ip.version][index]
        return None

    def __len__(self) -> int:
        return len(self.starts[4]) + len(self.starts[6])


@dataclass(frozen=True)
class DelegatedRecord:
    version: int
    start: int
    end: int  # exclusive
    country: str


def parse_delegated(lines: Iterable[str], *, origin: str) -> tuple[list[DelegatedRecord], str]:
    """Records of one RIR delegated(-extended) file and a one-line description of its header.

    Only allocated/assigned ipv4/ipv6 rows with a country are kept; "available"/"reserved" rows
    of extended files and summary lines are skipped.
    """
    records: list[DelegatedRecord] = []
    header = ""
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("|")
        if not header and parts[0].replace(".", "").isdigit() and len(parts) >= 4:
            header = f"{parts[1]} serial {parts[2]} ({parts[4] if len(parts) > 4 else '?'}-"
            header += f"{parts[5] if len(parts) > 5 else '?'})"
            continue
        if len(parts) < 7:
            if len(parts) >= 6 and parts[-1] == "summary":
                continue
            raise RirDataError(f"{origin}:{number}: not a delegated-statistics record")
        registry, country, kind, start, value, _date, status = parts[:7]
        if registry.lower() not in RIR_REGISTRIES:
            raise RirDataError(f"{origin}:{number}: unknown registry {registry!r}")
        if kind not in ("ipv4", "ipv6") or status not in ("allocated", "assigned"):
            continue
        country = country.upper()
        if len(country) != 2 or not country.isalpha() or country == "ZZ":
            continue
        try:
            address = ipaddress.ip_address(start)
            amount = int(value)
        except ValueError:
            raise RirDataError(
                f"{origin}:{number}: bad start {start!r} or value {value!r}"
            ) from None
        if kind == "ipv4":
            if address.version != 4 or amount <= 0:
                raise RirDataError(f"{origin}:{number}: bad ipv4 record")
            size = amount
        else:
            if address.version != 6 or not 0 <= amount <= 128:
                raise RirDataError(f"{origin}:{number}: bad ipv6 record")
            size = 1 << (128 - amount)
        records.append(DelegatedRecord(address.version, int(address), int(address) + size, country))
    if not header:
        raise RirDataError(f"{origin}: no version line: not a delegated-statistics file")
    return records, header


def merge_records(records: Iterable[DelegatedRecord]) -> Iterator[DelegatedRecord]:
    """Sort, drop overlaps (the first range wins) and join adjacent ranges of one country."""
    ordered = sorted(records, key=lambda r: (r.version, r.start, r.end))
    current: DelegatedRecord | None = None
    for record in ordered:
        if current is not None and record.version == current.version:
            start = max(record.start, current.end) if record.start < current.end else record.start
            if start >= record.end:
                continue
            record = DelegatedRecord(record.version, start, record.end, record.country)
            if record.start == current.end and record.country == current.country:
                current = DelegatedRecord(
                    current.version, current.start, record.end, record.country
                )
                continue
        if current is not None:
            yield current
        current = record
    if current is not None:
        yield current


def write_rir_file(path: Path, records: Iterable[DelegatedRecord], *, sources: list[str]) -> int:
    lines = [
        "# Registry country per address range, compiled by `icpscan data import-rir` from:",
        *(f"#   {s}" for s in sources),
        "# Columns: version,start,end (integers, end exclusive),country. See data/README.md.",
        "version,start,end,country",
    ]
    count = 0
    for record in merge_records(records):
        lines.append(f"{record.version},{record.start},{record.end},{record.country}")
        count += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return count


def import_rir(files: list[Path], data_dir: Path) -> tuple[int, list[str]]:
    """Compile delegated files into ``data_dir/rir_country.csv``; return (ranges, headers)."""
    records: list[DelegatedRecord] = []
    headers: list[str] = []
    for path in files:
        try:
            with path.open(encoding="utf-8", errors="replace") as fh:
                found, header = parse_delegated(fh, origin=str(path))
        except OSError as exc:
            raise RirDataError(f"cannot read {path}: {exc.strerror or exc}") from None
        records.extend(found)
        headers.append(f"{path.name}: {header}, {len(found)} records")
    count = write_rir_file(data_dir / RIR_FILE, records, sources=headers)
    return count, headers


def load_rir_table(path: Path) -> RirTable:
    table = RirTable()
    origins = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                if line.startswith("#   "):
                    origins.append(line[4:].strip())
                continue
            if line.startswith("version"):
                continue
            version_text, start, end, country = line.rstrip("\n").split(",")
            version = int(version_text)
            table.starts[version].append(int(start))
            table.ends[version].append(int(end))
            table.countries[version].append(country)
    table.origin = "; ".join(origins) or str(path)
    return table


def rir_file(data_dir: Path | None = None) -> Path | None:
    """An imported RIR file: ``data_dir``'s first, then the one in the shipped data/."""
    for candidate in ([data_dir / RIR_FILE] if data_dir else []) + [data_path(RIR_FILE)]:
        if candidate.is_file():
            return candidate
    return None


class CountryLookup:
    """Registry country from the imported RIR file when it covers the address, else iptocc."""

    def __init__(self, rir: RirTable | None = None) -> None:
        self.rir = rir

    def lookup(self, ip: IPAddress) -> list[tuple[str, str | None]]:
        """[(source, country)]: the deciding source first; iptocc too when it differs."""
        from_iptocc = iptocc.country_code(str(ip))
        if self.rir is not None:
            from_rir = self.rir.country(ip)
            if from_rir is not None:
                if from_iptocc not in (None, from_rir):
                    return [("rir", from_rir), ("iptocc", from_iptocc)]
                return [("rir", from_rir)]
        return [("iptocc", from_iptocc)]
