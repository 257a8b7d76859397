"""How the crawl turns a host name into an address -- never through the system resolver.

The handler asks an injected ``resolve_host(name) -> list[str]`` coroutine (see
:data:`ResolveHost`). The hosting stage passes its own (dnspython with the scan's nameservers);
:func:`resolver_from_settings` builds one from settings for standalone use:

* ``ICPSCAN_RESOLVER``: an async callable, or the import path of a factory
  ``factory(settings) -> resolve_host``;
* else ``ICPSCAN_STATIC_HOSTS`` (``{name: [address, ...]}``): a fixed table, for tests and demos;
* else ``ICPSCAN_NAMESERVERS`` (``["1.2.4.8", "127.0.0.1:5353", "[::1]:53"]``): dnspython
  talking to exactly those servers;
* else dnspython configured from ``/etc/resolv.conf`` (plain DNS from Python, not getaddrinfo).

:class:`RefusingTwistedResolver` is installed as Scrapy's ``TWISTED_DNS_RESOLVER`` so nothing in
the crawler process can fall back to ``getaddrinfo``: the handler only ever gives Twisted IP
literals, and a name reaching Twisted is a bug that must fail loudly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
from scrapy.utils.misc import load_object
from twisted.internet import defer
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from twisted.internet.base import ReactorBase

ResolveHost = Callable[[str], Awaitable[list[str]]]
"""``await resolve_host("example.com") -> ["93.184.215.14", ...]``; raises NameResolutionError."""


class NameResolutionError(Exception):
    """The name has no usable address (NXDOMAIN, SERVFAIL, timeout, no A/AAAA)."""


class StaticResolver:
    """Answers from a fixed ``{name: [address, ...]}`` table; unknown names are NXDOMAIN."""

    def __init__(self, table: Mapping[str, Sequence[str] | str]) -> None:
        self._table = {
            _normalise(name): [addresses] if isinstance(addresses, str) else list(addresses)
            for name, addresses in table.items()
        }

    async def __call__(self, name: str) -> list[str]:
        addresses = self._table.get(_normalise(name))
        if not addresses:
            raise NameResolutionError(f"{name}: NXDOMAIN (static table)")
        return list(addresses)


class DnsPythonResolver:
    """A then AAAA through dnspython's async resolver, with a small answer cache."""

    def __init__(
        self,
        nameservers: Sequence[str] | None = None,
        *,
        timeout: float = 4.0,
        cache_size: int = 2048,  # redirect hosts, looked up again within seconds
    ) -> None:
        if nameservers:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [parse_nameserver(n) for n in nameservers]
        else:
            # Plain DNS to the servers of /etc/resolv.conf: what a user running a crawl on a
            # normal machine expects. Tests always inject nameservers or a resolver.
            self._resolver = dns.asyncresolver.Resolver(configure=True)
        self._resolver.lifetime = timeout
        self._resolver.timeout = min(timeout, 2.0)
        self._resolver.cache = dns.resolver.LRUCache(cache_size)

    async def __call__(self, name: str) -> list[str]:
        addresses: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = await self._resolver.resolve(name, rdtype, search=False)
            except dns.resolver.NXDOMAIN:
                raise NameResolutionError(f"{name}: NXDOMAIN") from None
            except dns.resolver.NoAnswer:
                continue
            except dns.resolver.NoNameservers as exc:
                raise NameResolutionError(
                    f"{name}: no nameserver answered ({_first_line(exc)})"
                ) from None
            except dns.exception.Timeout:
                raise NameResolutionError(f"{name}: DNS timeout") from None
            except dns.exception.DNSException as exc:
                raise NameResolutionError(f"{name}: {_first_line(exc)}") from None
            addresses += [rdata.to_text() for rdata in answer]
            if addresses:
                break
        if not addresses:
            raise NameResolutionError(f"{name}: no A or AAAA record")
        return addresses


def parse_nameserver(text: str) -> dns.nameserver.Nameserver:
    """``"1.2.4.8"``, ``"127.0.0.1:5353"``, ``"::1"`` or ``"[::1]:5353"`` -> a Do53 nameserver."""
    value = text.strip()
    host, port = value, 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad nameserver {text!r}: expected [IPv6]:PORT")
            port = _port(rest[1:], text)
    elif value.count(":") == 1:
        host, port_text = value.split(":")
        port = _port(port_text, text)
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"bad nameserver {text!r}: not an IP address") from None
    return dns.nameserver.Do53Nameserver(address, port)


def resolver_from_settings(settings: BaseSettings) -> ResolveHost:
    configured = settings.get("ICPSCAN_RESOLVER")
    if configured:
        if callable(configured):
            return configured
        factory = load_object(configured)
        resolve_host: ResolveHost = factory(settings)
        return resolve_host
    static = settings.getdict("ICPSCAN_STATIC_HOSTS")
    if static:
        return StaticResolver(static)
    return DnsPythonResolver(
        settings.getlist("ICPSCAN_NAMESERVERS") or None,
        timeout=settings.getfloat("ICPSCAN_DNS_TIMEOUT", 4.0),
    )


@implementer(IResolverSimple)
class RefusingTwistedResolver:
    """Scrapy ``TWISTED_DNS_RESOLVER`` that never resolves: icpscan resolves names itself."""

    def __init__(self, reactor: ReactorBase) -> None:
        self.reactor = reactor

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        return cls(reactor)

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(cast("IResolverSimple", self))

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        return defer.fail(
            DNSLookupError(f"{name}: icpscan never resolves through the system resolver")
        )


def _normalise(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _port(text: str, original: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"bad nameserver {original!r}: bad port {text!r}")
    return int(text)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


__all__ = [
    "DnsPythonResolver",
    "NameResolutionError",
    "RefusingTwistedResolver",
    "ResolveHost",
    "StaticResolver",
    "parse_nameserver",
    "resolver_from_settings",
]
