"""What the sandbox DNS server answers: a compiled, read-only snapshot of a World's DNS.

:class:`Zone` turns ``World.dns`` (plus the Cymru tables) into dnslib records once, validating
every value, and then answers questions the way a recursive resolver would present them to its
client: CNAME chains chased inside the answer, per-name faults, GeoDNS views, negative answers
carrying a SOA so they can be cached. It is pure: no sockets, no clocks.

Zone apexes (for SOA records) are not part of the World. The apex of a name is the nearest
ancestor-or-self with an explicit SOA record; otherwise its registrable domain from the public
suffix list bundled with tldextract (``www.example.com.cn`` -> ``example.com.cn``) when that
exists in the world; otherwise its public suffix (``cn``).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import dns.exception
import dns.name
import tldextract
from dnslib import AAAA, CNAME, MX, NS, PTR, QTYPE, RR, SOA, TXT, A, DNSLabel

from icpscan.sandbox.dns_cymru import CYMRU_APEX, STRUCTURAL_NAMES, CymruTables
from icpscan.sandbox.dns_wire import (
    NOERROR,
    NXDOMAIN,
    REFUSED,
    SERVFAIL,
    presentation_name,
    wire_labels,
)
from icpscan.sandbox.world import DnsFault, DnsName, World

MAX_CNAME_HOPS = 16  # longer chains (and loops) end in SERVFAIL, as recursive resolvers do
DEFAULT_NEGATIVE_TTL = 300  # SOA TTL/minimum when the apex is not a World name
CYMRU_TTL = 14400  # what Team Cymru serves

TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_PTR = 12
TYPE_MX = 15
TYPE_TXT = 16
TYPE_AAAA = 28
TYPE_ANY = 255

RR_t = Any  # dnslib ships no type information
RecordSet = Mapping[int, tuple[RR_t, ...]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Action(Enum):
    """What the transport does with an answer."""

    REPLY = "reply"
    DROP = "drop"  # DnsFault.TIMEOUT: never reply
    TRUNCATE_UDP = "truncate_udp"  # DnsFault.TRUNCATE: TC=1 over UDP, the full answer over TCP


@dataclass(frozen=True, slots=True)
class Client:
    """Who a view is chosen for: the EDNS Client Subnet address, else the packet's source."""

    address: Address | None
    from_subnet: bool = False  # True: address came from an ECS option
    source_prefix: int = 0  # the ECS source prefix length


@dataclass(frozen=True, slots=True)
class ZoneAnswer:
    rcode: int
    answer: tuple[RR_t, ...] = ()
    authority: tuple[RR_t, ...] = ()
    action: Action = Action.REPLY
    views_consulted: bool = False  # the answer depends on the client's address
    scope_prefix: int = 0  # ECS scope prefix length to echo (RFC 7871)


@dataclass(frozen=True, slots=True)
class _View:
    networks: tuple[Network, ...]
    records: RecordSet


@dataclass(frozen=True, slots=True)
class _Node:
    records: RecordSet
    ttl: int = DEFAULT_NEGATIVE_TTL
    fault: DnsFault | None = None
    views: tuple[_View, ...] = ()

    def select(self, client: Client) -> tuple[RecordSet, int | None]:
        """Records for this client, and the prefix length of the view subnet that matched."""
        address = client.address
        if address is not None:
            for view in self.views:
                for network in view.networks:
                    if network.version == address.version and address in network:
                        return view.records, network.prefixlen
        return self.records, None


_EMPTY_NON_TERMINAL = _Node(records={})  # exists only because names below it exist


def normalize_name(name: str) -> str:
    """Lower-case, no final dot, IDNA (punycode) for Unicode names; ValueError if not a name."""
    text = name.strip().rstrip(".").lower()
    if not text:
        return ""
    if not text.isascii():
        try:
            idna = dns.name.from_unicode(text, idna_codec=dns.name.IDNA_2008_Practical)
        except (dns.exception.DNSException, UnicodeError) as error:
            raise ValueError(f"{name!r} is not a valid domain name ({error})") from error
        text = idna.to_text(omit_final_dot=True).lower()
    labels = text.split(".")
    if any(not 0 < len(label) <= 63 or any(c.isspace() for c in label) for label in labels):
        raise ValueError(f"{name!r} is not a valid domain name")
    if len(text) > 253:
        raise ValueError(f"{name!r} is longer than 253 characters")
    return text


