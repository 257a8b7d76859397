"""HTML-aware extraction: where each number sits, what links it, whether it is the site's own.

Cost model (the scan's budget is well under 1 ms of CPU per page):

1. One literal search per anchor word (``ICP``, ``公安``, ``网安``, ``B2-``, ``beian``...)
   over the decoded page. ``re`` scans for a literal prefix in C, so a 60 KB page costs
   ~0.02 ms per word; pages without anchors stop here.
2. Each anchor that could start a number opens a window of a few KB around it; overlapping
   windows merge. Only windows are tokenised, by a small tag scanner that tracks the enclosing
   ``<a>``, footer-like elements, ``<script>`` and comments. Text split across inline tags is
   joined; block tags leave a newline barrier the number patterns never cross.
3. The number patterns (:mod:`icpscan.extract.numbers`) run on the window text only.

Hostile pages: every scan is linear (``str.find`` loops, bounded gaps in patterns). Work is
capped: at most :data:`MAX_PAGE_CHARS` characters are read (the head and the tail, where footers
are), and at most :data:`MAX_ANCHORS` anchors (the first and the last half) open windows.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from icpscan.extract import numbers, provinces
from icpscan.extract.numbers import Candidate, Judgement
from icpscan.models import ICP_KINDS, FoundNumber, Location, NumberKind

MAX_PAGE_CHARS = 4_000_000
"""Pages longer than this are read as their first 3 M and last 1 M characters."""
MAX_ANCHORS = 4000
"""More anchors than this (a hostile or generated page): keep the first and last half."""

_WINDOW_BEFORE = 400
_WINDOW_AFTER = 600
_LOOKBACK = 8000  # text before a window searched for its enclosing link / footer elements
_TAIL_SHARE = 0.2  # without footer markup, the last 20% of the body (scripts excluded) ...
_TAIL_MIN_CHARS = 160  # ... or its last 160 characters of markup, whichever is longer

# After "B2"/"B1": a dash and a year (or XX), possibly spaced or full-width.
# Spaces, &nbsp; or inline tags; each space run sits between two other items, so the pattern
# cannot split one run in many ways (no backtracking blow-up on long runs of spaces).
_GAP = r"[\s\u3000]{0,8}(?:(?:&nbsp;|<[^<>]{0,100}>)[\s\u3000]{0,8}){0,4}"
_VATS_CHECK = rf"{_GAP}[-－—–‐]{_GAP}(?:[12１２][09０９]|[XxＸｘ]{{2}})"

# Anchor words, each found by its own literal search: ``re`` scans for a literal prefix at
# ~0.3 ns per character, while any alternation or character class costs 2-6 ns per character
# (measured on 64 K-character CJK pages; ENGINEERING-NOTES §7). The check says what must follow
# an anchor for it to matter (news text says 公安 a lot).
_DIGIT_SOON = r"[\s\S]{0,60}?[0-9０-９]"
_AFTER_GONGAN = (
    r"(?:\s|&nbsp;){0,3}(?:[网網][备備]|[备備]案|机关[备備]|機關[备備]|联网[备備]|聯網[备備]|"
    r"局[^<>\n]{0,12}?[备備]案)"
)


_TEMPLATE_NAME = r"[^{}<>\n]{0,40}?(?i:icp|beian|gongan|psb|police)"


@dataclass(frozen=True)
class _Anchor:
    """A literal whose presence may start a number nearby."""

    pattern: re.Pattern[str]
    before: str = ""  # the character before the literal must be one of these ("" = any)
    after: re.Pattern[str] | None = None  # what must follow the literal
    only_if: str = ""  # skip the scan when this character is not on the page at all


def _anchor(
    literal: str,
    before: str = "",
    after: str | None = None,
    only_if: str = "",
    *,
    pattern: str | None = None,
) -> _Anchor:
    # escaped: "${" and "{$" as patterns are an end-of-string anchor that never matches.
    # ``pattern``: a literal prefix then a short class, still one fast literal scan.
    return _Anchor(
        re.compile(pattern or re.escape(literal)),
        before,
        re.compile(after) if after else None,
        only_if,
    )


_ANCHORS = (
    _anchor("CP", before="Iiｉ"),  # ICP, iCP
    _anchor("cp", before="Ii"),  # icp, Icp
    _anchor("B1/B2", after=_VATS_CHECK, pattern="B[12]"),
    _anchor("b2", after=_VATS_CHECK),
    _anchor("beian", after=r"[^<>]{0,250}?[Cc][Oo][Dd][Ee]="),
    _anchor("安", before="公网網", after=r"(?:\s|&nbsp;){0,3}[备備]|" + _AFTER_GONGAN),
    _anchor("案", before="备備", after=r"(?:[号號]|[编編][号號])" + _DIGIT_SOON),
    # Unrendered template variables named after the number: {{ site.icp }}, {$cfg_beian}.
    _anchor("{{ or {$", after=_TEMPLATE_NAME, pattern=r"\{[{$]"),
    _anchor("${", after=_TEMPLATE_NAME),
    # 安 written as a numeric entity (公网安备 hidden from scrapers); windows decode entities.
    _anchor("&#23433; &#x5b89;", pattern=r"&#(?:23433|[xX]5[bB]89);"),
    _anchor("ＩＣＰ", only_if="Ｃ"),
    _anchor("ｉｃｐ", only_if="ｃ"),
    _anchor("Ｂ２", after=_VATS_CHECK, only_if="Ｂ"),
)

_A_TAG_RE = re.compile(r"<(/?)[aA](?=[\s>])")
# Literal searches: a case-insensitive alternation costs ~50 ns per character.
_FOOTER_HINTS = tuple(
    re.compile(word)
    for word in (
        "foot",
        "Foot",
        "FOOT",
        "copyright",
        "Copyright",
        "beian",
        "icp",
        "bottom",
        "contentinfo",
    )
)
_ELEMENT_PATTERNS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {}


def _element_patterns(name: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns for the opening and closing tags of one element name (any case)."""
    if name not in _ELEMENT_PATTERNS:
        escaped = re.escape(name)
        _ELEMENT_PATTERNS[name] = (
            re.compile(rf"<(?i:{escaped})[\s>/]"),
            re.compile(rf"</(?i:{escaped})\s*>"),
        )
    return _ELEMENT_PATTERNS[name]


