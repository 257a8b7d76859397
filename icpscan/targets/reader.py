"""The reader: open the source, pick text or CSV, and stream targets in input order."""

from __future__ import annotations

import io
import itertools
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Literal, cast

from icpscan.targets.lines import (
    Line,
    binary_lines,
    invalid_line,
    iterable_lines,
    stream_lines,
)
from icpscan.targets.model import (
    InputFileError,
    InputFormat,
    InvalidLine,
    Target,
    TargetSource,
    printable,
)
from icpscan.targets.names import parse_target
from icpscan.targets.tabular import csv_targets, detect_csv


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


def _text_targets(lines: Iterator[Line]) -> Iterator[Target | InvalidLine]:
    for line in lines:
        if line.problem:
            yield invalid_line(line)
            continue
        entry = line.text.strip()
        if not entry or entry[0] == "#":
            continue
        if "#" in entry:
            entry = _entry_of(entry)
        yield parse_target(entry, line=line.number)


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
        # A file named .csv/.tsv is CSV even without a recognisable header: a wrong column
        # then gets a clear error instead of a text list where every line is invalid.
        named_csv = isinstance(source, str | os.PathLike) and Path(source).suffix.lower() in (
            ".csv",
            ".tsv",
        )
        try:
            lines = self._open(source)
            if input_format == "auto" and named_csv:
                input_format = "csv"
            self._iterator = self._targets(lines, column, input_format)
        except BaseException as error:
            self.close()
            if isinstance(error, OSError | UnicodeDecodeError):
                raise _read_error(self.name, error) from None
            raise

    def _open(self, source: TargetSource) -> Iterator[Line]:
        if isinstance(source, str) and source == "-":
            self.name = "standard input"
            stdin = sys.stdin
            if stdin is None:
                raise InputFileError("standard input is closed; there is nothing to read")
            buffer = getattr(stdin, "buffer", None)
            if buffer is not None:
                return binary_lines(buffer, self.name)
            return stream_lines(stdin, gb18030_fallback=False)
        if isinstance(source, str | os.PathLike):
            path = Path(source)
            self.name = printable(str(path), 1024)
            self._owned = self._open_file(path)
            return binary_lines(self._owned, self.name)
        if isinstance(source, io.TextIOBase) or isinstance(getattr(source, "encoding", None), str):
            return stream_lines(cast("IO[str]", source), gb18030_fallback=False)
        if hasattr(source, "read"):
            return binary_lines(cast("IO[bytes]", source), self.name)
        if isinstance(source, Iterable):
            return iterable_lines(source)
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

    def _targets(
        self, lines: Iterator[Line], column: str | None, input_format: InputFormat
    ) -> Iterator[Target | InvalidLine]:
        if input_format == "text":
            if column is not None:
                raise InputFileError("a column can only be chosen in CSV input, not in a text list")
            return _text_targets(lines)
        # Look at the first significant line (blank and comment lines say nothing).
        ahead: list[Line] = []
        first: Line | None = None
        for line in lines:
            ahead.append(line)
            if line.problem or _entry_of(line.text):
                first = line
                break
            ahead.clear()  # blank/comment lines produce nothing; no need to keep them
        replay = itertools.chain(ahead, lines)
        if first is None or first.problem:
            if input_format == "csv" or column is not None:
                if first is None:
                    return iter(())
                raise InputFileError(
                    f"{self.name}: the first line is not UTF-8 or GB18030 text, "
                    "so the CSV header cannot be read"
                )
            return _text_targets(replay)
        forced = input_format == "csv" or column is not None
        layout = detect_csv(first.text.strip(), column, forced, self.name)
        if layout is None:
            return _text_targets(replay)
        self.format = "csv"
        self.column_name = layout.column_name
        self.column_index = layout.column + 1
        self.delimiter = layout.delimiter
        return csv_targets(replay, layout, skip_header=layout.column_name is not None)

    def __iter__(self) -> TargetReader:
        return self

    def __next__(self) -> Target | InvalidLine:
        try:
            return next(self._iterator)
        except StopIteration:
            self.close()
            raise
        except (OSError, UnicodeDecodeError) as error:
            self.close()
            raise _read_error(self.name, error) from None

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


def _read_error(name: str, error: OSError | UnicodeDecodeError) -> InputFileError:
    if isinstance(error, UnicodeDecodeError):
        return InputFileError(f"cannot decode {name}: {error.reason}")
    return InputFileError(f"cannot read {name}: {error.strerror or error}")


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
