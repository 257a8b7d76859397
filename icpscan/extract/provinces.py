"""Province tables: which character stands for which province, per number family.

ICP numbers and public-security (PSB) numbers use different characters for three provinces
(蜀/川, 黔/贵, 陇/甘), and footers in the wild use a few characters MIIT never issues. The
tables live in ``data/provinces.csv``; this module turns them into look-ups that say both the
province and whether the character is the standard one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from icpscan.models import Province
from icpscan.resources import data_path


class PrefixStatus(StrEnum):
    """How a prefix character relates to the character the issuer uses."""

    STANDARD = "standard"  # the issued character (京, 蜀, 川公网安备 ...)
    NONSTANDARD = "nonstandard"  # a known alternate (川ICP备, 贵ICP备 ...): operator error
    NON_MAINLAND = "non_mainland"  # 台/港/澳: no mainland filing can carry it


@dataclass(frozen=True)
class ProvinceRow:
    code: str
    name: str
    name_en: str
    icp_prefix: str
    icp_alt_prefixes: tuple[str, ...]
    psb_prefixes: tuple[str, ...]
    psb_alt_prefixes: tuple[str, ...]
    licence_prefixes: tuple[str, ...]
    mainland: bool

    def province(self, prefix: str) -> Province:
        return Province(prefix=prefix, code=self.code, name=self.name, name_en=self.name_en)


@dataclass(frozen=True)
class ProvinceTables:
    rows: tuple[ProvinceRow, ...]
    by_code: dict[str, ProvinceRow]
    icp: dict[str, tuple[ProvinceRow, PrefixStatus]]
    psb: dict[str, tuple[ProvinceRow, PrefixStatus]]
    licence: dict[str, tuple[ProvinceRow, PrefixStatus]]

    @property
    def icp_chars(self) -> str:
        return "".join(self.icp)

    @property
    def psb_chars(self) -> str:
        return "".join(self.psb)

    @property
    def licence_chars(self) -> str:
        return "".join(self.licence)


def _chars(cell: str) -> tuple[str, ...]:
    return tuple(cell.split())


def _add(
    table: dict[str, tuple[ProvinceRow, PrefixStatus]],
    chars: tuple[str, ...],
    row: ProvinceRow,
    status: PrefixStatus,
) -> None:
    for char in chars:
        # The first (standard) assignment wins: 川 is standard for PSB even though it is an
        # ICP alternate, and a later alternate must not downgrade it.
        table.setdefault(char, (row, status))


@cache
def tables() -> ProvinceTables:
    """Load ``data/provinces.csv`` once per process."""
    with data_path("provinces.csv").open(encoding="utf-8", newline="") as handle:
        rows = tuple(
            ProvinceRow(
                code=r["code"],
                name=r["name"],
                name_en=r["name_en"],
                icp_prefix=r["icp_prefix"],
                icp_alt_prefixes=_chars(r["icp_alt_prefixes"]),
                psb_prefixes=_chars(r["psb_prefixes"]),
                psb_alt_prefixes=_chars(r["psb_alt_prefixes"]),
                licence_prefixes=_chars(r["licence_prefixes"]),
                mainland=r["mainland"] == "yes",
            )
            for r in csv.DictReader(handle)
        )
    icp: dict[str, tuple[ProvinceRow, PrefixStatus]] = {}
    psb: dict[str, tuple[ProvinceRow, PrefixStatus]] = {}
    licence: dict[str, tuple[ProvinceRow, PrefixStatus]] = {}
    for row in rows:
        standard = PrefixStatus.STANDARD if row.mainland else PrefixStatus.NON_MAINLAND
        _add(icp, (row.icp_prefix,), row, standard)
        _add(psb, row.psb_prefixes, row, standard)
        _add(licence, row.licence_prefixes, row, standard)
    for row in rows:
        _add(icp, row.icp_alt_prefixes, row, PrefixStatus.NONSTANDARD)
        _add(psb, row.psb_alt_prefixes, row, PrefixStatus.NONSTANDARD)
        _add(licence, row.icp_alt_prefixes + row.psb_alt_prefixes, row, PrefixStatus.NONSTANDARD)
    return ProvinceTables(
        rows=rows, by_code={r.code: r for r in rows}, icp=icp, psb=psb, licence=licence
    )


def icp_prefix(char: str) -> tuple[Province, PrefixStatus] | None:
    """The province an ICP filing/licence prefix names, or None for a non-province character."""
    hit = tables().icp.get(char)
    return (hit[0].province(char), hit[1]) if hit else None


def psb_prefix(char: str) -> tuple[Province, PrefixStatus] | None:
    """The province a public-security (公网安备) prefix names."""
    hit = tables().psb.get(char)
    return (hit[0].province(char), hit[1]) if hit else None


def licence_prefix(char: str) -> tuple[Province, PrefixStatus] | None:
    """The province a value-added telecom licence prefix (``浙B2-…``) names."""
    hit = tables().licence.get(char)
    return (hit[0].province(char), hit[1]) if hit else None


def division_province(code: str) -> ProvinceRow | None:
    """The mainland province a GB/T 2260 division code (first two digits) belongs to."""
    row = tables().by_code.get(code[:2])
    return row if row is not None and row.mainland else None
