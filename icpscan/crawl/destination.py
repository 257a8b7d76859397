"""Where one request connects: pinned address, egress policy, then ``--connect-to``.

The order is the contract (docs in :mod:`icpscan.crawl.handler`):

1. the **address** of the request's host: the hosting stage's pin when the pin names this very
   host (redirects copy meta to other hosts, so a pin for ``a.com`` must never send ``b.com``
   to ``a.com``'s server); else a ``--resolve`` pin; else the host itself when it is an IP
   literal; else the injected resolver -- never the system resolver;
2. the **egress policy** on that address (private, loopback, link-local, CGNAT, metadata...)
   unless ``allow_private``; ``--resolve`` pins are the user's explicit choice and exempt;
3. **--connect-to** on ``(host, port)``: a user override of where the socket goes, not subject
   to the policy (it is how the sandbox lands public addresses on loopback). A rule whose target
   is a name is resolved through ``--resolve`` pins or the resolver, too.

The URL, the Host header and TLS SNI always keep the original host.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from icpscan.crawl.connect_to import ConnectionOverrides, normalise_host
from icpscan.crawl.resolver import NameResolutionError, ResolveHost
from icpscan.egress import forbidden_reason


class EgressRefused(Exception):
    """The egress policy forbids connecting to this address (recorded as error ``egress``)."""


class AddressSource(StrEnum):
    PIN = "pin"  # the hosting stage's classified address
    RESOLVE_PIN = "resolve-pin"  # the user's --resolve
    LITERAL = "literal"  # the URL's host is an IP address
    RESOLVER = "resolver"  # asked the injected resolver


@dataclass(frozen=True)
class Pin:
    """The hosting stage's address for one host (``request.meta["icpscan_pin"]``)."""

    host: str
    address: str

    @classmethod
    def from_meta(cls, value: object) -> Pin | None:
        if isinstance(value, Pin):
            return value
        if isinstance(value, dict) and value.get("host") and value.get("address"):
            return cls(normalise_host(str(value["host"])), str(value["address"]))
        return None


@dataclass(frozen=True)
class Destination:
    host: str  # the request's host (normalised)
    address: str  # the host's address (checked against the policy unless exempt)
    source: AddressSource
    connect_host: str  # an IP literal: where the socket connects
    connect_port: int

    @property
    def connect_text(self) -> str:
        host = f"[{self.connect_host}]" if ":" in self.connect_host else self.connect_host
        return f"{host}:{self.connect_port}"


async def choose_destination(
    host: str,
    port: int,
    *,
    pin: Pin | None,
    overrides: ConnectionOverrides,
    resolve_host: ResolveHost,
    allow_private: bool,
) -> Destination:
    """Raises NameResolutionError (dns) or EgressRefused (egress)."""
    host = normalise_host(host)
    address, source = await _address_of(host, port, pin, overrides, resolve_host)
    if not allow_private and source is not AddressSource.RESOLVE_PIN:
        reason = forbidden_reason(address)
        if reason is not None:
            where = address if address == host else f"{host} -> {address}"
            raise EgressRefused(f"{where}: {reason} address refused (--allow-private allows it)")
    target = overrides.connect_target(host, port)
    if target is None:
        return Destination(host, address, source, address, port)
    connect_host, connect_port = target
    if connect_host == host:  # a rule that only changes the port
        connect_address = address
    else:
        connect_address, _ = await _address_of(
            connect_host, connect_port, None, overrides, resolve_host
        )
    return Destination(host, address, source, connect_address, connect_port)


async def _address_of(
    host: str,
    port: int,
    pin: Pin | None,
    overrides: ConnectionOverrides,
    resolve_host: ResolveHost,
) -> tuple[str, AddressSource]:
    if pin is not None and pin.host == host:
        return _ip_text(pin.address, f"pinned address of {host}"), AddressSource.PIN
    pinned = overrides.pinned_addresses(host, port)
    if pinned:
        return pinned[0], AddressSource.RESOLVE_PIN
    try:
        return str(ipaddress.ip_address(host)), AddressSource.LITERAL
    except ValueError:
        pass
    addresses = await resolve_host(host)
    if not addresses:
        raise NameResolutionError(f"{host}: no address")
    return _ip_text(addresses[0], f"resolver answer for {host}"), AddressSource.RESOLVER


def _ip_text(value: str, what: str) -> str:
    try:
        return str(ipaddress.ip_address(value.split("%", 1)[0]))
    except ValueError:
        raise NameResolutionError(f"{what} is not an IP address: {value!r}") from None
