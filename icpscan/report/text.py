"""Make crawled text safe to show: visible escapes for invisible characters, bounded length.

Everything a site controls (titles, raw numbers, URLs, headers, certificate names, even the
Unicode form of a domain) may carry terminal escape sequences, bidi overrides that reorder what
a reader sees (``moc.elgoog`` shown as ``google.com``), zero-width characters, line separators
or lone surrogates that cannot be encoded. Renderers pass such text through :func:`visible`
first; HTML escaping (jinja2 autoescape) and rich ``Text`` (no markup) then do the rest.
"""

from __future__ import annotations

import re

# Every character of Unicode categories Cc (controls), Cf (format: bidi controls, zero-width
# characters, word joiners, BOM, soft hyphen, interlinear annotations, tag characters used to
# smuggle invisible text), Zl/Zp (line/paragraph separators) and Cs (lone surrogates: a JSON
# "\ud800" decodes to one, and it cannot be written as UTF-8). Ranges as of Unicode 15 (Python
# 3.11); tests/test_report_text.py checks them against unicodedata. Tab and newline are handled
# apart (kept in multi-line text).
_HIDDEN = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\xad"
    "\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
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
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: object, limit: int | None = None, *, multiline: bool = False) -> str:
    """``text`` with every character visible: invisible ones become ``\\xNN``/``\\uNNNN``.

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
