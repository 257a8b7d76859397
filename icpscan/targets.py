"""Read the scan input: domains and URLs from text files, CSV and stdin, one target per entry.

The reader is the first thing that touches user input, so it is strict about what a target is
and forgiving about how the file looks:

* Any text file works: UTF-8 (with or without BOM), UTF-16/32 with a BOM (or UTF-16 without one,
  recognised by its NUL pattern), CRLF/CR/LF line ends, and GB18030 lines mixed into UTF-8 ones
  (each line is decoded on its own: UTF-8 strict first, then GB18030).
* Text lists have one domain or URL per line, ``#`` comments and blank lines; CSV files are
  recognised by a domain-ish header (``domain``, ``url``, ``域名``...) or by Tranco's
  ``rank,domain`` shape.
* A bad entry is an :class:`InvalidLine` value with its line number, a reason code and one
  sentence; only an unusable *file* (missing, binary, no domain column) raises
  :class:`InputFileError`.
* It streams: memory does not grow with the number of lines, and no line is read before it is
  needed. Duplicates are left to the store (see :func:`unique_targets` for small inputs).

Names follow UTS #46 non-transitional processing, the way browsers turn what a user typed into
what is looked up in DNS (``ß`` and ``ς`` are kept, full-width dots separate labels, upper case
is folded, emoji that UTS #46 marks valid are accepted), using the ``idna`` package's UTS #46
table and its IDNA 2008 joiner and bidi rules. On top of that the result must be a DNS host
name: LDH labels of at most 63 octets, at most 253 octets in all, at least two labels, no IP
address literal.
"""

from __future__ import annotations

import codecs
import collections
import csv
import functools
import io
import ipaddress
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, TypeAlias, cast
from urllib.parse import unquote

import idna

__all__ = [
    "MAX_DOMAIN_OCTETS",
    "MAX_LABEL_OCTETS",
    "REASONS",
    "InputFileError",
    "InvalidLine",
    "Target",
    "TargetReader",
    "parse_target",
    "read_targets",
    "unique_targets",
]

MAX_DOMAIN_OCTETS = 253
MAX_LABEL_OCTETS = 63

# Longest line (in characters) considered at all; longer ones are reported, not parsed.
# A URL with a long query string fits; a file without newlines does not fill the memory.
MAX_LINE_CHARS = 65_536
# Longest host name we try to map at all (UTS #46 can drop ignored characters, so the limit is
# generous; no real host name is near it).
_MAX_HOST_CHARS = 1_024
# How much of an entry an error message or ``raw`` keeps.
RAW_LIMIT = 200
# Bytes looked at to decide whether a file is text at all.
SNIFF_BYTES = 8_192
# A quoted CSV field may span lines, but not this many: an unterminated quote must not
# swallow the rest of the file.
MAX_CSV_RECORD_LINES = 32

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


# --------------------------------------------------------------------------------------------
# One entry -> Target | InvalidLine (pure)
# --------------------------------------------------------------------------------------------

# Plain ASCII host names, the overwhelming majority of entries, skip all the slow work.
# The last label must start with a letter: a numeric last label makes the name an IPv4 literal
# to a browser. Bounded repetitions keep the pattern linear.
_FAST_NAME = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?\.?"
)
_ASCII_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
_SCHEME_SLASHES = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[/\\]{2}")
# Special schemes (WHATWG URL) also accept ``http:example.com`` and ``http:/example.com``.
_SPECIAL_SCHEME = re.compile(r"(?:https?|wss?|ftp):[/\\]*", re.IGNORECASE)
_AUTHORITY_END = re.compile(r"[/?#\\]")
_HEX_NUMBER = re.compile(r"0x[0-9a-f]*")
_WILDCARD_STARS = ("*", "\uff0a")  # ASCII and full-width asterisk


@dataclass(frozen=True, slots=True)
class _Problem:
    reason: Reason
    message: str


def parse_target(text: str, *, line: int = 0) -> Target | InvalidLine:
    """Normalise one entry (a domain or a URL) into a :class:`Target`, or say why not.

    ``line`` is stored in the result; leave it 0 for entries that do not come from a file
    (command-line arguments). Never raises for any string.
    """
    entry = text.strip()
    lowered = entry.lower()
    if _FAST_NAME.fullmatch(lowered) and "xn--" not in lowered:
        domain = lowered[:-1] if lowered.endswith(".") else lowered
        if len(domain) <= MAX_DOMAIN_OCTETS:
            raw = entry if len(entry) <= RAW_LIMIT else _printable(entry)
            return Target(domain, domain, line, raw)
    result = _parse_slow(entry)
    raw = _printable(_redact_credentials(entry))
    if isinstance(result, _Problem):
        return InvalidLine(line, raw, result.reason, result.message)
    domain, display = result
    return Target(domain, display, line, raw)


