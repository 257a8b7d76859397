"""The sandbox DNS server in a child process, behind the same interface as :class:`DnsServer`.

Why: in-process, the server's thread needs the GIL twice per packet (after ``recvfrom`` and after
``sendto``), and a CPU-busy client in the same process (an asyncio resolver running hundreds of
queries at once) makes it wait for the GIL switch interval. ``bench/sandbox_dns_bench.py``
measured a dnspython client at 30-70 % fewer queries/s with the server in its process than with
the server in a child. Use this class when the scanner runs in the process that owns the
sandbox (benchmarks, the demo); the threaded :class:`DnsServer` is simpler and is plenty for
tests that ask a few questions.

The child is ``python -m icpscan.sandbox.dns_process``, driven over its stdin/stdout with
pickled commands. It exits when told to, or when its stdin closes because the parent died, so it
never outlives the process that started it. The World's DNS parts (``dns``, ``asn_prefixes``,
``asn_names``) are what crosses the pipe; ``hosts`` (which may hold callables) stays behind.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from icpscan import egress
from icpscan.sandbox.world import World

__all__ = ["DnsServerProcess"]

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent  # the directory holding icpscan/


def _dns_only(world: World) -> World:
    return World(dns=world.dns, asn_prefixes=world.asn_prefixes, asn_names=world.asn_names)


def _send(stream: IO[bytes], message: tuple[Any, ...]) -> None:
    pickle.dump(message, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


class DnsServerProcess:
    """:class:`~icpscan.sandbox.dns.DnsServer`'s interface, served by a child process."""

    def __init__(self, world: World, host: str = "127.0.0.1", port: int = 0) -> None:
        from icpscan.sandbox.dns import _bind_address
        from icpscan.sandbox.dns_zone import Zone

        _bind_address(host)  # same one-line errors as DnsServer, before a process starts
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535, not {port}")
        Zone(world)  # a bad World fails here, in the caller's process, with the usual message
        self._world = world
        self._host = host
        self._requested_port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._lock = threading.Lock()  # one command/answer exchange at a time

    # -- the DnsServer interface ----------------------------------------------------------------

    @property
    def world(self) -> World:
        return self._world

    @world.setter
    def world(self, world: World) -> None:
        if self._process is not None:
            self._command("world", _dns_only(world))
        else:
            from icpscan.sandbox.dns_zone import Zone

            Zone(world)
        self._world = world

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the DNS server is not started")
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return self._host, self.port

    @property
    def pid(self) -> int | None:
        """The server process's id (benchmarks measure its CPU), None when not started."""
        return self._process.pid if self._process is not None else None

    @property
    def queries(self) -> int:
        count = self._command("queries")
        assert isinstance(count, int)
        return count

    def start(self) -> DnsServerProcess:
        if self._process is not None:
            raise RuntimeError("the DNS server is already started")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
        )
        if egress.loopback_guard_armed():  # the child keeps the parent's loopback-only promise
            env[egress.LOOPBACK_ONLY_ENV] = "1"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "icpscan.sandbox.dns_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        try:
            port = self._command("start", _dns_only(self._world), self._host, self._requested_port)
        except BaseException:
            self._kill()
            raise
        assert isinstance(port, int)
        self._port = port
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        with contextlib.suppress(RuntimeError):  # the child is already gone
            self._command("stop")
        self._kill()

    def __enter__(self) -> DnsServerProcess:
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
        return f"<DnsServerProcess {where}, {len(self._world.dns)} names>"

    # -- plumbing -------------------------------------------------------------------------------

    def _command(self, *message: Any) -> Any:
        process = self._process
        if process is None or process.stdin is None or process.stdout is None:
            raise RuntimeError("the DNS server is not started")
        with self._lock:
            try:
                _send(process.stdin, message)
                status, value = pickle.load(process.stdout)  # noqa: S301 - our own child
            except (OSError, EOFError) as error:
                raise RuntimeError(f"the DNS server process died ({error!r})") from error
        if status == "error":
            raise ValueError(value)
        if status == "oserror":
            raise OSError(value)
        return value

    def _kill(self) -> None:
        process, self._process = self._process, None
        self._port = 0
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _child_main(commands: IO[bytes], replies: IO[bytes]) -> None:
    """Serve commands from the parent until "stop" or until its end of the pipe closes."""
    from icpscan.sandbox.dns import DnsServer

    egress.install_guard_from_environment()
    server: DnsServer | None = None
    try:
        while True:
            try:
                command, *args = pickle.load(commands)  # noqa: S301 - our own parent
            except EOFError:
                return  # the parent is gone
            try:
                if command == "start":
                    world, host, port = args
                    server = DnsServer(world, host, port).start()
                    _send(replies, ("ok", server.port))
                elif command == "world" and server is not None:
                    server.world = args[0]
                    _send(replies, ("ok", None))
                elif command == "queries" and server is not None:
                    _send(replies, ("ok", server.queries))
                elif command == "stop":
                    _send(replies, ("ok", None))
                    return
                else:
                    _send(replies, ("error", f"unexpected command {command!r}"))
            except ValueError as error:
                _send(replies, ("error", str(error)))
            except OSError as error:
                _send(replies, ("oserror", str(error)))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    # Ctrl-C in a terminal reaches the whole process group; the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the reply stream
    _child_main(sys.stdin.buffer, replies)
