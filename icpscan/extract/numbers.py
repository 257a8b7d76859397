"""Number patterns, normalisation and judgement: pure functions over text.

Everything here works on *folded* text: the page text passed through :data:`FOLD_TABLE`, a
one-character-to-one-character mapping (full-width forms to ASCII, ASCII letters to upper case,
every dash to ``-``, every space to `` ``, Traditional keyword characters to Simplified). Keeping
the mapping 1:1 keeps offsets valid, so a match in folded text points at the raw text as written.
A newline is the barrier block-level HTML leaves between text runs: patterns never cross it.

The patterns are linear: no nested quantifiers over overlapping classes, and every repeated gap
is bounded. ICP matching starts at the literal ``ICP`` so ``re`` can use its fast literal scan;
the province character is read back from the text before the match.
"""

from __future__ import annotations

import csv
import datetime
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from icpscan.extract import provinces
from icpscan.extract.provinces import PrefixStatus
from icpscan.models import FoundNumber, Location, NumberKind, Province
from icpscan.resources import data_path

# --- folding ---------------------------------------------------------------------------------

_SPACES = "\t\r\x0b\x0c\xa0\u1680\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u2500\u30fc"
_TRADITIONAL = {
    "備": "备",
    "證": "证",
    "號": "号",
    "網": "网",
    "機": "机",
    "關": "关",
    "編": "编",
    # province characters as Big5 (Hong Kong, Taiwan) pages write them
    "魯": "鲁",
    "蘇": "苏",
    "陝": "陕",
    "遼": "辽",
    "滬": "沪",
    "貴": "贵",
    "雲": "云",
    "閩": "闽",
    "贛": "赣",
    "粵": "粤",
    "瓊": "琼",
    "隴": "陇",
    "寧": "宁",
    "晉": "晋",
}

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\xad"
"""Invisible characters deleted before matching (they split numbers without showing)."""


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII block
        table[code] = chr(code - 0xFEE0)
    for char in _SPACES:
        table[ord(char)] = " "
    for char in _DASHES:
        table[ord(char)] = "-"
    for trad, simp in _TRADITIONAL.items():
        table[ord(trad)] = simp
    table[ord("\u3001")] = "、"
    for code in range(ord("a"), ord("z") + 1):
        table[code] = chr(code - 32)
    for code in range(0xFF41, 0xFF5B):  # full-width lower case -> ASCII upper case
        table[code] = chr(code - 0xFF41 + ord("A"))
    return table


FOLD_TABLE = _fold_table()
_DELETE_ZERO_WIDTH = {ord(c): None for c in ZERO_WIDTH}


def fold(text: str) -> str:
    """Fold text for matching; same length as the input (offsets stay valid)."""
    return text.translate(FOLD_TABLE)


# --- patterns ----------------------------------------------------------------------------------

# Template syntax seen where a build step forgot to fill in the number (after folding: upper case).
_TEMPLATE = (
    r"\{\{[^{}\n]{0,60}\}\}|\{%[^%\n]{0,60}%\}|\{\$[^{}\n]{0,60}\}|\$\{[^{}\n]{0,60}\}"
    r"|<%=?[^%\n]{0,60}%>|<\?[^?\n]{0,60}\?>|%[A-Z_]{1,30}%|__[A-Z_]{1,30}__"
)

# A hostile page can write a digit run of any length after "ICP备": the number keeps this many
# digits (any count past 15 is invalid already), so one record cannot grow with the page.
MAX_DIGIT_RUN = 20

ICP_RE = re.compile(
    r"ICP {0,3}(?P<type>[备证])(?P<an> {0,3}案)?(?P<label_hao> {0,3}号)?(?P<colon> {0,3}:)?"
    r"(?P<inserted> {0,3}\([^()\n]{1,40}\))?"
    rf" {{0,3}}(?:(?P<digits>[0-9X]+)|(?P<tpl>{_TEMPLATE}))?"
    r"(?P<hao> {0,3}号)?"
    r"(?: {0,3}- {0,3}(?P<idx>[0-9]{1,4}|X{1,4})(?P<letter>[AXK])?(?![0-9A-Z])"
    r"(?! {0,3}- {0,3}[0-9]))?"
    r"(?P<hao2> {0,3}号)?"
)