def _parse_slow(entry: str) -> tuple[str, str] | _Problem:
    if not entry:
        return _Problem("empty_label", "the entry is empty")
    host = _host_of(entry)
    if isinstance(host, _Problem):
        return host
    return _normalise_host(host)


def _host_of(entry: str) -> str | _Problem:
    """The host part of an entry: the entry itself, or the host of a URL written in it."""
    if entry[0] != "[" and entry.count(":") >= 2 and _is_ipv6(entry):
        return _ip_problem(entry)
    start, end = _authority_span(entry)
    authority = entry[start:end]
    at = authority.rfind("@")
    if at >= 0:
        authority = authority[at + 1 :]
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            return _Problem("bad_url", "'[' opens an IPv6 address that is never closed")
        inside = authority[1:close]
        if _is_ipv6(inside):
            return _ip_problem(inside)
        return _Problem("bad_url", "the part in brackets is not an IPv6 address")
    host, colon, port = authority.partition(":")
    if colon and port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return _Problem(
            "bad_url", f"the port {_quote(port, 20)} is not a number between 0 and 65535"
        )
    if not host:
        if start or at >= 0 or colon:
            return _Problem("bad_url", "the URL has no host name")
        return _Problem("empty_label", "the entry has no host name")
    if "%" in host:
        try:
            host = unquote(host, errors="strict")
        except UnicodeDecodeError:
            return _Problem("bad_url", "the host name has percent-escapes that are not UTF-8")
    return host


def _authority_span(entry: str) -> tuple[int, int]:
    """Where the ``[user@]host[:port]`` part of an entry (URL or bare name) starts and ends."""
    match = _SCHEME_SLASHES.match(entry) or _SPECIAL_SCHEME.match(entry)
    if match:
        start = match.end()
    elif entry.startswith(("//", "\\\\")):
        start = 2
    else:
        start = 0
    end_match = _AUTHORITY_END.search(entry, start)
    return start, end_match.start() if end_match else len(entry)


def _redact_credentials(entry: str) -> str:
    """``https://user:secret@host/`` -> ``https://***@host/``: raw text is logged and stored."""
    if "@" not in entry:
        return entry
    start, end = _authority_span(entry)
    at = entry.rfind("@", start, end)
    if at < 0:
        return entry
    return f"{entry[:start]}***{entry[at:]}"


def _normalise_host(host: str) -> tuple[str, str] | _Problem:
    if len(host) > _MAX_HOST_CHARS:
        return _Problem(
            "too_long",
            f"the host name is {len(host)} characters long; "
            f"a domain name has at most {MAX_DOMAIN_OCTETS} octets",
        )
    if host.startswith(_WILDCARD_STARS):
        return _Problem(
            "wildcard",
            "a wildcard entry cannot be scanned; list the host names to audit "
            "(e.g. www.example.com)",
        )
    mapped = _map_characters(host)
    if isinstance(mapped, _Problem):
        return mapped
    if mapped.endswith("."):
        mapped = mapped[:-1]
    labels = mapped.split(".")
    if "" in labels:
        return _Problem(
            "empty_label",
            "the name has an empty label (a leading dot, or two dots in a row)",
        )
    if len(labels) == 1:
        return _Problem(
            "single_label",
            f"{_quote(mapped, 64)} has no dot; a public domain name has at least two labels "
            "(e.g. example.com)",
        )
    last = labels[-1]
    if last.isascii() and (last.isdigit() or _HEX_NUMBER.fullmatch(last)):
        return _ip_problem(mapped)
    for label in labels:
        if (label.startswith("-") or label.endswith("-")) and not label.startswith("xn--"):
            return _Problem(
                "bad_characters", f"the label {_quote(label, 64)} starts or ends with a hyphen"
            )
    return _encode_labels(labels)


def _map_characters(host: str) -> str | _Problem:
    """UTS #46 mapping (case folding, full-width forms, ignored characters) + the LDH rule."""
    if host.isascii():
        lowered = host.lower()
        if _ASCII_HOST_CHARS.issuperset(lowered):
            return lowered
        bad = next(char for char in lowered if char not in _ASCII_HOST_CHARS)
        return _bad_character(bad)
    try:
        return idna.uts46_remap(host, std3_rules=True)
    except idna.IDNAError:
        for char in host:
            if char == ".":
                continue
            try:
                idna.uts46_remap(char, std3_rules=True)
            except idna.IDNAError:
                return _bad_character(char)
        return _Problem("bad_characters", "the name has characters not allowed in domain names")


