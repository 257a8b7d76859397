"""Filing numbers and the footers real sites write them in.

Two halves: :class:`Num` makes a number in its canonical (normalised) form together with the
verdict a correct extractor must reach (valid, placeholder, problems); :func:`render` writes
one occurrence of it the way some real footer does (ICP-DOMAIN §6.1: labels, spaces, full-width
letters, a missing 号, the index before 号, text split across tags, entities, traditional
characters, ...). The scenario records every occurrence, so its ground truth is the exact set
of numbers the bodies show.
"""

from __future__ import annotations

import functools
import html
import random
from dataclasses import dataclass

from icpscan.models import NumberKind

# ---------------------------------------------------------------------------------------------
# Provinces: GB/T 2260 code, the ICP prefix MIIT issues, the PSB prefix police use, and a few
# real county-level division codes (first 6 PSB digits) per province (ICP-DOMAIN §2.2, §4).


@dataclass(frozen=True)
class Prov:
    code: str
    icp: str  # issued ICP prefix
    psb: str  # everyday abbreviation used in 公网安备 numbers and VATS licences
    alt: str | None  # alternate ICP character seen in footers, flagged non-standard
    divisions: tuple[str, ...]
    traditional: str  # the prefix as a Big5 (traditional) page writes it


PROVINCES: tuple[Prov, ...] = (
    Prov("11", "京", "京", None, ("110105", "110108", "110102"), "京"),
    Prov("12", "津", "津", None, ("120101", "120104"), "津"),
    Prov("13", "冀", "冀", None, ("130102", "130104"), "冀"),
    Prov("14", "晋", "晋", None, ("140105", "140110"), "晉"),
    Prov("15", "蒙", "蒙", None, ("150102", "150105"), "蒙"),
    Prov("21", "辽", "辽", None, ("210102", "210281"), "遼"),
    Prov("22", "吉", "吉", None, ("220102", "220104"), "吉"),
    Prov("23", "黑", "黑", None, ("230102", "230103"), "黑"),
    Prov("31", "沪", "沪", None, ("310115", "310104", "310110"), "滬"),
    Prov("32", "苏", "苏", None, ("320114", "320106", "320505"), "蘇"),
    Prov("33", "浙", "浙", None, ("330106", "330108", "330602"), "浙"),
    Prov("34", "皖", "皖", None, ("340104", "340111"), "皖"),
    Prov("35", "闽", "闽", None, ("350102", "350203"), "閩"),
    Prov("36", "赣", "赣", None, ("360102", "360111"), "贛"),
    Prov("37", "鲁", "鲁", None, ("370102", "370281", "370212"), "魯"),
    Prov("41", "豫", "豫", None, ("410105", "410197"), "豫"),
    Prov("42", "鄂", "鄂", None, ("420106", "420111"), "鄂"),
    Prov("43", "湘", "湘", None, ("430111", "430104"), "湘"),
    Prov("44", "粤", "粤", None, ("440305", "440106", "440606"), "粵"),
    Prov("45", "桂", "桂", None, ("450103", "450107"), "桂"),
    Prov("46", "琼", "琼", None, ("460106", "460108"), "瓊"),
    Prov("50", "渝", "渝", None, ("500103", "500108"), "渝"),
    Prov("51", "蜀", "川", "川", ("510105", "510107", "510190"), "蜀"),
    Prov("52", "黔", "贵", "贵", ("520102", "520115"), "黔"),
    Prov("53", "滇", "滇", "云", ("530102", "530111"), "滇"),
    Prov("54", "藏", "藏", None, ("540102",), "藏"),
    Prov("61", "陕", "陕", "秦", ("610113", "610104"), "陝"),
    Prov("62", "陇", "甘", "甘", ("620102", "620103"), "隴"),
    Prov("63", "青", "青", None, ("630102", "630104"), "青"),
    Prov("64", "宁", "宁", None, ("640104", "640106"), "寧"),
    Prov("65", "新", "新", None, ("650102", "650104"), "新"),
)
PROV_BY_CODE = {p.code: p for p in PROVINCES}
SPLIT_PROVINCES = ("51", "52", "62")  # ICP and PSB prefixes differ: 蜀/川, 黔/贵, 陇/甘
ALT_PROVINCES = tuple(p.code for p in PROVINCES if p.alt)  # 川 贵 云 秦 甘

CURRENT_YEAR = 2026  # the sandbox's "today"; future-year numbers start well after it