_labels = wire_labels


def _ancestors(name: str) -> Iterator[str]:
    """Proper ancestors of a name, nearest first, ending with the root ("")."""
    if "\\" in name:  # a label holding an escaped dot: split on the real label boundaries
        labels = wire_labels(name)
        for start in range(1, len(labels) + 1):
            yield presentation_name(labels[start:])
        return
    while name:
        _, _, name = name.partition(".")
        yield name


def _rtype_code(rtype: str) -> int:
    code = QTYPE.reverse.get(rtype.upper())
    if code is None:
        raise ValueError(f"unknown record type {rtype!r}")
    return int(code)


def _txt_strings(value: str) -> list[bytes]:
    """Split text into <=255-byte character-strings, as RFC 1035 requires for long TXT data."""
    data = value.encode("utf-8")
    return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]


def _make_rr(owner: tuple[bytes, ...], rtype: str, value: str, ttl: int) -> RR_t:
    """One dnslib RR from a World value such as "1.2.3.4" or "10 mail.example.cn"."""
    code = _rtype_code(rtype)
    fields = value.split()
    if code == TYPE_A:
        rdata: Any = A(str(ipaddress.IPv4Address(value.strip())))
    elif code == TYPE_AAAA:
        rdata = AAAA(str(ipaddress.IPv6Address(value.strip())))
    elif code in (TYPE_CNAME, TYPE_NS, TYPE_PTR):
        target = DNSLabel(_labels(normalize_name(value)))
        rdata = {TYPE_CNAME: CNAME, TYPE_NS: NS, TYPE_PTR: PTR}[code](target)
    elif code == TYPE_MX:
        if len(fields) != 2 or not fields[0].isdigit() or int(fields[0]) > 65535:
            raise ValueError("MX needs 'preference exchange'")
        rdata = MX(DNSLabel(_labels(normalize_name(fields[1]))), int(fields[0]))
    elif code == TYPE_TXT:
        rdata = TXT(_txt_strings(value))
    elif code == TYPE_SOA:
        if len(fields) != 7 or not all(f.isdigit() for f in fields[2:]):
            raise ValueError("SOA needs 'mname rname serial refresh retry expire minimum'")
        mname, rname = (DNSLabel(_labels(normalize_name(f))) for f in fields[:2])
        rdata = SOA(mname, rname, tuple(int(f) for f in fields[2:]))
    else:  # anything else dnslib can read from zone-file syntax (CAA, SRV, HTTPS, ...)
        owner_text = ".".join(label.decode() for label in owner) + "."
        try:
            parsed = RR.fromZone(f"{owner_text} {ttl} IN {rtype.upper()} {value}")
        except Exception as error:  # dnslib raises assorted exception types
            raise ValueError(f"cannot parse {rtype} data ({error})") from error
        rdata = parsed[0].rdata
    return RR(rname=DNSLabel(owner), rtype=code, rclass=1, ttl=ttl, rdata=rdata)


def _compile_records(
    where: str, owner: tuple[bytes, ...], records: Mapping[str, list[str]], ttl: int
) -> dict[int, tuple[RR_t, ...]]:
    compiled: dict[int, tuple[RR_t, ...]] = {}
    for rtype, values in records.items():
        rrs = []
        for value in values:
            try:
                rrs.append(_make_rr(owner, rtype, value, ttl))
            except ValueError as error:
                raise ValueError(f"{where}[{rtype!r}]: {value!r}: {error}") from error
        if rrs:
            compiled[_rtype_code(rtype)] = compiled.get(_rtype_code(rtype), ()) + tuple(rrs)
    if len(compiled.get(TYPE_CNAME, ())) > 1:
        raise ValueError(f"{where}: a name can hold only one CNAME")
    return compiled


