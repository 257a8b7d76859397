"""The sandbox's DNS server: one loopback nameserver that answers like a recursive resolver.

Point dnspython at it as the *only* nameserver (``Resolver(configure=False)``, ``nameservers =
[server.address[0]]``, ``port = server.port``) and it answers from a :class:`World`: full CNAME
chains, per-name faults (:class:`DnsFault`), GeoDNS views chosen by EDNS Client Subnet or by the
client's source address, Team Cymru's IP-to-ASN zones, SOA records in negative answers, and
RFC-sized UDP answers (TC=1 and a TCP retry when an answer does not fit).

Speed: answers are computed once per distinct question (per World) and kept encoded, so a
repeated question costs a header parse and a byte join. UDP is served by one thread blocked in
``recvfrom`` (no event loop between two packets); TCP by an asyncio loop in a second thread, with
pipelining and an idle timeout. Both threads are daemons and hold the GIL only while answering,
but they must win it back for every packet: next to a CPU-busy client in the same process (an
asyncio resolver with 100 queries in flight) that costs 30-70 % of the client's query rate. Use
:class:`icpscan.sandbox.dns_process.DnsServerProcess` (same interface, a child process) there.

The server serves a compiled snapshot of ``world``. Assigning ``server.world`` (even the same
object after editing it in place) compiles a new snapshot and swaps it atomically; queries in
flight finish on the old one. A World with a bad value raises ValueError at that assignment
(or in the constructor), and the previous World stays in service.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from icpscan.sandbox.dns_wire import (
    CLASS_IN,
    MAX_TCP_MESSAGE,
    REFUSED,
    EncodedSections,
    Query,
    Rejection,
    build_rejection,
    build_response,
    encode_sections,
    parse_query,
)
from icpscan.sandbox.dns_zone import Action, Client, Zone
from icpscan.sandbox.world import World

__all__ = ["DnsServer", "serve_forever"]

_log = logging.getLogger(__name__)

MAX_CACHED_ANSWERS = 100_000  # per World; the cache is dropped and refilled beyond this
MAX_TCP_CLIENTS = 512  # connections beyond this are closed at once
TCP_IDLE_TIMEOUT = 30.0  # seconds a TCP client may stay silent (RFC 7766 suggests seconds)
_UDP_RECEIVE_BUFFER = 1 << 20  # absorbs bursts from clients running 100+ queries at once
_BIND_ATTEMPTS = 20  # port 0: UDP picks a port; retry if TCP finds that port taken


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One answer, encoded and ready to be glued behind any query for the same question."""

    rcode: int
    sections: EncodedSections | None
    action: Action
    scope_prefix: int


_BY_SOURCE = _Prepared(0, None, Action.REPLY, 0)  # marker: look up (key, source address) instead


@dataclass
class _Served:
    """A World, its compiled Zone and the answers encoded from it: swapped as one reference."""

    world: World
    zone: Zone
    cache: dict[Any, _Prepared] = field(default_factory=dict)

    def store(self, key: Any, prepared: _Prepared) -> None:
        if len(self.cache) >= MAX_CACHED_ANSWERS:
            self.cache.clear()
        self.cache[key] = prepared


def _bind_address(host: str) -> tuple[socket.AddressFamily, str]:
    if host == "localhost":
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"DNS server host must be an IP address, not {host!r}") from None
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    return family, str(address)


