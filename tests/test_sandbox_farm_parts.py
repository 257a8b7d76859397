"""The web farm's pure parts: bodies and codings, wire framing, response heads, host names."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
import zlib

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icpscan.sandbox.bodies import (
    EncodedBodyCache,
    RepeatedBytes,
    encode_body,
    encode_repeated,
    resolve_body,
)
from icpscan.sandbox.certs import SandboxCA
from icpscan.sandbox.webserver import (
    iter_wire_body,
    normalise_host,
    render_head,
    reslice,
    route,
)
from icpscan.sandbox.world import CertMode, Host, Response, World

DECODE = {"gzip": gzip.decompress, "deflate": zlib.decompress, "br": brotli.decompress}
units = st.binary(min_size=1, max_size=40)


# -- bodies --------------------------------------------------------------------------------------


@given(size=st.integers(0, 200_000), unit=units, chunk=st.integers(1, 70_000))
def test_repeated_bytes_chunks_add_up_to_the_body(size, unit, chunk):
    body = RepeatedBytes(size, unit)
    whole = body()
    assert len(whole) == size
    assert whole == (unit * (size // len(unit) + 1))[:size]
    assert b"".join(body.iter_chunks(chunk)) == whole


@settings(max_examples=12, deadline=None)
@given(
    size=st.one_of(st.integers(0, 5000), st.integers(1 << 20, 5 << 19)),
    unit=units,
    encoding=st.sampled_from(["gzip", "deflate", "br"]),
)
def test_repeated_bodies_compress_without_being_built_and_decode_exactly(size, unit, encoding):
    body = RepeatedBytes(size, unit)
    assert DECODE[encoding](encode_repeated(body, encoding)) == body()


@given(data=st.binary(max_size=5000), encoding=st.sampled_from(["gzip", "deflate", "br"]))
def test_encode_body_round_trips(data, encoding):
    assert DECODE[encoding](encode_body(data, encoding)) == data


def test_a_one_gib_gzip_bomb_is_about_a_megabyte_and_never_materialised():
    size = 1 << 30
    tracemalloc.start()
    try:
        bomb = encode_repeated(RepeatedBytes(size + 3), "gzip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(bomb) < 1_100_000
    assert peak < 24 * 1024 * 1024  # a 1 MiB block, its compressed copy, the result
    crc = 0
    block = bytes(1 << 20)
    for _ in range(1024):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(b"\x00\x00\x00", crc)
    assert bomb[-8:] == struct.pack("<II", crc, (size + 3) & 0xFFFFFFFF)
    decoder = zlib.decompressobj(31)
    assert decoder.decompress(bomb, 1 << 20) == bytes(1 << 20)


def test_unknown_coding_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown content coding 'xz'"):
        encode_body(b"x", "xz")
    with pytest.raises(ValueError, match="unknown content coding 'xz'"):
        encode_repeated(RepeatedBytes(10), "xz")


def test_repeated_bytes_rejects_nonsense():
    with pytest.raises(ValueError, match="size must be >= 0"):
        RepeatedBytes(-1)
    with pytest.raises(ValueError, match="unit must not be empty"):
        RepeatedBytes(10, b"")


def test_resolve_body_calls_callables_but_not_repeated_bytes():
    repeated = RepeatedBytes(1 << 40)  # a terabyte: calling it would never return
    assert resolve_body(repeated) is repeated
    assert resolve_body(lambda: b"built") == b"built"
    with pytest.raises(TypeError, match="a body callable returned str, not bytes"):
        resolve_body(lambda: "text")  # type: ignore[arg-type, return-value]


def test_encoded_body_cache_is_bounded_and_keyed_by_identity():
    cache = EncodedBodyCache(max_bytes=10)
    first, second, twin = Response(), Response(), Response()
    cache.put(first, b"12345")
    cache.put(second, b"67890")
    assert (cache.get(first), cache.get(second), cache.get(twin)) == (b"12345", b"67890", None)
    cache.put(twin, b"abc")  # over the bound: the least recently used (first) goes
    assert (cache.get(first), cache.get(second), cache.get(twin)) == (None, b"67890", b"abc")
    cache.put(first, b"x" * 11)  # larger than the whole cache: not kept
    assert cache.get(first) is None


# -- wire framing --------------------------------------------------------------------------------


def _dechunk(wire: bytes) -> bytes:
    out, rest = b"", wire
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert rest == b"\r\n"
            return out
        out, rest = out + rest[:size], rest[size:]
        assert rest.startswith(b"\r\n")
        rest = rest[2:]


@given(data=st.binary(max_size=3000), chunk=st.integers(1, 700))
def test_chunked_framing_decodes_to_the_body(data, chunk):
    assert _dechunk(b"".join(iter_wire_body(data, chunked=True, chunk_size=chunk))) == data
    assert b"".join(iter_wire_body(data, chunked=False, chunk_size=chunk)) == data


@given(size=st.integers(0, 5000), unit=units, chunk=st.integers(1, 700))
def test_chunked_framing_of_a_streamed_body(size, unit, chunk):
    body = RepeatedBytes(size, unit)
    assert _dechunk(b"".join(iter_wire_body(body, chunked=True, chunk_size=chunk))) == body()


@given(pieces=st.lists(st.binary(max_size=50), max_size=20), size=st.integers(1, 30))
def test_reslice_keeps_the_bytes_and_cuts_exact_pieces(pieces, size):
    cut = list(reslice(iter(pieces), size))
    assert b"".join(cut) == b"".join(pieces)
    assert all(len(piece) == size for piece in cut[:-1])
    assert all(0 < len(piece) <= size for piece in cut)


# -- response heads ------------------------------------------------------------------------------


def test_head_keeps_world_headers_and_adds_length_and_connection():
    head = render_head(
        Response(status=302, headers=[("Location", "/x"), ("X-Note", "中文")]),
        0,
        keep_alive=True,
    )
    assert head.data == (
        b"HTTP/1.1 302 Found\r\nLocation: /x\r\nX-Note: \xe4\xb8\xad\xe6\x96\x87\r\n"
        b"Content-Length: 0\r\nConnection: keep-alive\r\n\r\n"
    )
    assert (head.chunked, head.close_after) == (False, False)


@pytest.mark.parametrize(
    ("response", "size", "keep_alive", "lines", "chunked", "close"),
    [
        (Response(content_length=10), 100, True, [b"Content-Length: 10", b"Connection: close"],
         False, True),
        (Response(content_length=200), 100, True, [b"Content-Length: 200", b"Connection: close"],
         False, True),
        (Response(content_length=100), 100, True,
         [b"Content-Length: 100", b"Connection: keep-alive"], False, False),
        (Response(headers=[("Content-Length", "7")]), 100, True,
         [b"Content-Length: 7", b"Connection: close"], False, True),
        (Response(headers=[("Transfer-Encoding", "chunked")]), 100, True,
         [b"Transfer-Encoding: chunked", b"Connection: keep-alive"], True, False),
        (Response(headers=[("Transfer-Encoding", "gzip")]), 100, True,
         [b"Transfer-Encoding: gzip", b"Connection: close"], False, True),
        (Response(headers=[("Connection", "Close")]), 5, True,
         [b"Connection: Close", b"Content-Length: 5"], False, True),
        (Response(status=204), 0, True, [b"Connection: keep-alive"], False, False),
        (Response(status=304), 0, False, [b"Connection: close"], False, True),
        (Response(encoding="br"), 9, True,
         [b"Content-Encoding: br", b"Content-Length: 9", b"Connection: keep-alive"], False, False),
        (Response(encoding="br", headers=[("Content-Encoding", "gzip")]), 9, True,
         [b"Content-Encoding: gzip", b"Content-Length: 9", b"Connection: keep-alive"], False,
         False),
        (Response(status=799), 0, True,
         [b"Content-Length: 0", b"Connection: keep-alive"], False, False),
    ],
)  # fmt: skip
def test_head_framing_rules(response, size, keep_alive, lines, chunked, close):
    head = render_head(response, size, keep_alive=keep_alive)
    status_line, *headers = head.data.split(b"\r\n")[:-2]
    assert status_line.startswith(b"HTTP/1.1 %d " % response.status)
    assert sorted(headers) == sorted(lines)
    assert (head.chunked, head.close_after) == (chunked, close)


# -- host names and routing ----------------------------------------------------------------------

labels = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,20}[a-zA-Z0-9])?", fullmatch=True)
hostnames = st.lists(labels, min_size=1, max_size=4).map(".".join)


@given(host=hostnames, port=st.one_of(st.none(), st.integers(0, 65535)), dot=st.booleans())
def test_normalise_host_drops_port_case_and_trailing_dot(host, port, dot):
    authority = host + ("." if dot else "") + (f":{port}" if port is not None else "")
    assert normalise_host(authority) == host.lower()


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        ("[::1]:8443", "::1"),
        ("[2400:3200::1]", "2400:3200::1"),
        ("user@Example.COM:80", "example.com"),
        ("  site.test  ", "site.test"),
        ("", ""),
    ],
)
def test_normalise_host_special_forms(authority, expected):
    assert normalise_host(authority) == expected


def test_route_picks_scheme_path_and_falls_back_to_404():
    page, secure = Response(body=b"p"), Response(body=b"s")
    world = World(hosts={"a.test": Host(http={"/": page}, https={"/": secure})})
    assert route(world, "http", "a.test", "/") is page
    assert route(world, "https", "a.test", "/?q=1") is secure
    assert route(world, "http", "a.test", "/other").status == 404
    assert route(world, "http", "b.test", "/").status == 404


# -- certificates --------------------------------------------------------------------------------


def test_prewarm_issues_every_certificate_before_the_first_handshake():
    ca = SandboxCA(cache_size=2)
    hosts = [("a.test", CertMode.VALID), ("b.test", CertMode.EXPIRED)]
    hosts += [("c.test", CertMode.WRONG_NAME), ("d.test", CertMode.WRONG_NAME)]
    assert ca.prewarm(hosts) == 3  # the wrong-name hosts share one certificate
    assert ca.issued == 3
    ca.context_for("a.test", CertMode.VALID)
    ca.context_for("b.test", CertMode.EXPIRED)
    assert ca.issued == 3  # served from the grown cache


def test_prewarm_bodies_builds_and_compresses_each_page_once():
    from icpscan.sandbox.farm import Farm

    world = World(
        hosts={
            "a.test": Host(
                http={"/": Response(body=lambda: b"<p>lazy</p>" * 50, encoding="gzip")},
                https={"/": Response(body=b"<p>plain</p>")},
            )
        }
    )
    farm = Farm(world)
    assert farm.prewarm_bodies() == 2
    page = world.hosts["a.test"].http["/"]
    assert page.body == b"<p>lazy</p>" * 50  # built once, kept as bytes
    assert gzip.decompress(farm._state.encoded.get(page)) == page.body


def test_certificate_cache_is_bounded():
    ca = SandboxCA(cache_size=2)
    first = ca.context_for("a.test", CertMode.VALID)
    ca.context_for("b.test", CertMode.VALID)
    assert ca.context_for("a.test", CertMode.VALID) is first
    ca.context_for("c.test", CertMode.VALID)  # evicts b.test, the least recently used
    assert ca.issued == 3
    assert ca.context_for("a.test", CertMode.VALID) is first
    ca.context_for("b.test", CertMode.VALID)
    assert ca.issued == 4
    # every wrong-name host shares one certificate
    assert ca.context_for("x.test", CertMode.WRONG_NAME) is ca.context_for(
        "y.test", CertMode.WRONG_NAME
    )
