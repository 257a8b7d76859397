"""Longest-prefix match over IPv4/IPv6 networks: the one data structure every source shares.

One dict per prefix length, keyed by the network's integer: a lookup tries each length present,
longest first. With the ~20 lengths real tables use that is a few microseconds per address and
needs no third-party radix tree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_BITS = {4: 32, 6: 128}


def parse_address(text: str) -> IPAddress:
    """An address from text; an IPv4-mapped IPv6 address becomes its IPv4 address."""
    ip = ipaddress.ip_address(text.strip())
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class PrefixTable(Generic[T]):
    """Networks -> values with longest-prefix match (the most specific network wins)."""

    def __init__(self) -> None:
        self._by_length: dict[int, dict[int, dict[int, tuple[IPNetwork, T]]]] = {4: {}, 6: {}}
        self._lengths: dict[int, list[int]] = {4: [], 6: []}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, network: IPNetwork | str, value: T) -> None:
        """Add (or replace) ``network``; host bits must be zero."""
        net = ipaddress.ip_network(network) if isinstance(network, str) else network
        tables = self._by_length[net.version]
        table = tables.get(net.prefixlen)
        if table is None:
            table = tables[net.prefixlen] = {}
            self._lengths[net.version] = sorted(tables, reverse=True)
        key = int(net.network_address)
        if key not in table:
            self._size += 1
        table[key] = (net, value)

    def lookup(self, address: IPAddress | str) -> tuple[IPNetwork, T] | None:
        """The most specific network containing ``address`` and its value, or None."""
        ip = parse_address(address) if isinstance(address, str) else address
        version = ip.version
        tables = self._by_length[version]
        bits = _BITS[version]
        value = int(ip)
        for length in self._lengths[version]:
            hit = tables[length].get(value >> (bits - length) << (bits - length))
            if hit is not None:
                return hit
        return None

    def __iter__(self) -> Iterator[tuple[IPNetwork, T]]:
        for version in (4, 6):
            for length in self._lengths[version]:
                yield from self._by_length[version][length].values()
