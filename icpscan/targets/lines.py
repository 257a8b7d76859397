"""Bytes -> numbered, decoded lines: encoding sniffing, per-line GB18030 fallback, caps."""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from icpscan.targets.model import (
    MAX_LINE_CHARS,
    SNIFF_BYTES,
    InputFileError,
    InvalidLine,
    Problem,
    printable,
)
from icpscan.targets.names import redact_credentials

_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\x0b\x0c\x1b") + b"\x7f"

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(slots=True)
class Line:
    number: int
    text: str  # without the line end; for problems, the (escaped-later) text we have
    problem: Problem | None = None


class _PrefixedStream(io.RawIOBase):
    """The sniffed first block followed by the rest of a binary stream we must not re-read.

    Closing it leaves the rest open: that belongs to whoever opened it (stdin, the caller, or
    the reader).
    """

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


def stream_lines(stream: IO[str], gb18030_fallback: bool) -> Iterator[Line]:
    """Lines of a text stream, each decoded, capped in length and numbered from 1."""
    readline = stream.readline
    number = 0
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
            yield Line(number, text, _LINE_TOO_LONG)
            continue
        if text.isascii():
            yield Line(number, text)
            continue
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield _decoded(number, text, gb18030_fallback)


def iterable_lines(items: Iterable[str] | Iterable[bytes]) -> Iterator[Line]:
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
            yield Line(number, text[:MAX_LINE_CHARS], _LINE_TOO_LONG)
            continue
        yield _decoded(number, text, gb18030_fallback=True)


_LINE_TOO_LONG = Problem(
    "too_long", f"the line is longer than {MAX_LINE_CHARS} characters; no domain or URL is"
)

_NOT_TEXT = Problem("not_text", "the line is not valid UTF-8 or GB18030 text")


def _decoded(number: int, text: str, gb18030_fallback: bool) -> Line:
    """Undecodable bytes arrive as lone surrogates (surrogateescape); retry them as GB18030."""
    if text.isascii():
        return Line(number, text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        if gb18030_fallback:
            try:
                return Line(number, text.encode("utf-8", "surrogateescape").decode("gb18030"))
            except UnicodeError:
                pass
        return Line(number, text, _NOT_TEXT)
    return Line(number, text)


def invalid_line(line: Line) -> InvalidLine:
    assert line.problem is not None
    return InvalidLine(
        line.number,
        printable(redact_credentials(line.text.strip())),
        line.problem.reason,
        line.problem.message,
    )


def binary_lines(stream: IO[bytes], name: str) -> Iterator[Line]:
    """Decoded lines of a binary stream; raises InputFileError if it is not text at all."""
    try:
        sample = _read_block(stream, SNIFF_BYTES)
    except OSError as error:
        raise InputFileError(f"cannot read {name}: {error.strerror or error}") from None
    encoding, fallback = _sniff_encoding(sample, len(sample) < SNIFF_BYTES, name)
    text = io.TextIOWrapper(
        io.BufferedReader(_PrefixedStream(sample, stream), 65_536),
        encoding=encoding,
        errors="surrogateescape" if fallback else _ESCAPE_ERRORS,
        newline=None,
    )
    return stream_lines(text, fallback)
