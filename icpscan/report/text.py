"""Make crawled text safe to show: visible escapes for invisible characters, bounded length.

Everything a site controls (titles, raw numbers, URLs, headers, certificate names, even the
Unicode form of a domain) may carry terminal escape sequences, bidi overrides that reorder what
a reader sees (``moc.elgoog`` shown as ``google.com``), zero-width characters, line separators
or lone surrogates that cannot be encoded. Renderers pass such text through :func:`visible`
first; HTML escaping (jinja2 autoescape) and rich ``Text`` (no markup) then do the rest.
"""

from __future__ import annotations

import re

# C0 controls (tab and newline are handled separately), DEL, C1 controls, bidi controls
# (ALM, LRM/RLM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI), zero-width characters, word joiner and
# invisible operators, line/paragraph separators, BOM, interlinear annotation marks, and lone
# surrogates (a JSON "\ud800" decodes to one; it cannot be written as UTF-8).
_HIDDEN = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb"
    "\ud800-\udfff"
)
_HIDDEN_RE = re.compile(f"[{_HIDDEN}\t\n]")
_HIDDEN_KEEP_LINES_RE = re.compile(f"[{_HIDDEN}]")

ELLIPSIS = "…"


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: object, limit: int | None = None, *, multiline: bool = False) -> str:
    """``text`` with every character visible: invisible ones become ``\\xNN`` / ``\\uNNNN``.

    ``limit`` caps the length (counted before escaping) and says how much was cut. With
    ``multiline`` newlines and tabs are kept (for ``<pre>`` blocks); otherwise they are escaped
    too, so one value never spans lines of a table.
    """
    if text is None:
        return ""
    value = text if isinstance(text, str) else str(text)
    cut = 0
    if limit is not None and len(value) > limit:
        cut = len(value) - limit
        value = value[:limit]
    pattern = _HIDDEN_KEEP_LINES_RE if multiline else _HIDDEN_RE
    value = pattern.sub(_escape, value)
    if cut:
        value += f"{ELLIPSIS}[+{cut:,} chars]"
    return value