def _bad_character(char: str) -> _Problem:
    what = _describe_char(char)
    if char.isspace():
        hint = "; put one domain per line"
    elif char in ",;\t|":
        hint = "; if this is a CSV file, read it as CSV and name the domain column"
    elif char == "_":
        hint = " (underscores are not allowed in host names)"
    else:
        hint = ""
    return _Problem("bad_characters", f"{what} is not allowed in a domain name{hint}")


def _encode_labels(labels: list[str]) -> tuple[str, str] | _Problem:
    ascii_labels: list[str] = []
    unicode_labels: list[str] = []
    display_labels: list[str] = []
    has_unicode = False
    for label in labels:
        if label.isascii():
            if len(label) > MAX_LABEL_OCTETS:
                return _label_too_long(label)
            if label.startswith("xn--"):
                decoded = _decode_alabel(label)
                if isinstance(decoded, _Problem):
                    return decoded
                unicode_labels.append(decoded)
                display_labels.append(_display_label(decoded, label))
                has_unicode = True
            else:
                unicode_labels.append(label)
                display_labels.append(label)
            ascii_labels.append(label)
            continue
        alabel = _encode_ulabel(label)
        if isinstance(alabel, _Problem):
            return alabel
        ascii_labels.append(alabel)
        unicode_labels.append(label)
        display_labels.append(_display_label(label, alabel))
        has_unicode = True
    if has_unicode:
        problem = _check_bidi(unicode_labels)
        if problem:
            return problem
    domain = ".".join(ascii_labels)
    if len(domain) > MAX_DOMAIN_OCTETS:
        return _Problem(
            "too_long",
            f"the name is {len(domain)} octets long in ASCII form; "
            f"a domain name has at most {MAX_DOMAIN_OCTETS}",
        )
    return domain, ".".join(display_labels)


_HOMOGRAPH_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK"})


@functools.lru_cache(maxsize=4096)
def _display_label(ulabel: str, alabel: str) -> str:
    """The Unicode label, unless it mixes Latin, Cyrillic and Greek letters (``pаypal`` with a
    Cyrillic ``а``): such a label is shown as punycode, as browsers do, so a report never shows
    a look-alike of another name."""
    scripts = set()
    for char in ulabel:
        if char.isalpha():
            script = unicodedata.name(char, "").partition(" ")[0]
            if script in _HOMOGRAPH_SCRIPTS:
                scripts.add(script)
    return alabel if len(scripts) > 1 else ulabel


def _label_too_long(label: str) -> _Problem:
    return _Problem(
        "label_too_long",
        f"the label {_quote(label, 24)} is {len(label)} octets long in ASCII form; "
        f"a label has at most {MAX_LABEL_OCTETS}",
    )


# Labels repeat (TLDs such as xn--fiqs8s, common IDN words): cache per label, bounded.
@functools.lru_cache(maxsize=4096)
def _encode_ulabel(label: str) -> str | _Problem:
    problem = _check_unicode_label(label)
    if problem:
        return problem
    alabel = "xn--" + label.encode("punycode").decode("ascii")
    if len(alabel) > MAX_LABEL_OCTETS:
        return _label_too_long(alabel)
    return alabel


@functools.lru_cache(maxsize=4096)
def _decode_alabel(label: str) -> str | _Problem:
    """An ``xn--`` label must be valid punycode of a valid label that encodes back to itself."""
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return _Problem("bad_idna", f"the label {_quote(label, 64)} is not valid punycode")
    if decoded.isascii() or "xn--" + decoded.encode("punycode").decode("ascii") != label:
        return _Problem(
            "bad_idna", f"the label {_quote(label, 64)} is not the punycode form of a label"
        )
    try:
        remapped = idna.uts46_remap(decoded, std3_rules=True)
    except idna.IDNAError:
        remapped = None
    if remapped != decoded:
        return _Problem(
            "bad_idna",
            f"the label {_quote(label, 64)} decodes to characters not allowed in domain names",
        )
    return _check_unicode_label(decoded, shown=label) or decoded


