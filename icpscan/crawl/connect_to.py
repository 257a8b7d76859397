"""curl-style connection overrides: ``--connect-to`` rules and ``--resolve`` pins.

``--connect-to HOST1:PORT1:HOST2:PORT2`` sends a request for ``HOST1:PORT1`` to ``HOST2:PORT2``
while the URL, the Host header and TLS SNI keep the original name (curl's semantics: an empty
HOST1 matches any host, an empty PORT1 any port, an empty HOST2 or PORT2 keeps the original;
the first matching rule wins; IPv6 addresses go in brackets). The sandbox uses it to land every
public address on loopback; a hosting provider uses it to test a site on a new server.

``--resolve HOST:PORT:ADDR[,ADDR...]`` answers the name lookup of ``HOST`` (for ``PORT``) with
``ADDR`` instead of asking DNS (``*`` is accepted for any host or any port).

Pure: parsing and matching only. Errors are ``ValueError`` with a one-line message that the
CLI turns into exit code 2.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

_T = TypeVar("_T")

_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")


@dataclass(frozen=True)
class ConnectToRule:
    """One ``--connect-to`` rule; None fields mean "any" (HOST1/PORT1) or "keep" (HOST2/PORT2)."""

    host: str | None
    port: int | None
    connect_host: str | None
    connect_port: int | None

    def matches(self, host: str, port: int) -> bool:
        return (self.host is None or self.host == host) and (self.port is None or self.port == port)

    def target(self, host: str, port: int) -> tuple[str, int]:
        """Where a matching request for ``host:port`` connects (the host may still be a name)."""
        return (self.connect_host or host, self.connect_port or port)

    def __str__(self) -> str:
        return ":".join(
            (
                _format_host(self.host),
                str(self.port or ""),
                _format_host(self.connect_host),
                str(self.connect_port or ""),
            )
        )


@dataclass(frozen=True)
class ResolvePin:
    """One ``--resolve`` pin; None host/port mean "any"."""

    host: str | None
    port: int | None
    addresses: tuple[str, ...]

    def matches(self, host: str, port: int) -> bool:
        return (self.host is None or self.host == host) and (self.port is None or self.port == port)

    def __str__(self) -> str:
        addresses = ",".join(_format_host(a) for a in self.addresses)
        return f"{self.host or '*'}:{self.port or '*'}:{addresses}"


@dataclass(frozen=True)
class ConnectionOverrides:
    """The user's ``--connect-to`` rules and ``--resolve`` pins, in the order given."""

    rules: tuple[ConnectToRule, ...] = ()
    pins: tuple[ResolvePin, ...] = ()

    @classmethod
    def parse(
        cls, connect_to: Iterable[str] = (), resolve: Iterable[str] = ()
    ) -> ConnectionOverrides:
        return cls(
            tuple(parse_connect_to(r) for r in connect_to), tuple(parse_resolve(r) for r in resolve)
        )

    def connect_target(self, host: str, port: int) -> tuple[str, int] | None:
        """Where a request for ``host:port`` connects; None when no rule matches."""
        host = normalise_host(host)
        rule = _first_match(self._rule_index, host, port)
        return None if rule is None else rule.target(host, port)

    def pinned_addresses(self, host: str, port: int) -> tuple[str, ...] | None:
        """The ``--resolve`` answer for ``host:port``, or None to ask the resolver."""
        pin = _first_match(self._pin_index, normalise_host(host), port)
        return None if pin is None else pin.addresses

    @functools.cached_property
    def _rule_index(self) -> _Index[ConnectToRule]:
        return _Index.build(self.rules)

    @functools.cached_property
    def _pin_index(self) -> _Index[ResolvePin]:
        return _Index.build(self.pins)

    def __bool__(self) -> bool:
        return bool(self.rules or self.pins)


_R = TypeVar("_R", ConnectToRule, ResolvePin)


@dataclass(frozen=True)
class _Index(Generic[_R]):
    """Rules by host, plus the any-host ones, keeping their order.

    A sandbox or a hosting provider may give thousands of host rules; matching must not scan
    them all for every request. First-match semantics hold: the earliest matching rule wins,
    whether it names the host or not.
    """

    by_host: dict[str, list[tuple[int, _R]]]
    any_host: list[tuple[int, _R]]

    @classmethod
    def build(cls, items: Sequence[_R]) -> _Index[_R]:
        by_host: dict[str, list[tuple[int, _R]]] = {}
        any_host: list[tuple[int, _R]] = []
        for position, item in enumerate(items):
            if item.host is None:
                any_host.append((position, item))
            else:
                by_host.setdefault(item.host, []).append((position, item))
        return cls(by_host, any_host)


def _first_match(index: _Index[_R], host: str, port: int) -> _R | None:
    best: tuple[int, _R] | None = None
    for candidates in (index.by_host.get(host, ()), index.any_host):
        for position, item in candidates:
            if best is not None and position > best[0]:
                break
            if item.matches(host, port):
                best = (position, item)
                break
    return None if best is None else best[1]


def normalise_host(host: str) -> str:
    """Lower-case, no trailing dot, IPv6 without brackets, IDN as punycode."""
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"{host!r} is not a valid host name") from exc
    return host