@dataclass(frozen=True)
class Num:
    """A number as a correct extractor must report it (canonical text and verdict)."""

    kind: NumberKind
    number: str
    valid: bool
    placeholder: bool = False
    problems: tuple[str, ...] = ()
    site_index: str | None = None
    # the parts :func:`render` recombines: prefix char, middle ("ICP备", "B2-", ...), digits
    prefix: str = ""
    middle: str = ""
    digits: str = ""
    suffix: str = ""  # text after the number that normalisation drops: "(全网)", "号"


def icp_filing(
    prov: Prov,
    digits: str,
    index: str | None = None,
    *,
    prefix: str | None = None,
    valid: bool = True,
    placeholder: bool = False,
    problems: tuple[str, ...] = (),
) -> Num:
    pre = prefix or prov.icp
    if pre == prov.alt and "nonstandard_prefix" not in problems:
        problems = (*problems, "nonstandard_prefix")
    number = f"{pre}ICP备{digits}号" + (f"-{index}" if index else "")
    return Num(
        NumberKind.ICP_FILING, number, valid, placeholder, problems, index, pre, "ICP备", digits
    )


def icp_licence(prov: Prov, digits: str, index: str | None = None) -> Num:
    number = f"{prov.icp}ICP证{digits}号" + (f"-{index}" if index else "")
    return Num(NumberKind.ICP_LICENCE, number, True, False, (), index, prov.icp, "ICP证", digits)


def telecom(prefix: str, categories: str, digits: str, index: str | None = None,
            suffix: str = "") -> Num:  # fmt: skip
    number = f"{prefix}{categories}-{digits}" + (f"-{index}" if index else "")
    return Num(
        NumberKind.TELECOM_LICENCE, number, True, False, (), index, prefix, categories, digits,
        suffix,
    )  # fmt: skip