class DnsServer:
    """A UDP+TCP DNS server on one port, answering from a World (see the module docstring)."""

    def __init__(self, world: World, host: str = "127.0.0.1", port: int = 0) -> None:
        self._family, self._host = _bind_address(host)
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535, not {port}")
        self._requested_port = port
        self._serial = 1
        self._swap_lock = threading.Lock()
        self._served = _Served(world, Zone(world, serial=self._serial))
        self._udp_socket: socket.socket | None = None
        self._tcp_socket: socket.socket | None = None
        self._port = 0
        self._threads: list[threading.Thread] = []
        self._stop_tcp: Callable[[], object] | None = None
        self._tcp_failure: Exception | None = None
        self._tcp_clients = 0
        self._stopping = False
        self._udp_answered = 0
        self._tcp_answered = 0

    # -- public interface ---------------------------------------------------------------------

    @property
    def world(self) -> World:
        return self._served.world

    @world.setter
    def world(self, world: World) -> None:
        with self._swap_lock:
            self._serial += 1
            self._served = _Served(world, Zone(world, serial=self._serial))

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the DNS server is not started")
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return self._host, self.port

    @property
    def queries(self) -> int:
        """Queries answered so far, over UDP and TCP (queries a fault swallowed not included)."""
        return self._udp_answered + self._tcp_answered

    @property
    def tcp_queries(self) -> int:
        """Queries answered over TCP (clients fall back to TCP after a truncated UDP answer)."""
        return self._tcp_answered

    def start(self) -> DnsServer:
        if self._threads:
            raise RuntimeError("the DNS server is already started")
        self._udp_socket, self._tcp_socket = self._bind()
        self._port = self._udp_socket.getsockname()[1]
        self._stopping = False
        udp = threading.Thread(
            target=self._serve_udp, args=(self._udp_socket,), name=f"dns-udp:{self._port}"
        )
        ready = threading.Event()
        tcp = threading.Thread(
            target=self._serve_tcp, args=(self._tcp_socket, ready), name=f"dns-tcp:{self._port}"
        )
        for thread in (udp, tcp):
            thread.daemon = True
            thread.start()
        self._threads = [udp, tcp]
        ready.wait()
        if self._tcp_failure is not None:
            self.stop()
            raise RuntimeError(f"DNS server over TCP failed to start: {self._tcp_failure}")
        return self

    def stop(self) -> None:
        if not self._threads:
            return
        self._stopping = True
        udp, tcp = self._threads
        if self._stop_tcp is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._stop_tcp()
        while udp.is_alive():
            self._wake_udp()
            udp.join(0.1)
        tcp.join()
        for sock in (self._udp_socket, self._tcp_socket):
            if sock is not None:
                sock.close()
        self._threads = []
        self._stop_tcp = None

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self._host}:{self._port}" if self._port else "not started"
        return f"<DnsServer {where}, {len(self.world.dns)} names>"

    # -- answering ----------------------------------------------------------------------------

    def respond(self, data: bytes, source: str, *, over_udp: bool) -> bytes | None:
        """The reply to one DNS message from ``source``, or None to stay silent."""
        parsed = parse_query(data)
        if parsed is None:
            return None
        if isinstance(parsed, Rejection):
            return build_rejection(parsed)
        query = parsed
        if query.qclass != CLASS_IN:
            return build_rejection(
                Rejection(query.id, query.flags, REFUSED, query.question, query.edns)
            )
        served = self._served  # read once: a concurrent swap cannot mix two worlds
        subnet = query.edns.client_subnet if query.edns is not None else None
        if subnet is not None and subnet.source_prefix == 0:
            subnet = None  # RFC 7871: prefix 0 asks us not to tailor the answer to the client
        subnet_key = (
            (subnet.family, subnet.source_prefix, subnet.address_bytes)
            if subnet is not None
            else None
        )
        key: Any = (query.name, query.qtype, subnet_key)
        prepared = served.cache.get(key)
        if prepared is _BY_SOURCE:
            key = (key, source)
            prepared = served.cache.get(key)
        if prepared is None:
            prepared = self._prepare(served, query, source, key)
        if prepared.action is Action.DROP:
            return None
        return build_response(
            query,
            prepared.rcode,
            prepared.sections,
            scope_prefix=prepared.scope_prefix,
            size_limit=query.udp_limit if over_udp else MAX_TCP_MESSAGE,
            force_truncation=over_udp and prepared.action is Action.TRUNCATE_UDP,
        )

    @staticmethod
    def _prepare(served: _Served, query: Query, source: str, key: Any) -> _Prepared:
        subnet = query.edns.client_subnet if query.edns is not None else None
        if subnet is not None and subnet.source_prefix:
            client = Client(subnet.address, from_subnet=True, source_prefix=subnet.source_prefix)
        else:
            try:
                client = Client(ipaddress.ip_address(source.split("%", 1)[0]))
            except ValueError:
                client = Client(None)
        answer = served.zone.answer(query.name, query.qtype, client)
        sections = None
        if answer.action is not Action.DROP:
            sections = encode_sections(
                query.labels, query.qtype, query.qclass, answer.answer, answer.authority
            )
        prepared = _Prepared(answer.rcode, sections, answer.action, answer.scope_prefix)
        if answer.views_consulted and not client.from_subnet:
            served.store(key, _BY_SOURCE)
            key = (key, source)
        served.store(key, prepared)
        return prepared

    def _safe_respond(self, data: bytes, source: str, *, over_udp: bool) -> bytes | None:
        try:
            return self.respond(data, source, over_udp=over_udp)
        except Exception:  # a bug must cost one answer, not the server
            _log.exception("sandbox DNS: failed to answer a query from %s", source)
            return None

    # -- transports ---------------------------------------------------------------------------

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        for _ in range(_BIND_ATTEMPTS):
            udp = socket.socket(self._family, socket.SOCK_DGRAM)
            tcp = socket.socket(self._family, socket.SOCK_STREAM)
            try:
                with contextlib.suppress(OSError):
                    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RECEIVE_BUFFER)
                udp.bind((self._host, self._requested_port))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self._host, udp.getsockname()[1]))
                tcp.listen(128)
            except OSError:
                udp.close()
                tcp.close()
                if self._requested_port:
                    raise
                continue
            return udp, tcp
        raise OSError(f"no port free for both UDP and TCP on {self._host}")

    def _wake_udp(self) -> None:
        """Unblock the UDP thread's recvfrom with an empty datagram to ourselves."""
        sock = self._udp_socket
        if sock is None:
            return
        with (
            contextlib.suppress(OSError),
            socket.socket(self._family, socket.SOCK_DGRAM) as waker,
        ):
            waker.sendto(b"", sock.getsockname()[:2])

    def _serve_udp(self, sock: socket.socket) -> None:
        respond = self._safe_respond
        while True:
            try:
                data, source = sock.recvfrom(65535)
            except OSError:
                if self._stopping or sock.fileno() < 0:
                    return
                continue
            if self._stopping:
                return
            reply = respond(data, source[0], over_udp=True)
            if reply is None:
                continue
            self._udp_answered += 1  # counted first: the client may look as soon as it reads
            with contextlib.suppress(OSError):  # the client went away; nothing to do about it
                sock.sendto(reply, source)

    def _serve_tcp(self, sock: socket.socket, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve_tcp_until_stopped(sock, ready))
        except Exception as error:  # surfaces in start() instead of dying in a thread
            self._tcp_failure = error
        finally:
            ready.set()

    async def _serve_tcp_until_stopped(self, sock: socket.socket, ready: threading.Event) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._stop_tcp = lambda: loop.call_soon_threadsafe(stop.set)
        clients: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        closing = False

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if closing:  # accepted while we shut down
                writer.transport.abort()
                return
            task = asyncio.ensure_future(self._serve_tcp_client(reader, writer))
            clients[task] = writer
            task.add_done_callback(lambda done: clients.pop(done, None))

        server = await asyncio.start_server(on_connect, sock=sock)
        ready.set()
        await stop.wait()
        closing = True
        # Connections accepted a moment ago are still being set up by asyncio's own tasks. Let
        # them finish first (on_connect aborts them): closing the server under them makes
        # asyncio 3.11 fail the setup and leak the accepted socket. No await between the last
        # check and close(), so no new setup can start in between.
        current = asyncio.current_task()
        for _ in range(10):
            setting_up = [t for t in asyncio.all_tasks() if t is not current and t not in clients]
            if not setting_up:
                break
            await asyncio.wait(setting_up, timeout=1.0)
        # Not server.wait_closed(): it would wait for the clients a TIMEOUT fault keeps hanging.
        server.close()
        for task, writer in list(clients.items()):
            task.cancel()  # a task cancelled before it started never reaches its finally:
            writer.transport.abort()  # so close its connection here
        await asyncio.gather(*clients, return_exceptions=True)
        for _ in range(3):  # let accepts in flight finish and aborted transports close
            await asyncio.sleep(0)

    async def _serve_tcp_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self._tcp_clients >= MAX_TCP_CLIENTS:
            writer.close()
            return
        self._tcp_clients += 1
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if peer else ""
        try:
            while True:
                async with asyncio.timeout(TCP_IDLE_TIMEOUT):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    data = await reader.readexactly(length)
                reply = self._safe_respond(data, source, over_udp=False)
                if reply is None:
                    continue  # a TIMEOUT fault: stay silent, keep the connection open
                self._tcp_answered += 1  # counted first: the client may look as soon as it reads
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, OSError):
            pass  # the client closed, went silent or reset: all normal ends
        finally:
            self._tcp_clients -= 1
            writer.close()


def serve_forever(
    world: World,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ready: Callable[[DnsServer], None] | None = None,
) -> None:
    """Serve ``world`` in the foreground until Ctrl-C; ``ready`` is told the bound address."""
    forever = threading.Event()
    # ready() runs inside the suppress: a Ctrl-C sent as soon as it reports must still stop us
    # cleanly, not escape as a traceback.
    with DnsServer(world, host, port) as server, contextlib.suppress(KeyboardInterrupt):
        if ready is not None:
            ready(server)
        # Short waits: Ctrl-C may be delivered to a server thread, and Python then runs the
        # handler only when the main thread next wakes (a long wait hung until it timed out).
        while not forever.wait(0.2):
            pass
