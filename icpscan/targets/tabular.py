"""CSV input: find the domain column (header names, Tranco shape, ``column=``), read rows."""

from __future__ import annotations

import collections
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass

from icpscan.targets.lines import Line, invalid_line
from icpscan.targets.model import InputFileError, InvalidLine, Target, printable, quote
from icpscan.targets.names import parse_target, redact_credentials

# A quoted CSV field may span lines, but not this many: an unterminated quote must not
# swallow the rest of the file.
MAX_CSV_RECORD_LINES = 32

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
    "网站首页网址",  # the MIIT filing record export
    "首页网址",
    "网站地址",
    "网站首页地址",
    "首页地址",
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
class CsvLayout:
    delimiter: str
    column: int  # 0-based
    column_name: str | None  # None when the file has no header
    width: int  # fields per row (the header's, or the first row's when there is no header)


def _csv_fields(text: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error:
        return [text]


def detect_csv(first: str, column: str | None, forced: bool, name: str) -> CsvLayout | None:
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
            return CsvLayout(delimiter, index, fields[index].strip(), len(fields))
        if wanted is None:
            for header in _DOMAIN_HEADERS:
                if header in keys:
                    index = keys.index(header)
                    return CsvLayout(delimiter, index, fields[index].strip(), len(fields))
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
            return CsvLayout(delimiter, index, fields[index].strip(), len(fields))
        return CsvLayout(delimiter, index, None, len(fields))
    if column is not None:
        raise InputFileError(
            f"{name} has no column named {quote(column.strip(), 64)}; "
            f"its columns are: {_column_list(fields)}"
        )
    # Tranco-style ``rank,domain`` without a header.
    comma_fields = _csv_fields(first, ",")
    if (
        len(comma_fields) == 2
        and _is_integer(comma_fields[0])
        and isinstance(parse_target(comma_fields[1]), Target)
    ):
        return CsvLayout(",", 1, None, 2)
    if not forced:
        return None
    if len(fields) == 1:
        return CsvLayout(delimiter, 0, None, 1)
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
    shown = ", ".join(quote(field.strip(), 40) for field in fields[:20])
    return shown + (f", … ({len(fields)} in all)" if len(fields) > 20 else "")


class _BrokenRecord(Exception):
    """A quoted field ran past MAX_CSV_RECORD_LINES lines, or into an undecodable line."""


class _LineQueue:
    """Lines with push-back: lines swallowed by a broken quote are read again."""

    def __init__(self, lines: Iterator[Line]) -> None:
        self._lines = lines
        self._pushed_back: collections.deque[Line] = collections.deque()

    def __iter__(self) -> _LineQueue:
        return self

    def __next__(self) -> Line:
        return self._pushed_back.popleft() if self._pushed_back else next(self._lines)

    def push_back(self, lines: list[Line]) -> None:
        self._pushed_back.extendleft(reversed(lines))


def _quoted_record(
    first: Line, queue: _LineQueue, delimiter: str
) -> tuple[list[str] | None, list[Line]]:
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


def csv_targets(
    lines: Iterator[Line], layout: CsvLayout, skip_header: bool
) -> Iterator[Target | InvalidLine]:
    """Rows without quotes (nearly all) are split directly; quoted ones go through ``csv``."""
    queue = _LineQueue(lines)
    delimiter = layout.delimiter
    header_pending = skip_header
    for line in queue:
        if line.problem:
            yield invalid_line(line)
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
                    printable(redact_credentials(stripped)),
                    "bad_csv_row",
                    "the row has an unterminated or misplaced quote",
                )
                continue
        elif layout.width == 1:
            row = [text]  # one column: a comma in an unquoted URL is part of it
        else:
            row = text.split(delimiter)
        if header_pending:
            header_pending = False
            continue
        yield _csv_row_target(row, line, layout)


def _csv_row_target(row: list[str], first: Line, layout: CsvLayout) -> Target | InvalidLine:
    if len(row) != layout.width:
        expected = "the header has" if layout.column_name is not None else "the first row has"
        return InvalidLine(
            first.number,
            printable(redact_credentials(layout.delimiter.join(row))),
            "bad_csv_row",
            f"the row has {len(row)} field{'s' if len(row) != 1 else ''} but {expected} "
            f"{layout.width}",
        )
    if layout.column >= len(row):
        return InvalidLine(
            first.number,
            printable(redact_credentials(layout.delimiter.join(row))),
            "bad_csv_row",
            f"the row has no column {layout.column + 1}",
        )
    value = row[layout.column].strip()
    if not value:
        return InvalidLine(
            first.number,
            printable(redact_credentials(layout.delimiter.join(row))),
            "bad_csv_row",
            "the domain column is empty in this row",
        )
    return parse_target(value, line=first.number)
