"""The data model of the offline sandbox: what its DNS server answers and its web farm serves.

A :class:`World` is plain data. The scenario generator builds one; the DNS server
(:mod:`icpscan.sandbox.dns`) serves ``World.dns`` and ``World.asn``; the web farm
(:mod:`icpscan.sandbox.farm`) serves ``World.hosts``. Nothing here does I/O.

Names are lower-case, without the trailing dot. Addresses in DNS answers are the *public*
addresses a real site would have (so classification runs on real IP data); connections land on
loopback through the scanner's ``--connect-to`` override, which the sandbox prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class DnsFault(StrEnum):
    """Per-name misbehaviour of the sandbox DNS server (applies to every query type)."""

    NXDOMAIN = "nxdomain"  # RCODE 3
    SERVFAIL = "servfail"  # RCODE 2
    REFUSED = "refused"  # RCODE 5
    NO_ANSWER = "no_answer"  # NOERROR, empty answer section (NODATA)
    TIMEOUT = "timeout"  # never reply (UDP and TCP)
    TRUNCATE = "truncate"  # over UDP: reply with TC=1 and no answers, forcing TCP fallback


@dataclass
class View:
    """Answers given instead of the default ones to clients in ``subnets``.

    A client is matched by its EDNS Client Subnet option (RFC 7871) when present, otherwise by
    its source address. Used for GeoDNS: a mainland client sees a mainland CDN.
    """

    name: str  # e.g. "mainland"
    subnets: list[str]  # CIDRs, e.g. ["1.80.0.0/12", "2408::/16"]
    records: dict[str, list[str]]  # rtype -> values, replacing the default records wholesale


@dataclass
class DnsName:
    """Everything the server knows about one owner name."""

    records: dict[str, list[str]] = field(default_factory=dict)  # "A" -> ["39.156.66.10"], ...
    ttl: int = 600
    fault: DnsFault | None = None
    views: list[View] = field(default_factory=list)


@dataclass(frozen=True)
class AsnPrefix:
    """One row of the Team-Cymru-style origin table."""

    prefix: str  # "1.2.4.0/24" or "2400:3200::/32"
    asns: tuple[int, ...]  # more than one for multi-origin prefixes
    country: str  # registry (allocation) country code, e.g. "CN"
    registry: str  # "apnic", "arin", "ripencc", "lacnic", "afrinic"
    allocated: str  # "YYYY-MM-DD" or ""


@dataclass(frozen=True)
class AsnInfo:
    """One row of the Team-Cymru-style AS-name table."""

    asn: int
    country: str
    registry: str
    allocated: str
    name: str  # e.g. "CHINANET-BACKBONE No.31,Jin-rong Street, CN"


class ConnectionMode(StrEnum):
    """How TCP connections for a host behave; the sandbox turns these into --connect-to rules."""

    NORMAL = "normal"  # reach the farm's HTTP/HTTPS listeners
    REFUSED = "refused"  # a loopback port nothing listens on: connection refused
    TARPIT = "tarpit"  # a loopback port that accepts and never says a word


class CertMode(StrEnum):
    """What certificate the farm presents for a host over HTTPS."""

    VALID = "valid"  # issued by the sandbox CA for the host name
    EXPIRED = "expired"  # sandbox CA, validity ended in the past
    SELF_SIGNED = "self_signed"  # not issued by the sandbox CA
    WRONG_NAME = "wrong_name"  # sandbox CA, for another name
    HANDSHAKE_STALL = "handshake_stall"  # HTTPS goes to the tarpit: the handshake never ends


@dataclass
class Response:
    """One HTTP response the farm gives for a (host, path)."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Callable[[], bytes] = b""  # callables let large pages be built on demand
    # -- misbehaviour (all off by default) --
    delay: float = 0.0  # seconds before the status line
    trickle: float = 0.0  # if > 0: send the body at this many bytes per second
    stall_after_headers: bool = False  # send headers, then nothing until the client gives up
    reset_after: int | None = None  # send this many body bytes, then RST the connection
    content_length: int | None = None  # lie about Content-Length (None = the true length)
    encoding: str | None = None  # "gzip", "deflate" or "br": compress the body, set the header
    drop_connection: bool = False  # close without any response

    def body_bytes(self) -> bytes:
        return self.body() if callable(self.body) else self.body


@dataclass
class Host:
    """A virtual host of the farm, selected by Host header (HTTP) or SNI (HTTPS)."""

    http: dict[str, Response] = field(default_factory=dict)  # path -> response
    https: dict[str, Response] = field(default_factory=dict)  # empty: TLS not offered
    cert: CertMode = CertMode.VALID
    connection: ConnectionMode = ConnectionMode.NORMAL


@dataclass
class World:
    dns: dict[str, DnsName] = field(default_factory=dict)
    asn_prefixes: list[AsnPrefix] = field(default_factory=list)
    asn_names: dict[int, AsnInfo] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)
