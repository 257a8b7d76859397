"""Async DNS for scanning many domains: CNAME chains, A/AAAA, NS, EDNS Client Subnet views.

Why not ``dns.asyncresolver``: it opens a socket per query and costs ~0.6 ms CPU per query, which
caps a scan at a few hundred domains/s. Here a few long-lived UDP sockets per nameserver carry
every query, replies are matched by id and question, and dnspython only builds and parses the
messages. TC=1 falls back to TCP; timeouts are retried across the configured nameservers.

Every failure is data (:class:`~icpscan.models.DnsFailure`): a scan never stops on DNS.
The system resolver is never used: nameservers are always given explicitly (IP literals).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import dns.exception
import dns.name

from icpscan.dnswire import (
    RCODE_NAMES,
    TYPE_CNAME,
    TYPES,
    Record,
    Reply,
    WireError,
    build_query,
    parse_reply,
)
from icpscan.models import DnsAnswer, DnsFailure, Resolution

DEFAULT_TIMEOUT = 2.0
DEFAULT_RETRIES = 2
DEFAULT_MAX_INFLIGHT = 512
MAX_CNAME_HOPS = 12
EDNS_PAYLOAD = 1232  # the DNS-flag-day size: no IP fragmentation
SOCKETS_PER_NAMESERVER = 4  # spreads source ports and query ids
# The /24 of 114DNS (114.114.114.114), one of the best-known mainland public resolvers: GeoDNS
# that maps an EDNS Client Subnet to a location puts it in mainland China.
MAINLAND_SUBNET = "114.114.114.0/24"


class ResolverConfigError(ValueError):
    """A nameserver or vantage option that cannot be used; the message says why in one line."""


_PORTED_V6 = re.compile(r"^\[(?P<host>[^\]]+)\](?::(?P<port>\d+))?$")


@dataclass(frozen=True)
class Nameserver:
    host: str  # an IP literal: names would need the system resolver, which we never use
    port: int = 53

    @classmethod
    def parse(cls, text: str) -> Nameserver:
        """``1.2.3.4``, ``1.2.3.4:5353``, ``::1``, ``[::1]:5353``."""
        value = text.strip()
        host, port_text = value, ""
        bracketed = _PORTED_V6.match(value)
        if bracketed:
            host, port_text = bracketed["host"], bracketed["port"] or ""
        elif value.count(":") == 1:
            host, port_text = value.split(":")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ResolverConfigError(
                f"nameserver {text!r} must be an IP address with an optional port "
                "(HOST[:PORT], [V6]:PORT)"
            ) from None
        port = 53
        if port_text:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ResolverConfigError(f"nameserver {text!r}: port must be 1-65535")
            port = int(port_text)
        return cls(str(address), port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Vantage:
    """Where a question is asked from: a client subnet (ECS) and/or other nameservers."""

    name: str
    subnet: str | None = None  # EDNS Client Subnet sent with every query of this view
    nameservers: tuple[Nameserver, ...] = ()  # empty: the resolver's own nameservers

    @classmethod
    def parse(cls, text: str) -> Vantage:
        """``mainland`` | ``NAME,ecs=CIDR`` | ``NAME,ns=HOST[:PORT][,ns=...]`` (combinable).

        A bare ``mainland`` sends ECS with 114DNS's /24 (:data:`MAINLAND_SUBNET`).
        """
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts or "=" in parts[0]:
            raise ResolverConfigError(f"vantage {text!r} must start with a name, e.g. mainland")
        name = parts[0]
        if name == DEFAULT_VIEW.name:
            raise ResolverConfigError(f"vantage name {name!r} is reserved for the plain view")
        subnet: str | None = None
        servers: list[Nameserver] = []
        for part in parts[1:]:
            key, _, value = part.partition("=")
            if key == "ecs":
                subnet = _parse_subnet(value, text)
            elif key == "ns":
                servers.append(Nameserver.parse(value))
            else:
                raise ResolverConfigError(f"vantage {text!r}: unknown key {key!r} (ecs=, ns=)")
        if subnet is None and not servers:
            if name != "mainland":
                raise ResolverConfigError(
                    f"vantage {text!r} needs ecs=CIDR and/or ns=HOST[:PORT] "
                    "(only 'mainland' has a built-in subnet)"
                )
            subnet = MAINLAND_SUBNET
        return cls(name, subnet, tuple(servers))


def _parse_subnet(value: str, text: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ResolverConfigError(f"vantage {text!r}: {value!r} is not a subnet") from None


DEFAULT_VIEW = Vantage("default")


_PLAIN_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9_-]{1,63}(?<!-))*")


def normalise_name(name: str) -> str:
    """Lower-case IDNA text without the trailing dot; raises ValueError for impossible names."""
    if len(name) <= 253 and _PLAIN_NAME.fullmatch(name):
        return name  # already normal: the common case, without dnspython's parser
    text = name.strip().rstrip(".")
    if not text:
        raise ValueError("empty name")
    try:
        parsed = dns.name.from_text(text)
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise ValueError(f"invalid name {name!r}: {exc}") from None
    return parsed.to_text(omit_final_dot=True).lower()


# --- transport --------------------------------------------------------------------------------


class _Reply(Exception):
    """Internal: an attempt ended without a usable message."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind  # "timeout" | "error"
        self.detail = detail


