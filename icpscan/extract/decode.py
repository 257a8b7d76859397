"""Bytes -> text for Chinese pages, where declarations are often wrong.

Order: byte-order mark, then the declarations (an HTTP-style hint, then ``<meta charset>``),
then detection. Unlike a browser, a declaration is not trusted blindly: a GBK page served as
``charset=utf-8`` or ``iso-8859-1`` (common, see ENGINEERING-NOTES §7) would decode into
mojibake and hide every number. A declaration loses when the bytes prove otherwise:

* bytes that are valid UTF-8 (and not plain ASCII) are UTF-8, whatever was declared;
* a declared legacy encoding that fails to decode, or decodes into text with far fewer common
  Chinese characters than another candidate, loses to that candidate.

gb2312/gbk and their aliases decode as gb18030 (a strict superset: pages labelled gb2312
routinely contain GBK-only characters), Big5 as big5hkscs, latin-1 as cp1252 (WHATWG rules).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_META_RE = re.compile(
    rb"""<meta[^>]{0,300}?charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]{1,40})""", re.IGNORECASE
)
_XML_RE = re.compile(rb"""^<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:\-]{1,40})""")

# label -> codec used to decode (WHATWG-style supersets)
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "gb18030": "gb18030",
    "hz": "gb18030",
    "big5": "big5hkscs",
    "cp950": "big5hkscs",
    "big5hkscs": "big5hkscs",
    "latin_1": "cp1252",
    "ascii": "cp1252",
    "iso8859_1": "cp1252",
    "cp1252": "cp1252",
    "utf_8": "utf-8",
    "utf_16": "utf-8",  # a <meta> cannot honestly declare UTF-16 (WHATWG: treat as UTF-8)
    "utf_16_le": "utf-8",
    "utf_16_be": "utf-8",
}
# Python codecs that are no web page encoding: they fail on arbitrary bytes (undefined, idna,
# punycode), turn text into code (the escapes; UTF-7, which browsers refuse for XSS), or are
# not in the WHATWG Encoding Standard (UTF-32: only its BOM is honoured). Bytes-to-bytes codecs
# (zlib, base64, hex, rot13...) are refused by their codec info.
_NOT_PAGE_CODECS = frozenset(
    {
        "undefined", "idna", "punycode", "unicode_escape", "raw_unicode_escape", "utf_7",
        "escape", "utf_32", "utf_32_le", "utf_32_be",
    }
)  # fmt: skip

# Labels Python does not know but pages use.
_ALIASES = {
    "x-gbk": "gbk",
    "gb_2312-80": "gb2312",
    "gb_2312": "gb2312",
    "csgb2312": "gb2312",
    "euc-cn": "gb2312",
    "x-euc-cn": "gb2312",
    "chinese": "gb2312",
    "iso-ir-58": "gb2312",
    "x-x-big5": "big5",
    "big5-hkscs": "big5hkscs",
    "cn-big5": "big5",
    "csbig5": "big5",
    "unicode-1-1-utf-8": "utf-8",
    "utf8": "utf-8",
    "x-sjis": "shift_jis",
}

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# The most frequent characters of Chinese web text, Simplified and Traditional. Correctly
# decoded Chinese is dense in them; GBK read as Big5 (or the reverse) and mojibake are not.
_COMMON = (
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后"
    "作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心本前开但因只从"
    "想实日者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应向头文体"
    "政美相见被利什二等产或新己制身果加西月话合回特代内信表化老给世位次度门任常先海通教原东声提立及比员"
    "解水名真论处走义各入几口认条平系气题活更别打女变四神总何电数安少报才结反受目太量再感建务做接必场件"
    "计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光放强即像难且权思王"
    "象完设式色路记南品住告类求据程北边张该交规万取拉格望觉术领共确传师观清今切院让识候带导争运笑飞风步"
    "改收根干造言联持组每济车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵"
    "连调深商算质团集百需价花党华城石级整府离况亚请技际约示复病息究线似官火断精满支视消越器容照须九增研"
    "写称企八功吗包片史委乎查轻易早曾除农找装广显吧阿李标谈吃图念六引历首医局突专费号尽另周较注语仅考落"
    "青随选列武红响虽推势参希古众构房半节土投某案黑维革划敌致陈律足态护七兴派孩验责营星够章音跟志底站严"
    "巴例防族供效续施留讲型料终答紧黄绝奇察母京段依批群项故按河米围江织害斗双境客纪采举杀攻父苏密低朝友"
    "诉止细愿千值仍男钱破网热助倒育属坐帝限船脸职速刻乐否刚威毛状率甚独球般普怕弹校苦创假久错承印晚兰试"
    "股拿脑预谁益阳若哪微尼继送急血惊伤素药适波夜省初喜卫源食险待述陆习置居劳财环排福纳欢雷警获模充负云"
    "們這個來說時會對為國發後與從當無於還點實頭體現員種關動問間開長經裡過樣兩聽說學見區機業東電對應務"
    "產報導網設資訊號碼區處總價買車廣應聯繫歷檔畫號臺灣華書館師傳萬麼讓認識邊場將華員條張幾愛"
)
_COMMON_RE = re.compile("[" + _COMMON + "]")
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
_HIGH_BYTE_RE = re.compile(rb"[\x80-\xff]")
_SAMPLE_BYTES = 4096


@dataclass(frozen=True)
class Decoded:
    """Text and how it was obtained."""

    text: str
    encoding: str  # the codec used, e.g. "utf-8", "gb18030", "big5hkscs", "cp1252"
    declared: str | None  # the first declaration that was present (hint, else meta), normalised
    source: str  # "text" | "bom" | "declared" | "detected"
    declaration_lied: bool  # a present declaration was overruled by the bytes


def normalise_label(label: str | None) -> str | None:
    """A charset label -> the codec icpscan decodes it with, or None if unknown."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    key = _ALIASES.get(key, key)
    try:
        info = codecs.lookup(key)
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return None
    name = info.name.replace("-", "_")
    if not getattr(info, "_is_text_encoding", True) or name in _NOT_PAGE_CODECS:
        return None  # a page may say charset=zlib: only encodings a browser offers count
    return _SUPERSETS.get(name, name.replace("_", "-"))