def parse_connect_to(rule: str) -> ConnectToRule:
    """Parse ``HOST1:PORT1:HOST2:PORT2`` (curl's ``--connect-to``)."""
    fields = _split_fields(rule, "--connect-to rule", "HOST1:PORT1:HOST2:PORT2")
    if len(fields) != 4:
        raise ValueError(
            f"bad --connect-to rule {rule!r}: expected HOST1:PORT1:HOST2:PORT2 "
            f"(4 fields, IPv6 in brackets), got {len(fields)}"
        )
    host, port, connect_host, connect_port = fields
    what = f"bad --connect-to rule {rule!r}"
    return ConnectToRule(
        host=_parse_host(host, what, allow_empty=True),
        port=_parse_port(port, what, allow_empty=True),
        connect_host=_parse_host(connect_host, what, allow_empty=True),
        connect_port=_parse_port(connect_port, what, allow_empty=True),
    )


def parse_resolve(rule: str) -> ResolvePin:
    """Parse ``[+]HOST:PORT:ADDR[,ADDR...]`` (curl's ``--resolve``; ``*`` = any host/port)."""
    text = rule.strip()
    what = f"bad --resolve pin {rule!r}"
    if text.startswith("-"):
        raise ValueError(f"{what}: removing pins ('-HOST:PORT') is not supported")
    text = text.removeprefix("+")  # curl's "time out this entry" marker: pins never expire here
    fields = _split_fields(text, "--resolve pin", "HOST:PORT:ADDR[,ADDR...]", max_fields=3)
    if len(fields) != 3 or not fields[2]:
        raise ValueError(f"{what}: expected HOST:PORT:ADDR[,ADDR...]")
    host_text, port_text, addresses_text = fields
    if not host_text:
        raise ValueError(f"{what}: HOST is empty (use * for any host)")
    if not port_text:
        raise ValueError(f"{what}: PORT is empty (use * for any port)")
    host = None if host_text == "*" else _parse_host(host_text, what, allow_empty=False)
    port = None if port_text == "*" else _parse_port(port_text, what, allow_empty=False)
    addresses = tuple(_parse_address(a, what) for a in addresses_text.split(","))
    return ResolvePin(host=host, port=port, addresses=addresses)


def read_rules_file(path: str | Path) -> list[tuple[int, str]]:
    """``(line number, rule)`` for each rule line of a file; ``#`` starts a comment."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read rules file {str(path)!r}: {exc}") from exc
    rules = []
    for number, line in enumerate(text.splitlines(), start=1):
        rule = line.split("#", 1)[0].strip()
        if rule:
            rules.append((number, rule))
    return rules


def load_connect_to_file(path: str | Path) -> list[ConnectToRule]:
    return _load(path, parse_connect_to)


def load_resolve_file(path: str | Path) -> list[ResolvePin]:
    return _load(path, parse_resolve)


def _load(path: str | Path, parse: Callable[[str], _T]) -> list[_T]:
    parsed = []
    for number, rule in read_rules_file(path):
        try:
            parsed.append(parse(rule))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}") from None
    return parsed


# -- field parsing -----------------------------------------------------------------------------


def _split_fields(text: str, what: str, syntax: str, max_fields: int = 0) -> list[str]:
    """Split on ':' outside brackets; with ``max_fields`` the last field keeps the rest."""
    fields: list[str] = []
    current: list[str] = []
    in_brackets = False
    for index, char in enumerate(text):
        if max_fields and len(fields) == max_fields - 1:
            fields.append(text[index:])
            return fields
        if char == "[":
            if in_brackets:
                raise ValueError(f"bad {what} {text!r}: nested '['")
            in_brackets = True
        elif char == "]":
            if not in_brackets:
                raise ValueError(f"bad {what} {text!r}: ']' without '['")
            in_brackets = False
        if char == ":" and not in_brackets:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    if in_brackets:
        raise ValueError(f"bad {what} {text!r}: unclosed '['")
    fields.append("".join(current))
    if max_fields and len(fields) < max_fields:
        raise ValueError(f"bad {what} {text!r}: expected {syntax}")
    return fields


def _parse_port(text: str, what: str, *, allow_empty: bool) -> int | None:
    text = text.strip()
    if not text and allow_empty:
        return None
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{what}: port {text!r} is not a number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"{what}: port {port} is out of range 1-65535")
    return port


def _parse_host(text: str, what: str, *, allow_empty: bool) -> str | None:
    text = text.strip()
    if not text:
        if allow_empty:
            return None
        raise ValueError(f"{what}: empty host")
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError(f"{what}: {text!r} has text after ']'")
        inner = text[1:-1]
        try:
            return str(ipaddress.IPv6Address(inner))
        except ValueError:
            raise ValueError(f"{what}: {text!r} is not an IPv6 address") from None
    if "]" in text:
        raise ValueError(f"{what}: {text!r} has ']' without '['")
    try:
        host = normalise_host(text)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    if _is_ip(host):
        return str(ipaddress.ip_address(host))
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{what}: {text!r} is not a valid host name")
    return host


def _parse_address(text: str, what: str) -> str:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not an IP address") from None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _format_host(host: str | None) -> str:
    if host is None:
        return ""
    return f"[{host}]" if ":" in host else host


__all__: Sequence[str] = (
    "ConnectToRule",
    "ConnectionOverrides",
    "ResolvePin",
    "load_connect_to_file",
    "load_resolve_file",
    "normalise_host",
    "parse_connect_to",
    "parse_resolve",
    "read_rules_file",
)
