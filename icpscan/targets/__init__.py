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

from icpscan.targets.model import (
    MAX_DOMAIN_OCTETS,
    MAX_LABEL_OCTETS,
    MAX_LINE_CHARS,
    REASONS,
    InputFileError,
    InputFormat,
    InvalidLine,
    Reason,
    Target,
    TargetSource,
)
from icpscan.targets.names import parse_target
from icpscan.targets.reader import TargetReader, read_targets, unique_targets

__all__ = [
    "MAX_DOMAIN_OCTETS",
    "MAX_LABEL_OCTETS",
    "MAX_LINE_CHARS",
    "REASONS",
    "InputFileError",
    "InputFormat",
    "InvalidLine",
    "Reason",
    "Target",
    "TargetReader",
    "TargetSource",
    "parse_target",
    "read_targets",
    "unique_targets",
]
