"""Response bodies of the web farm: content codings, and huge bodies that are never built.

A scenario asks for an oversized page or a decompression bomb with :class:`RepeatedBytes` as a
``Response.body`` (for example ``RepeatedBytes(1 << 30)`` with ``encoding="gzip"`` is a gzip bomb
of 1 GiB of zeros). The farm streams such a body in chunks when it is sent as is, and compresses
it without materialising it: DEFLATE output for a block that follows a full flush does not depend
on earlier blocks, so one compressed block is repeated and only the checksums walk the data.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import brotli

ENCODINGS = ("gzip", "deflate", "br")

# Work in blocks of about 1 MiB: big enough that DEFLATE reaches its best ratio (~1030:1 on
# zeros), small enough that a chunk of it costs nothing to keep.
_BLOCK_TARGET = 1 << 20
_BROTLI_QUALITY = 5  # what servers use on the fly; q5 packs 64 MiB of zeros into ~260 bytes
_GZIP_HEADER = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x02\xff"  # RFC 1952, mtime 0
_ZLIB_HEADER = b"\x78\xda"  # RFC 1950: deflate, 32 KiB window, best compression


@dataclass(frozen=True)
class RepeatedBytes:
    """A body of ``size`` bytes made by repeating ``unit``, streamed instead of built.

    It is callable (returning the whole body) so it fits ``Response.body``; the farm never calls
    it, so a 1 GiB body costs about a megabyte of memory at most.
    """

    size: int
    unit: bytes = b"\x00"

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("RepeatedBytes size must be >= 0")
        if not self.unit:
            raise ValueError("RepeatedBytes unit must not be empty")

    def __call__(self) -> bytes:
        whole, rest = divmod(self.size, len(self.unit))
        return self.unit * whole + self.unit[:rest]

    def block(self, target: int = _BLOCK_TARGET) -> bytes:
        """A prefix of the body, a whole number of units long and about ``target`` bytes."""
        repeats = max(1, target // len(self.unit))
        return self.unit * repeats

    def iter_chunks(self, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        """The body in pieces of at most about ``chunk_size`` bytes (unit-aligned)."""
        block = self.block(chunk_size)
        remaining = self.size
        while remaining > len(block):
            yield block
            remaining -= len(block)
        if remaining:
            yield block[:remaining]


Body = bytes | RepeatedBytes


def resolve_body(body: bytes | Callable[[], bytes]) -> Body:
    """The body a ``Response`` describes, calling a callable body (except a RepeatedBytes)."""
    if isinstance(body, RepeatedBytes | bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    produced = body()
    if not isinstance(produced, bytes | bytearray | memoryview):
        raise TypeError(f"a body callable returned {type(produced).__name__}, not bytes")
    return bytes(produced)


def body_length(body: Body) -> int:
    return body.size if isinstance(body, RepeatedBytes) else len(body)


def encode_body(body: bytes, encoding: str) -> bytes:
    """Apply a content coding (``gzip``, ``deflate`` = zlib format per RFC 9110, ``br``)."""
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=6, mtime=0)
    if encoding == "deflate":
        return zlib.compress(body, 6)
    if encoding == "br":
        return bytes(brotli.compress(body, quality=_BROTLI_QUALITY))
    raise ValueError(
        f"unknown content coding {encoding!r} (expected one of {', '.join(ENCODINGS)})"
    )


@lru_cache(maxsize=8)
def encode_repeated(body: RepeatedBytes, encoding: str) -> bytes:
    """Compress a repeated body without building it (cached: bombs are reused across sites)."""
    if encoding == "br":
        return _brotli_repeated(body)
    if encoding not in ("gzip", "deflate"):
        raise ValueError(
            f"unknown content coding {encoding!r} (expected one of {', '.join(ENCODINGS)})"
        )
    block = body.block()
    whole, rest = divmod(body.size, len(block))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw DEFLATE, wrapped below
    compressed_block = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.compress(block[:rest]) + compressor.flush(zlib.Z_FINISH)
    raw = compressed_block * whole + tail
    if encoding == "gzip":
        crc = 0
        for _ in range(whole):
            crc = zlib.crc32(block, crc)
        crc = zlib.crc32(block[:rest], crc)
        return _GZIP_HEADER + raw + struct.pack("<II", crc, body.size & 0xFFFFFFFF)
    adler = 1
    for _ in range(whole):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(block[:rest], adler)
    return _ZLIB_HEADER + raw + struct.pack(">I", adler)


def _brotli_repeated(body: RepeatedBytes) -> bytes:
    compressor = brotli.Compressor(quality=_BROTLI_QUALITY, lgwin=24)
    parts = [compressor.process(chunk) for chunk in body.iter_chunks(_BLOCK_TARGET)]
    parts.append(compressor.finish())
    return b"".join(parts)


def needs_background_encoding(body: Body, encoding: str | None) -> bool:
    """Whether encoding this body takes long enough to keep it off the event loop."""
    return (
        encoding is not None and isinstance(body, RepeatedBytes) and body.size > 8 * _BLOCK_TARGET
    )


class EncodedBodyCache:
    """Compressed bodies per Response object, bounded by total bytes (least recently used out).

    Compressing a 150 KB page costs milliseconds, so a page fetched again is not recompressed.
    Keyed by the Response's identity; the entry keeps the Response alive so the id stays valid.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[int, tuple[object, bytes]] = OrderedDict()
        self._size = 0

    def get(self, owner: object) -> bytes | None:
        entry = self._entries.get(id(owner))
        if entry is None or entry[0] is not owner:
            return None
        self._entries.move_to_end(id(owner))
        return entry[1]

    def put(self, owner: object, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        old = self._entries.pop(id(owner), None)
        if old is not None:
            self._size -= len(old[1])
        self._entries[id(owner)] = (owner, data)
        self._size += len(data)
        while self._size > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._size -= len(evicted)

    def clear(self) -> None:
        self._entries.clear()
        self._size = 0