def _compile_node(name: str, entry: DnsName) -> _Node:
    where = f"world.dns[{name!r}]"
    if not 0 <= entry.ttl <= 2**31 - 1:
        raise ValueError(f"{where}: TTL {entry.ttl} out of range")
    owner = _labels(name)
    views = []
    for view in entry.views:
        try:
            networks = tuple(ipaddress.ip_network(s, strict=False) for s in view.subnets)
        except ValueError as error:
            raise ValueError(f"{where} view {view.name!r}: {error}") from error
        records = _compile_records(f"{where} view {view.name!r}", owner, view.records, entry.ttl)
        views.append(_View(networks, records))
    records = _compile_records(where, owner, entry.records, entry.ttl)
    return _Node(records, entry.ttl, entry.fault, tuple(views))


def _with_owner(records: RecordSet, owner: tuple[bytes, ...]) -> dict[int, tuple[RR_t, ...]]:
    label = DNSLabel(owner)
    return {
        code: tuple(RR(label, rr.rtype, rr.rclass, rr.ttl, rr.rdata) for rr in rrs)
        for code, rrs in records.items()
    }


def _cname_target(rr: RR_t) -> str:
    return presentation_name(label.lower() for label in rr.rdata.label.label)


@functools.cache
def _public_suffixes() -> tldextract.TLDExtract:
    # Offline on purpose: the bundled snapshot, never a fetch (see ENGINEERING-NOTES 2).
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class Zone:
    """A compiled World: answers questions, never changes. Build a new one to change answers."""

    def __init__(self, world: World, serial: int = 1) -> None:
        self.serial = serial
        self._nodes: dict[str, _Node] = {}
        for raw_name, entry in world.dns.items():
            try:
                name = normalize_name(raw_name)
            except ValueError as error:
                raise ValueError(f"world.dns: {error}") from error
            if name in self._nodes:
                raise ValueError(f"world.dns: {raw_name!r} is listed twice (as {name!r})")
            self._nodes[name] = _compile_node(name, entry)
        self._empty_non_terminals = {
            ancestor
            for name in self._nodes
            for ancestor in _ancestors(name)
            if ancestor not in self._nodes
        }
        self._empty_non_terminals.add("")
        self._soa_owners = {n for n, node in self._nodes.items() if TYPE_SOA in node.records}
        self.cymru = CymruTables(world.asn_prefixes, world.asn_names)

    # -- lookups -------------------------------------------------------------------------------

    def _exists(self, name: str) -> bool:
        return name in self._nodes or name in self._empty_non_terminals

    def _node(self, name: str) -> _Node | None:
        node = self._nodes.get(name)
        if node is not None:
            return node
        if name in STRUCTURAL_NAMES:
            return _EMPTY_NON_TERMINAL
        if name.endswith("." + CYMRU_APEX):
            texts = self.cymru.lookup(name)
            if texts is None:
                return None
            owner = _labels(name)
            rrs = tuple(
                RR(DNSLabel(owner), TYPE_TXT, 1, CYMRU_TTL, TXT(_txt_strings(t))) for t in texts
            )
            return _Node({TYPE_TXT: rrs}, CYMRU_TTL)
        if name in self._empty_non_terminals:
            return _EMPTY_NON_TERMINAL
        return self._wildcard(name)

    def _wildcard(self, name: str) -> _Node | None:
        """RFC 4592: ``*.<closest encloser>`` stands in for names that do not exist."""
        if "\\" in name or not name.isascii():
            return None
        for ancestor in _ancestors(name):
            if self._exists(ancestor):
                wildcard = self._nodes.get(f"*.{ancestor}" if ancestor else "*")
                if wildcard is None:
                    return None
                owner = _labels(name)
                views = tuple(
                    _View(v.networks, _with_owner(v.records, owner)) for v in wildcard.views
                )
                records = _with_owner(wildcard.records, owner)
                return _Node(records, wildcard.ttl, wildcard.fault, views)
        return None

    def apex(self, name: str) -> str:
        """The zone apex whose SOA speaks for ``name`` (see the module docstring)."""
        for candidate in (name, *_ancestors(name)):
            if candidate in self._soa_owners:
                return candidate
        if name == CYMRU_APEX or name.endswith("." + CYMRU_APEX):
            return CYMRU_APEX
        parts = _public_suffixes()(name)
        labels = name.split(".") if name else []
        registrable = parts.top_domain_under_public_suffix or ".".join(labels[-2:])
        if len(labels) >= 2 and self._exists(registrable):
            return registrable
        return parts.suffix or (labels[-1] if labels else "")

    def soa(self, apex: str) -> RR_t:
        """The apex's SOA: the World's own if it lists one, else a synthesised one."""
        node = self._nodes.get(apex)
        if node is not None and TYPE_SOA in node.records:
            return node.records[TYPE_SOA][0]
        ttl = node.ttl if node is not None else DEFAULT_NEGATIVE_TTL
        if apex == CYMRU_APEX:
            ttl = CYMRU_TTL
        host = apex or "sandbox.invalid"
        mname = DNSLabel(_labels(f"ns1.{host}"))
        rname = DNSLabel(_labels(f"hostmaster.{host}"))
        rdata = SOA(mname, rname, (self.serial, 3600, 600, 86400, ttl))
        return RR(DNSLabel(_labels(apex)), TYPE_SOA, 1, ttl, rdata)

    # -- answering ----------------------------------------------------------------------------

    def answer(self, name: str, qtype: int, client: Client) -> ZoneAnswer:
        """The answer a recursive resolver would give for (name, qtype, IN) to ``client``."""
        chain: list[RR_t] = []
        seen = {name}
        views_consulted = False
        scope = 0
        truncate = False
        current = name

        def finish(rcode: int, answer: list[RR_t], negative: bool = False) -> ZoneAnswer:
            authority = (self.soa(self.apex(current)),) if negative else ()
            action = Action.TRUNCATE_UDP if truncate else Action.REPLY
            return ZoneAnswer(rcode, tuple(answer), authority, action, views_consulted, scope)

        for hops in range(MAX_CNAME_HOPS + 1):
            node = self._node(current)
            if node is None:
                return finish(NXDOMAIN, chain, negative=True)
            fault = node.fault
            if fault is DnsFault.TIMEOUT:
                return ZoneAnswer(SERVFAIL, action=Action.DROP)
            if fault is DnsFault.NXDOMAIN:
                return finish(NXDOMAIN, chain, negative=True)
            if fault is DnsFault.SERVFAIL:
                return finish(SERVFAIL, chain)
            if fault is DnsFault.REFUSED:
                return finish(REFUSED, chain)
            if fault is DnsFault.NO_ANSWER:
                return finish(NOERROR, chain, negative=True)
            if fault is DnsFault.TRUNCATE:
                truncate = True

            records, matched_prefix = node.select(client)
            if node.views:
                views_consulted = True
                if client.from_subnet:  # the scope only speaks about ECS addresses
                    scope = max(
                        scope, client.source_prefix if matched_prefix is None else matched_prefix
                    )

            if qtype == TYPE_ANY:
                found = [rr for rrs in records.values() for rr in rrs]
            else:
                found = list(records.get(qtype, ()))
            if found:
                return finish(NOERROR, chain + found)
            cname = records.get(TYPE_CNAME)
            if cname and qtype != TYPE_CNAME:
                if hops == MAX_CNAME_HOPS:
                    return finish(SERVFAIL, chain)  # chain too long
                chain.append(cname[0])
                current = _cname_target(cname[0])
                if current in seen:
                    return finish(SERVFAIL, chain)  # loop
                seen.add(current)
                continue
            if qtype in (TYPE_SOA, TYPE_ANY) and self.apex(current) == current:
                return finish(NOERROR, [*chain, self.soa(current)])
            return finish(NOERROR, chain, negative=True)  # NODATA
        raise AssertionError("unreachable: the loop returns on its last hop")
