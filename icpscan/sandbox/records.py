"""The filing records of a sandbox scenario, and what a correct reconciliation reports.

Every site that shows a filing number gets records the way an auditor's export would hold
them (MIIT field names, the issued province character even where the footer writes an
alternate one) — and, in every block of 100 sites, some that do not agree with the page:
domains with no record, a record of another entity, another website index, an individual
filing on a shop or forum, a news site without the 新闻 pre-approval item. The stolen-number
pair's thief has no record while the victim's record holds the number.

:func:`record_findings` is a second, independent statement of the RECORD_* rules of
``docs/assessment-rules.md`` (written from the document, not from ``icpscan.reconcile``), so
a disagreement between the two is a bug in one of them.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from icpscan.models import Location, NumberKind, Region
from icpscan.sandbox import footers as ft
from icpscan.sandbox.plan import BLOCK
from icpscan.sandbox.truth import SiteTruth, TruthNumber, split_index

RECORD_CASES = ("match", "unfiled", "other_entity", "other_suffix", "individual", "news_no_item")
# cases every full block holds at least this often (when it has sites to carry them)
REQUIRED_CASES = (
    ("unfiled", 2),
    ("other_entity", 2),
    ("other_suffix", 2),
    ("individual", 1),
    ("news_no_item", 1),
)
MIIT_COLUMNS = (
    "domain",
    "unitName",
    "natureName",
    "mainLicence",
    "serviceLicence",
    "contentTypeName",
    "updateRecordTime",
)
_ISSUED = {p.alt: p.icp for p in ft.PROVINCES if p.alt}
_SURNAMES = ("张", "王", "李", "刘", "陈", "杨", "赵", "黄")
_GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "勇")
_NAMES = ("华信", "创达", "恒通", "博远", "瑞丰", "天成", "鼎盛", "启明", "云帆", "中科")
_CITIES = ("北京", "上海", "杭州", "深圳", "广州", "成都", "南京", "武汉")


@dataclass(frozen=True)
class RecordRow:
    """One filing record as the sandbox's export writes it (MIIT API field names)."""

    domain: str
    unit_name: str
    nature: str  # 企业 / 个人
    main_licence: str
    service_licence: str
    content_types: tuple[str, ...] = ()
    update_time: str = ""

    def miit(self) -> dict[str, str]:
        return {
            "domain": self.domain,
            "unitName": self.unit_name,
            "natureName": self.nature,
            "mainLicence": self.main_licence,
            "serviceLicence": self.service_licence,
            "contentTypeName": "、".join(self.content_types),
            "updateRecordTime": self.update_time,
        }


