"""The sandbox's certificate authority and the certificates the web farm presents.

One local CA (trustme) per farm. Leaf certificates are issued lazily, the first time a client
names a host in SNI, and kept in a bounded cache: starting a farm of 100k sites issues nothing.
Each :class:`~icpscan.sandbox.world.CertMode` maps to a certificate that fails (or passes)
verification the way the real-world case does:

* VALID: issued by the CA for the host (and its ``www.`` form), valid now;
* EXPIRED: issued by the CA for the host, validity ended a month ago;
* SELF_SIGNED: a self-signed certificate for the host (verification: "self-signed certificate");
* WRONG_NAME: issued by the CA for another name (verification: hostname mismatch);
* unknown or missing SNI: a CA-issued certificate for ``default.invalid``, as a default vhost.

The CA's private key stays in memory: a CA key on disk that someone adds to a trust store would
let anyone who reads the file impersonate any site to them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from icpscan.sandbox.world import CertMode

DEFAULT_NAME = "default.invalid"
WRONG_NAME = "wrong-name.invalid"
ORGANIZATION = "icpscan sandbox"
ALPN = ["http/1.1"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _identities(host: str) -> list[str]:
    names = [host]
    if not host.startswith("www.") and not host.endswith(".invalid") and not _is_ip(host):
        names.append("www." + host)
    return names


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _server_context(key_and_chain_pem: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # load_cert_chain only reads files (bpo-16487); the file lives for this call only.
    with tempfile.NamedTemporaryFile(prefix="icpscan-leaf-", suffix=".pem") as handle:
        handle.write(key_and_chain_pem)
        handle.flush()
        context.load_cert_chain(handle.name)
    context.set_alpn_protocols(ALPN)
    return context


def self_signed_pem(host: str, now: dt.datetime | None = None) -> bytes:
    """Key and certificate (PEM) for ``host``, signed by its own key (no CA involved)."""
    now = now or _now()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{ORGANIZATION} (self-signed)"),
            x509.NameAttribute(NameOID.COMMON_NAME, host),
        ]
    )
    san: list[x509.GeneralName] = (
        [x509.IPAddress(ipaddress.ip_address(host))]
        if _is_ip(host)
        else [x509.DNSName(n) for n in _identities(host)]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return key_pem + cert.public_bytes(serialization.Encoding.PEM)


class SandboxCA:
    """A local CA plus a bounded cache of per-host server contexts (thread-safe)."""

    def __init__(self, cache_size: int = 1024) -> None:
        self._ca = trustme.CA(
            organization_name=ORGANIZATION, organization_unit_name=f"{ORGANIZATION} CA"
        )
        self.cert_pem: bytes = self._ca.cert_pem.bytes()
        self.cache_size = cache_size
        self._contexts: OrderedDict[tuple[str, CertMode], ssl.SSLContext] = OrderedDict()
        self._lock = threading.Lock()
        self.issued = 0  # leaf certificates made so far (for tests and figures)

    def write_cert(self, path: Path) -> Path:
        """Write the CA certificate (PEM) where clients can load it as a trust anchor."""
        path.write_bytes(self.cert_pem)
        return path

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only this CA (for tests, tools, benchmarks)."""
        context = ssl.create_default_context(cadata=self.cert_pem.decode("ascii"))
        context.set_alpn_protocols(ALPN)
        return context

    def listening_context(self) -> ssl.SSLContext:
        """A context for a listening socket: the default certificate until SNI picks another.

        No session tickets: clients that scan rarely resume, and sealing two tickets per
        handshake costs a fifth of the server's handshake time.
        """
        context = _server_context(self._leaf_pem(DEFAULT_NAME, CertMode.VALID))
        context.num_tickets = 0
        return context

    def context_for(self, host: str | None, mode: CertMode) -> ssl.SSLContext:
        """The server context presenting the certificate ``mode`` calls for, issuing it if new.

        ``host`` None (no SNI or an unknown name) gives the default certificate. HANDSHAKE_STALL
        is served by the tarpit, not by certificates; a client that reaches the TLS listener
        anyway gets the valid certificate.
        """
        key = self._cache_key(host, mode)
        with self._lock:
            context = self._contexts.get(key)
            if context is not None:
                self._contexts.move_to_end(key)
                return context
        context = _server_context(self._leaf_pem(key[0], key[1]))
        with self._lock:
            self.issued += 1
            self._contexts[key] = context
            while len(self._contexts) > self.cache_size:
                self._contexts.popitem(last=False)
        return context

    def prewarm(self, hosts: Iterable[tuple[str, CertMode]]) -> int:
        """Issue the contexts of ``hosts`` now, growing the cache to hold them all.

        For benchmarks: issuing a certificate costs the farm about a millisecond, a cost of the
        sandbox, not of the scanner it measures. Returns how many contexts are cached.
        """
        keys = dict.fromkeys(self._cache_key(host, mode) for host, mode in hosts)
        self.cache_size = max(self.cache_size, len(keys) + 1)
        for host, mode in keys:
            self.context_for(host, mode)
        return len(self._contexts)

    @staticmethod
    def _cache_key(host: str | None, mode: CertMode) -> tuple[str, CertMode]:
        if host is None:
            return (DEFAULT_NAME, CertMode.VALID)
        if mode is CertMode.WRONG_NAME:
            return (WRONG_NAME, CertMode.VALID)  # one certificate serves every wrong-name host
        if mode is CertMode.HANDSHAKE_STALL:
            return (host, CertMode.VALID)
        return (host, mode)

    def _leaf_pem(self, host: str, mode: CertMode) -> bytes:
        now = _now()
        if mode is CertMode.SELF_SIGNED:
            return self_signed_pem(host, now)
        if mode is CertMode.EXPIRED:
            not_before, not_after = now - dt.timedelta(days=400), now - dt.timedelta(days=30)
        else:
            not_before, not_after = now - dt.timedelta(days=30), now + dt.timedelta(days=365)
        leaf = self._ca.issue_cert(
            *_identities(host),
            common_name=host,
            organization_name=ORGANIZATION,
            not_before=not_before,
            not_after=not_after,
        )
        return leaf.private_key_and_cert_chain_pem.bytes()
