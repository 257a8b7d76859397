"""One entry -> a host name: URL host extraction, UTS #46 mapping, punycode, DNS limits.

Pure and fast for the common case (a plain ASCII name skips everything but one regex).
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from urllib.parse import unquote

import idna

from icpscan.targets.model import (
    MAX_DOMAIN_OCTETS,
    MAX_LABEL_OCTETS,
    RAW_LIMIT,
    InvalidLine,
    Problem,
    Target,
    printable,
    quote,
)

# Longest host name we try to map at all (UTS #46 can drop ignored characters, so the limit is
# generous; no real host name is near it).
_MAX_HOST_CHARS = 1_024

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


def parse_target(text: str, *, line: int = 0) -> Target | InvalidLine:
    """Normalise one entry (a domain or a URL) into a :class:`Target`, or say why not.

    ``line`` is stored in the result; leave it 0 for entries that do not come from a file
    (command-line arguments). Never raises for any string.
    """
    entry = text.strip()
    fast = _fast_name(entry.lower())
    if fast is not None:
        raw = entry if len(entry) <= RAW_LIMIT else printable(entry)
        return Target(fast[0], fast[1], line, raw)
    result = _parse_slow(entry)
    raw = printable(redact_credentials(entry))
    if isinstance(result, Problem):
        return InvalidLine(line, raw, result.reason, result.message)
    domain, display = result
    return Target(domain, display, line, raw)


def _fast_name(lowered: str) -> tuple[str, str] | None:
    """(domain, display) for a lower-cased plain ASCII host name, or None to take the long way.

    Plain LDH names (the overwhelming majority) need one regex; ``xn--`` labels are checked
    with the per-label cache; names with right-to-left labels go the long way (bidi rule).
    """
    if not _FAST_NAME.fullmatch(lowered):
        return None
    domain = lowered[:-1] if lowered.endswith(".") else lowered
    if len(domain) > MAX_DOMAIN_OCTETS:
        return None
    if "xn--" not in domain:
        return domain, domain
    shown = []
    for label in domain.split("."):
        if label.startswith("xn--"):
            decoded = _decode_alabel(label)
            if isinstance(decoded, Problem) or _has_rtl(decoded):
                return None
            label = _display_label(decoded, label)
        shown.append(label)
    return domain, ".".join(shown)


def _parse_slow(entry: str) -> tuple[str, str] | Problem:
    if not entry:
        return Problem("empty_label", "the entry is empty")
    host = _host_of(entry)
    if isinstance(host, Problem):
        return host
    fast = _fast_name(host.lower()) if host.isascii() else None
    return fast if fast is not None else _normalise_host(host)


def _host_of(entry: str) -> str | Problem:
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
            return Problem("bad_url", "'[' opens an IPv6 address that is never closed")
        inside = authority[1:close]
        if _is_ipv6(inside):
            return _ip_problem(inside)
        return Problem("bad_url", "the part in brackets is not an IPv6 address")
    host, colon, port = authority.partition(":")
    if colon and port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return Problem("bad_url", f"the port {quote(port, 20)} is not a number between 0 and 65535")
    if not host:
        return Problem("bad_url", "the URL has no host name")
    if "%" in host and len(host) <= _MAX_HOST_CHARS:  # longer hosts fail as too_long anyway
        try:
            host = unquote(host, errors="strict")
        except UnicodeDecodeError:
            return Problem("bad_url", "the host name has percent-escapes that are not UTF-8")
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


# The userinfo of every authority in a text (at its start, or after any "//"), up to the last
# "@" before the path. Runs stop at "/", so the scan stays linear.
_CREDENTIALS = re.compile(r"(^|//)[^/?#\\\s]*@")


def redact_credentials(text: str) -> str:
    """``https://user:secret@host/`` -> ``https://***@host/``: raw text is logged and stored.

    Works on any text (a URL, a CSV row, an undecodable line), not only on entries that parse.
    """
    if "@" not in text:
        return text
    return _CREDENTIALS.sub(r"\1***@", text)


def _normalise_host(host: str) -> tuple[str, str] | Problem:
    if len(host) > _MAX_HOST_CHARS:
        return Problem(
            "too_long",
            f"the host name is {len(host)} characters long; "
            f"a domain name has at most {MAX_DOMAIN_OCTETS} octets",
        )
    if host.startswith(_WILDCARD_STARS):
        return Problem(
            "wildcard",
            "a wildcard entry cannot be scanned; list the host names to audit "
            "(e.g. www.example.com)",
        )
    mapped = _map_characters(host)
    if isinstance(mapped, Problem):
        return mapped
    if mapped.endswith("."):
        mapped = mapped[:-1]
    labels = mapped.split(".")
    if "" in labels:
        return Problem(
            "empty_label",
            "the name has an empty label (a leading dot, or two dots in a row)",
        )
    if len(labels) == 1:
        return Problem(
            "single_label",
            f"{quote(mapped, 64)} has no dot; a public domain name has at least two labels "
            "(e.g. example.com)",
        )
    last = labels[-1]
    if last.isascii() and (last.isdigit() or _HEX_NUMBER.fullmatch(last)):
        return _ip_problem(mapped)
    for label in labels:
        if (label.startswith("-") or label.endswith("-")) and not label.startswith("xn--"):
            return Problem(
                "bad_characters", f"the label {quote(label, 64)} starts or ends with a hyphen"
            )
    return _encode_labels(labels)


def _map_characters(host: str) -> str | Problem:
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
        return Problem("bad_characters", "the name has characters not allowed in domain names")


def _bad_character(char: str) -> Problem:
    what = _describe_char(char)
    if char.isspace():
        hint = "; put one domain per line"
    elif char in ",;\t|":
        hint = "; if this is a CSV file, read it as CSV and name the domain column"
    elif char == "_":
        hint = " (underscores are not allowed in host names)"
    else:
        hint = ""
    return Problem("bad_characters", f"{what} is not allowed in a domain name{hint}")


def _encode_labels(labels: list[str]) -> tuple[str, str] | Problem:
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
                if isinstance(decoded, Problem):
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
        if isinstance(alabel, Problem):
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
        return Problem(
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


def _label_too_long(label: str) -> Problem:
    return Problem(
        "label_too_long",
        f"the label {quote(label, 24)} is {len(label)} octets long in ASCII form; "
        f"a label has at most {MAX_LABEL_OCTETS}",
    )


# Labels repeat (TLDs such as xn--fiqs8s, common IDN words): cache per label, bounded.
@functools.lru_cache(maxsize=4096)
def _encode_ulabel(label: str) -> str | Problem:
    problem = _check_unicode_label(label)
    if problem:
        return problem
    alabel = "xn--" + label.encode("punycode").decode("ascii")
    if len(alabel) > MAX_LABEL_OCTETS:
        return _label_too_long(alabel)
    return alabel


@functools.lru_cache(maxsize=4096)
def _decode_alabel(label: str) -> str | Problem:
    """An ``xn--`` label must be valid punycode of a valid label that encodes back to itself."""
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return Problem("bad_idna", f"the label {quote(label, 64)} is not valid punycode")
    if decoded.isascii() or "xn--" + decoded.encode("punycode").decode("ascii") != label:
        return Problem(
            "bad_idna", f"the label {quote(label, 64)} is not the punycode form of a label"
        )
    try:
        remapped = idna.uts46_remap(decoded, std3_rules=True)
    except idna.IDNAError:
        remapped = None
    if remapped != decoded:
        return Problem(
            "bad_idna",
            f"the label {quote(label, 64)} decodes to characters not allowed in domain names",
        )
    return _check_unicode_label(decoded, shown=label) or decoded


def _check_unicode_label(label: str, shown: str | None = None) -> Problem | None:
    """UTS #46 validity criteria for a mapped label (NFC, marks, joiners, hyphens)."""
    name = quote(shown or label, 64)
    if not unicodedata.is_normalized("NFC", label):
        return Problem("bad_idna", f"the label {name} is not in Unicode normal form C")
    if label.startswith("xn--"):
        return Problem("bad_idna", f"the label {name} decodes to another 'xn--' label")
    if label.startswith("-") or label.endswith("-"):
        return Problem("bad_characters", f"the label {name} starts or ends with a hyphen")
    if unicodedata.category(label[0]).startswith("M"):
        return Problem("bad_idna", f"the label {name} starts with a combining mark")
    for position, char in enumerate(label):
        if char in "\u200c\u200d":
            try:
                allowed = idna.valid_contextj(label, position)
            except (ValueError, idna.IDNAError):
                allowed = False
            if not allowed:
                return Problem(
                    "bad_idna",
                    f"the label {name} has a zero-width joiner where IDNA does not allow one",
                )
    return None


def _check_bidi(labels: list[str]) -> Problem | None:
    """RFC 5893: in a name with any right-to-left label, every label obeys the Bidi Rule."""
    if not any(_has_rtl(label) for label in labels):
        return None  # the Bidi Rule constrains only names with right-to-left labels
    try:
        for label in labels:
            idna.check_bidi(label, check_ltr=True)
    except (ValueError, idna.IDNAError):
        return Problem(
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


def _ip_problem(host: str) -> Problem:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return Problem(
            "ip_literal",
            f"{quote(host, 64)} ends in a number, so it is read as an IPv4 address, "
            "not a domain name; icpscan audits domain names",
        )
    return Problem(
        "ip_literal",
        f"{address} is an IP address, not a domain name; icpscan audits domain names",
    )


def _describe_char(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if char.isprintable() and not char.isspace():
        return f"the character '{char}' ({code})"
    return f"the character {code}"