PSB_RE = re.compile(
    r"(?P<label>公网安备|公安网备|网安备|公安(?:局[^\n:0-9]{0,12}?)?(?:机关)?(?:联网)?备案)"
    r"(?: {0,3}案)?(?: {0,3}编?号)?(?: {0,3}[为是])?(?: {0,3}:)?"
    rf" {{0,3}}(?:(?P<digits>[0-9X]{{4,}})|(?P<tpl>{_TEMPLATE}))"
    r"(?P<hao> {0,3}号)?"
)

VATS_RE = re.compile(
    r"(?<![A-Z0-9])(?P<cats>(?:A2|B1|B2)(?: {0,2}[.、,/] {0,2}(?:A2|B1|B2)){0,3}) {0,2}- {0,2}"
    r"(?P<digits>(?:19|20|XX)[0-9X]{6})(?![0-9X])"
    r"(?: {0,2}号)?(?: {0,2}- {0,2}(?P<idx>[0-9]{1,4}[A-Z]?)(?![0-9A-Z]))?(?: {0,2}号)?"
    r"(?: {0,2}\(全网\))?"
)

# A bare template variable named after the number (``{{ site.icp }}``, ``{$cfg_beian}``) left
# unrendered: an ICP (or PSB) placeholder even without an "ICP备" label around it.
TEMPLATE_VAR_RE = re.compile(
    r"(?:\{\{|\{\$|\$\{|\{%)[^{}<>\n]{0,40}?(?P<name>ICP|BEIAN|GONGAN|PSB|POLICE)"
    r"[^{}<>\n]{0,40}?(?:\}\}|%\}|\})"
)

GENERIC_RE = re.compile(
    r"(?:ICP|网站)?备案编?号 {0,3}[为是]? {0,3}: {0,3}(?P<digits>[0-9X]{6,15})(?![0-9X])"
)

_CATEGORY_RE = re.compile(r"[AB][12]")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

# A province character that is the tail of a longer, non-MIIT token (星云ICP备 is not Yunnan).
LOOKALIKE_TOKENS = frozenset({"星云"})
# Characters MIIT never issues but template footers use as if they were a province.
FAKE_ICP_PREFIXES = frozenset({"湖"})
# A CJK character that ends a label right before an unprefixed number (备案号ICP备…).
_LABEL_TAILS = frozenset("号码为是的案证站")


def _canonical_patterns() -> dict[NumberKind, re.Pattern[str]]:
    t = provinces.tables()
    icp = re.escape(t.icp_chars + "".join(FAKE_ICP_PREFIXES))
    psb = re.escape(t.psb_chars)
    lic = re.escape(t.licence_chars)
    index = r"(?:-(?:[0-9]{1,4}|X{1,4})[AXK]?)?"
    return {
        NumberKind.ICP_FILING: re.compile(rf"[{icp}]?ICP备[0-9X]*号{index}"),
        NumberKind.ICP_LICENCE: re.compile(rf"[{icp}]?ICP证[0-9X]*号{index}"),
        NumberKind.TELECOM_LICENCE: re.compile(
            rf"(?:[{lic}]|合字)?[AB][12](?:\.[AB][12])*-[0-9X]{{8}}(?:-[0-9]{{1,4}}[A-Z]?)?"
        ),
        NumberKind.PSB_FILING: re.compile(rf"[{psb}]?公网安备[0-9X]*号"),
    }


CANONICAL_PATTERNS = _canonical_patterns()
"""``fullmatch`` patterns every normalised number of a kind satisfies (the JSON contract)."""