def psb(
    prefix: str,
    digits: str,
    *,
    valid: bool = True,
    placeholder: bool = False,
    problems: tuple[str, ...] = (),
) -> Num:
    return Num(
        NumberKind.PSB_FILING, f"{prefix}公网安备{digits}号", valid, placeholder, problems,
        None, prefix, "公网安备", digits,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Making numbers for one site. ``serial`` is unique per site so generated website numbers never
# collide by accident (a shared -N number is always a planned one).


def filing_digits(rng: random.Random, serial: int, era: int) -> str:
    """8-digit ``YY``+6 (2005–2021) or 10-digit ``YYYY``+6 (2020–current)."""
    six = f"{serial % 1_000_000:06d}"
    if era == 8:
        return f"{rng.randint(5, 21):02d}{six}"
    return f"{rng.randint(2020, CURRENT_YEAR)}{six}"


def psb_digits(rng: random.Random, division: str, serial: int, length: int = 14) -> str:
    if length == 14:
        return f"{division}{rng.choice(('02', '02', '02', '00'))}{serial % 1_000_000:06d}"
    if length == 12:  # old form: division + 6-digit serial (京公网安备110105008661号)
        return f"{division}{serial % 1_000_000:06d}"
    if length == 15:  # old form seen on university sites (140110430070001)
        return f"{division}{rng.randint(100, 999)}{serial % 1_000_000:06d}"
    raise ValueError(length)


# Template and example numbers sites leave in (ICP-DOMAIN §6.2), with their canonical form.
def placeholder_numbers() -> tuple[Num, ...]:
    p = PROV_BY_CODE
    ph = functools.partial(icp_filing, placeholder=True, valid=False)
    return (
        ph(p["11"], "12345678"),
        ph(p["53"], "12345678", "1"),
        ph(p["11"], "00000000"),
        ph(p["61"], "00000000", prefix="秦"),
        ph(p["52"], "66666666", prefix="贵"),
        ph(p["11"], "2024000000"),
        ph(p["11"], "2024000001"),
        ph(p["11"], "0000000000", "1"),
        ph(p["53"], "12345678", prefix="云"),
        ph(p["11"], "XXXXXXXX"),
        ph(p["44"], "21XXXXXX"),
        psb("京", "11010802012345", placeholder=True, valid=False),
        psb("京", "XXXXXXXXXXXXXX", placeholder=True, valid=False),
    )


def invalid_numbers(rng: random.Random) -> tuple[tuple[str, Num], ...]:
    """Malformed numbers (not placeholders): (exercise tag, number)."""
    p = PROVINCES[rng.randrange(len(PROVINCES))]
    bad = functools.partial(icp_filing, valid=False)

    def digits(n: int) -> str:
        # no runs, no repeats: these must read as typos, not templates
        first = str(rng.choice((1, 2, 7)))
        rest = "".join(str(rng.choice((3, 5, 9, 4, 8, 0))) for _ in range(n - 1))
        return first + rest

    return (
        ("invalid_6_digits", bad(p, digits(6), problems=("digit_count",))),
        ("invalid_7_digits", bad(p, digits(7), problems=("digit_count",))),
        ("invalid_9_digits", bad(p, digits(9), "1", problems=("digit_count",))),
        ("invalid_11_digits", bad(p, digits(11), problems=("digit_count",))),
        (
            "invalid_future_year",
            bad(
                p,
                f"{rng.randint(2031, 2039)}{rng.randint(0, 999_999):06d}",
                "1",
                problems=("future_year",),
                placeholder=True,  # a year not yet reached is made up (ICP-DOMAIN §6.2)
            ),
        ),
        (
            "invalid_unknown_prefix",
            bad(
                p,
                f"{rng.randint(2020, 2025)}{rng.randint(0, 999_999):06d}",
                prefix=rng.choice("港澳台"),
                problems=("unknown_prefix",),
            ),
        ),
        (
            "psb_invalid_digits",
            psb(p.psb, digits(rng.choice((10, 11, 17))), valid=False, problems=("digit_count",)),
        ),
    )


# Non-MIIT look-alikes (ICP-DOMAIN §2.4): must never be reported. Text as written.
LOOKALIKES: tuple[str, ...] = (
    "萌ICP备20250577号",
    "沪交ICP备20190085号",
    "云教ICP备1206028",
    "星云ICP备20230419号",
    "厚溥ICP备20180723号-2",
)

# Famous real numbers quoted as examples in tutorials (own = false on those pages).
TUTORIAL_EXAMPLES: tuple[Num, ...] = (
    icp_licence(PROV_BY_CODE["11"], "030173"),
    telecom("粤", "B2", "20090059"),
    icp_filing(PROV_BY_CODE["44"], "2020079967", "2"),
    icp_filing(PROV_BY_CODE["51"], "08104443", "6"),
    # Baidu's own PSB number: data/demo_numbers.csv lists it as a theme's example, so anywhere
    # but baidu.com it is judged a placeholder (a copied example), as here.
    psb("京", "11000002000001", placeholder=True, valid=False),
    psb("粤", "44030502008569"),
)

# ---------------------------------------------------------------------------------------------
# Rendering one occurrence. Styles are the §6.1 variants; every style yields text a correct
# extractor normalises back to ``Num.number``.

ICP_STYLES = (
    "plain",
    "spaced",  # 赣 ICP 备 10005041 号
    "spaced_suffix",  # 沪 ICP 备 19010127 号 - 2
    "space_before_index",  # 粤ICP备 10072756号 -1
    "fullwidth",  # 粤ＩＣＰ备１４０２３０６６号－１
    "fullwidth_letters",  # 粤ＩＣＰ备14023066号-1
    "no_hao",  # 陇ICP备 05000593 / 京ICP备11111111-1
    "index_before_hao",  # 滇ICP备09010050-5号
    "lowercase",  # 京icp备...
    "split_tags",  # <span>京ICP备</span><span>2021012345</span>号-1
    "entities",  # 京ICP&#22791;2021012345&#21495;-1
    "nbsp",  # 京ICP备&nbsp;2021012345&nbsp;号-1
)
PSB_STYLES = ("plain", "spaced", "swapped", "label_hao", "no_prefix", "spaced_digits")
TELECOM_STYLES = ("plain", "with_hao", "quanwang", "spaced")

_FW = str.maketrans("0123456789-ICP", "０１２３４５６７８９－ＩＣＰ")
_FW_LETTERS = str.maketrans("ICP", "ＩＣＰ")


def render(num: Num, style: str = "plain", *, traditional: bool = False) -> str:
    """HTML text for one occurrence of ``num`` (already escaped where needed)."""
    if num.kind in (NumberKind.ICP_FILING, NumberKind.ICP_LICENCE):
        return _render_icp(num, style, traditional)
    if num.kind is NumberKind.PSB_FILING:
        return _render_psb(num, style, traditional)
    return _render_telecom(num, style)


def _render_icp(num: Num, style: str, traditional: bool) -> str:
    pre, mid, dig, idx = num.prefix, num.middle, num.digits, num.site_index
    bei, hao = mid[-1], "号"
    if traditional:
        pre = _traditional_prefix(pre)
        bei = {"备": "備", "证": "證"}[bei]
        hao = "號"
    index = f"-{idx}" if idx else ""
    if style == "spaced":
        return f"{pre} ICP {bei} {dig} {hao}" + (f" - {idx}" if idx else "")
    if style == "spaced_suffix" and idx:
        return f"{pre} ICP {bei} {dig} {hao} - {idx}"
    if style == "space_before_index" and idx:
        return f"{pre}ICP{bei} {dig}{hao} -{idx}"
    if style == "fullwidth":
        return f"{pre}ICP{bei}{dig}{hao}{index}".translate(_FW)
    if style == "fullwidth_letters":
        return f"{pre}ICP{bei}{dig}{hao}{index}".translate(_FW_LETTERS)
    if style == "no_hao":
        return f"{pre}ICP{bei} {dig}{index}"
    if style == "index_before_hao" and idx:
        return f"{pre}ICP{bei}{dig}-{idx}{hao}"
    if style == "lowercase":
        return f"{pre}icp{bei}{dig}{hao}{index}"
    if style == "split_tags":
        tail = f"<span>{hao}{index}</span>"
        return f'<span class="p">{pre}ICP{bei}</span><span class="n">{dig}</span>{tail}'
    if style == "entities":
        return f"{pre}ICP&#{ord(bei)};{dig}&#{ord(hao)};{index}"
    if style == "nbsp":
        return f"{pre}ICP{bei}&nbsp;{dig}&nbsp;{hao}{index}"
    return f"{pre}ICP{bei}{dig}{hao}{index}"


_TRAD = {p.icp: p.traditional for p in PROVINCES} | {p.psb: p.traditional for p in PROVINCES}
_TRAD.update({"川": "川", "贵": "貴", "甘": "甘", "云": "雲", "秦": "秦"})


def _traditional_prefix(prefix: str) -> str:
    return _TRAD.get(prefix, prefix)


def _render_psb(num: Num, style: str, traditional: bool) -> str:
    pre, dig = num.prefix, num.digits
    word, hao = "公网安备", "号"
    if traditional:
        pre, word, hao = _traditional_prefix(pre), "公網安備", "號"
    if style == "spaced":
        return f"{pre}{word} {dig}{hao}"
    if style == "spaced_digits":
        return f"{pre}{word} {dig} {hao}"
    if style == "swapped":
        return f"{pre}{'公安網備' if traditional else '公安网备'}{dig}{hao}"
    if style == "label_hao":
        return f"{pre}{word}号：{dig}" if not traditional else f"{pre}{word}號：{dig}"
    if style == "no_prefix":
        return f"公安机关备案号：{dig}" if not traditional else f"公安機關備案號：{dig}"
    return f"{pre}{word}{dig}{hao}"


def _render_telecom(num: Num, style: str) -> str:
    index = f"-{num.site_index}" if num.site_index else ""
    base = f"{num.prefix}{num.middle}-{num.digits}{index}"
    if num.suffix == "(全网)" or style == "quanwang":
        return base + "(全网)"
    if style == "with_hao":
        return base + "号"
    if style == "spaced":
        return f"{num.prefix}{num.middle} - {num.digits}{index}"
    return base


# Labels a footer puts before a number (ICP-DOMAIN §6.1 #9, #15, #36-#41).
ICP_LABELS = (
    "",
    "",
    "备案号：",
    "ICP备案号：",
    "网站备案：",
    "ICP备案/许可证号：",
    "中华人民共和国网站备案号：",
    "信息产业部备案号：",
    "国家信息产业部",
    "ICP证：",  # label/number mismatch: a 备 number under a 证 label
)
LICENCE_LABELS = ("", "增值电信业务经营许可证：", "经营许可证编号：", "ICP证：")
# Always labelled: an unlabelled "A2.B1.B2-…" right after "…号-1" reads as the App suffix "-1A".
TELECOM_LABELS = ("增值电信业务经营许可证：", "经营许可证编号：", "ICP备案/许可证号：")

MIIT_LINKS = (
    "https://beian.miit.gov.cn/",
    "https://beian.miit.gov.cn/#/Integrated/index",
    "http://beian.miit.gov.cn/",
    "https://beian.miit.gov.cn/#/Integrated/recordQuery",
)
STALE_MIIT_LINKS = ("http://www.miibeian.gov.cn/", "http://www.miitbeian.gov.cn/")


def psb_link(num: Num, new_platform: bool) -> str:
    if new_platform:
        return f"https://beian.mps.gov.cn/#/query/webSearch?code={num.digits}"
    return f"http://www.beian.gov.cn/portal/registerSystemInfo?recordcode={num.digits}"


def link(href: str, inner: str) -> str:
    return f'<a href="{html.escape(href)}" target="_blank" rel="noreferrer">{inner}</a>'
