"""The sandbox's web farm: HTTP and HTTPS virtual hosts on loopback, serving a World.

One asyncio loop (in a background thread, or in the foreground for the CLI) serves four ports:

* ``http_port``: plain HTTP; the Host header picks the site;
* ``https_port``: TLS, where SNI picks the certificate (:mod:`icpscan.sandbox.certs`) and the Host
  header picks the site;
* ``tarpit_port``: accepts TCP and never sends a byte (TARPIT hosts, TLS handshakes that stall);
* ``closed_port``: bound but not listening, so connecting is refused (REFUSED hosts, missing
  http/https); keeping it bound stops anything else from taking it.

A scanner reaches the farm although DNS answers public addresses: :meth:`Farm.connect_to_rules`
gives curl-style ``--connect-to`` rules sending every (host, port) to the right loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import socket
import ssl
import tempfile
import threading
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

from icpscan.sandbox.certs import SandboxCA
from icpscan.sandbox.webserver import FarmState, HttpConnection, find_host
from icpscan.sandbox.world import CertMode, ConnectionMode, Response, World

log = logging.getLogger("icpscan.sandbox.farm")

LISTEN_BACKLOG = 1024
TLS_HANDSHAKE_TIMEOUT = 30.0


class _Tarpit(asyncio.Protocol):
    """Accepts a connection and never answers; reads and drops whatever the client sends."""

    def __init__(self, held: dict[_Tarpit, None], limit: int) -> None:
        self.held = held
        self.limit = limit
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.held[self] = None
        while len(self.held) > self.limit:
            oldest = next(iter(self.held))
            del self.held[oldest]
            if oldest.transport is not None:
                oldest.transport.abort()

    def data_received(self, data: bytes) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.held.pop(self, None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def _bound_socket(host: str, port: int, *, listen: bool) -> socket.socket:
    # proto=IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on sockets that say they are TCP,
    # and without it Nagle + delayed ACKs add ~40 ms to every small response.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if listen:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _rule_host(name: str) -> str:
    """A host name as a scanner sees it in a URL: the A-label form of an IDN."""
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


class Farm:
    """HTTP/HTTPS virtual hosts on loopback serving ``world.hosts``; see the module docstring.

    ``world`` may be replaced while the farm runs (the next request sees the new one). Ports are
    bound by :meth:`start`; port 0 (the default) takes a free ephemeral port.
    """

    tarpit_max_held = 1024  # connections the tarpit holds at once; beyond, the oldest is dropped

    def __init__(
        self,
        world: World,
        host: str = "127.0.0.1",
        http_port: int = 0,
        https_port: int = 0,
        state_dir: Path | None = None,
    ) -> None:
        self._state = FarmState(world=world)
        self.host = host
        self.http_port = http_port
        self.https_port = https_port
        self.tarpit_port = 0
        self.closed_port = 0
        self.certs = SandboxCA()
        if state_dir is None:
            state_dir = Path(tempfile.mkdtemp(prefix="icpscan-farm-"))
            self._cleanup_dir = weakref.finalize(self, shutil.rmtree, state_dir, True)
        else:
            state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir
        self.ca_cert_path = self.certs.write_cert(state_dir / "ca.pem")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._refusing: socket.socket | None = None
        self._tarpit_held: dict[_Tarpit, None] = {}
        self._stopped = threading.Event()
        self._ready = threading.Event()  # set once the loop serves: `running` means serving

    # -- the served world and figures --

    @property
    def world(self) -> World:
        return self._state.world

    @world.setter
    def world(self, world: World) -> None:
        self._state.world = world  # one attribute store: atomic for the loop thread

    @property
    def requests(self) -> int:
        """Responses served so far (for benchmarks)."""
        return self._state.responses

    @property
    def running(self) -> bool:
        return self._ready.is_set() and self._thread is not None and self._thread.is_alive()

    def prewarm_certificates(self) -> int:
        """Issue every HTTPS host's certificate now (benchmarks: see SandboxCA.prewarm)."""
        return self.certs.prewarm(
            (name.lower(), host.cert) for name, host in self.world.hosts.items() if host.https
        )

    def prewarm_bodies(self) -> int:
        """Build every lazy page and compress every encoded one now, kept in memory.

        For benchmarks: rendering and gzipping a 150 KB page costs the farm about a
        millisecond per request, a cost of the sandbox, not of the scanner it measures. Memory
        grows with the world (about 100 KB per site). Call before :meth:`start`. Returns the
        number of bodies prepared.
        """
        from dataclasses import replace

        from icpscan.sandbox.bodies import RepeatedBytes, encode_body

        prepared: list[tuple[Response, bytes]] = []
        for host in self.world.hosts.values():
            for routes in (host.http, host.https):
                for target, response in list(routes.items()):
                    body = response.body
                    if isinstance(body, RepeatedBytes) or not (callable(body) or body):
                        continue
                    if callable(body):
                        response = routes[target] = replace(response, body=response.body_bytes())
                    if response.encoding:
                        prepared.append(
                            (response, encode_body(response.body_bytes(), response.encoding))
                        )
                    else:
                        prepared.append((response, b""))
        cache = self._state.encoded
        cache.max_bytes = max(cache.max_bytes, 2 * sum(len(data) for _, data in prepared))
        for response, data in prepared:
            if response.encoding:
                cache.put(response, data)
        return len(prepared)

    # -- lifecycle --

    def start(self) -> Farm:
        """Bind the ports and serve in a background thread with its own event loop."""
        if self._thread is not None:
            raise RuntimeError("this Farm was already started")
        sockets = self._bind()
        ready = threading.Event()
        failure: list[BaseException] = []
        self._stopped.clear()
        self._thread = threading.Thread(
            target=self._run, args=(sockets, ready, failure), name="icpscan-farm", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._release()
            raise failure[0]
        self._ready.set()
        log.info(
            "farm serving %d hosts: http %s:%d, https %s:%d",
            len(self.world.hosts),
            self.host,
            self.http_port,
            self.host,
            self.https_port,
        )
        return self

    def stop(self) -> None:
        """Close every listener and connection and end the loop thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop may be closing already
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._release()
        self._ready.clear()
        self._stopped.set()

    def serve_forever(self) -> None:
        """Serve in the foreground until :meth:`stop`, Ctrl-C or SIGTERM; then stop and return.

        From the main thread, SIGINT and SIGTERM are caught for the duration (and the previous
        handlers put back), so an interrupt never lands half-way through shutting down.
        """
        signalled: list[int] = []
        previous = self._catch_signals(signalled)
        try:
            if self._thread is None:
                self.start()
            while not signalled and not self._stopped.wait(0.2):
                if not self.running:
                    break
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    @staticmethod
    def _catch_signals(signalled: list[int]) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda number, _: signalled.append(number))
        return previous

    def __enter__(self) -> Farm:
        return self.start() if self._thread is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- connect-to rules --

    def connect_to_rules(self) -> list[str]:
        """curl-style ``--connect-to HOST1:PORT1:HOST2:PORT2`` rules landing every site here.

        Host-specific rules first (refused, tarpit, stalled TLS, missing http or https), then
        the catch-alls for ports 80 and 443. The first matching rule wins.
        """
        target = f"[{self.host}]" if ":" in self.host else self.host
        closed = f"{target}:{self.closed_port}"
        tarpit = f"{target}:{self.tarpit_port}"
        rules: list[str] = []
        for name, site in self.world.hosts.items():
            host = _rule_host(name)
            if site.connection is ConnectionMode.REFUSED:
                rules.append(f"{host}::{closed}")
                continue
            if site.connection is ConnectionMode.TARPIT:
                rules.append(f"{host}::{tarpit}")
                continue
            if site.cert is CertMode.HANDSHAKE_STALL:
                rules.append(f"{host}:443:{tarpit}")
            elif not site.https:
                rules.append(f"{host}:443:{closed}")
            if not site.http:
                rules.append(f"{host}:80:{closed}")
        rules.append(f":80:{target}:{self.http_port}")
        rules.append(f":443:{target}:{self.https_port}")
        return rules

    def write_connect_to_file(self, path: Path) -> Path:
        """Write :meth:`connect_to_rules` one per line (the scanner's ``--connect-to-file``)."""
        path.write_text("".join(rule + "\n" for rule in self.connect_to_rules()), encoding="ascii")
        return path

    # -- internals --

    def _bind(self) -> list[socket.socket]:
        bound: list[socket.socket] = []
        try:
            for port in (self.http_port, self.https_port, 0):
                bound.append(_bound_socket(self.host, port, listen=True))
            # Bound but never listening: connections are refused, and nothing else takes it.
            self._refusing = _bound_socket(self.host, 0, listen=False)
        except OSError:
            for sock in bound:
                sock.close()
            raise
        self.http_port, self.https_port, self.tarpit_port = (s.getsockname()[1] for s in bound)
        self.closed_port = self._refusing.getsockname()[1]
        return bound

    def _tls_context(self) -> ssl.SSLContext:
        context = self.certs.listening_context()
        context.sni_callback = self._choose_certificate
        return context

    def _choose_certificate(
        self, ssl_object: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> int | None:
        """SNI callback: swap in the certificate the named host's CertMode calls for."""
        try:
            site = find_host(self.world, server_name.lower().rstrip(".") if server_name else None)
            if site is not None and server_name is not None:
                ssl_object.context = self.certs.context_for(server_name.lower(), site.cert)
        except Exception:
            log.exception("certificate for %r failed", server_name)
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        return None

    def _run(
        self, sockets: list[socket.socket], ready: threading.Event, failure: list[BaseException]
    ) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open(sockets))
            except BaseException as exc:
                failure.append(exc)
                for sock in sockets:
                    sock.close()
                return
            finally:
                ready.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()

    async def _open(self, sockets: list[socket.socket]) -> None:
        loop = asyncio.get_running_loop()
        http_sock, https_sock, tarpit_sock = sockets
        state = self._state
        self._servers = [
            await loop.create_server(lambda: HttpConnection(state, "http"), sock=http_sock),
            await loop.create_server(
                lambda: HttpConnection(state, "https"),
                sock=https_sock,
                ssl=self._tls_context(),
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT,
            ),
            await loop.create_server(
                lambda: _Tarpit(self._tarpit_held, self.tarpit_max_held), sock=tarpit_sock
            ),
        ]

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
        for connection in list(self._state.connections):
            connection.close()
        for held in list(self._tarpit_held):
            held.close()
        for server in self._servers:
            await server.wait_closed()
        # Let aborted transports and cancelled response tasks finish their callbacks.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)
        self._servers = []

    def _release(self) -> None:
        if self._refusing is not None:
            self._refusing.close()
            self._refusing = None
