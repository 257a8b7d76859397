"""Where icpscan may send packets.

Two separate mechanisms live here:

* :func:`forbidden_reason` is the scanner's SSRF policy: a domain list can point anywhere, so by
  default the crawler refuses private, loopback, link-local, CGNAT, multicast, reserved and
  cloud-metadata addresses (``--allow-private`` lifts it). It is checked after DNS resolution and
  on every redirect hop.
* :func:`install_loopback_guard` is a process-wide tripwire used by the test-suite, the
  benchmarks and the offline demo: once armed, any attempt to connect or send to an address
  outside 127.0.0.0/8 and ::1, or to resolve a name through the system resolver, raises
  :class:`EgressViolation` and is recorded. It is built on :func:`sys.addaudithook`, so it sees
  every socket Python, asyncio and Twisted open, whichever library opened them.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK_ONLY_ENV = "ICPSCAN_LOOPBACK_ONLY"
EGRESS_LOG_ENV = "ICPSCAN_EGRESS_LOG"

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)


def forbidden_reason(address: str | IPAddress) -> str | None:
    """Why the scanner must not connect to ``address`` by default, or None if it may."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA:
        return "cloud metadata"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "CGNAT (100.64.0.0/10)"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


@functools.lru_cache(maxsize=1024)
def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class EgressViolation(ConnectionRefusedError):
    """Raised when a guarded process tries to reach beyond loopback.

    It subclasses ConnectionRefusedError so networking code handles it like a refused
    connection; the guard also records it, so a test that swallows it still fails.
    """


class _Guard:
    def __init__(self) -> None:
        self.armed = False
        self.violations: list[str] = []
        self._lock = threading.Lock()

    def _violate(self, what: str) -> None:
        with self._lock:
            self.violations.append(what)
            log = os.environ.get(EGRESS_LOG_ENV)
            if log:  # lets a parent process (a test) see violations in its subprocesses
                with open(log, "a", encoding="utf-8") as fh:  # noqa: PTH123
                    fh.write(f"{os.getpid()} {what}\n")
        raise EgressViolation(f"egress guard: refused {what} (only loopback is allowed)")

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.armed:
            return
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            sock, address = args[0], args[-1]
            if address is None:
                return
            if not isinstance(address, tuple):  # only AF_UNIX takes a non-tuple address
                family = getattr(sock, "family", None)  # (a property building an enum: slow)
                if family is not None and int(family) == 1:  # AF_UNIX
                    return
            host = address[0] if isinstance(address, tuple) else str(address)
            if not is_loopback(str(host)):
                self._violate(f"{event} to {address!r}")
        elif event == "socket.getaddrinfo":
            host = args[0]
            if isinstance(host, bytes):
                host = host.decode("ascii", "replace")
            if host is None or host in ("localhost", "") or _is_ip_literal(str(host)):
                return  # a literal is not a lookup; the connect/sendto check judges it
            self._violate(f"name lookup of {host!r} through the system resolver")
        elif event in ("socket.gethostbyname", "socket.gethostbyaddr"):
            host = str(args[0])
            if host == "localhost" or is_loopback(host):
                return
            self._violate(f"{event} of {host!r}")


_GUARD = _Guard()
_installed = False


def install_loopback_guard() -> None:
    """Arm the loopback-only tripwire for the rest of this process (idempotent)."""
    global _installed
    if not _installed:
        sys.addaudithook(_GUARD.audit)
        _installed = True
    _GUARD.armed = True


def install_guard_from_environment() -> None:
    """Arm the guard when ``ICPSCAN_LOOPBACK_ONLY=1`` (inherited by scan worker processes)."""
    if os.environ.get(LOOPBACK_ONLY_ENV, "") not in ("", "0"):
        install_loopback_guard()


def loopback_guard_armed() -> bool:
    return _GUARD.armed


def take_violations() -> list[str]:
    """Return and clear the violations recorded so far."""
    with _GUARD._lock:
        found, _GUARD.violations = _GUARD.violations, []
    return found


@contextmanager
def guard_disarmed() -> Iterator[None]:
    """Temporarily disarm the guard (only for proving the guard itself in tests)."""
    previous = _GUARD.armed
    _GUARD.armed = False
    try:
        yield
    finally:
        _GUARD.armed = previous
