"""DNS wire format for the sandbox server: a fast query parser and response assembly.

The server answers every query from a cached, pre-encoded response body, so the per-query work is
parsing the question (here, in a few microseconds, instead of dnslib's full ~30 us parse) and
gluing a header, the client's own question bytes and an OPT record around that body. dnslib
encodes the bodies (once per distinct answer), so record encoding is not hand-written.

Everything here is pure and never raises on hostile input: :func:`parse_query` returns a
:class:`Query`, a :class:`Rejection` (answer with an error RCODE) or None (drop silently).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from dnslib import RR, DNSBuffer, DNSLabel

# RCODEs (RFC 1035, 6891)
NOERROR = 0
FORMERR = 1
SERVFAIL = 2
NXDOMAIN = 3
NOTIMP = 4
REFUSED = 5
BADVERS = 16  # extended RCODE: upper 8 bits go in the OPT record

# Header flag bits
_QR = 0x8000
_OPCODE_MASK = 0x7800
_AA = 0x0400
_TC = 0x0200
_RD = 0x0100
_RA = 0x0080
_CD = 0x0010

TYPE_OPT = 41
OPTION_CLIENT_SUBNET = 8  # RFC 7871
CLASS_IN = 1

MIN_UDP_PAYLOAD = 512  # RFC 1035; EDNS payloads below this are treated as 512 (RFC 6891)
MAX_UDP_PAYLOAD = 4096  # what we honour at most; larger answers go over TCP
SERVER_UDP_PAYLOAD = 1232  # what we advertise in our OPT record (DNS flag day 2020)
MAX_TCP_MESSAGE = 65535

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")  # type, class, ttl, rdlength
_OPTION = struct.Struct("!HH")
_ECS_FIXED = struct.Struct("!HBB")  # family, source prefix length, scope prefix length
_QUESTION_TAIL = struct.Struct("!HH")


@dataclass(frozen=True, slots=True)
class ClientSubnet:
    """An EDNS Client Subnet option (RFC 7871) as the client sent it."""

    family: int  # 1 = IPv4, 2 = IPv6
    source_prefix: int
    address: ipaddress.IPv4Address | ipaddress.IPv6Address  # bits beyond the prefix are zero
    address_bytes: bytes  # exactly ceil(source_prefix / 8) bytes, echoed back

    def option(self, scope_prefix: int) -> bytes:
        """The option to echo in a response, with our scope prefix length."""
        data = _ECS_FIXED.pack(self.family, self.source_prefix, scope_prefix) + self.address_bytes
        return _OPTION.pack(OPTION_CLIENT_SUBNET, len(data)) + data


@dataclass(frozen=True, slots=True)
class Edns:
    payload: int  # the client's UDP payload size, as advertised
    version: int
    dnssec_ok: bool
    client_subnet: ClientSubnet | None


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed standard query with exactly one question."""

    id: int
    flags: int
    labels: tuple[bytes, ...]  # lower-cased (ASCII only, as DNS does)
    name: str  # lower-cased presentation form without the final dot ("" is the root)
    qtype: int
    qclass: int
    question: bytes  # the question section exactly as received (the client's letter case)
    edns: Edns | None

    @property
    def udp_limit(self) -> int:
        """Largest response we may send over UDP to this client."""
        if self.edns is None:
            return MIN_UDP_PAYLOAD
        return min(max(self.edns.payload, MIN_UDP_PAYLOAD), MAX_UDP_PAYLOAD)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message we answer with an error RCODE and no question-specific data."""

    id: int
    flags: int
    rcode: int
    question: bytes = b""  # echoed when it could be parsed
    edns: Edns | None = None


class _Malformed(Exception):
    pass


def _read_question_name(data: bytes, offset: int) -> tuple[tuple[bytes, ...], int]:
    """Labels of an uncompressed name (a question has nothing earlier to point at)."""
    labels: list[bytes] = []
    total = 1
    while True:
        if offset >= len(data):
            raise _Malformed
        length = data[offset]
        offset += 1
        if length == 0:
            return tuple(labels), offset
        if length > 63:  # compression pointer or reserved label type
            raise _Malformed
        total += length + 1
        if total > 255 or offset + length > len(data):
            raise _Malformed
        labels.append(data[offset : offset + length])
        offset += length


def _skip_name(data: bytes, offset: int) -> int:
    """Offset just past a (possibly compressed) name in a resource record."""
    while True:
        if offset >= len(data):
            raise _Malformed
        length = data[offset]
        if length == 0:
            return offset + 1
        if length >= 0xC0:
            if offset + 2 > len(data):
                raise _Malformed
            return offset + 2
        if length > 63:
            raise _Malformed
        offset += 1 + length


def _skip_record(data: bytes, offset: int) -> tuple[int, int, int, int, int]:
    """Skip one RR; returns (type, class, ttl, rdata offset, next offset)."""
    offset = _skip_name(data, offset)
    if offset + _RR_FIXED.size > len(data):
        raise _Malformed
    rtype, rclass, ttl, rdlength = _RR_FIXED.unpack_from(data, offset)
    rdata = offset + _RR_FIXED.size
    end = rdata + rdlength
    if end > len(data):
        raise _Malformed
    return rtype, rclass, ttl, rdata, end


def _parse_client_subnet(data: bytes) -> ClientSubnet:
    if len(data) < _ECS_FIXED.size:
        raise _Malformed
    family, source, _scope = _ECS_FIXED.unpack_from(data)
    address_bytes = data[_ECS_FIXED.size :]
    width = {1: 4, 2: 16}.get(family)
    if width is None or source > width * 8 or len(address_bytes) != (source + 7) // 8:
        raise _Malformed
    if source % 8 and address_bytes[-1] & (0xFF >> (source % 8)):
        raise _Malformed  # RFC 7871 7.1.1: bits beyond the source prefix must be zero
    padded = address_bytes + bytes(width - len(address_bytes))
    address = ipaddress.IPv4Address(padded) if family == 1 else ipaddress.IPv6Address(padded)
    return ClientSubnet(family, source, address, address_bytes)


def _parse_opt(data: bytes, rclass: int, ttl: int, start: int, end: int) -> Edns:
    client_subnet = None
    offset = start
    while offset < end:
        if offset + _OPTION.size > end:
            raise _Malformed
        code, length = _OPTION.unpack_from(data, offset)
        offset += _OPTION.size
        if offset + length > end:
            raise _Malformed
        if code == OPTION_CLIENT_SUBNET:
            if client_subnet is not None:
                raise _Malformed
            client_subnet = _parse_client_subnet(data[offset : offset + length])
        offset += length
    return Edns(
        payload=rclass,
        version=(ttl >> 16) & 0xFF,
        dnssec_ok=bool(ttl & 0x8000),
        client_subnet=client_subnet,
    )


def presentation_name(labels: Iterable[bytes]) -> str:
    """Lower-case text form of wire labels; dots and backslashes inside labels are escaped.

    The escaping keeps a label such as ``a.b`` from colliding with the two labels ``a`` ``b``;
    bytes outside ASCII map to latin-1 characters, which no normalised World name contains.
    """
    parts = []
    for label in labels:
        text = label.decode("latin-1")
        if "." in text or "\\" in text:
            text = text.replace("\\", "\\\\").replace(".", "\\.")
        parts.append(text)
    return ".".join(parts)


def wire_labels(name: str) -> tuple[bytes, ...]:
    """The inverse of :func:`presentation_name`."""
    if not name:
        return ()
    if "\\" not in name:
        return tuple(label.encode("latin-1") for label in name.split("."))
    labels: list[str] = []
    current: list[str] = []
    characters = iter(name)
    for character in characters:
        if character == "\\":
            current.append(next(characters, ""))
        elif character == ".":
            labels.append("".join(current))
            current = []
        else:
            current.append(character)
    labels.append("".join(current))
    return tuple(label.encode("latin-1") for label in labels)


def parse_query(data: bytes) -> Query | Rejection | None:
    """Parse a query; None means "not worth an answer" (too short, or itself a response)."""
    if len(data) < _HEADER.size:
        return None
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if flags & _QR:
        return None  # never answer a response: that is how reflection loops start
    if flags & _OPCODE_MASK:
        return Rejection(ident, flags, NOTIMP)
    if qdcount != 1:
        return Rejection(ident, flags, FORMERR)
    try:
        labels, offset = _read_question_name(data, _HEADER.size)
        if offset + _QUESTION_TAIL.size > len(data):
            raise _Malformed
        qtype, qclass = _QUESTION_TAIL.unpack_from(data, offset)
        offset += _QUESTION_TAIL.size
    except _Malformed:
        return Rejection(ident, flags, FORMERR)
    question = data[_HEADER.size : offset]
    edns = None
    try:
        for _ in range(ancount + nscount):
            offset = _skip_record(data, offset)[-1]
        for _ in range(arcount):
            owner = offset
            rtype, rclass, ttl, rdata, offset = _skip_record(data, offset)
            if rtype == TYPE_OPT:
                if edns is not None or data[owner] != 0:
                    raise _Malformed  # RFC 6891: one OPT, owned by the root
                edns = _parse_opt(data, rclass, ttl, rdata, offset)
    except _Malformed:
        return Rejection(ident, flags, FORMERR, question)
    if edns is not None and edns.version != 0:
        return Rejection(ident, flags, BADVERS, question, edns)
    lowered = tuple(label.lower() for label in labels)
    return Query(
        id=ident,
        flags=flags,
        labels=lowered,
        name=presentation_name(lowered),
        qtype=qtype,
        qclass=qclass,
        question=question,
        edns=edns,
    )


@dataclass(frozen=True, slots=True)
class EncodedSections:
    """The answer and authority sections of a response, encoded once and reused."""

    ancount: int
    nscount: int
    body: bytes  # everything after the question; compression pointers assume it sits at 12


def encode_sections(
    labels: tuple[bytes, ...],
    qtype: int,
    qclass: int,
    answer: Iterable[RR],
    authority: Iterable[RR],
) -> EncodedSections:
    """Encode RRs with dnslib as they would follow a question for ``labels``.

    Names are compressed against the question, whose wire length depends only on the label
    lengths, so the body stays valid behind any letter-case variant of the same question.
    """
    buffer = DNSBuffer()
    buffer.append(bytes(_HEADER.size))
    buffer.encode_name(DNSLabel(labels))
    buffer.pack("!HH", qtype, qclass)
    start = buffer.offset
    ancount = nscount = 0
    for rr in answer:
        rr.pack(buffer)
        ancount += 1
    for rr in authority:
        rr.pack(buffer)
        nscount += 1
    return EncodedSections(ancount, nscount, bytes(buffer.data[start:]))


def opt_record(edns: Edns, extended_rcode: int = 0, options: bytes = b"") -> bytes:
    """Our OPT record in reply to a client that sent one (RFC 6891; DO is echoed, RFC 3225)."""
    ttl = ((extended_rcode >> 4) << 24) | (0x8000 if edns.dnssec_ok else 0)
    return b"\x00" + _RR_FIXED.pack(TYPE_OPT, SERVER_UDP_PAYLOAD, ttl, len(options)) + options


def _response_flags(query_flags: int, rcode: int, authoritative: bool, truncated: bool) -> int:
    flags = _QR | _RA | (query_flags & (_OPCODE_MASK | _RD | _CD)) | (rcode & 0xF)
    if authoritative:
        flags |= _AA
    if truncated:
        flags |= _TC
    return flags


def build_response(
    query: Query,
    rcode: int,
    sections: EncodedSections | None,
    *,
    authoritative: bool = True,
    scope_prefix: int = 0,
    size_limit: int = MAX_TCP_MESSAGE,
    force_truncation: bool = False,
) -> bytes:
    """Assemble a response; if it would exceed ``size_limit``, send TC=1 without records."""
    opt = b""
    if query.edns is not None:
        subnet = query.edns.client_subnet
        options = subnet.option(scope_prefix) if subnet is not None else b""
        opt = opt_record(query.edns, options=options)
    arcount = 1 if opt else 0
    ancount, nscount, body = (
        (sections.ancount, sections.nscount, sections.body) if sections else (0, 0, b"")
    )
    size = _HEADER.size + len(query.question) + len(body) + len(opt)
    if force_truncation or size > size_limit:
        flags = _response_flags(query.flags, rcode, authoritative, truncated=True)
        header = _HEADER.pack(query.id, flags, 1, 0, 0, arcount)
        return header + query.question + opt
    flags = _response_flags(query.flags, rcode, authoritative, truncated=False)
    header = _HEADER.pack(query.id, flags, 1, ancount, nscount, arcount)
    return header + query.question + body + opt


def build_rejection(rejection: Rejection) -> bytes:
    """Answer a query we cannot serve: the error RCODE, the question if it was readable."""
    qdcount = 1 if rejection.question else 0
    opt = b""
    if rejection.edns is not None:
        opt = opt_record(rejection.edns, extended_rcode=rejection.rcode)
    flags = _response_flags(rejection.flags, rejection.rcode, authoritative=False, truncated=False)
    header = _HEADER.pack(rejection.id, flags, qdcount, 0, 0, 1 if opt else 0)
    return header + rejection.question + opt