@dataclass
class RecordTruth:
    domain: str
    case: str  # one of RECORD_CASES, or "" for sites that show no number
    record_findings: list[str] = field(default_factory=list)
    findings_with_records: list[str] = field(default_factory=list)

    def to_jsonl(self) -> str:
        return json.dumps(
            {
                "domain": self.domain,
                "record_case": self.case,
                "record_findings": self.record_findings,
                "findings_with_records": self.findings_with_records,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )


# -- the rules' vocabulary, restated -----------------------------------------------------------

FILINGS = frozenset({NumberKind.ICP_FILING})
LICENCES = frozenset({NumberKind.ICP_LICENCE, NumberKind.TELECOM_LICENCE})


def issued(number: str) -> str:
    """An alternate province character (川ICP备) read as the issued one (蜀ICP备)."""
    if "ICP" in number and number[:1] in _ISSUED:
        return _ISSUED[number[0]] + number[1:]
    return number


def entity(number: str) -> str:
    return issued(split_index(number)[0])


def compared(truth: SiteTruth) -> list[TruthNumber]:
    good = [
        n
        for n in truth.numbers
        if n.own and n.location is not Location.COMMENT and n.valid and not n.placeholder
    ]
    filings = [n for n in good if n.kind in FILINGS]
    return filings or [n for n in good if n.kind in LICENCES]


def _role(truth: SiteTruth) -> str:
    for tag in truth.exercises:
        if tag.startswith("role:"):
            return tag[5:]
    return "normal"


def _mainland(truth: SiteTruth) -> bool:
    # a sandbox "mixed" site always has one mainland and one offshore address
    return truth.region in (Region.MAINLAND, Region.MIXED)


# -- generating the records ------------------------------------------------------------------


def _eligible(case: str, truth: SiteTruth) -> bool:
    numbers = compared(truth)
    if not truth.reachable or not numbers or _role(truth) != "normal":
        return False
    if case == "unfiled":
        return truth.region is Region.MAINLAND
    if case == "other_suffix":
        index = numbers[0].site_index or ""
        return index.isdigit()
    if case == "individual":
        return bool({"ecommerce", "forum"} & set(truth.signals))
    if case == "news_no_item":
        return "news" in truth.signals
    return True


def assign_cases(seed: int, profile: str, truths: list[SiteTruth]) -> dict[str, str]:
    """domain -> record case, for sites that show a filing number (block by block)."""
    cases: dict[str, str] = {}
    for start in range(0, len(truths), BLOCK):
        block = truths[start : start + BLOCK]
        rng = random.Random(f"icpscan-records/{seed}/{profile}/{start // BLOCK}")
        order = list(range(len(block)))
        rng.shuffle(order)
        taken: set[int] = set()
        for case, times in REQUIRED_CASES:
            for _ in range(times):
                pick = next(
                    (k for k in order if k not in taken and _eligible(case, block[k])), None
                )
                if pick is not None:
                    taken.add(pick)
                    cases[block[pick].domain] = case
        for truth in block:
            if truth.domain in cases or not truth.reachable or not compared(truth):
                continue
            cases[truth.domain] = "unfiled" if _role(truth) == "stolen_thief" else "match"
    return cases


def _other_entity(number: str) -> str:
    """Same province and era, another serial: an unrelated entity's number."""
    head, _index = split_index(number)
    digits = "".join(ch for ch in head if ch.isdigit())
    serial = int(digits[-6:])
    changed = digits[:-6] + f"{(serial + 500_000) % 1_000_000:06d}"
    return head.replace(digits, changed)


def _rows(truth: SiteTruth, case: str, rng: random.Random) -> list[RecordRow]:
    if case == "unfiled":
        return []
    numbers = compared(truth)
    person = case == "individual"
    name = (
        rng.choice(_SURNAMES) + rng.choice(_GIVEN)
        if person
        else f"{rng.choice(_CITIES)}{rng.choice(_NAMES)}科技有限公司"
    )
    contents: tuple[str, ...] = ("新闻",) if "news" in truth.signals else ()
    if case == "news_no_item":
        contents = ("文化",)
    when = f"20{rng.randint(15, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 10:20:30"
    rows = []
    seen: set[str] = set()
    for number in numbers:
        main = entity(number.number)
        _head, index = split_index(number.number)
        if case == "other_entity":
            main = _other_entity(main)
        if main in seen:
            continue
        seen.add(main)
        if index and index.isdigit():
            site_index = str(int(index) + 1) if case == "other_suffix" else index
        elif index:  # an App / mini-program number (-1A): the website is -1
            site_index = "".join(ch for ch in index if ch.isdigit()) or "1"
        else:
            site_index = str(rng.randint(1, 4))
        if _role(truth) == "redirect_src":
            site_index = "99"  # a second domain of the entity whose page this one redirects to
        rows.append(
            RecordRow(
                domain=truth.domain,
                unit_name=name,
                nature="个人" if person else "企业",
                main_licence=main,
                service_licence=f"{main}-{site_index}",
                content_types=contents,
                update_time=when,
            )
        )
    return rows


def scenario_records(
    seed: int, profile: str, truths: list[SiteTruth]
) -> tuple[list[RecordRow], dict[str, str]]:
    """The records export of a scenario and the case of each site showing a number."""
    cases = assign_cases(seed, profile, truths)
    rows: list[RecordRow] = []
    for truth in truths:
        case = cases.get(truth.domain)
        if case is None:
            continue
        rng = random.Random(f"icpscan-record/{seed}/{profile}/{truth.domain}")
        rows.extend(_rows(truth, case, rng))
    return rows, cases


# -- what a correct reconciliation reports ------------------------------------------------------


def record_findings(
    truth: SiteTruth,
    by_domain: dict[str, list[RecordRow]],
    by_entity: dict[str, list[RecordRow]],
) -> list[str]:
    """RECORD_* codes for one site, from docs/assessment-rules.md (sorted)."""
    if not truth.reachable:
        return []
    numbers = compared(truth)
    signals = set(truth.signals)
    if not numbers and not signals & {"ecommerce", "forum", "news"}:
        return []
    looked = [truth.domain]
    if truth.final_registrable and truth.final_registrable != truth.domain:
        looked.append(truth.final_registrable)
    records = list(dict.fromkeys(r for d in looked for r in by_domain.get(d, [])))
    codes: list[str] = []
    if _mainland(truth) and numbers and not by_domain.get(truth.domain):
        codes.append("RECORD_MISSING")
    entities = {entity(x) for r in records for x in (r.main_licence, r.service_licence) if x}
    for number in numbers:
        key = entity(number.number)
        owners = by_entity.get(key, [])
        if (records and key not in entities) or (not records and owners):
            codes.append("RECORD_NUMBER_MISMATCH")
            continue
        if not number.site_index or key not in entities:
            continue
        sites = {issued(r.service_licence) for r in records if entity(r.service_licence) == key}
        if sites and issued(number.number) not in sites:
            codes.append("RECORD_SITE_SUFFIX_MISMATCH")
    if records:
        if any(r.nature == "个人" for r in records) and signals & {"ecommerce", "forum"}:
            codes.append("RECORD_SCOPE")
        if "news" in signals and not any("新闻" in c for r in records for c in r.content_types):
            codes.append("RECORD_SCOPE")
    return sorted(codes)


def record_truths(
    truths: Iterable[SiteTruth], rows: list[RecordRow], cases: dict[str, str]
) -> dict[str, RecordTruth]:
    by_domain: dict[str, list[RecordRow]] = defaultdict(list)
    by_entity: dict[str, list[RecordRow]] = defaultdict(list)
    for row in rows:
        by_domain[row.domain].append(row)
        by_entity[entity(row.main_licence)].append(row)
    out = {}
    for truth in truths:
        codes = record_findings(truth, by_domain, by_entity)
        out[truth.domain] = RecordTruth(
            truth.domain, cases.get(truth.domain, ""), codes, sorted(truth.findings + codes)
        )
    return out


def records_csv(rows: Iterable[RecordRow]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MIIT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.miit())
    return buffer.getvalue()
