"""One client connection of the sandbox web farm: requests parsed by h11, responses by hand.

Requests are parsed with h11 (bounded head size and header count). Responses are written as raw
bytes rather than through h11 because the farm must be able to break HTTP on purpose: lying
Content-Length, resets mid-body, stalls, trickles. Everything a response does comes from the
:class:`~icpscan.sandbox.world.World`; this module knows nothing about ICP.

The common case (a page sent at once) is written straight from ``data_received``; only responses
that take time (delay, trickle, stall, reset, huge streamed or compressed bodies) run as a task.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import http
import logging
import socket
import struct
import termios
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h11

from icpscan.sandbox.bodies import (
    ENCODINGS,
    Body,
    EncodedBodyCache,
    RepeatedBytes,
    body_length,
    encode_body,
    encode_repeated,
    needs_background_encoding,
    resolve_body,
)
from icpscan.sandbox.world import Host, Response, World

log = logging.getLogger("icpscan.sandbox.farm")

MAX_HEAD_BYTES = 16 * 1024  # request line + headers, like common servers' defaults
MAX_HEADERS = 100
MAX_PIPELINED_BYTES = 1024 * 1024  # what a client may send while a slow response is going out
STREAM_CHUNK = 64 * 1024
SMALL_BODY = 16 * 1024  # sent in one write with the head; larger bodies are not copied
TRICKLE_TICK = 0.05  # seconds between trickled writes (at least one byte each)
RESET_FLUSH_LIMIT = 5.0  # seconds to wait for the bytes before a reset to leave the socket


def _may_have_body(status: int) -> bool:
    """Whether a response with this status has a body (RFC 9110 6.4.1: not 1xx, 204, 304)."""
    return not (100 <= status < 200 or status in (204, 304))


def _page(status: int, extra: list[tuple[str, str]] | None = None) -> Response:
    """A plain error page like a stock web server's default vhost gives."""
    phrase = _reason(status)
    body = (
        f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {phrase}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode("ascii")
    headers = [("Content-Type", "text/html"), *(extra or [])]
    return Response(status=status, headers=headers, body=body)


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


NOT_FOUND = _page(404)
BAD_REQUEST = _page(400)
HEAD_TOO_LARGE = _page(431)
METHOD_NOT_ALLOWED = _page(405, [("Allow", "GET, HEAD")])
SERVER_ERROR = _page(500)


# -- choosing the response (pure) ---------------------------------------------------------------


def normalise_host(authority: str) -> str:
    """The host name of a Host header / URL authority: lower-case, no port, no trailing dot."""
    authority = authority.strip().lower().rpartition("@")[2]
    if authority.startswith("["):
        return authority[1:].partition("]")[0]
    if authority.count(":") == 1:
        authority = authority.partition(":")[0]
    return authority.rstrip(".")


def _idna_alternative(name: str) -> str | None:
    """The other spelling of an internationalised name (A-label <-> U-label), if any."""
    try:
        if name.isascii():
            return name.encode("ascii").decode("idna") if "xn--" in name else None
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def find_host(world: World, name: str | None) -> Host | None:
    if not name:
        return None
    host = world.hosts.get(name)
    if host is None:
        other = _idna_alternative(name)
        if other is not None:
            host = world.hosts.get(other)
    return host


def route(world: World, scheme: str, host_name: str, target: str) -> Response:
    """The Response the world gives for a request; unknown host or path gets a 404 page."""
    host = find_host(world, host_name)
    if host is None:
        return NOT_FOUND
    routes = host.https if scheme == "https" else host.http
    found = routes.get(target)
    if found is None and "?" in target:
        found = routes.get(target.partition("?")[0])
    return found if found is not None else NOT_FOUND


def request_target(request: h11.Request) -> tuple[str, str]:
    """(host name, origin-form target) of a request, accepting absolute-form targets too."""
    target = request.target.decode("latin-1")
    authority = ""
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        authority = parts.netloc
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    else:
        for name, value in request.headers:
            if name == b"host":
                authority = value.decode("latin-1")
                break
    return normalise_host(authority), target


def client_wants_keep_alive(request: h11.Request) -> bool:
    tokens: set[bytes] = set()
    for name, value in request.headers:
        if name == b"connection":
            tokens.update(token.strip().lower() for token in value.split(b","))
    if request.http_version == b"1.1":
        return b"close" not in tokens
    return b"keep-alive" in tokens and b"close" not in tokens


# -- writing the response head (pure) ------------------------------------------------------------


def _header_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")  # what a careless server puts on the wire


@dataclass(frozen=True)
class Head:
    data: bytes
    chunked: bool  # the body goes out in chunked framing
    close_after: bool  # the connection must end after this response


def render_head(response: Response, body_size: int, *, keep_alive: bool) -> Head:
    """Status line and headers: the world's headers verbatim, plus what they leave out.

    Adds Content-Encoding (when ``encoding`` is set), Content-Length (the true length, or the
    ``content_length`` lie) and Connection, each only if the world's headers lack it. A response
    whose framing cannot be trusted (a lie, or a non-chunked Transfer-Encoding) ends the
    connection after it, as a real server would.
    """
    lines = [f"HTTP/1.1 {response.status} {_reason(response.status)}".encode("latin-1")]
    names: dict[str, str] = {}
    for name, value in response.headers:
        lines.append(_header_bytes(name) + b": " + _header_bytes(value))
        names[name.lower()] = value  # the last one wins, as for a parser
    transfer_encoding = names.get("transfer-encoding")
    chunked = transfer_encoding is not None and (
        transfer_encoding.rpartition(",")[2].strip().lower() == "chunked"
    )
    close_after = not keep_alive
    if "connection" in names and "close" in names["connection"].lower():
        close_after = True
    if transfer_encoding is not None and not chunked:
        close_after = True  # the body is delimited by the end of the connection

    if response.encoding and "content-encoding" not in names:
        lines.append(b"Content-Encoding: " + response.encoding.encode("latin-1"))
    if "content-length" in names:
        declared = names["content-length"].strip()
        if not chunked and declared != str(body_size):
            close_after = True
    elif response.content_length is not None:
        lines.append(b"Content-Length: %d" % response.content_length)
        if not chunked and response.content_length != body_size:
            close_after = True
    elif transfer_encoding is None and _may_have_body(response.status):
        lines.append(b"Content-Length: %d" % body_size)
    if "connection" not in names:
        lines.append(b"Connection: close" if close_after else b"Connection: keep-alive")
    lines.append(b"")
    lines.append(b"")
    return Head(b"\r\n".join(lines), chunked, close_after)


def iter_wire_body(body: Body, chunked: bool, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
    """The body as it goes on the wire, in pieces, with chunked framing when asked for."""
    if isinstance(body, RepeatedBytes):
        pieces: Iterator[bytes] = body.iter_chunks(chunk_size)
    else:
        view = memoryview(body)
        pieces = (bytes(view[i : i + chunk_size]) for i in range(0, len(body), chunk_size))
    if not chunked:
        yield from pieces
        return
    for piece in pieces:
        if piece:
            yield b"%x\r\n" % len(piece) + piece + b"\r\n"
    yield b"0\r\n\r\n"


def reslice(pieces: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Re-cut a byte stream into pieces of exactly ``size`` bytes (the last may be shorter)."""
    pending = b""
    for piece in pieces:
        pending += piece
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending


# -- the connection -------------------------------------------------------------------------------


@dataclass
class FarmState:
    """What every connection of one farm shares. Only the farm's event-loop thread mutates it."""

    world: World
    responses: int = 0  # responses whose head was sent
    connections: set[HttpConnection] = field(default_factory=set)
    encoded: EncodedBodyCache = field(default_factory=EncodedBodyCache)


def _head_size(request: h11.Request) -> int:
    size = len(request.method) + len(request.target) + 12
    return size + sum(len(name) + len(value) + 4 for name, value in request.headers)


def _new_parser() -> h11.Connection:
    return h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)


def _is_simple(response: Response) -> bool:
    return not (
        response.drop_connection
        or response.delay > 0
        or response.trickle > 0
        or response.stall_after_headers
        or response.reset_after is not None
    )


class HttpConnection(asyncio.Protocol):
    """An HTTP/1.1 server connection (plain or inside TLS) serving one farm's world."""

    def __init__(self, state: FarmState, scheme: str) -> None:
        self.state = state
        self.scheme = scheme
        self.transport: asyncio.Transport | None = None
        self._parser = _new_parser()
        self._request: h11.Request | None = None
        self._busy = False  # a slow response is being written; later requests wait
        self._stalling = False  # headers sent, holding the connection until the client leaves
        self._received_while_busy = 0
        self._closing = False
        self._write_paused = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._lost: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._lost = asyncio.get_running_loop().create_future()
        self.state.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.state.connections.discard(self)
        self._can_write.set()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if self._busy:
            # Requests pipelined behind a slow response wait in h11's buffer: bound it.
            self._received_while_busy += len(data)
            if self._received_while_busy > MAX_PIPELINED_BYTES:
                self._finish(close=True, abort=True)
                return
        self._parser.receive_data(data)
        self._serve_ready()

    def eof_received(self) -> bool:
        self._parser.receive_data(b"")
        if not self._busy:
            self._serve_ready()
        # A half-closed client still gets the response in progress, except a stalled one
        # (which ends when the client does) and under TLS (asyncio cannot keep it half-open).
        return self._busy and not self._stalling and self.scheme == "http"

    def pause_writing(self) -> None:
        self._write_paused = True
        self._can_write.clear()
        if self.transport is not None and not self._closing:
            self.transport.pause_reading()  # a client that does not read gets no more answers

    def resume_writing(self) -> None:
        self._write_paused = False
        self._can_write.set()
        if self.transport is not None and not self._closing:
            self.transport.resume_reading()
            if not self._busy:
                self._serve_ready()

    # request handling

    def close(self) -> None:
        """End the connection at once (farm shutdown)."""
        if self.transport is not None:
            self.transport.abort()

    def _serve_ready(self) -> None:
        while not (self._busy or self._closing or self._write_paused):
            try:
                event = self._parser.next_event()
            except h11.RemoteProtocolError as exc:
                status = exc.error_status_hint
                self._reject(HEAD_TOO_LARGE if status == 431 else _page(status))
                return
            if event is h11.NEED_DATA:
                return
            if isinstance(event, h11.Request):
                # h11 bounds only what it buffers; a head that arrived whole is measured here.
                if len(event.headers) > MAX_HEADERS or _head_size(event) > MAX_HEAD_BYTES:
                    self._reject(HEAD_TOO_LARGE)
                    return
                if event.method not in (b"GET", b"HEAD"):
                    self._reject(METHOD_NOT_ALLOWED)
                    return
                self._request = event
            elif isinstance(event, h11.EndOfMessage):
                request, self._request = self._request, None
                data, closed = self._parser.trailing_data
                self._parser = _new_parser()
                if data:  # (receive_data(b"") would mean end of stream to h11)
                    self._parser.receive_data(data)
                if closed:
                    self._parser.receive_data(b"")
                if request is not None:
                    self._respond(request)
            elif isinstance(event, h11.ConnectionClosed):
                self._finish(close=True)
                return
            # h11.Data (a request body) is read and dropped.

    def _reject(self, response: Response) -> None:
        head = render_head(response, body_length(response.body_bytes()), keep_alive=False)
        self.state.responses += 1
        self._write(head.data + response.body_bytes())
        self._finish(close=True)

    def _respond(self, request: h11.Request) -> None:
        host_name, target = request_target(request)
        response = route(self.state.world, self.scheme, host_name, target)
        keep_alive = client_wants_keep_alive(request)
        head_only = request.method == b"HEAD"
        if response.drop_connection and response.delay <= 0:
            self._finish(close=True)
            return
        try:
            if response.encoding and response.encoding not in ENCODINGS:
                raise ValueError(f"unknown encoding {response.encoding!r}")
            body = resolve_body(response.body)
        except Exception:
            log.exception("body of %s://%s%s failed; answering 500", self.scheme, host_name, target)
            response, body = SERVER_ERROR, SERVER_ERROR.body_bytes()
        streamed = isinstance(body, RepeatedBytes) and not response.encoding and not head_only
        if (
            _is_simple(response)
            and not streamed
            and not needs_background_encoding(body, response.encoding)
        ):
            wire = self._encoded(response, body)
            head = render_head(response, body_length(wire), keep_alive=keep_alive)
            self.state.responses += 1
            if head_only:
                self._write(head.data)
            elif head.chunked:
                self._write(head.data + b"".join(iter_wire_body(wire, chunked=True)))
            elif isinstance(wire, bytes) and len(wire) <= SMALL_BODY:
                self._write(head.data + wire)  # one segment for small pages
            elif isinstance(wire, bytes):
                self._write(head.data)
                self._write(wire)
            if head.close_after:
                self._finish(close=True)
            return
        self._busy = True
        self._received_while_busy = 0
        self._task = asyncio.get_running_loop().create_task(
            self._respond_slowly(response, body, keep_alive, head_only)
        )

    def _encoded(self, response: Response, body: Body) -> Body:
        if not response.encoding:
            return body
        if isinstance(body, RepeatedBytes):
            return encode_repeated(body, response.encoding)
        cached = self.state.encoded.get(response)
        if cached is None:
            cached = encode_body(body, response.encoding)
            self.state.encoded.put(response, cached)
        return cached

    async def _respond_slowly(
        self, response: Response, body: Body, keep_alive: bool, head_only: bool
    ) -> None:
        try:
            if response.delay > 0:
                await asyncio.sleep(response.delay)
            if response.drop_connection:
                self._finish(close=True)
                return
            if needs_background_encoding(body, response.encoding):
                loop = asyncio.get_running_loop()
                wire = await loop.run_in_executor(None, self._encoded, response, body)
            else:
                wire = self._encoded(response, body)
            head = render_head(response, body_length(wire), keep_alive=keep_alive)
            self.state.responses += 1
            self._write(head.data)
            if response.stall_after_headers:
                self._stalling = True
                await self._wait_until_lost()
                return
            pieces = iter([]) if head_only else iter_wire_body(wire, head.chunked)
            if response.reset_after is not None:
                await self._send_then_reset(pieces, response.reset_after)
                return
            if response.trickle > 0:
                await self._trickle(pieces, response.trickle)
            else:
                for piece in pieces:
                    await self._send(piece)
                    await asyncio.sleep(0)  # let other connections in between big pieces
            if head.close_after:
                self._finish(close=True)
                return
            self._busy = False
            self._serve_ready()
        except (asyncio.CancelledError, ConnectionError):
            self._finish(close=True, abort=True)
        except Exception:
            log.exception("response on %s failed", self.scheme)
            self._finish(close=True, abort=True)

    # writing

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self._closing:
            self.transport.write(data)

    async def _send(self, data: bytes) -> None:
        await self._can_write.wait()
        if self._closing:
            raise ConnectionResetError("client went away")
        self._write(data)

    async def _trickle(self, pieces: Iterator[bytes], rate: float) -> None:
        size = max(1, int(rate * TRICKLE_TICK))
        for piece in reslice(pieces, size):
            await self._send(piece)
            await asyncio.sleep(len(piece) / rate)

    async def _send_then_reset(self, pieces: Iterator[bytes], limit: int) -> None:
        left = limit
        for piece in pieces:
            if left <= 0:
                break
            await self._send(piece[:left])
            left -= len(piece)
        await self._flushed()
        self._reset()

    async def _wait_until_lost(self) -> None:
        if self._lost is not None:
            await self._lost

    async def _flushed(self) -> None:
        """Wait until what was written has left this process and been taken by the peer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESET_FLUSH_LIMIT
        quiet_checks = 0
        while quiet_checks < 2 and loop.time() < deadline and not self._closing:
            quiet_checks = quiet_checks + 1 if self._unsent_bytes() == 0 else 0
            await asyncio.sleep(0.002)

    def _unsent_bytes(self) -> int:
        transport = self.transport
        if transport is None:
            return 0
        pending = transport.get_write_buffer_size()
        # Under TLS the encrypted bytes sit in the TCP transport below the TLS one.
        inner = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None)
        if isinstance(inner, asyncio.WriteTransport):
            pending += inner.get_write_buffer_size()
        return pending + _kernel_unacknowledged(transport)

    def _reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0) instead of an orderly close."""
        transport = self.transport
        if transport is None or self._closing:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._closing = True
        transport.abort()

    def _finish(self, *, close: bool, abort: bool = False) -> None:
        self._busy = False
        if not close or self.transport is None:
            return
        self._closing = True
        if abort:
            self.transport.abort()
        else:
            self.transport.close()


def _kernel_unacknowledged(transport: asyncio.BaseTransport) -> int:
    """Bytes in the socket's send queue the peer has not acknowledged (0 if unknown)."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return 0
    value = array.array("i", [0])
    try:
        fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, value)
    except OSError:
        return 0
    return int(value[0])