# --- candidates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One number found in folded text, before judgement."""

    kind: NumberKind
    start: int  # span in the folded text, prefix included
    end: int
    prefix: str  # province character as written ("" when none; "合字" for JV licences)
    body: str  # digits (with X for placeholders); "" when the site left it empty
    site_index: str | None  # "-N" part without the dash, e.g. "1", "1A"
    categories: str = ""  # telecom licences: "B2", "A2.B1.B2"
    template: bool = False  # the body is unfilled template text ({{ icp }})
    inserted: bool = False  # text was inserted inside the number (贵ICP备(domain)…)
    fake_prefix: bool = False  # a character MIIT never issues (湖ICP备…)


def _char_before(text: str, pos: int) -> tuple[str, int]:
    """The character before ``pos`` skipping up to three spaces, and its index (-1 if none)."""
    i = pos - 1
    skipped = 0
    while i >= 0 and text[i] == " " and skipped < 3:
        i -= 1
        skipped += 1
    return (text[i], i) if i >= 0 else ("", -1)


def _icp_candidate(text: str, m: re.Match[str]) -> Candidate | None:
    prefix, at = _char_before(text, m.start())
    fake = False
    tables = provinces.tables()
    if prefix in tables.icp:
        if at > 0 and text[at - 1] + prefix in LOOKALIKE_TOKENS:
            return None
    elif prefix in FAKE_ICP_PREFIXES:
        fake = True
    elif prefix and at == m.start() - 1 and _CJK_RE.match(prefix) and prefix not in _LABEL_TAILS:
        return None  # 萌ICP备, 沪交ICP备, 小帅ICP备...: not an MIIT number at all
    else:  # no character, punctuation, or a word before a space ("有限公司 ICP备…")
        prefix, at = "", m.start()
    digits = m.group("digits") or ""
    template = m.group("tpl") is not None
    kind = NumberKind.ICP_FILING if m.group("type") == "备" else NumberKind.ICP_LICENCE
    end = len(m.group(0).rstrip(" ")) + m.start()
    if len(digits) > MAX_DIGIT_RUN:
        digits, end = digits[:MAX_DIGIT_RUN], m.start("digits") + MAX_DIGIT_RUN
    if not digits and not template:
        # "ICP备" with nothing after it: a placeholder only when it reads like a number shell
        # (京ICP备号, 京ICP备 | …), never a label such as "ICP备案号：" or "京ICP备案查询".
        if not prefix or m.group("an") or m.group("colon") or m.group("inserted"):
            return None
        nxt = text[m.end() : m.end() + 1]
        if not (m.group("label_hao") or m.group("hao")) and nxt and (nxt.isalnum()):
            return None
    elif digits and set(digits) == {"X"} and len(digits) < 3:
        # "ICP备X" is too weak to call even a placeholder (eg. "ICP备 X 号" typed as prose).
        return None
    idx = m.group("idx")
    if idx is not None:
        idx += m.group("letter") or ""
    return Candidate(
        kind=kind,
        start=at if prefix else m.start(),
        end=end,
        prefix=prefix,
        body=digits,
        site_index=idx,
        template=template,
        inserted=m.group("inserted") is not None,
        fake_prefix=fake,
    )


def _psb_candidate(text: str, m: re.Match[str]) -> Candidate:
    prefix, at = _char_before(text, m.start())
    if prefix not in provinces.tables().psb:
        prefix, at = "", m.start()
    digits, end = m.group("digits") or "", m.end()
    if len(digits) > MAX_DIGIT_RUN:
        digits, end = digits[:MAX_DIGIT_RUN], m.start("digits") + MAX_DIGIT_RUN
    return Candidate(
        kind=NumberKind.PSB_FILING,
        start=at if prefix else m.start(),
        end=end,
        prefix=prefix,
        body=digits,
        site_index=None,
        template=m.group("tpl") is not None,
    )


