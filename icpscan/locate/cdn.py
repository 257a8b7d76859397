"""CDN detection from a CNAME chain (``data/cdn_suffixes.csv``).

A mainland-CDN CNAME proves the *provider*; whether the visitor is served from a mainland node
depends on the service (``mainland_nodes``): see verdict.py for how that is weighed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from icpscan.models import Cdn
from icpscan.resources import data_path

CDN_FILE = "cdn_suffixes.csv"
MAINLAND_NODES = ("yes", "depends", "no")
_PREFERENCE = {value: rank for rank, value in enumerate(MAINLAND_NODES)}


@dataclass(frozen=True)
class CdnSuffix:
    name: str
    provider: str
    suffix: str
    mainland_nodes: str
    source: str


class CdnTable:
    """Suffix -> CDN, matched on label boundaries, longest suffix first."""

    def __init__(self, rows: Iterable[CdnSuffix]) -> None:
        self._by_suffix: dict[str, CdnSuffix] = {}
        for row in rows:
            if row.mainland_nodes not in MAINLAND_NODES:
                raise ValueError(f"{row.suffix}: mainland_nodes must be one of {MAINLAND_NODES}")
            self._by_suffix[row.suffix.lower().strip(".")] = row

    def __len__(self) -> int:
        return len(self._by_suffix)

    def match_name(self, name: str) -> Cdn | None:
        """The CDN whose suffix is the longest label-aligned suffix of ``name``."""
        labels = name.lower().rstrip(".").split(".")
        for start in range(len(labels)):
            row = self._by_suffix.get(".".join(labels[start:]))
            if row is not None:
                return Cdn(row.name, row.provider, row.mainland_nodes, row.suffix, name)
        return None

    def match_chain(self, cnames: Iterable[str]) -> Cdn | None:
        """The CDN that matters most in a chain: one with mainland nodes beats "depends",
        which beats "no"; among equals the first in the chain wins."""
        best: Cdn | None = None
        for name in cnames:
            cdn = self.match_name(name)
            if cdn is not None and (
                best is None or _PREFERENCE[cdn.mainland_nodes] < _PREFERENCE[best.mainland_nodes]
            ):
                best = cdn
        return best


def load_cdn_table(path: Path | None = None) -> CdnTable:
    path = path or data_path(CDN_FILE)
    with path.open(encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        return CdnTable(CdnSuffix(**row) for row in csv.DictReader(lines))
