"""Hosting location: resolve each domain and say, with evidence, where it is served from.

``locate(domains, config=...)`` streams one :class:`~icpscan.models.HostingVerdict` per domain
(in completion order, at most ``config.concurrency`` domains in flight);
``classify_address(ip, sources=...)`` is the pure, fast core that needs no network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from icpscan.locate.asn import CYMRU_ZONE, AsnRecord, CymruClient
from icpscan.locate.prefixes import parse_address
from icpscan.locate.rdap import RdapClient, RdapRecord
from icpscan.locate.sources import Sources, load_sources
from icpscan.locate.verdict import classify_address, decide, special_reason
from icpscan.models import AddressInfo, DnsFailure, HostingVerdict, Resolution
from icpscan.resolve import (
    DEFAULT_MAX_INFLIGHT,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    DEFAULT_VIEW,
    Nameserver,
    Resolver,
    Vantage,
    normalise_name,
)

__all__ = [
    "LocateConfig",
    "Locator",
    "Sources",
    "classify_address",
    "host_of",
    "load_sources",
    "locate",
]

DEFAULT_CONCURRENCY = 256
_log = logging.getLogger(__name__)


@dataclass
class LocateConfig:
    nameservers: Sequence[str | Nameserver] = ()
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    concurrency: int = DEFAULT_CONCURRENCY  # domains in flight
    max_inflight: int = DEFAULT_MAX_INFLIGHT  # DNS queries in flight
    vantages: Sequence[Vantage] = ()  # extra views besides the plain one
    with_ns: bool = False  # NS records for context (one more query per domain)
    asn: bool = True  # Team Cymru origin lookups (through the same nameservers)
    asn_names: bool = True  # plus the AS name (one query per AS per run)
    cymru_zone: str = CYMRU_ZONE
    rdap_url: str | None = None  # RDAP base URL; None = no RDAP (the default)
    ranges_file: str | Path | None = None
    data_dir: str | Path | None = None
    # Shared hosting repeats addresses (least recently used out), but a cache the size of the
    # scan is a leak: 4k verdicts (~1.5 KB each) keep a worker flat from 10k to 1M domains.
    address_cache: int = 4096
    sources: Sources | None = field(default=None, repr=False)


class Locator:
    """One scan's resolver, Cymru client, sources and per-address cache; reusable."""

    def __init__(self, config: LocateConfig, *, resolver: Resolver | None = None) -> None:
        self.config = config
        self.sources = config.sources or load_sources(
            ranges_file=config.ranges_file, data_dir=config.data_dir
        )
        self.resolver = resolver or Resolver(
            config.nameservers,
            timeout=config.timeout,
            retries=config.retries,
            max_inflight=config.max_inflight,
        )
        self._owns_resolver = resolver is None
        self.cymru = CymruClient(self.resolver, zone=config.cymru_zone, names=config.asn_names)
        self.rdap = RdapClient(config.rdap_url) if config.rdap_url else None
        self.views = (DEFAULT_VIEW, *config.vantages)
        self._infos: dict[str, tuple[AddressInfo, DnsFailure | None]] = {}

    async def __aenter__(self) -> Locator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_resolver:
            await self.resolver.close()

    async def locate_one(self, domain: str) -> HostingVerdict:
        """The verdict for one domain, URL or IP literal; DNS failures are in ``errors``."""
        text = host_of(domain)
        if _is_ip(text):
            address = str(parse_address(text))
            resolutions = [Resolution(address, DEFAULT_VIEW.name, address, (address,), ())]
            name = address
        else:
            try:
                name = normalise_name(text)
            except ValueError as exc:
                failure = DnsFailure(text, "A", "error", str(exc))
                resolution = Resolution(text, DEFAULT_VIEW.name, text, (), (), failures=(failure,))
                return decide(text, [resolution], {}, sources=self.sources)
            resolutions = list(
                await asyncio.gather(
                    *(
                        self.resolver.resolve(name, view, with_ns=self.config.with_ns)
                        for view in self.views
                    )
                )
            )
        addresses = list(dict.fromkeys(a for r in resolutions for a in r.addresses))
        classified = await asyncio.gather(*(self.address_info(a) for a in addresses))
        infos = {a: info for a, (info, _failure) in zip(addresses, classified, strict=True)}
        asn_errors = [failure for _info, failure in classified if failure is not None]
        return decide(name, resolutions, infos, sources=self.sources, extra_errors=asn_errors)

    async def _locate_safely(self, domain: str) -> HostingVerdict:
        """A scan goes on past one bad domain: an unexpected error becomes that domain's error."""
        try:
            return await self.locate_one(domain)
        except Exception as exc:
            _log.exception("locate %r failed", domain)
            failure = DnsFailure(domain, "A", "error", f"internal error: {exc!r}")
            resolution = Resolution(domain, DEFAULT_VIEW.name, domain, (), (), failures=(failure,))
            return decide(domain, [resolution], {}, sources=self.sources)

    async def address_info(self, address: str) -> tuple[AddressInfo, DnsFailure | None]:
        """Classify one address (with its Cymru record), cached for the run."""
        cached = self._infos.pop(address, None)
        if cached is not None:
            self._infos[address] = cached  # most recently used last
            return cached
        record: AsnRecord | None = None
        failure: DnsFailure | None = None
        rdap: RdapRecord | str | None = None
        ip = parse_address(address)
        if special_reason(ip) is None:
            cymru = self.cymru.lookup(ip) if self.config.asn else _nothing()
            registry = self.rdap.lookup(ip) if self.rdap is not None else _nothing()
            found, rdap = await asyncio.gather(cymru, registry)
            if isinstance(found, DnsFailure):
                failure = found
            elif isinstance(found, AsnRecord):
                record = found
        info = classify_address(
            address, sources=self.sources, asn=record, asn_failure=failure, rdap=rdap
        )
        result = (info, failure)
        if len(self._infos) >= self.config.address_cache:
            self._infos.pop(next(iter(self._infos)))
        self._infos[address] = result
        return result

    async def locate_many(
        self, domains: Iterable[str] | AsyncIterable[str]
    ) -> AsyncIterator[HostingVerdict]:
        """Verdicts in completion order with at most ``concurrency`` domains in flight."""
        queue: asyncio.Queue[HostingVerdict | None] = asyncio.Queue(
            maxsize=self.config.concurrency * 2
        )
        source = _aiter(domains)
        lock = asyncio.Lock()

        async def worker() -> None:
            try:
                while True:
                    async with lock:
                        try:
                            domain = await anext(source)
                        except StopAsyncIteration:
                            return
                    await queue.put(await self._locate_safely(domain))
            finally:
                await queue.put(None)

        workers = [asyncio.create_task(worker()) for _ in range(max(1, self.config.concurrency))]
        finished = 0
        try:
            while finished < len(workers):
                item = await queue.get()
                if item is None:
                    finished += 1
                    continue
                yield item
            for task in workers:
                task.result()  # surface a bug in a worker instead of losing it
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)


async def locate(
    domains: Iterable[str] | AsyncIterable[str], *, config: LocateConfig
) -> AsyncIterator[HostingVerdict]:
    """Stream hosting verdicts for ``domains`` (completion order, concurrency-bounded)."""
    async with Locator(config) as locator:
        async for verdict in locator.locate_many(domains):
            yield verdict


async def _nothing() -> None:
    return None


def host_of(text: str) -> str:
    """The host a domain-list line names: ``https://Example.cn:8443/x`` -> ``Example.cn``,
    ``*.example.cn`` -> ``example.cn``, ``[2001:db8::1]`` -> ``2001:db8::1``."""
    value = text.strip()
    if "://" in value:
        value = urlsplit(value).netloc or value
    elif "/" in value:
        value = value.split("/", 1)[0]
    value = value.rsplit("@", 1)[-1]  # user:password@host
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]  # host:port (a bare IPv6 address has more colons)
    while value.startswith("*."):
        value = value[2:]
    return value


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


async def _aiter(domains: Iterable[str] | AsyncIterable[str]) -> AsyncIterator[str]:
    if isinstance(domains, AsyncIterable):
        async for domain in domains:
            yield domain
    else:
        for domain in domains:
            yield domain