def _vats_candidate(text: str, m: re.Match[str]) -> Candidate:
    prefix, at = _char_before(text, m.start())
    if prefix == "字" and at > 0 and text[at - 1] == "合":
        prefix, at = "合字", at - 1
    elif prefix not in provinces.tables().licence:
        prefix, at = "", m.start()
    categories = ".".join(_CATEGORY_RE.findall(m.group("cats")))
    return Candidate(
        kind=NumberKind.TELECOM_LICENCE,
        start=at if prefix else m.start(),
        end=m.end(),
        prefix=prefix,
        body=m.group("digits"),
        site_index=m.group("idx"),
        categories=categories,
    )


def _generic_candidate(m: re.Match[str]) -> Candidate:
    digits = m.group("digits")
    is_psb = 12 <= len(digits) <= 15 and provinces.division_province(digits) is not None
    return Candidate(
        kind=NumberKind.PSB_FILING if is_psb else NumberKind.ICP_FILING,
        start=m.start("digits"),
        end=m.end(),
        prefix="",
        body=digits,
        site_index=None,
    )


def _template_candidate(m: re.Match[str]) -> Candidate:
    psb = m.group("name") in ("GONGAN", "PSB", "POLICE")
    return Candidate(
        kind=NumberKind.PSB_FILING if psb else NumberKind.ICP_FILING,
        start=m.start(),
        end=m.end(),
        prefix="",
        body="",
        site_index=None,
        template=True,
    )


def find_candidates(folded: str) -> list[Candidate]:
    """Every number in folded text, in order, without overlaps."""
    found: list[Candidate] = []
    for m in ICP_RE.finditer(folded):
        cand = _icp_candidate(folded, m)
        if cand is not None:
            found.append(cand)
    found.extend(_psb_candidate(folded, m) for m in PSB_RE.finditer(folded))
    if "-" in folded:
        found.extend(_vats_candidate(folded, m) for m in VATS_RE.finditer(folded))
    if "{" in folded:
        found.extend(_template_candidate(m) for m in TEMPLATE_VAR_RE.finditer(folded))
    if "备案" in folded:
        found.extend(
            _generic_candidate(m)
            for m in GENERIC_RE.finditer(folded)
            # "食品经营备案号：…", "医疗器械备案号：…" are other registries' numbers.
            if m.group(0).startswith(("ICP", "网站"))
            or not _CJK_RE.match(folded[m.start() - 1 : m.start()] or " ")
        )
    found.sort(key=lambda c: c.start)
    # Two patterns can read the same text (a generic "备案号：" label inside an ICP or PSB
    # number); the earlier, more specific reading wins.
    result: list[Candidate] = []
    for cand in found:
        if result and cand.start < result[-1].end:
            continue
        result.append(cand)
    return result


# --- judgement ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """What a candidate is: its normalised form and whether it can be a real number."""

    kind: NumberKind
    number: str
    province: Province | None
    valid: bool
    placeholder: bool
    problems: tuple[str, ...]
    site_index: str | None
    digits: str  # the digit body, for de-duplication (PSB numbers merge by digits)


@dataclass(frozen=True)
class DemoNumber:
    number: str
    owner_domains: frozenset[str]


@cache
def demo_numbers() -> dict[str, DemoNumber]:
    """Known example numbers (``data/demo_numbers.csv``)."""
    with data_path("demo_numbers.csv").open(encoding="utf-8", newline="") as handle:
        return {
            r["number"]: DemoNumber(r["number"], frozenset(r["owner_domains"].split()))
            for r in csv.DictReader(handle)
        }


def _is_sequence(digits: str) -> bool:
    """123456…, 987654…, wrapping 9->0: the digits a person types as an example."""
    if len(digits) < 6 or not digits.isdigit():
        return False
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(digits)}
    return steps in ({1}, {9})


def _all_same(digits: str) -> bool:
    return len(digits) >= 4 and len(set(digits)) == 1


def _host_matches(host: str | None, domains: frozenset[str]) -> bool:
    if not host:
        return False
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


def _year_problems(
    year: int, earliest: int, latest: int, today: datetime.date
) -> tuple[bool, bool, str | None]:
    """(valid, placeholder, problem) for the year a number encodes."""
    if year > today.year:
        return False, True, "future_year"
    if year < earliest or year > latest:
        return False, False, "implausible_year"
    return True, False, None


