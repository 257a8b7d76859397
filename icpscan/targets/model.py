"""The records the input reader produces, its limits, and text made safe to show."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Literal, TypeAlias

MAX_DOMAIN_OCTETS = 253

MAX_LABEL_OCTETS = 63

# Longest line (in characters) considered at all; longer ones are reported, not parsed.
# A URL with a long query string fits; a file without newlines does not fill the memory.
MAX_LINE_CHARS = 65_536

# How much of an entry an error message or ``raw`` keeps.
RAW_LIMIT = 200

# Bytes looked at to decide whether a file is text at all.
SNIFF_BYTES = 8_192

Reason: TypeAlias = Literal[
    "too_long",
    "label_too_long",
    "empty_label",
    "bad_characters",
    "wildcard",
    "ip_literal",
    "single_label",
    "bad_idna",
    "not_text",
    "bad_url",
    "bad_csv_row",
]

REASONS: tuple[Reason, ...] = (
    "too_long",
    "label_too_long",
    "empty_label",
    "bad_characters",
    "wildcard",
    "ip_literal",
    "single_label",
    "bad_idna",
    "not_text",
    "bad_url",
    "bad_csv_row",
)


@dataclass(frozen=True, slots=True)
class Target:
    """One domain to scan."""

    domain: str  # ASCII, lower-case, punycode (UTS #46), no trailing dot
    display: str  # Unicode form for humans (same as ``domain`` for ASCII names)
    line: int  # 1-based input line (for CSV: the line the record starts on); 0 = not from a file
    raw: str  # the entry as written: credentials redacted, control characters escaped, truncated


@dataclass(frozen=True, slots=True)
class InvalidLine:
    """An entry that is not a scannable domain: reported with its line, then skipped."""

    line: int
    raw: str  # the entry: credentials redacted, control characters escaped, truncated
    reason: Reason  # machine code, one of REASONS
    message: str  # one clear human sentence


class InputFileError(Exception):
    """The whole input is unusable (missing, unreadable, binary, no domain column)."""


TargetSource: TypeAlias = (
    "str | os.PathLike[str] | IO[str] | IO[bytes] | Iterable[str] | Iterable[bytes]"
)

InputFormat: TypeAlias = Literal["auto", "text", "csv"]


@dataclass(frozen=True, slots=True)
class Problem:
    reason: Reason
    message: str


def quote(text: str, limit: int) -> str:
    return "'" + printable(text, limit) + "'"


def printable(text: str, limit: int = RAW_LIMIT) -> str:
    """Truncate, and escape what a terminal or a report must not get raw (controls, bidi)."""
    if len(text) > limit:
        text = text[:limit] + "…"
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape_char(char) for char in text)


def _escape_char(char: str) -> str:
    code = ord(char)
    if 0xDC00 <= code <= 0xDCFF:  # an undecodable byte kept as a lone surrogate
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