def sniff_meta(data: bytes) -> str | None:
    """The charset a page declares in its first 4 KB (``<meta>`` or XML declaration)."""
    head = data[:4096]
    match = _XML_RE.match(head) or _META_RE.search(head)
    return match.group(1).decode("ascii") if match else None


def _common_ratio(text: str) -> float:
    """Share of non-ASCII characters that are common Chinese characters (0..1)."""
    non_ascii = len(_NON_ASCII_RE.findall(text))
    if non_ascii == 0:
        return 1.0
    return len(_COMMON_RE.findall(text)) / non_ascii


def _try(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _lenient(data: bytes, codec: str) -> tuple[str, float]:
    """Decode with replacement; the share of replaced characters among non-ASCII ones."""
    text = data.decode(codec, errors="replace")
    bad = text.count("\ufffd")
    non_ascii = len(_NON_ASCII_RE.findall(text[: _SAMPLE_BYTES * 2])) or 1
    return text, bad / max(non_ascii, bad)


def _sample(data: bytes) -> bytes:
    """A slice to judge an encoding by: the first 16 KB that contain non-ASCII bytes."""
    hit = _HIGH_BYTE_RE.search(data)
    first = hit.start() if hit else 0
    chunk = data[max(0, first - 16) : first + _SAMPLE_BYTES]
    # Do not cut a multi-byte character in half at the end.
    while chunk and chunk[-1] >= 0x80:
        chunk = chunk[:-1]
    return chunk


def _score(data: bytes, codec: str) -> float:
    """How Chinese-plausible ``data`` reads in ``codec`` (-1 when it does not decode)."""
    text = _try(_sample(data), codec)
    return -1.0 if text is None else _common_ratio(text)


def decode(data: bytes, hint: str | None = None) -> Decoded:
    """Decode page bytes; ``hint`` is an HTTP Content-Type charset or a user's ``--encoding``."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text = data[len(bom) :].decode(codec, errors="replace")
            return Decoded(text, codec, normalise_label(hint), "bom", False)

    declared = [c for c in (normalise_label(hint), normalise_label(sniff_meta(data))) if c]
    first_declared = declared[0] if declared else None

    if data.isascii():
        codec = first_declared if first_declared and _try(b"a", first_declared) == "a" else "utf-8"
        return Decoded(data.decode("ascii"), codec, first_declared, "declared", False)

    utf8 = _utf8(data)
    if utf8 is not None:
        lied = first_declared not in (None, "utf-8")
        return Decoded(utf8, "utf-8", first_declared, "declared" if not lied else "detected", lied)

    candidates = [c for c in dict.fromkeys(declared) if c != "utf-8"]
    for codec in candidates:
        verdict = _judge_declared(data, codec)
        if verdict is not None:
            return Decoded(verdict, codec, first_declared, "declared", codec != first_declared)

    text, codec = _detect(data)
    return Decoded(text, codec, first_declared, "detected", first_declared is not None)


def _utf8(data: bytes) -> str | None:
    """The page as UTF-8 if the bytes are UTF-8, tolerating a cut-off end or a stray byte.

    GBK/Big5 bytes fail as UTF-8 at their very first Chinese character, so a failure *after*
    some multi-byte UTF-8 characters decoded cleanly means a damaged UTF-8 page, not GBK.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        truncated = exc.start >= len(data) - 3 and exc.reason == "unexpected end of data"
        if not truncated and data[: exc.start].isascii():
            return None
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    return text if bad <= max(3, len(text) // 1000) else None


def _judge_declared(data: bytes, codec: str) -> str | None:
    """The text if ``codec`` is believable for ``data``, else None."""
    score = _score(data, codec)
    if score < 0:
        # A truncated page or a stray byte makes strict decoding fail; a handful of bad
        # characters in an otherwise clean decode is still the right encoding.
        text, bad = _lenient(data, codec)
        if bad > 0.01:
            return None
        score = _common_ratio(text[:_SAMPLE_BYTES])
    else:
        text = ""
    if score < 0.25:
        # Weak: does another Chinese encoding read much better?
        for other in ("gb18030", "big5hkscs"):
            if other != codec and _score(data, other) > score + 0.2:
                return None
    if not text:
        text = _try(data, codec) or data.decode(codec, errors="replace")
    return text


def _detect(data: bytes) -> tuple[str, str]:
    """No usable declaration: pick the Chinese encoding that reads best, else cp1252."""
    scored = sorted(
        ((_score(data, codec), codec) for codec in ("gb18030", "big5hkscs")), reverse=True
    )
    best_score, best = scored[0]
    if best_score >= 0.1:
        return data.decode(best, errors="replace"), best
    for codec in ("gb18030", "big5hkscs"):
        text, bad = _lenient(data, codec)
        if bad <= 0.01 and _common_ratio(text[:_SAMPLE_BYTES]) >= 0.1:
            return text, codec
    try:
        from charset_normalizer import from_bytes  # slow; only for pages nothing else reads

        match = from_bytes(data[:65536]).best()
        if match is not None and match.encoding:
            codec = normalise_label(match.encoding) or match.encoding
            return data.decode(codec, errors="replace"), codec
    except (ImportError, LookupError):  # pragma: no cover - charset_normalizer is a Scrapy dep
        pass
    return data.decode("utf-8", errors="replace"), "utf-8"