def judge(cand: Candidate, *, today: datetime.date, host: str | None = None) -> Judgement:
    """Normalise and validate one candidate (the rules of ICP-DOMAIN §2-4 and §6.2)."""
    problems: list[str] = []
    valid = True
    placeholder = False
    body = cand.body
    province: Province | None = None
    index = f"-{cand.site_index}" if cand.site_index else ""

    if cand.template:
        placeholder = True
        problems.append("template")
    elif not body:
        placeholder = True
        problems.append("no_digits")
    elif "X" in body:
        placeholder = True
        problems.append("x_digits")
    if cand.site_index and set(cand.site_index) == {"X"}:
        placeholder = True
        if "x_digits" not in problems:
            problems.append("x_digits")
    digits_only = body.isdigit()
    if digits_only and (
        _all_same(body) or _is_sequence(body) or "12345678" in body or "000000" in body
    ):
        placeholder = True
        problems.append("example_digits")

    if cand.kind in (NumberKind.ICP_FILING, NumberKind.ICP_LICENCE):
        word = "ICP备" if cand.kind is NumberKind.ICP_FILING else "ICP证"
        number = f"{cand.prefix}{word}{body}号{index}"
        hit = provinces.icp_prefix(cand.prefix) if cand.prefix else None
        if hit is not None:
            province, status = hit
            if status is PrefixStatus.NONSTANDARD:
                problems.append("nonstandard_prefix")
            elif status is PrefixStatus.NON_MAINLAND:
                valid = False
                problems.append("non_mainland_prefix")
        elif cand.fake_prefix:
            valid = False
            problems.append("unknown_prefix")
        else:
            valid = False
            problems.append("no_prefix")
        if cand.inserted:
            problems.append("inserted_text")
        if digits_only:
            valid &= _judge_icp_digits(cand.kind, body, today, problems)
            placeholder |= "future_year" in problems or "example_serial" in problems
    elif cand.kind is NumberKind.TELECOM_LICENCE:
        number = f"{cand.prefix}{cand.categories}-{body}{index}"
        if cand.prefix and cand.prefix != "合字":
            hit = provinces.licence_prefix(cand.prefix)
            if hit is not None:
                province, status = hit
                if status is PrefixStatus.NONSTANDARD:
                    problems.append("nonstandard_prefix")
                elif status is PrefixStatus.NON_MAINLAND:
                    valid = False
                    problems.append("non_mainland_prefix")
        if digits_only:
            ok, future, problem = _year_problems(int(body[:4]), 2000, today.year, today)
            valid &= ok
            placeholder |= future
            if problem:
                problems.append(problem)
            if body[4:] == "0000":
                placeholder = True
                problems.append("example_serial")
    else:
        number = f"{cand.prefix}公网安备{body}号"
        valid &= _judge_psb(cand, body, problems)
        if cand.prefix:
            hit = provinces.psb_prefix(cand.prefix)
            province = hit[0] if hit else None
        elif digits_only and (row := provinces.division_province(body)) is not None:
            province = row.province(row.psb_prefixes[0])
        demo = demo_numbers().get(number)
        if demo is not None and not _host_matches(host, demo.owner_domains):
            problems.append("demo_number")
            # A number that is some site's own is only a copy when we know whose page this is.
            placeholder |= host is not None or not demo.owner_domains

    if placeholder:
        valid = False
    return Judgement(
        kind=cand.kind,
        number=number,
        province=province,
        valid=valid,
        placeholder=placeholder,
        problems=tuple(dict.fromkeys(problems)),
        site_index=cand.site_index,
        digits=body,
    )