_OPAQUE_START_RE = re.compile(r"<!--|<(?i:script|style)\b")
_SCRIPT_END_RE = re.compile(r"</(?i:script)\s*>")
_STYLE_END_RE = re.compile(r"</(?i:style)\s*>")
_EMBEDDED_TAG_RE = re.compile(
    r"</?(?i:a|span|p|div|br|img|b|i|em|strong|font|footer|li|ul|ol|small|label|section|center"
    r"|td|tr|table|h[1-6])(?=[\s/>])[^<>]{0,300}>"
)
_TAG_NAME_RE = re.compile(r"/?\s*([A-Za-z][A-Za-z0-9:-]*)")
# The look-behind starts a name only at the start of a run of name characters: without it, a
# tag of 40 KB of letters with no "=" cost 20 s (every position re-read the rest of the run).
_ATTR_RE = re.compile(
    r"""(?<![-A-Za-z0-9_:.])([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"""
)
_CLASS_ID_RE = re.compile(r"""\b(?:class|id)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_JS_ESCAPE_RE = re.compile(r"\\u([0-9a-fA-F]{4})")
_MULTISPACE_RE = re.compile(r"  +")
_BARRIER_RE = re.compile(r"\n")
_NUMERIC_ENTITY_RE = re.compile(r"&#(?:[xX]([0-9a-fA-F]{2,6})|([0-9]{3,7}));")
_BODY_RE = re.compile(r"<(?i:body)\b")
_TITLE_RE = re.compile(r"<(?i:title)\b[^>]{0,500}>([^<]{0,2000})")
_HAS_TAG_RE = re.compile(r"<(?:[A-Za-z][A-Za-z0-9]{0,20}[\s>/]|!--)")
_PSB_CODE_RE = re.compile(r"(?i:recordcode|code)=([0-9]{6,20})")
_HOST_RE = re.compile(r"^(?:[a-z][a-z0-9+.\-]*:)?//([^/?#\s'\"\\]+)")
_EMBEDDED_URL_RE = re.compile(r"https?://([^/?#\s'\"\\)]+)")
_ANCHOR_IN_TAG_RE = re.compile(r"ICP|icp|Icp|ＩＣＰ|公安|网安|網安|B2|备案|備案")

_INLINE_TAGS = frozenset(
    [
        "a",
        "abbr",
        "acronym",
        "b",
        "bdi",
        "bdo",
        "big",
        "cite",
        "code",
        "data",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "img",
        "ins",
        "kbd",
        "label",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "time",
        "tt",
        "u",
        "var",
        "wbr",
        "nobr",
    ]
)
_CONTAINER_TAGS = frozenset(
    [
        "footer",
        "div",
        "section",
        "p",
        "ul",
        "ol",
        "li",
        "td",
        "tr",
        "table",
        "tbody",
        "span",
        "center",
        "dl",
        "dd",
        "dt",
        "nav",
        "aside",
        "font",
        "small",
        "address",
        "article",
        "header",
    ]
)
_VOID_TAGS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    ]
)
_TEXT_ATTRIBUTES = frozenset({"alt", "title", "content", "value", "aria-label", "placeholder"})
_FOOTER_WORDS = ("foot", "copyright", "beian", "icp")
_UTILITY_PREFIXES = ("border", "margin", "padding", "rounded", "inset", "scroll", "mb-", "pb-")

MIIT_HOSTS = frozenset({"beian.miit.gov.cn", "www.beian.miit.gov.cn"})
OLD_MIIT_HOSTS = frozenset(
    {"miibeian.gov.cn", "www.miibeian.gov.cn", "miitbeian.gov.cn", "www.miitbeian.gov.cn"}
)
PSB_HOSTS = frozenset(
    {"beian.gov.cn", "www.beian.gov.cn", "beian.mps.gov.cn", "www.beian.mps.gov.cn"}
)

_WS_TABLE = {ord(c): " " for c in "\n\r\t\x0b\x0c\xa0\u3000\u2028\u2029"} | {
    ord(c): None for c in numbers.ZERO_WIDTH
}

_LOCATION_RANK = {
    Location.FOOTER: 0,
    Location.BODY: 1,
    Location.SCRIPT: 2,
    Location.ATTRIBUTE: 3,
    Location.COMMENT: 4,
}


# --- links -------------------------------------------------------------------------------------


def href_host(href: str) -> str | None:
    """The host an href points to (also inside ``javascript:window.open('…')``)."""
    value = href.strip().lower()
    match = _HOST_RE.match(value)
    if match is None:
        embedded = _EMBEDDED_URL_RE.search(value)
        if embedded is not None:
            host = embedded.group(1)
        elif value and value[0].isalnum() and ":" not in value.split("/", 1)[0]:
            host = value.split("/", 1)[0]  # "beian.miit.gov.cn/" written without a scheme
        else:
            return None
    else:
        host = match.group(1)
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    return host or None


def _clean_href(value: str) -> str:
    """An attribute value as a URL: entities decoded, JavaScript escaping removed."""
    if "&" in value:
        value = html.unescape(value)
    return value.replace("\\/", "/").strip().strip("\\\"'").strip()


# --- tokenising one window ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Opaque:
    """A comment, script or style block: its content is not ordinary page text."""

    start: int  # '<' of the opener
    content_start: int
    content_end: int
    end: int  # after the closer (or the end of the page when unclosed)
    kind: str  # "comment" | "script" | "style"


@dataclass(frozen=True)
class _Segment:
    clean_start: int
    raw_start: int
    raw_end: int
    context: str  # "html" | "script" | "comment" | "attribute"
    href: str | None
    footer: bool


@dataclass
class _PsbLink:
    """An ``<a>`` to the public-security lookup carrying the number in its href."""

    raw_pos: int
    context: str
    href: str
    digits: str
    footer: bool
    text_start: int  # clean offsets of the link's content
    text_end: int = -1


@dataclass
class _OpenElement:
    name: str
    depth: int  # same-name elements opened inside it and not closed yet, plus itself


@dataclass
class _Window:
    parts: list[str] = field(default_factory=list)
    segments: list[_Segment] = field(default_factory=list)
    psb_links: list[_PsbLink] = field(default_factory=list)
    length: int = 0
    emitting: bool = False
    href: str | None = None
    link: _PsbLink | None = None
    footers: list[_OpenElement] = field(default_factory=list)  # footer-like, still open

    @property
    def in_footer(self) -> bool:
        return bool(self.footers)

    def barrier(self) -> None:
        if self.emitting and self.parts and self.parts[-1] != "\n":
            self.parts.append("\n")
            self.length += 1

    def text(self, raw: str, raw_start: int, context: str) -> None:
        if not self.emitting:
            return
        text = html.unescape(raw) if "&" in raw else raw
        if context == "script" and "\\u" in text:
            text = _JS_ESCAPE_RE.sub(_js_char, text)
        text = text.translate(_WS_TABLE)
        if "  " in text:
            text = _MULTISPACE_RE.sub(" ", text)
        if not text:
            return
        self.segments.append(
            _Segment(
                self.length, raw_start, raw_start + len(raw), context, self.href, self.in_footer
            )
        )
        self.parts.append(text)
        self.length += len(text)


def _js_char(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)  # no lone surrogates


def _is_footer_token(token: str) -> bool:
    token = token.lower()
    if "footnote" in token or "football" in token:
        return False
    if any(word in token for word in _FOOTER_WORDS):
        return True
    if "bottom" in token:
        return not token.startswith(_UTILITY_PREFIXES) and not token.startswith("bottom-")
    return False


def _is_footer_tag(name: str, tag: str) -> bool:
    if name == "footer":
        return True
    if name not in _CONTAINER_TAGS:
        return False
    low = tag.lower()
    if "contentinfo" in low:
        return True
    if not any(word in low for word in (*_FOOTER_WORDS, "bottom")):
        return False
    for match in _CLASS_ID_RE.finditer(tag):
        value = match.group(1) or match.group(2) or match.group(3) or ""
        if any(_is_footer_token(token) for token in value.split()):
            return True
    return False


class _Tokeniser:
    """Walks page text between two offsets, feeding a :class:`_Window`."""

    def __init__(self, page: str, opaque: list[_Opaque], base_url: str | None) -> None:
        self.page = page
        self.opaque = opaque
        self.opaque_starts = [o.start for o in opaque]
        self.base_url = base_url

    def window(self, start: int, end: int) -> _Window:
        win = _Window()
        start = self._tag_boundary(start)
        self._state_before(win, start)
        win.emitting = True
        self._walk(win, start, end)
        if win.link is not None and win.link.text_end < 0:
            win.link.text_end = win.length
        return win

    def _state_before(self, win: _Window, start: int) -> None:
        """The enclosing link and the open footer-like elements at ``start``.

        Found with a few searches over the text before the window instead of walking its
        tags: the last ``<a>``/``</a>``, and the tags around footer words (foot, copyright,
        beian, ...) whose element is still open (more openers than closers of its name since).
        """
        page = self.page
        lo = max(0, start - _LOOKBACK)
        last = None
        for last in _A_TAG_RE.finditer(page, lo, start):  # noqa: B007 - we want the last one
            pass
        if last is not None and not last.group(1):
            gt = page.find(">", last.end(), start)
            if gt >= 0:
                self._open_link(win, page[last.start() + 1 : gt], last.start(), "html")
        seen: set[int] = set()
        hints = [m for hint_re in _FOOTER_HINTS for m in hint_re.finditer(page, lo, start)]
        for hint in hints:
            lt = page.rfind("<", max(lo, hint.start() - 500), hint.start() + 1)
            if lt < 0 or lt in seen or page.rfind(">", lt, hint.start()) >= 0:
                continue
            seen.add(lt)
            gt = page.find(">", hint.end(), start)
            if gt < 0:
                continue
            tag = page[lt + 1 : gt]
            name_match = _TAG_NAME_RE.match(tag)
            if name_match is None or tag.startswith("/"):
                continue
            name = name_match.group(1).lower()
            if not _is_footer_tag(name, tag):
                continue
            opener, closer = _element_patterns(name)
            depth = 1 + len(opener.findall(page, gt, start)) - len(closer.findall(page, gt, start))
            if depth > 0:
                win.footers.append(_OpenElement(name, depth))

    def _tag_boundary(self, pos: int) -> int:
        """Move ``pos`` back to the '<' of a tag it falls inside (bounded look-back)."""
        lo = max(0, pos - 1000)
        lt = self.page.rfind("<", lo, pos)
        gt = self.page.rfind(">", lo, pos)
        return lt if lt > gt else pos

    def _walk(self, win: _Window, start: int, end: int) -> None:
        pos = start
        i = bisect.bisect_right(self.opaque_starts, start) - 1
        if i < 0 or self.opaque[i].end <= start:
            i += 1
        while pos < end:
            block = self.opaque[i] if i < len(self.opaque) else None
            if block is None or block.start >= end:
                self._html(win, pos, end, "html")
                return
            if block.start > pos:
                self._html(win, pos, block.start, "html")
            if block.kind != "style":
                lo = max(pos, block.content_start)
                hi = min(end, block.content_end)
                if lo < hi:
                    win.barrier()
                    self._html(win, lo, hi, block.kind)
                    win.barrier()
            pos = max(pos, block.end)
            i += 1

    def _html(self, win: _Window, start: int, end: int, context: str) -> None:
        page = self.page
        if context != "html":
            self._embedded(win, start, end, context)
            return
        i = start
        while i < end:
            lt = page.find("<", i, end)
            if lt < 0:
                win.text(page[i:end], i, context)
                return
            if lt > i:
                win.text(page[i:lt], i, context)
            nxt = page[lt + 1 : lt + 2]
            if not (nxt.isascii() and (nxt.isalpha() or nxt in "/!?")):
                win.text("<", lt, context)
                i = lt + 1
                continue
            gt = page.find(">", lt + 1, end)
            if gt < 0:
                return  # an unclosed tag swallows the rest, as in a browser
            self._tag(win, page[lt + 1 : gt], lt, context)
            i = gt + 1

    def _embedded(self, win: _Window, start: int, end: int, context: str) -> None:
        """Script or comment content: '<' is mostly an operator or prose there (a<b && c>d
        would swallow a JS string), so only markup written into the page counts as a tag."""
        page = self.page
        i = start
        for tag in _EMBEDDED_TAG_RE.finditer(page, start, end):
            if tag.start() > i:
                win.text(page[i : tag.start()], i, context)
            self._tag(win, page[tag.start() + 1 : tag.end() - 1], tag.start(), context)
            i = tag.end()
        if i < end:
            win.text(page[i:end], i, context)

    def _tag(self, win: _Window, tag: str, pos: int, context: str) -> None:
        match = _TAG_NAME_RE.match(tag)
        if match is None:
            return
        name = match.group(1).lower()
        closing = tag.startswith("/")
        if name == "a":
            if win.link is not None and win.link.text_end < 0:
                win.link.text_end = win.length
            win.link = None
            win.href = None
            if not closing:
                self._open_link(win, tag, pos, context)
        if name not in _INLINE_TAGS:
            win.barrier()
        if closing:
            self._close_footer(win, name)
        elif name not in _VOID_TAGS:
            self._open_footer(win, name, tag)
        if win.emitting and not closing and _ANCHOR_IN_TAG_RE.search(tag):
            self._attributes(win, tag, pos, context)

    def _open_link(self, win: _Window, tag: str, pos: int, context: str) -> None:
        for attr in _ATTR_RE.finditer(tag):
            if attr.group(1).lower() != "href":
                continue
            href = _clean_href(attr.group(2) or attr.group(3) or attr.group(4) or "")
            if self.base_url and href and not href.lower().startswith("javascript:"):
                with contextlib.suppress(ValueError):
                    href = urljoin(self.base_url, href)
            win.href = href
            if href_host(href) in PSB_HOSTS:
                code = _PSB_CODE_RE.search(href)
                if code is not None and win.emitting:
                    win.link = _PsbLink(
                        pos, context, href, code.group(1), win.in_footer, win.length
                    )
                    win.psb_links.append(win.link)
            return

    def _open_footer(self, win: _Window, name: str, tag: str) -> None:
        for entry in win.footers:
            if entry.name == name:
                entry.depth += 1
        if _is_footer_tag(name, tag):
            win.footers.append(_OpenElement(name, 1))

    def _close_footer(self, win: _Window, name: str) -> None:
        if any(entry.name == name for entry in win.footers):
            for entry in win.footers:
                if entry.name == name:
                    entry.depth -= 1
            win.footers = [e for e in win.footers if e.depth > 0]

    def _attributes(self, win: _Window, tag: str, pos: int, context: str) -> None:
        attr_context = "attribute" if context == "html" else context
        for attr in _ATTR_RE.finditer(tag):
            name = attr.group(1).lower()
            if name in _TEXT_ATTRIBUTES or name.startswith("data-"):
                value = attr.group(2) or attr.group(3) or attr.group(4) or ""
                if _ANCHOR_IN_TAG_RE.search(value):
                    win.barrier()
                    win.text(value, pos, attr_context)
                    win.barrier()


# --- page scanning -----------------------------------------------------------------------------


def _prepare(text: str) -> str:
    """Bound the work and undo encodings that hide anchors (numeric entities, zero-width)."""
    if len(text) > MAX_PAGE_CHARS:
        head = MAX_PAGE_CHARS * 3 // 4
        text = text[:head] + "\n" + text[-(MAX_PAGE_CHARS - head) :]
    if text.count("&#", 0, 20_000) > 20:
        # Pages that write every Chinese character as &#NNNNN; (older CMSs). Only non-ASCII
        # code points are decoded, so no markup is created.
        text = _NUMERIC_ENTITY_RE.sub(_decode_numeric_entity, text)
    if any(c in text for c in numbers.ZERO_WIDTH):
        text = text.translate({ord(c): None for c in numbers.ZERO_WIDTH})
    return text


def _decode_numeric_entity(match: re.Match[str]) -> str:
    code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
    if code < 0x80 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return match.group(0)
    return chr(code)


def _anchors(page: str) -> list[int]:
    """Offsets where a number may start nearby, in page order."""
    found: list[int] = []
    for anchor in _ANCHORS:
        if anchor.only_if and anchor.only_if not in page:
            continue
        for match in anchor.pattern.finditer(page):
            start = match.start()
            if anchor.before:
                if start == 0 or page[start - 1] not in anchor.before:
                    continue
                start -= 1
            if anchor.after is None or anchor.after.match(page, match.end()):
                found.append(start)
    found.sort()
    if len(found) > MAX_ANCHORS:
        half = MAX_ANCHORS // 2
        found = found[:half] + found[-half:]
    return found


def _opaque_blocks(page: str) -> list[_Opaque]:
    """Comments, scripts and styles of the whole page, in order (one linear pass)."""
    blocks: list[_Opaque] = []
    pos = 0
    size = len(page)
    while True:
        match = _OPAQUE_START_RE.search(page, pos)
        if match is None:
            return blocks
        start = match.start()
        if match.group(0) == "<!--":
            close = page.find("-->", start + 4)
            content_end = close if close >= 0 else size
            end = close + 3 if close >= 0 else size
            blocks.append(_Opaque(start, start + 4, content_end, end, "comment"))
        else:
            kind = match.group(0)[1:].lower()
            gt = page.find(">", match.end())
            if gt < 0:
                return blocks
            closer = (_SCRIPT_END_RE if kind == "script" else _STYLE_END_RE).search(page, gt)
            content_end = closer.start() if closer else size
            end = closer.end() if closer else size
            blocks.append(_Opaque(start, gt + 1, content_end, end, kind))
        pos = end


def _windows(page: str, anchors: list[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for anchor in anchors:
        lo, hi = max(0, anchor - _WINDOW_BEFORE), min(len(page), anchor + _WINDOW_AFTER)
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
        else:
            spans.append((lo, hi))
    result = []
    for lo, hi in spans:
        # Do not end inside a tag (a number's closing tags are just after it).
        gt = page.find(">", hi, hi + 1000)
        lt = page.find("<", hi, hi + 1000)
        if gt >= 0 and (lt < 0 or gt < lt):
            hi = gt + 1
        result.append((lo, hi))
    return result


@dataclass(frozen=True)
class _Occurrence:
    judgement: Judgement
    raw: str
    location: Location
    context: str
    href: str | None
    order: int  # position in the page, for stable output order
    block_end: int  # raw offset where the number's text block ends (for the tail rule)
    from_href: bool = False


def _official(kind: NumberKind, href: str | None) -> str | None:
    """'current' / 'old' when ``href`` is the official lookup for ``kind``, else None."""
    if not href:
        return None
    host = href_host(href)
    if host is None:
        return None
    if kind in ICP_KINDS:
        if host in MIIT_HOSTS:
            return "current"
        return "old" if host in OLD_MIIT_HOSTS else None
    return "current" if host in PSB_HOSTS else None


_CONTEXT_LOCATION = {
    "script": Location.SCRIPT,
    "comment": Location.COMMENT,
    "attribute": Location.ATTRIBUTE,
}


def _window_occurrences(
    win: _Window, today: datetime.date, host: str | None
) -> Iterable[_Occurrence]:
    clean = "".join(win.parts)
    folded = numbers.fold(clean)
    starts = [s.clean_start for s in win.segments]
    if not starts:
        return
    # Barrier offsets, then the end: one pass, so each number's block end is a bisection
    # (searching forward per number would be quadratic on a page that is one huge block).
    barriers = [m.start() for m in _BARRIER_RE.finditer(clean)] + [len(clean)]
    for cand in numbers.find_candidates(folded):
        first = max(0, bisect.bisect_right(starts, cand.start) - 1)
        last = max(first, bisect.bisect_left(starts, cand.end) - 1)
        segments = win.segments[first : last + 1]
        seg = segments[0]
        if cand.template and seg.context == "script":
            continue  # `京ICP备${icp}号` in JavaScript is code that fills the number in
        href = next((s.href for s in segments if s.href), None)
        judgement = numbers.judge(cand, today=today, host=host)
        location = _CONTEXT_LOCATION.get(seg.context)
        if location is None:
            location = Location.FOOTER if any(s.footer for s in segments) else Location.BODY
        yield _Occurrence(
            judgement=judgement,
            raw=clean[cand.start : cand.end].strip(),
            location=location,
            context=seg.context,
            href=href,
            order=seg.raw_start,
            block_end=_block_end(barriers, cand.end, win.segments, starts),
        )
    for link in win.psb_links:
        block_end = _block_end(barriers, link.text_start, win.segments, starts)
        yield _psb_link_occurrence(link, folded, today, host, max(block_end, link.raw_pos))


def _block_end(
    barriers: list[int], offset: int, segments: list[_Segment], starts: list[int]
) -> int:
    """Raw offset where the text block holding ``offset`` ends (the next block barrier)."""
    at = barriers[bisect.bisect_left(barriers, offset)] - 1
    index = max(0, bisect.bisect_right(starts, at) - 1)
    return segments[index].raw_end


def _psb_link_occurrence(
    link: _PsbLink, folded: str, today: datetime.date, host: str | None, block_end: int
) -> _Occurrence:
    """A public-security number read from a lookup link's href; the prefix from its text."""
    text = folded[link.text_start : link.text_end if link.text_end >= 0 else len(folded)]
    prefix = ""
    for label in ("公网安备", "公安网备", "网安备", "公安备"):
        at = text.find(label)
        if at > 0 and text[at - 1] in provinces.tables().psb:
            prefix = text[at - 1]
            break
    cand = Candidate(
        kind=NumberKind.PSB_FILING,
        start=0,
        end=0,
        prefix=prefix,
        body=link.digits,
        site_index=None,
    )
    location = _CONTEXT_LOCATION.get(link.context)
    if location is None:
        location = Location.FOOTER if link.footer else Location.BODY
    return _Occurrence(
        judgement=numbers.judge(cand, today=today, host=host),
        raw=link.digits,
        location=location,
        context=link.context,
        href=link.href,
        order=link.raw_pos,
        block_end=block_end,
        from_href=True,
    )


def _apply_tail_rule(page: str, occurrences: list[_Occurrence], opaque: list[_Opaque]) -> None:
    """No number sits in a footer-like element: the last part of the body counts as footer."""
    if any(o.location is Location.FOOTER for o in occurrences):
        return
    if not _HAS_TAG_RE.search(page):
        return  # plain text: no page structure to speak of
    body = _BODY_RE.search(page)
    body_start = body.start() if body else 0
    body_end = page.rfind("</body")
    if body_end < 0:
        body_end = page.rfind("</BODY")
    if body_end < body_start:
        body_end = len(page)
    ends = [o.end for o in opaque]
    lengths = [o.end - o.start for o in opaque]
    cumulative = [0]
    for length in lengths:
        cumulative.append(cumulative[-1] + length)

    def effective(pos: int) -> int:
        index = bisect.bisect_right(ends, pos)
        return pos - cumulative[index]

    total = effective(body_end) - effective(body_start)
    if total <= 0:
        return
    # The last fifth of the body, but never less than a short line of markup: on a tiny page
    # the closing tags alone would otherwise push the last line out of the "last part".
    tail = max(_TAIL_SHARE * total, _TAIL_MIN_CHARS)
    for i, occ in enumerate(occurrences):
        if occ.location is Location.BODY and effective(body_end) - effective(occ.block_end) <= tail:
            occurrences[i] = _replace_location(occ, Location.FOOTER)


def _replace_location(occ: _Occurrence, location: Location) -> _Occurrence:
    return _Occurrence(
        occ.judgement,
        occ.raw,
        location,
        occ.context,
        occ.href,
        occ.order,
        occ.block_end,
        occ.from_href,
    )


def _key(j: Judgement) -> tuple[str, str]:
    if j.kind is NumberKind.PSB_FILING and j.digits:
        return ("psb", j.digits)
    return (j.kind.value, j.number)


def _merge(occurrences: list[_Occurrence]) -> list[FoundNumber]:
    groups: dict[tuple[str, str], list[_Occurrence]] = {}
    for occ in sorted(occurrences, key=lambda o: o.order):
        groups.setdefault(_key(occ.judgement), []).append(occ)

    entries: list[tuple[FoundNumber, bool]] = []
    for group in groups.values():
        best = min(group, key=lambda o: (_LOCATION_RANK[o.location], o.order))
        # The written form: prefer an occurrence that shows the province character.
        form = min(
            group,
            key=lambda o: (
                o.from_href,
                not o.judgement.number[:1].isalpha() or o.judgement.number.startswith("公"),
                _LOCATION_RANK[o.location],
                o.order,
            ),
        )
        kind = form.judgement.kind
        official = [
            (o, level)
            for o in group
            if o.context != "comment" and (level := _official(kind, o.href)) is not None
        ]
        problems = list(form.judgement.problems)
        href: str | None
        if official:
            official.sort(key=lambda pair: pair[1] != "current")
            href = official[0][0].href
            if all(level == "old" for _o, level in official):
                problems.append("stale_link")
        else:
            href = best.href or next((o.href for o in group if o.href), None)
        j = form.judgement
        entries.append(
            (
                FoundNumber(
                    kind=j.kind,
                    number=j.number,
                    raw=form.raw,
                    province=j.province,
                    valid=j.valid,
                    placeholder=j.placeholder,
                    linked=bool(official),
                    href=href,
                    location=best.location,
                    own=True,
                    problems=tuple(problems),
                    site_index=j.site_index,
                ),
                any(o.location is Location.FOOTER for o in group),
            )
        )
    return _judge_own(entries)


def _judge_own(entries: list[tuple[FoundNumber, bool]]) -> list[FoundNumber]:
    """Body-only, unlinked numbers are an article's examples when the footer shows a number.

    The issue's rule: numbers in the body of an article about filings, while the footer
    carries another number, are the site's examples, not its own — whichever family the
    footer's number belongs to (a tutorial quoting a PSB example on a site whose footer shows
    only its ICP number is still quoting).
    """
    footer_has_number = any(in_footer for _, in_footer in entries)
    result = []
    for number, _in_footer in entries:
        if number.location is Location.BODY and not number.linked and footer_has_number:
            number = FoundNumber(**{**number.__dict__, "own": False})
        result.append(number)
    return result


@dataclass(frozen=True)
class PageScan:
    numbers: tuple[FoundNumber, ...]
    title: str | None


def scan_page(
    text: str, *, base_url: str | None = None, today: datetime.date | None = None
) -> PageScan:
    """Find, judge and place every number on a decoded page."""
    page = _prepare(text)
    title = _title(page)
    anchors = _anchors(page)
    if not anchors:
        return PageScan((), title)
    when = today or datetime.date.today()
    host = _host_of(base_url)
    opaque = _opaque_blocks(page)
    tokeniser = _Tokeniser(page, opaque, base_url)
    occurrences: list[_Occurrence] = []
    for lo, hi in _windows(page, anchors):
        occurrences.extend(_window_occurrences(tokeniser.window(lo, hi), when, host))
    _apply_tail_rule(page, occurrences, opaque)
    return PageScan(tuple(_merge(occurrences)), title)


def _title(page: str) -> str | None:
    match = _TITLE_RE.search(page, 0, 100_000)
    if match is None:
        return None
    title = html.unescape(match.group(1)).translate(_WS_TABLE)
    title = _MULTISPACE_RE.sub(" ", title).strip()
    return title or None


def _host_of(base_url: str | None) -> str | None:
    if not base_url:
        return None
    try:
        return urlsplit(base_url).hostname
    except ValueError:
        return None