def _check_unicode_label(label: str, shown: str | None = None) -> _Problem | None:
    """UTS #46 validity criteria for a mapped label (NFC, marks, joiners, hyphens)."""
    name = _quote(shown or label, 64)
    if not unicodedata.is_normalized("NFC", label):
        return _Problem("bad_idna", f"the label {name} is not in Unicode normal form C")
    if label.startswith("xn--"):
        return _Problem("bad_idna", f"the label {name} decodes to another 'xn--' label")
    if label.startswith("-") or label.endswith("-"):
        return _Problem("bad_characters", f"the label {name} starts or ends with a hyphen")
    if unicodedata.category(label[0]).startswith("M"):
        return _Problem("bad_idna", f"the label {name} starts with a combining mark")
    for position, char in enumerate(label):
        if char in "\u200c\u200d":
            try:
                allowed = idna.valid_contextj(label, position)
            except (ValueError, idna.IDNAError):
                allowed = False
            if not allowed:
                return _Problem(
                    "bad_idna",
                    f"the label {name} has a zero-width joiner where IDNA does not allow one",
                )
    return None


def _check_bidi(labels: list[str]) -> _Problem | None:
    """RFC 5893: in a name with any right-to-left label, every label obeys the Bidi Rule."""
    if not any(_has_rtl(label) for label in labels):
        return None  # the Bidi Rule constrains only names with right-to-left labels
    try:
        for label in labels:
            idna.check_bidi(label, check_ltr=True)
    except (ValueError, idna.IDNAError):
        return _Problem(
            "bad_idna",
            "the name mixes right-to-left and left-to-right text in a way IDNA does not allow",
        )
    return None


def _has_rtl(label: str) -> bool:
    return not label.isascii() and any(
        unicodedata.bidirectional(char) in ("R", "AL", "AN") for char in label
    )


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _ip_problem(host: str) -> _Problem:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return _Problem(
            "ip_literal",
            f"{_quote(host, 64)} ends in a number, so it is read as an IPv4 address, "
            "not a domain name; icpscan audits domain names",
        )
    return _Problem(
        "ip_literal",
        f"{address} is an IP address, not a domain name; icpscan audits domain names",
    )


def _quote(text: str, limit: int) -> str:
    return "'" + _printable(text, limit) + "'"