def _judge_icp_digits(
    kind: NumberKind, body: str, today: datetime.date, problems: list[str]
) -> bool:
    """Digit count and era (§2.3, §3.1); appends problems, returns validity."""
    if kind is NumberKind.ICP_LICENCE:
        if len(body) != 6:
            problems.append("digit_count")
            return False
        year = _two_digit_year(body[:2], today)
        ok, _future, problem = _year_problems(year, 2000, today.year, today)
        if problem:
            problems.append(problem)
        if body[2:] == "0000":
            problems.append("example_serial")
        return ok
    if len(body) == 8:
        year = _two_digit_year(body[:2], today)
        ok, _future, problem = _year_problems(year, 2000, today.year, today)
        if problem:
            problems.append(problem)
        elif year >= 2022:
            problems.append("late_short_format")  # seen province by province until 2021
        serial = body[2:]
    elif len(body) == 10:
        year = int(body[:4])
        ok, _future, problem = _year_problems(year, 2018, today.year, today)
        if problem:
            problems.append(problem)
        elif year < 2020:
            problems.append("early_long_format")  # 2018/2019 10-digit footers are unverified
        serial = body[4:]
    else:
        problems.append("digit_count")
        return False
    if serial in ("000000", "000001", "123456"):
        problems.append("example_serial")
    return ok


def _two_digit_year(yy: str, today: datetime.date) -> int:
    """YY -> year: 98/99 are the 1990s, anything else is 20YY (a future 20YY is a placeholder)."""
    value = int(yy)
    return 1900 + value if value >= 98 else 2000 + value


def _judge_psb(cand: Candidate, body: str, problems: list[str]) -> bool:
    """Digit count, division code and prefix consistency (§4.1); appends problems."""
    valid = True
    if not cand.prefix:
        problems.append("no_prefix")
    if not body.isdigit():
        return False
    if len(body) in (12, 13, 15):
        problems.append("old_format")
    elif len(body) != 14:
        problems.append("digit_count")
        valid = False
    division = provinces.division_province(body)
    if division is None:
        problems.append("unknown_division")
        valid = False
    if cand.prefix:
        hit = provinces.psb_prefix(cand.prefix)
        if hit is None:
            valid = False
        else:
            prov, status = hit
            if status is PrefixStatus.NONSTANDARD:
                problems.append("nonstandard_prefix")
            elif status is PrefixStatus.NON_MAINLAND:
                problems.append("non_mainland_prefix")
                valid = False
            if division is not None and prov.code != division.code:
                problems.append("division_mismatch")
                valid = False
    return valid


# --- one number --------------------------------------------------------------------------------


_WHITESPACE_RUN_RE = re.compile(r"\s+")


def _plain(text: str) -> str:
    """Plain text as a page shows it: invisible characters gone, whitespace runs collapsed."""
    return _WHITESPACE_RUN_RE.sub(" ", text.translate(_DELETE_ZERO_WIDTH))


def iter_numbers(
    text: str, *, today: datetime.date | None = None, host: str | None = None
) -> Iterator[tuple[Candidate, Judgement, str]]:
    """Judged numbers in plain text with the raw text of each: the core of :func:`normalise`."""
    raw = _plain(text)
    folded = fold(raw)
    when = today or datetime.date.today()
    for cand in find_candidates(folded):
        yield cand, judge(cand, today=when, host=host), raw[cand.start : cand.end].strip()


def normalise(text: str) -> str | None:
    """The normalised form of the first number in ``text`` (``None`` if there is none).

    ``normalise("粤ＩＣＰ备14023066号 - 1")`` is ``"粤ICP备14023066号-1"``; normalising a
    normalised number returns it unchanged.
    """
    for _cand, judgement, _raw in iter_numbers(text):
        return judgement.number
    return None


def parse_number(text: str, *, today: datetime.date | None = None) -> FoundNumber | None:
    """Parse one number written as plain text into a :class:`~icpscan.models.FoundNumber`."""
    for _cand, j, raw in iter_numbers(text, today=today):
        return FoundNumber(
            kind=j.kind,
            number=j.number,
            raw=raw,
            province=j.province,
            valid=j.valid,
            placeholder=j.placeholder,
            linked=False,
            href=None,
            location=Location.BODY,
            own=True,
            problems=j.problems,
            site_index=j.site_index,
        )
    return None
