"""IP -> origin AS, prefix, registry country and AS name, from Team Cymru's DNS zones.

Queries go through the scan's own :class:`~icpscan.resolve.Resolver` (the configured
nameservers; the sandbox serves the same zones), never through whois/43 or HTTP RDAP: this is
ipwhois's ``asn_methods=['dns']`` without its fallbacks and without ``Net()``, which would read
/etc/resolv.conf on every call. ipwhois's own parser reads the TXT rows.

Answers are cached per returned prefix (any address inside a known prefix needs no query) and
AS names per AS; concurrent lookups for one /24 (IPv4) or /48 (IPv6) share one query, since
longer prefixes are not globally routed.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass

from ipwhois.asn import IPASN
from ipwhois.exceptions import ASNParseError, ASNRegistryError

from icpscan.locate.prefixes import IPAddress, PrefixTable
from icpscan.models import DnsFailure
from icpscan.resolve import DEFAULT_VIEW, Resolver

CYMRU_ZONE = "asn.cymru.com"
RIRS = ("arin", "ripencc", "apnic", "lacnic", "afrinic")


@dataclass(frozen=True)
class AsnRecord:
    """One origin row (the most specific prefix Cymru returned for an address)."""

    asns: tuple[int, ...]  # several for multi-origin prefixes
    prefix: str
    country: str  # registry (allocation) country of the prefix
    registry: str
    allocated: str | None
    name: str | None = None  # AS name of asns[0] ("CHINANET-BACKBONE No.31,Jin-rong Street, CN")

    @property
    def asn(self) -> int | None:
        return self.asns[0] if self.asns else None


class CymruParseError(ValueError):
    pass


def _parser() -> IPASN:
    # ipwhois's parser needs no Net (whose constructor reads /etc/resolv.conf).
    parser = IPASN.__new__(IPASN)
    parser.rir_whois = dict.fromkeys(RIRS)
    return parser


_PARSER = _parser()


def origin_name(ip: IPAddress, zone: str = CYMRU_ZONE) -> str:
    """``D.C.B.A.origin.<zone>`` or the nibble-reversed ``origin6`` name."""
    if ip.version == 4:
        return ".".join(reversed(str(ip).split("."))) + f".origin.{zone}"
    # Like ipwhois: trailing all-zero groups are dropped (Cymru times out on some such names).
    groups = ip.exploded.split(":")
    while len(groups) > 1 and groups[-1] == "0000":
        groups.pop()
    return ".".join(reversed("".join(groups))) + f".origin6.{zone}"


def parse_origin(text: str) -> AsnRecord:
    """One origin TXT row: ``"4134 4837 | 1.80.0.0/13 | CN | apnic | 2010-01-01"``."""
    try:
        fields = _PARSER.parse_fields_dns(text)
    except (ASNParseError, ASNRegistryError) as exc:
        raise CymruParseError(str(exc)) from None
    try:
        asns = tuple(int(part) for part in fields["asn"].split())
        prefix = str(ipaddress.ip_network(fields["asn_cidr"], strict=False))
    except ValueError:
        raise CymruParseError(f"bad AS number or prefix in {text[:100]!r}") from None
    if not asns:
        raise CymruParseError(f"no AS number in {text[:100]!r}")
    return AsnRecord(
        asns=asns,
        prefix=prefix,
        country=fields["asn_country_code"],
        registry=fields["asn_registry"],
        allocated=fields["asn_date"] or None,
    )


def parse_as_name(text: str) -> str:
    """The name field of an ``AS<n>.asn.cymru.com`` row."""
    try:
        fields = _PARSER.parse_fields_verbose_dns(text)
    except (ASNParseError, ASNRegistryError) as exc:
        raise CymruParseError(str(exc)) from None
    name = (fields.get("asn_description") or "").strip()
    if not name:
        raise CymruParseError(f"no AS name in {text[:100]!r}")
    return str(name)


def most_specific(records: list[AsnRecord]) -> AsnRecord:
    return max(records, key=lambda r: ipaddress.ip_network(r.prefix).prefixlen)


class CymruClient:
    """Async Team Cymru lookups through a Resolver, cached per prefix and per AS."""

    def __init__(self, resolver: Resolver, *, zone: str = CYMRU_ZONE, names: bool = True) -> None:
        self.resolver = resolver
        self.zone = zone
        self.names = names
        self.prefixes: PrefixTable[AsnRecord] = PrefixTable()
        self._as_names: dict[int, asyncio.Future[str | None]] = {}
        self._inflight: dict[tuple[int, int], asyncio.Future[AsnRecord | DnsFailure]] = {}
        self.queries = 0

    async def lookup(self, ip: IPAddress) -> AsnRecord | DnsFailure:
        """The origin record for ``ip`` (with the AS name), or the failure as data."""
        cached = self.prefixes.lookup(ip)
        if cached is not None:
            return cached[1]
        bucket = (ip.version, int(ip) >> (32 - 24 if ip.version == 4 else 128 - 48))
        shared = self._inflight.get(bucket)
        if shared is not None:
            result = await asyncio.shield(shared)
            if isinstance(result, DnsFailure) or ip in ipaddress.ip_network(result.prefix):
                return result
        future: asyncio.Future[AsnRecord | DnsFailure] = asyncio.get_running_loop().create_future()
        self._inflight[bucket] = future
        try:
            result = await self._query(ip)
        except BaseException:
            future.cancel()  # waiters see the cancellation instead of hanging
            raise
        finally:
            if self._inflight.get(bucket) is future:
                del self._inflight[bucket]
        future.set_result(result)
        return result

    async def _query(self, ip: IPAddress) -> AsnRecord | DnsFailure:
        name = origin_name(ip, self.zone)
        self.queries += 1
        found = await self.resolver.lookup(name, "TXT", DEFAULT_VIEW)
        if found.failure is not None:
            return found.failure
        rows: list[AsnRecord] = []
        for text in found.records:
            try:
                rows.append(parse_origin(text))
            except CymruParseError as exc:
                return DnsFailure(name, "TXT", "error", f"unparseable Cymru row: {exc}")
        if not rows:
            return DnsFailure(name, "TXT", "no_answer", "empty Cymru answer")
        record = most_specific(rows)
        as_name = await self.as_name(record.asns[0]) if self.names else None
        record = AsnRecord(
            record.asns, record.prefix, record.country, record.registry, record.allocated, as_name
        )
        self.prefixes.add(record.prefix, record)
        return record

    async def as_name(self, asn: int) -> str | None:
        """The AS name from ``AS<n>.<zone>``, cached per AS; None when it cannot be had."""
        shared = self._as_names.get(asn)
        if shared is not None:
            return await asyncio.shield(shared)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._as_names[asn] = future
        self.queries += 1
        try:
            found = await self.resolver.lookup(f"AS{asn}.{self.zone}", "TXT", DEFAULT_VIEW)
        except BaseException:
            del self._as_names[asn]
            future.cancel()
            raise
        name: str | None = None
        for text in found.records:
            try:
                name = parse_as_name(text)
                break
            except CymruParseError:
                continue
        future.set_result(name)
        return name