class _Channel(asyncio.DatagramProtocol):
    """One connected UDP socket to one nameserver; replies matched by query id."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[asyncio.Future[bytes], bytes]] = {}
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 12:
            return
        entry = self.pending.get(int.from_bytes(data[:2], "big"))
        if entry is None:
            return
        future, question = entry
        # The question section must echo ours (id + question, as RFC 5452 asks); only an error
        # reply may omit it (QDCOUNT 0, RCODE != 0), as some servers do for FORMERR/REFUSED.
        echoed = data[12 : 12 + len(question)].lower() == question
        if not echoed and not (data[4:6] == b"\0\0" and data[3] & 0x0F):
            return
        del self.pending[int.from_bytes(data[:2], "big")]
        if not future.done():
            future.set_result(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and friends: every query on this socket has failed.
        for future, _question in self.pending.values():
            if not future.done():
                future.set_exception(_Reply("error", f"{exc.__class__.__name__}: {exc}"))
        self.pending.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error_received(exc or ConnectionError("socket closed"))

    def free_id(self) -> int:
        while True:
            query_id = random.getrandbits(16)
            if query_id not in self.pending:
                return query_id


@dataclass
class ResolverStats:
    queries: int = 0  # datagrams/TCP messages sent
    tcp_fallbacks: int = 0
    timeouts: int = 0  # attempts that got no reply
    cache_hits: int = 0
    lookups: int = 0


@dataclass(frozen=True)
class Lookup:
    """Result of one (name, type, view) lookup after following CNAMEs: answer or failure."""

    answer: DnsAnswer | None
    failure: DnsFailure | None

    @property
    def records(self) -> tuple[str, ...]:
        return self.answer.records if self.answer else ()

    @property
    def cnames(self) -> tuple[str, ...]:
        if self.answer:
            return self.answer.cnames
        return self.failure.cnames if self.failure else ()


NOERROR, SERVFAIL, NXDOMAIN, REFUSED = 0, 2, 3, 5
_RCODE_ERRORS = {NXDOMAIN: "nxdomain", SERVFAIL: "servfail", REFUSED: "refused"}


@dataclass
class _Outcome:
    message: Reply | None = None
    kind: str = ""  # failure kind when message is None
    detail: str = ""
    server: str = ""


class Resolver:
    """Async stub resolver over a handful of shared sockets, with a per-run cache.

    Use it as ``async with Resolver(["127.0.0.1:5353"]) as r: await r.resolve("example.cn")``.
    The crawler can reuse it for redirect hosts with :meth:`addresses`.
    """

    def __init__(
        self,
        nameservers: Sequence[str | Nameserver],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        max_inflight: int = DEFAULT_MAX_INFLIGHT,
        cache_size: int = 8192,  # answers (~1 KB each), least recently used out
    ) -> None:
        servers = tuple(
            ns if isinstance(ns, Nameserver) else Nameserver.parse(ns) for ns in nameservers
        )
        if not servers:
            raise ResolverConfigError(
                "no nameserver given: pass --nameserver HOST[:PORT] (icpscan never falls back "
                "to the system resolver)"
            )
        if timeout <= 0:
            raise ResolverConfigError("timeout must be positive")
        if retries < 0:
            raise ResolverConfigError("retries must be 0 or more")
        self.nameservers = servers
        self.timeout = timeout
        self.retries = retries
        self.stats = ResolverStats()
        self._cache: dict[tuple[str, int, str], asyncio.Future[Lookup]] = {}
        self._cache_size = cache_size
        self._inflight = asyncio.Semaphore(max_inflight)
        self._channels: dict[Nameserver, list[_Channel]] = {}
        self._channel_lock = asyncio.Lock()
        self._next_channel = 0

    async def __aenter__(self) -> Resolver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for channels in self._channels.values():
            for channel in channels:
                if channel.transport is not None:
                    channel.transport.close()
        self._channels.clear()

    # -- public lookups ---------------------------------------------------------------------

    async def lookup(self, name: str, rtype: str, view: Vantage = DEFAULT_VIEW) -> Lookup:
        """Records of ``rtype`` at ``name`` (following CNAMEs), or the failure; cached per run."""
        rdtype = TYPES.get(rtype.upper())
        if rdtype is None:
            raise ValueError(f"unsupported record type {rtype!r} (one of {', '.join(TYPES)})")
        rtype = rtype.upper()
        try:
            qname = normalise_name(name)
        except ValueError as exc:
            return Lookup(None, DnsFailure(name, rtype, "error", str(exc), view.name))
        key = (qname, rdtype, view.name)
        self.stats.lookups += 1
        cached = self._cache.pop(key, None)
        if cached is not None:
            self._cache[key] = cached  # most recently used last
            self.stats.cache_hits += 1
            return await asyncio.shield(cached)
        future: asyncio.Future[Lookup] = asyncio.get_running_loop().create_future()
        self._cache[key] = future
        if len(self._cache) > self._cache_size:
            self._cache.pop(next(iter(self._cache)))
        try:
            result = await self._lookup_chain(qname, rdtype, view)
        except BaseException:  # cancelled (or a bug): waiters must not hang on this future
            self._cache.pop(key, None)
            future.cancel()
            raise
        future.set_result(result)
        return result

    async def addresses(self, name: str, view: Vantage = DEFAULT_VIEW) -> list[str]:
        """IPv4 then IPv6 addresses of ``name`` (empty on any failure)."""
        a, aaaa = await asyncio.gather(
            self.lookup(name, "A", view), self.lookup(name, "AAAA", view)
        )
        return _unique([*a.records, *aaaa.records])

    async def resolve(
        self,
        domain: str,
        view: Vantage = DEFAULT_VIEW,
        *,
        with_ns: bool = False,
        www_fallback: bool = True,
    ) -> Resolution:
        """A, AAAA (and NS) of ``domain``; ``www.`` + domain when the apex has no address."""
        try:
            qname = normalise_name(domain)
        except ValueError as exc:
            failure = DnsFailure(domain, "A", "error", str(exc), view.name)
            return Resolution(domain, view.name, domain, (), (), failures=(failure,))
        queries = [self.lookup(qname, "A", view), self.lookup(qname, "AAAA", view)]
        if with_ns:
            queries.append(self.lookup(qname, "NS", view))
        results = await asyncio.gather(*queries)
        a, aaaa = results[0], results[1]
        ns = results[2] if with_ns else None
        used, chain = qname, [a, aaaa]
        addresses = _unique([*a.records, *aaaa.records])
        lookups = [a, aaaa]
        if not addresses and www_fallback and not qname.startswith("www."):
            www = f"www.{qname}"
            wa, waaaa = await asyncio.gather(
                self.lookup(www, "A", view), self.lookup(www, "AAAA", view)
            )
            lookups += [wa, waaaa]
            www_addresses = _unique([*wa.records, *waaaa.records])
            if www_addresses:
                used, chain, addresses = www, [wa, waaaa], www_addresses
        if ns is not None:
            lookups.append(ns)
        cnames = _unique([c for lookup in chain for c in lookup.cnames])
        return Resolution(
            domain=qname,
            view=view.name,
            name=used,
            addresses=tuple(addresses),
            cnames=tuple(cnames),
            answers=tuple(x.answer for x in lookups if x.answer is not None),
            failures=tuple(x.failure for x in lookups if x.failure is not None),
            ns=ns.records if ns is not None else (),
            subnet=view.subnet,
        )

    # -- chain following -------------------------------------------------------------------

    async def _lookup_chain(self, qname: str, rdtype: int, view: Vantage) -> Lookup:
        rtype = next(name for name, code in TYPES.items() if code == rdtype)
        chain: list[str] = []
        ttl: int | None = None
        current = qname
        seen = {qname}

        def failed(kind: str, detail: str) -> Lookup:
            return Lookup(None, DnsFailure(qname, rtype, kind, detail, view.name, tuple(chain)))

        while True:
            outcome = await self._query(current, rdtype, view)
            reply = outcome.message
            if reply is None:
                return failed(outcome.kind, outcome.detail)
            asked = reply.question[0] if reply.question else current
            hops, records, hop_ttl = _follow(reply.answers, asked, rdtype)
            for target in hops:
                if target in seen:
                    return failed("error", f"CNAME loop at {target}")
                seen.add(target)
                chain.append(target)
            if hop_ttl is not None:
                ttl = hop_ttl if ttl is None else min(ttl, hop_ttl)
            if records:
                answer = DnsAnswer(qname, rtype, tuple(records), ttl or 0, tuple(chain), view.name)
                return Lookup(answer, None)
            if reply.rcode != NOERROR:
                detail = f"{RCODE_NAMES.get(reply.rcode, reply.rcode)} from {outcome.server}"
                if chain:
                    detail += f" for {chain[-1]}"
                return failed(_RCODE_ERRORS.get(reply.rcode, "error"), detail)
            if len(chain) > MAX_CNAME_HOPS:
                # the chain inside one answer went past the bound before reaching any record
                return failed("error", f"CNAME chain longer than {MAX_CNAME_HOPS}")
            if not hops or reply.recursion_available:
                # A recursive resolver (RA) has already chased the chain: the target has no
                # records. Only an authoritative answer that stops at a CNAME is followed.
                detail = f"no {rtype} records (NOERROR) from {outcome.server}"
                if hops:
                    detail += f" for {chain[-1]}"
                return failed("no_answer", detail)
            if len(chain) >= MAX_CNAME_HOPS:
                return failed("error", f"CNAME chain longer than {MAX_CNAME_HOPS}")
            current = chain[-1]  # the answer stopped at a CNAME: ask for its target

    # -- transport ------------------------------------------------------------------------

    async def _query(self, qname: str, rdtype: int, view: Vantage) -> _Outcome:
        servers = view.nameservers or self.nameservers
        wire = bytearray(build_query(0, qname, rdtype, payload=EDNS_PAYLOAD, subnet=view.subnet))
        question = bytes(wire[12 : _question_end(wire)]).lower()
        last = _Outcome(kind="timeout", detail="no attempt made")
        attempts = 0
        rejections: list[str] = []
        async with self._inflight:
            for _round in range(self.retries + 1):
                progressed = False
                for server in servers:
                    if rejections and str(server) in rejections:
                        continue  # it already said SERVFAIL/REFUSED: asking again won't help
                    attempts += 1
                    outcome = await self._attempt(server, wire, question)
                    if outcome.message is not None:
                        if outcome.message.rcode in (SERVFAIL, REFUSED):
                            rejections.append(str(server))
                            last = outcome
                            progressed = True
                            continue
                        return outcome
                    last = outcome
                if progressed and len(rejections) == len(servers):
                    return last
        if last.message is None and last.kind == "timeout":
            last.detail = f"no reply from {', '.join(map(str, servers))} after {attempts} tries"
        return last

    async def _attempt(self, server: Nameserver, wire: bytearray, question: bytes) -> _Outcome:
        try:
            channel = await self._channel(server)
        except OSError as exc:
            return _Outcome(kind="error", detail=f"{server}: {exc}", server=str(server))
        query_id = channel.free_id()
        wire[0:2] = query_id.to_bytes(2, "big")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        channel.pending[query_id] = (future, question)
        timer = loop.call_later(self.timeout, _expire, future)
        self.stats.queries += 1
        try:
            assert channel.transport is not None
            channel.transport.sendto(bytes(wire))
            data = await future
        except _Reply as failed:
            if failed.kind == "timeout":
                self.stats.timeouts += 1
            return _Outcome(
                kind=failed.kind, detail=f"{server}: {failed.detail}", server=str(server)
            )
        finally:
            timer.cancel()
            entry = channel.pending.get(query_id)
            if entry is not None and entry[0] is future:
                del channel.pending[query_id]
        try:
            reply = parse_reply(data)
        except WireError as exc:
            detail = f"{server}: malformed reply ({exc})"
            return _Outcome(kind="error", detail=detail, server=str(server))
        if reply.truncated:
            self.stats.tcp_fallbacks += 1
            return await self._attempt_tcp(server, wire)
        return _Outcome(message=reply, server=str(server))

    async def _attempt_tcp(self, server: Nameserver, wire: bytearray) -> _Outcome:
        self.stats.queries += 1
        label = f"{server} (TCP)"
        writer = None
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(server.host, server.port)
                writer.write(len(wire).to_bytes(2, "big") + bytes(wire))
                await writer.drain()
                size = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(size)
        except TimeoutError:
            self.stats.timeouts += 1
            return _Outcome(kind="timeout", detail=f"{label}: no reply", server=label)
        except (OSError, asyncio.IncompleteReadError) as exc:
            return _Outcome(kind="error", detail=f"{label}: {exc}", server=label)
        finally:
            if writer is not None:
                writer.close()
        try:
            reply = parse_reply(data)
        except WireError as exc:
            return _Outcome(kind="error", detail=f"{label}: malformed reply ({exc})", server=label)
        if reply.query_id != int.from_bytes(wire[:2], "big"):
            return _Outcome(kind="error", detail=f"{label}: reply id mismatch", server=label)
        return _Outcome(message=reply, server=label)

    async def _channel(self, server: Nameserver) -> _Channel:
        channels = self._channels.get(server)
        if channels is None:
            async with self._channel_lock:
                channels = self._channels.get(server)
                if channels is None:
                    channels = await self._open_channels(server)
                    self._channels[server] = channels
        self._next_channel = (self._next_channel + 1) % len(channels)
        channel = channels[self._next_channel]
        if channel.closed:  # a socket error closed it: replace it
            async with self._channel_lock:
                if channel.closed:
                    channel = (await self._open_channels(server, 1))[0]
                    channels[self._next_channel] = channel
        return channel

    async def _open_channels(
        self, server: Nameserver, count: int = SOCKETS_PER_NAMESERVER
    ) -> list[_Channel]:
        loop = asyncio.get_running_loop()
        opened = []
        for _ in range(count):
            _transport, protocol = await loop.create_datagram_endpoint(
                _Channel, remote_addr=(server.host, server.port)
            )
            opened.append(protocol)
        return opened


def _question_end(wire: bytearray) -> int:
    """Offset just past the question section of a query we built (uncompressed name)."""
    offset = 12
    while wire[offset]:
        offset += wire[offset] + 1
    return offset + 1 + 4  # root label, QTYPE, QCLASS


def _expire(future: asyncio.Future[bytes]) -> None:
    if not future.done():
        future.set_exception(_Reply("timeout", "no reply"))


def _follow(
    answers: tuple[Record, ...], qname: str, rdtype: int
) -> tuple[list[str], list[str], int | None]:
    """CNAME targets followed from ``qname`` inside one answer, the final values, the min TTL."""
    hops: list[str] = []
    ttl: int | None = None
    current = qname
    for _ in range(MAX_CNAME_HOPS + 1):
        values = [r for r in answers if r.owner == current and r.rtype == rdtype]
        if values:
            ttl = min([r.ttl for r in values] + ([ttl] if ttl is not None else []))
            return hops, _unique(r.value for r in values), ttl
        cname = next((r for r in answers if r.owner == current and r.rtype == TYPE_CNAME), None)
        if cname is None:
            break
        ttl = cname.ttl if ttl is None else min(ttl, cname.ttl)
        current = cname.value
        hops.append(current)
        if current in hops[:-1]:
            break
    return hops, [], ttl


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