def _describe_char(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if char.isprintable() and not char.isspace():
        return f"the character '{char}' ({code})"
    return f"the character {code}"


def _printable(text: str, limit: int = RAW_LIMIT) -> str:
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


# --------------------------------------------------------------------------------------------
# Streams -> lines
# --------------------------------------------------------------------------------------------

_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\x0b\x0c\x1b") + b"\x7f"
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(slots=True)
class _Line:
    number: int
    text: str  # without the line end; for problems, the (escaped-later) text we have
    problem: _Problem | None = None


class _PrefixedStream(io.RawIOBase):
    """The sniffed first block followed by the rest of a binary stream we must not re-read."""

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self._prefix = memoryview(prefix)
        self._rest = rest
        self._read = getattr(rest, "read1", rest.read)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            count = min(len(buffer), len(self._prefix))
            buffer[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        data = self._read(len(buffer))
        if not data:
            return 0
        count = len(data)
        buffer[:count] = data
        return count

    def close(self) -> None:
        # The rest belongs to whoever opened it (stdin, the caller, or TargetReader).
        super().close()


def _escape_undecodable(error: UnicodeError) -> tuple[str, int]:
    """Like ``surrogateescape``, but for every byte (UTF-16/32 can fail on ASCII-range bytes)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), error.end


_ESCAPE_ERRORS = "icpscan.targets.escape"
codecs.register_error(_ESCAPE_ERRORS, _escape_undecodable)


def _read_block(stream: IO[bytes], size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        if not isinstance(chunk, bytes | bytearray):
            raise InputFileError("the input stream returned text where bytes were expected")
        chunks.append(bytes(chunk))
        remaining -= len(chunk)
    return b"".join(chunks)


def _sniff_encoding(sample: bytes, at_eof: bool, name: str) -> tuple[str, bool]:
    """The stream's encoding and whether a line may fall back to GB18030; raises if binary."""
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding, encoding == "utf-8-sig"
    if b"\x00" in sample:
        utf16 = _utf16_without_bom(sample)
        if utf16:
            return utf16, False
        raise InputFileError(
            f"{name} looks binary, not a domain list (it has NUL bytes in its first "
            f"{SNIFF_BYTES} bytes)"
        )
    if _binary_share(sample, at_eof) > 0.3:
        raise InputFileError(
            f"{name} looks binary, not a domain list (its first {SNIFF_BYTES} bytes are "
            "mostly not text)"
        )
    return "utf-8", True


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 without a BOM (Windows "Unicode" text) has NUL as every other byte of ASCII."""
    usable = sample[: len(sample) - len(sample) % 2]
    if len(usable) < 4:
        return None
    even_nuls = usable[0::2].count(0)
    odd_nuls = usable[1::2].count(0)
    pairs = len(usable) // 2
    if odd_nuls >= 0.4 * pairs and even_nuls <= 0.05 * pairs:
        encoding = "utf-16-le"
    elif even_nuls >= 0.4 * pairs and odd_nuls <= 0.05 * pairs:
        encoding = "utf-16-be"
    else:
        return None
    text = usable.decode(encoding, errors="replace")
    bad = sum(1 for char in text if char == "\ufffd" or (char < " " and char not in "\t\n\r"))
    return encoding if bad <= 0.05 * len(text) else None


def _binary_share(sample: bytes, at_eof: bool) -> float:
    """Share of bytes that no text line would have: controls, and undecodable high bytes."""
    if not sample:
        return 0.0
    suspicious = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    lines = sample.split(b"\n")
    if not at_eof and len(lines) > 1:
        lines.pop()  # may be cut in the middle of a character
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            try:
                line.decode("gb18030")
            except UnicodeDecodeError:
                suspicious += sum(1 for byte in line if byte >= 0x80)
    return suspicious / len(sample)


def _stream_lines(stream: IO[str], gb18030_fallback: bool, first_line: int = 1) -> Iterator[_Line]:
    """Lines of a text stream, each decoded, capped in length and numbered from 1."""
    readline = stream.readline
    number = first_line - 1
    while True:
        text = readline(MAX_LINE_CHARS)
        if not text:
            return
        number += 1
        if text.endswith("\n"):
            text = text[:-2] if text.endswith("\r\n") else text[:-1]
        elif text.endswith("\r"):
            text = text[:-1]
        elif len(text) >= MAX_LINE_CHARS:
            while True:  # skip the rest of an over-long line without keeping it
                more = readline(MAX_LINE_CHARS)
                if not more or more.endswith(("\n", "\r")):
                    break
            yield _Line(number, text, _LINE_TOO_LONG)
            continue
        if text.isascii():
            yield _Line(number, text)
            continue
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield _decoded(number, text, gb18030_fallback)


def _iterable_lines(items: Iterable[str] | Iterable[bytes]) -> Iterator[_Line]:
    """Lines from any iterable of ``str`` or ``bytes`` lines (a generator, a list)."""
    for number, item in enumerate(items, 1):
        if isinstance(item, bytes | bytearray):
            text = bytes(item).decode("utf-8", "surrogateescape")
        elif isinstance(item, str):
            text = item
        else:
            raise InputFileError(f"line {number} of the input is a {type(item).__name__}, not text")
        text = text.rstrip("\r\n")
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        if len(text) > MAX_LINE_CHARS:
            yield _Line(number, text[:MAX_LINE_CHARS], _LINE_TOO_LONG)
            continue
        yield _decoded(number, text, gb18030_fallback=True)


_LINE_TOO_LONG = _Problem(
    "too_long", f"the line is longer than {MAX_LINE_CHARS} characters; no domain or URL is"
)
_NOT_TEXT = _Problem("not_text", "the line is not valid UTF-8 or GB18030 text")


def _decoded(number: int, text: str, gb18030_fallback: bool) -> _Line:
    """Undecodable bytes arrive as lone surrogates (surrogateescape); retry them as GB18030."""
    if text.isascii():
        return _Line(number, text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        if gb18030_fallback:
            try:
                return _Line(number, text.encode("utf-8", "surrogateescape").decode("gb18030"))
            except UnicodeError:
                pass
        return _Line(number, text, _NOT_TEXT)
    return _Line(number, text)


# --------------------------------------------------------------------------------------------
# Lines -> targets: text lists
# --------------------------------------------------------------------------------------------


def _entry_of(text: str) -> str:
    """A line without surrounding whitespace and without a ``#`` comment."""
    entry = text.strip()
    if not entry or entry[0] == "#":
        return ""
    hash_at = entry.find("#")
    while hash_at > 0:
        if entry[hash_at - 1] in " \t":
            return entry[:hash_at].rstrip()
        hash_at = entry.find("#", hash_at + 1)
    return entry


def _text_targets(lines: Iterator[_Line]) -> Iterator[Target | InvalidLine]:
    for line in lines:
        if line.problem:
            yield _invalid(line)
            continue
        entry = _entry_of(line.text)
        if entry:
            yield parse_target(entry, line=line.number)


def _invalid(line: _Line) -> InvalidLine:
    assert line.problem is not None
    return InvalidLine(
        line.number,
        _printable(_redact_credentials(line.text.strip())),
        line.problem.reason,
        line.problem.message,
    )


# --------------------------------------------------------------------------------------------
# Lines -> targets: CSV
# --------------------------------------------------------------------------------------------

# Header names that hold the domain, best first (compared after _header_key).
_DOMAIN_HEADERS: tuple[str, ...] = (
    "domain",
    "domainname",
    "domains",
    "域名",
    "网站域名",
    "hostname",
    "host",
    "主机名",
    "url",
    "网址",
    "网站地址",
    "siteurl",
    "websiteurl",
    "homepage",
    "website",
    "网站",
    "site",
    "站点",
)
_DELIMITERS = (",", "\t", ";", "|")


def _header_key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.strip().lstrip("\ufeff")).casefold()


@dataclass(frozen=True, slots=True)
class _CsvLayout:
    delimiter: str
    column: int  # 0-based
    column_name: str | None  # None when the file has no header
    width: int | None  # fields per row (header width, or the first row's when headerless)


def _csv_fields(text: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:
        return [text]


def _detect_csv(first: str, column: str | None, forced: bool, name: str) -> _CsvLayout | None:
    """The CSV layout the first significant line announces, or None for a plain text list."""
    # A header with a domain-ish (or the requested) column name.
    wanted = _header_key(column) if column is not None else None
    for delimiter in _DELIMITERS:
        if delimiter not in first and delimiter != ",":
            continue
        fields = _csv_fields(first, delimiter)
        keys = [_header_key(field) for field in fields]
        if wanted is not None and wanted in keys:
            index = keys.index(wanted)
            return _CsvLayout(delimiter, index, fields[index].strip(), len(fields))
        if wanted is None:
            for header in _DOMAIN_HEADERS:
                if header in keys:
                    index = keys.index(header)
                    return _CsvLayout(delimiter, index, fields[index].strip(), len(fields))
    delimiter = _guess_delimiter(first)
    fields = _csv_fields(first, delimiter)
    if column is not None and column.strip().isdigit():
        index = int(column.strip()) - 1
        if index < 0:
            raise InputFileError("CSV columns are numbered from 1")
        if index >= len(fields):
            raise InputFileError(
                f"column {index + 1} is out of range: the first row of {name} has "
                f"{len(fields)} column{'s' if len(fields) != 1 else ''}"
                f" ({_column_list(fields)})"
            )
        looks_like_header = not any(_is_integer(f) for f in fields) and not isinstance(
            parse_target(fields[index]), Target
        )
        if looks_like_header and "." not in fields[index]:
            return _CsvLayout(delimiter, index, fields[index].strip(), len(fields))
        return _CsvLayout(delimiter, index, None, len(fields))
    if column is not None:
        raise InputFileError(
            f"{name} has no column named {_quote(column.strip(), 64)}; "
            f"its columns are: {_column_list(fields)}"
        )
    # Tranco-style ``rank,domain`` without a header.
    comma_fields = _csv_fields(first, ",")
    if (
        len(comma_fields) == 2
        and _is_integer(comma_fields[0])
        and isinstance(parse_target(comma_fields[1]), Target)
    ):
        return _CsvLayout(",", 1, None, 2)
    if not forced:
        return None
    if len(fields) == 1:
        return _CsvLayout(delimiter, 0, None, None)
    raise InputFileError(
        f"{name} has no domain column: the first row has columns {_column_list(fields)}; "
        "name one (by header or 1-based number)"
    )


def _guess_delimiter(first: str) -> str:
    counts = {delimiter: first.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _is_integer(text: str) -> bool:
    stripped = text.strip()
    return stripped.isascii() and stripped.isdigit()


def _column_list(fields: list[str]) -> str:
    shown = ", ".join(_quote(field.strip(), 40) for field in fields[:20])
    return shown + (f", … ({len(fields)} in all)" if len(fields) > 20 else "")


class _BrokenRecord(Exception):
    """A quoted field ran past MAX_CSV_RECORD_LINES lines, or into an undecodable line."""


class _LineQueue:
    """Lines with push-back: lines swallowed by a broken quote are read again."""

    def __init__(self, lines: Iterator[_Line]) -> None:
        self._lines = lines
        self._pushed_back: collections.deque[_Line] = collections.deque()

    def __iter__(self) -> _LineQueue:
        return self

    def __next__(self) -> _Line:
        return self._pushed_back.popleft() if self._pushed_back else next(self._lines)

    def push_back(self, lines: list[_Line]) -> None:
        self._pushed_back.extendleft(reversed(lines))


def _quoted_record(
    first: _Line, queue: _LineQueue, delimiter: str
) -> tuple[list[str] | None, list[_Line]]:
    """Parse a record with quotes (which may span lines) with ``csv``; None if it is broken."""
    record = [first]

    def feed() -> Iterator[str]:
        yield first.text + "\n"
        while True:
            if len(record) >= MAX_CSV_RECORD_LINES:
                raise _BrokenRecord
            line = next(queue, None)
            if line is None:
                return
            record.append(line)
            if line.problem:
                raise _BrokenRecord
            yield line.text + "\n"

    try:
        row = next(csv.reader(feed(), delimiter=delimiter, strict=True), None)
    except (csv.Error, _BrokenRecord):
        row = None
    return row, record


def _csv_targets(
    lines: Iterator[_Line], layout: _CsvLayout, skip_header: bool
) -> Iterator[Target | InvalidLine]:
    """Rows without quotes (nearly all) are split directly; quoted ones go through ``csv``."""
    queue = _LineQueue(lines)
    delimiter = layout.delimiter
    header_pending = skip_header
    for line in queue:
        if line.problem:
            yield _invalid(line)
            continue
        text = line.text
        stripped = text.strip()
        if not stripped or stripped[0] == "#":
            continue
        if '"' in text or "\r" in text:
            row, record = _quoted_record(line, queue, delimiter)
            if row is None:
                queue.push_back(record[1:])
                yield InvalidLine(
                    line.number,
                    _printable(_redact_credentials(stripped)),
                    "bad_csv_row",
                    "the row has an unterminated or misplaced quote",
                )
                continue
        else:
            row = text.split(delimiter)
        if header_pending:
            header_pending = False
            continue
        yield _csv_row_target(row, line, layout)


def _csv_row_target(row: list[str], first: _Line, layout: _CsvLayout) -> Target | InvalidLine:
    if layout.width is not None and len(row) != layout.width:
        expected = "the header has" if layout.column_name is not None else "the first row has"
        return InvalidLine(
            first.number,
            _printable(_redact_credentials(layout.delimiter.join(row))),
            "bad_csv_row",
            f"the row has {len(row)} field{'s' if len(row) != 1 else ''} but {expected} "
            f"{layout.width}",
        )
    if layout.column >= len(row):
        return InvalidLine(
            first.number,
            _printable(_redact_credentials(layout.delimiter.join(row))),
            "bad_csv_row",
            f"the row has no column {layout.column + 1}",
        )
    value = row[layout.column].strip()
    if not value:
        return InvalidLine(
            first.number,
            _printable(_redact_credentials(layout.delimiter.join(row))),
            "bad_csv_row",
            "the domain column is empty in this row",
        )
    return parse_target(value, line=first.number)


# --------------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------------


class TargetReader(Iterator["Target | InvalidLine"]):
    """Iterator over the targets of one input; closes what it opened when done.

    Opening checks the input eagerly (missing file, binary content, CSV column), so those
    errors surface as :class:`InputFileError` before any line is scanned.
    """

    def __init__(
        self, source: TargetSource, *, column: str | None = None, input_format: InputFormat = "auto"
    ) -> None:
        self._owned: IO[bytes] | None = None
        if input_format not in ("auto", "text", "csv"):
            raise ValueError(f"input_format must be 'auto', 'text' or 'csv', not {input_format!r}")
        self.name = "the input"
        self.format: Literal["text", "csv"] = "text"
        self.column_name: str | None = None
        self.column_index: int | None = None  # 1-based
        self.delimiter: str | None = None
        try:
            lines = self._open(source)
            self._iterator = self._targets(lines, column, input_format)
        except BaseException:
            self.close()
            raise

    def _open(self, source: TargetSource) -> Iterator[_Line]:
        if isinstance(source, str) and source == "-":
            self.name = "standard input"
            stdin = sys.stdin
            if stdin is None:
                raise InputFileError("standard input is closed; there is nothing to read")
            buffer = getattr(stdin, "buffer", None)
            if buffer is not None:
                return self._binary_lines(buffer)
            return _stream_lines(stdin, gb18030_fallback=False)
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            self.name = _printable(str(path), 1024)
            self._owned = self._open_file(path)
            return self._binary_lines(self._owned)
        if isinstance(source, io.TextIOBase) or isinstance(getattr(source, "encoding", None), str):
            return _stream_lines(cast("IO[str]", source), gb18030_fallback=False)
        if hasattr(source, "read"):
            return self._binary_lines(cast("IO[bytes]", source))
        if isinstance(source, Iterable):
            return _iterable_lines(source)
        raise TypeError(f"cannot read targets from a {type(source).__name__}")

    def _open_file(self, path: Path) -> IO[bytes]:
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise InputFileError(f"input file not found: {self.name}") from None
        except IsADirectoryError:
            raise InputFileError(f"{self.name} is a directory, not a domain list") from None
        except PermissionError:
            raise InputFileError(f"cannot read {self.name}: permission denied") from None
        except OSError as error:
            raise InputFileError(f"cannot read {self.name}: {error.strerror or error}") from None
        except ValueError:  # an embedded NUL: no such file can exist
            raise InputFileError(
                f"cannot read {self.name}: the path contains a NUL character"
            ) from None

    def _binary_lines(self, stream: IO[bytes]) -> Iterator[_Line]:
        try:
            sample = _read_block(stream, SNIFF_BYTES)
        except OSError as error:
            raise InputFileError(f"cannot read {self.name}: {error.strerror or error}") from None
        encoding, fallback = _sniff_encoding(sample, len(sample) < SNIFF_BYTES, self.name)
        text = io.TextIOWrapper(
            io.BufferedReader(_PrefixedStream(sample, stream), 65_536),
            encoding=encoding,
            errors="surrogateescape" if fallback else _ESCAPE_ERRORS,
            newline=None,
        )
        return _stream_lines(text, fallback)

    def _targets(
        self, lines: Iterator[_Line], column: str | None, input_format: InputFormat
    ) -> Iterator[Target | InvalidLine]:
        if input_format == "text" and column is None:
            return _text_targets(lines)
        # Look at the first significant line (blank and comment lines say nothing).
        ahead: list[_Line] = []
        first: _Line | None = None
        for line in lines:
            ahead.append(line)
            if line.problem or _entry_of(line.text):
                first = line
                break
            ahead.clear()  # blank/comment lines produce nothing; no need to keep them
        replay = _chain(ahead, lines)
        if first is None or first.problem:
            if input_format == "csv" or column is not None:
                if first is None:
                    return iter(())
                raise InputFileError(f"{self.name}: the first row is not text, so no header")
            return _text_targets(replay)
        forced = input_format == "csv" or column is not None
        layout = _detect_csv(first.text.strip(), column, forced, self.name)
        if layout is None:
            return _text_targets(replay)
        self.format = "csv"
        self.column_name = layout.column_name
        self.column_index = layout.column + 1
        self.delimiter = layout.delimiter
        return _csv_targets(replay, layout, skip_header=layout.column_name is not None)

    def __iter__(self) -> TargetReader:
        return self

    def __next__(self) -> Target | InvalidLine:
        try:
            return next(self._iterator)
        except StopIteration:
            self.close()
            raise
        except OSError as error:
            self.close()
            raise InputFileError(f"cannot read {self.name}: {error.strerror or error}") from None
        except UnicodeDecodeError as error:
            self.close()
            raise InputFileError(f"cannot decode {self.name}: {error.reason}") from None

    def close(self) -> None:
        """Release the file this reader opened (never stdin or a caller's stream)."""
        owned, self._owned = self._owned, None
        if owned is not None:
            owned.close()

    def __enter__(self) -> TargetReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def _chain(ahead: list[_Line], rest: Iterator[_Line]) -> Iterator[_Line]:
    yield from ahead
    yield from rest


def read_targets(
    source: TargetSource,
    *,
    column: str | None = None,
    input_format: InputFormat = "auto",
) -> TargetReader:
    """Stream the targets of a domain list: a path, ``"-"`` for stdin, a stream or lines.

    ``column`` picks the CSV column by header name or 1-based number (and implies CSV);
    ``input_format`` forces ``"text"`` or ``"csv"`` instead of detecting it. Yields a
    :class:`Target` or an :class:`InvalidLine` for every entry, in input order; blank and
    comment lines yield nothing. Raises :class:`InputFileError` when the input as a whole is
    unusable — at the call for what the first block shows, later for read errors.
    """
    return TargetReader(source, column=column, input_format=input_format)


def unique_targets(
    items: Iterable[Target | InvalidLine],
) -> Iterator[Target | InvalidLine]:
    """Drop repeated domains (first one wins); for small inputs such as ``locate`` arguments.

    Memory grows with the number of distinct domains: a full scan leaves deduplication to
    the store's unique key instead.
    """
    seen: set[str] = set()
    for item in items:
        if isinstance(item, Target):
            if item.domain in seen:
                continue
            seen.add(item.domain)
        yield item
