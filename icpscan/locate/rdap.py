"""RDAP IP lookups (RFC 9082/9083), only when asked (``icpscan locate --rdap URL``).

RDAP says who holds a block and the registry country, like Team Cymru but with the holder's
name; it is slower and rate-limited, so it is off by default, goes to the base URL the user
names (an RIR's RDAP server, or a bootstrap redirector) and is cached per returned network.
Requests use the standard library in worker threads: no extra dependency for an opt-in source.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from icpscan.locate.prefixes import IPAddress, PrefixTable

MAX_BODY = 1 << 20  # an RDAP network object is a few KB; refuse anything absurd
DEFAULT_PARALLEL = 4  # RDAP servers rate-limit hard


@dataclass(frozen=True)
class RdapRecord:
    handle: str
    name: str
    country: str | None
    start: str
    end: str
    holder: str | None  # the registrant's name (vCard fn), when the server gives it
    url: str  # the request that answered


def parse_network(document: Any, url: str) -> RdapRecord:
    """The fields we use from an RDAP ``ip network`` object; ValueError if it is not one."""
    if not isinstance(document, dict) or document.get("objectClassName") != "ip network":
        raise ValueError("not an RDAP ip network object")
    start, end = document.get("startAddress"), document.get("endAddress")
    try:
        ipaddress.ip_address(str(start))
        ipaddress.ip_address(str(end))
    except ValueError:
        raise ValueError("RDAP network without a valid startAddress/endAddress") from None
    country = document.get("country")
    return RdapRecord(
        handle=str(document.get("handle", "")),
        name=str(document.get("name", "")),
        country=country.upper() if isinstance(country, str) and len(country) == 2 else None,
        start=str(start),
        end=str(end),
        holder=_registrant(document.get("entities")),
        url=url,
    )


def _registrant(entities: Any) -> str | None:
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, dict) or "registrant" not in (entity.get("roles") or []):
            continue
        vcard = entity.get("vcardArray")
        if isinstance(vcard, list) and len(vcard) == 2 and isinstance(vcard[1], list):
            for item in vcard[1]:
                if isinstance(item, list) and len(item) == 4 and item[0] == "fn":
                    return str(item[3])
    return None


class RdapClient:
    """``GET {base}/ip/{address}`` with a per-network cache and a small parallelism bound."""

    def __init__(
        self, base_url: str, *, timeout: float = 10.0, parallel: int = DEFAULT_PARALLEL
    ) -> None:
        if not base_url.lower().startswith(("http://", "https://")):
            raise ValueError(f"RDAP base URL must start with http:// or https://, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._networks: PrefixTable[RdapRecord] = PrefixTable()
        self._slots = asyncio.Semaphore(parallel)
        self._inflight: dict[tuple[int, int], asyncio.Future[None]] = {}
        self.requests = 0

    async def lookup(self, ip: IPAddress) -> RdapRecord | str:
        """The covering network, or a one-line reason it could not be had."""
        cached = self._networks.lookup(ip)
        if cached is not None:
            return cached[1]
        # Addresses of one /24 (/48) share a network: the first asks, the others wait for it.
        bucket = (ip.version, int(ip) >> (8 if ip.version == 4 else 80))
        shared = self._inflight.get(bucket)
        if shared is not None:
            await asyncio.shield(shared)
            cached = self._networks.lookup(ip)
            if cached is not None:
                return cached[1]
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[bucket] = future
        try:
            return await self._fetch(ip)
        finally:
            if self._inflight.get(bucket) is future:
                del self._inflight[bucket]
            future.set_result(None)

    async def _fetch(self, ip: IPAddress) -> RdapRecord | str:
        async with self._slots:
            cached = self._networks.lookup(ip)  # another task may have fetched it meanwhile
            if cached is not None:
                return cached[1]
            url = f"{self.base_url}/ip/{ip}"
            self.requests += 1
            try:
                document = await asyncio.to_thread(self._get, url)
                record = parse_network(document, url)
            except (OSError, ValueError) as exc:
                return f"{url}: {_reason(exc)}"
        first, last = ipaddress.ip_address(record.start), ipaddress.ip_address(record.end)
        if ip.version == first.version == last.version and first <= ip <= last:  # type: ignore[operator]
            for network in ipaddress.summarize_address_range(first, last):
                self._networks.add(network, record)
        return record

    def _get(self, url: str) -> Any:
        request = urllib.request.Request(url, headers={"Accept": "application/rdap+json"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            body = response.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise ValueError("RDAP answer larger than 1 MiB")
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError("RDAP answer is not JSON") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or exc.__class__.__name__
