"""Team Cymru's IP-to-ASN DNS zones, computed from a World's origin and AS-name tables.

Real Cymru answers three kinds of TXT query, and ipwhois (``asn_methods=["dns"]``) parses them:

* ``4.3.2.1.origin.asn.cymru.com`` -> ``"24151 | 1.2.4.0/24 | CN | apnic | 2010-05-11"``, one TXT
  record per announced prefix covering 1.2.3.4 (covering prefixes too, most specific first);
* ``<nibbles>.origin6.asn.cymru.com`` for IPv6, nibble-reversed; all 32 nibbles, or only the
  leading significant ones (the rest are taken as zero);
* ``AS4134.asn.cymru.com`` -> ``"4134 | CN | apnic | 2002-02-21 | CHINANET-BACKBONE ..."``.

Lookups index prefixes by length (one dict probe per distinct prefix length), so a world with
many thousands of prefixes answers as fast as one with ten.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from icpscan.sandbox.world import AsnInfo, AsnPrefix

CYMRU_APEX = "asn.cymru.com"
ORIGIN_SUFFIX = ".origin.asn.cymru.com"
ORIGIN6_SUFFIX = ".origin6.asn.cymru.com"
# Names that exist in the Cymru tree without holding records themselves.
STRUCTURAL_NAMES = frozenset(
    {"cymru.com", CYMRU_APEX, "origin.asn.cymru.com", "origin6.asn.cymru.com"}
)
_AS_NAME = re.compile(r"as(\d{1,10})\.asn\.cymru\.com")
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class _Entry:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    text: str


class _PrefixIndex:
    """Covering-prefix lookup for one address family: {prefix length: {network int: entries}}."""

    def __init__(self, width: int) -> None:
        self._width = width
        self._by_length: dict[int, dict[int, list[_Entry]]] = {}
        self._lengths: list[int] = []  # longest first

    def add(self, entry: _Entry) -> None:
        length = entry.network.prefixlen
        table = self._by_length.setdefault(length, {})
        table.setdefault(int(entry.network.network_address), []).append(entry)
        self._lengths = sorted(self._by_length, reverse=True)

    def covering(self, address: int) -> list[_Entry]:
        found: list[_Entry] = []
        all_ones = (1 << self._width) - 1
        for length in self._lengths:
            mask = all_ones ^ (all_ones >> length)
            entries = self._by_length[length].get(address & mask)
            if entries:
                found.extend(entries)
        return found


def origin_text(prefix: AsnPrefix, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    asns = " ".join(str(asn) for asn in prefix.asns)
    return f"{asns} | {network} | {prefix.country} | {prefix.registry} | {prefix.allocated}"


def as_name_text(info: AsnInfo) -> str:
    return f"{info.asn} | {info.country} | {info.registry} | {info.allocated} | {info.name}"


class CymruTables:
    """The origin, origin6 and AS-name tables of one World, ready for lookups."""

    def __init__(self, prefixes: Iterable[AsnPrefix], names: Mapping[int, AsnInfo]) -> None:
        self._v4 = _PrefixIndex(32)
        self._v6 = _PrefixIndex(128)
        for prefix in prefixes:
            try:
                network = ipaddress.ip_network(prefix.prefix, strict=False)
            except ValueError as error:
                raise ValueError(f"world.asn_prefixes: bad prefix {prefix.prefix!r}") from error
            if not prefix.asns:
                raise ValueError(f"world.asn_prefixes: {prefix.prefix!r} has no ASN")
            index = self._v4 if network.version == 4 else self._v6
            index.add(_Entry(network, origin_text(prefix, network)))
        self._names = {asn: as_name_text(info) for asn, info in names.items()}

    def origin(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
        """TXT strings for an address, most specific prefix first (empty: unknown address)."""
        index = self._v4 if address.version == 4 else self._v6
        return [entry.text for entry in index.covering(int(address))]

    def as_name(self, asn: int) -> str | None:
        return self._names.get(asn)

    def lookup(self, name: str) -> list[str] | None:
        """TXT strings for a lower-case name under asn.cymru.com; None means NXDOMAIN."""
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
        if name.endswith(ORIGIN_SUFFIX):
            address = _origin_address(name[: -len(ORIGIN_SUFFIX)])
        elif name.endswith(ORIGIN6_SUFFIX):
            address = _origin6_address(name[: -len(ORIGIN6_SUFFIX)])
        else:
            match = _AS_NAME.fullmatch(name)
            text = self.as_name(int(match.group(1))) if match else None
            return [text] if text is not None else None
        if address is None:
            return None
        return self.origin(address) or None


def _origin_address(reversed_octets: str) -> ipaddress.IPv4Address | None:
    """``4.3.2.1`` -> 1.2.3.4; shorter names (``3.2.1``) mean the missing octets are zero."""
    octets = reversed_octets.split(".")
    if not 1 <= len(octets) <= 4 or not all(o.isdigit() and len(o) <= 3 for o in octets):
        return None
    values = [int(o) for o in reversed(octets)]
    if any(v > 255 for v in values):
        return None
    values += [0] * (4 - len(values))
    return ipaddress.IPv4Address(bytes(values))


def _origin6_address(reversed_nibbles: str) -> ipaddress.IPv6Address | None:
    """``0.0.2.3.0.0.4.2`` -> 2400:3200::, up to 32 nibbles; missing ones are zero."""
    nibbles = reversed_nibbles.split(".")
    if not 1 <= len(nibbles) <= 32 or not all(len(n) == 1 and n in _HEX for n in nibbles):
        return None
    digits = "".join(reversed(nibbles)).ljust(32, "0")
    return ipaddress.IPv6Address(int(digits, 16))
