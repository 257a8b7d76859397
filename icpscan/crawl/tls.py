"""Facts about a server's certificate, as an auditor records them.

The crawl never verifies certificates (a site with an expired or self-signed certificate still
shows its ICP number to visitors who click through); instead every HTTPS response carries these
facts. Pure functions over ``cryptography`` certificates:

* hostname matching is RFC 6125 as implemented by ``service-identity`` (SAN DNS names, wildcard
  only as the whole left-most label, no wildcard over an IDN A-label, IP addresses against IP
  SANs, no Common Name fallback -- as browsers do);
* ``trusted`` follows issuer signatures from the leaf through the certificates the server sent
  until one is issued by (or is) a certificate of the trust store: the ``--ca-bundle`` file plus
  the system store when present. It is ``None`` ("undecidable") when the chain stops at a
  certificate whose issuer is neither sent nor known -- typically a missing intermediate that a
  browser would fetch through AIA, or a private CA we were not given. Only signatures are
  checked: not path-length, name constraints, key usage or revocation.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtensionOID, NameOID
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import (
    verify_certificate_hostname,
    verify_certificate_ip_address,
)

from icpscan.models import TlsFacts

logger = logging.getLogger(__name__)

MAX_SANS = 100  # SANs kept in a record (shared CDN certificates list thousands)
MAX_CHAIN_DEPTH = 8
_MAX_TEXT = 512
_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"


@dataclass
class TrustStore:
    """Trusted certificates (roots, or any certificate the user decided to trust), by subject."""

    by_subject: dict[x509.Name, list[x509.Certificate]] = field(default_factory=dict)
    fingerprints: set[bytes] = field(default_factory=set)
    sources: tuple[str, ...] = ()

    @classmethod
    def from_certificates(
        cls, certificates: Iterable[x509.Certificate], sources: tuple[str, ...] = ()
    ) -> TrustStore:
        store = cls(sources=sources)
        for certificate in certificates:
            store.add(certificate)
        return store

    def add(self, certificate: x509.Certificate) -> None:
        fingerprint = certificate.fingerprint(_SHA256)
        if fingerprint not in self.fingerprints:
            self.fingerprints.add(fingerprint)
            self.by_subject.setdefault(certificate.subject, []).append(certificate)

    def __len__(self) -> int:
        return len(self.fingerprints)

    def contains(self, certificate: x509.Certificate) -> bool:
        return certificate.fingerprint(_SHA256) in self.fingerprints

    def issuers_of(self, certificate: x509.Certificate) -> list[x509.Certificate]:
        return self.by_subject.get(certificate.issuer, [])


def system_ca_file() -> Path | None:
    """The system's CA bundle file, if this machine has one."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def load_pem_certificates(data: bytes) -> list[x509.Certificate]:
    """Every parseable certificate in a PEM bundle; a bad block is skipped, not fatal."""
    certificates = []
    for block in data.split(_PEM_BEGIN)[1:]:
        try:
            with warnings.catch_warnings():
                # System bundles carry a few old roots with non-positive serial numbers;
                # cryptography warns that it will refuse them one day. They are data, not bugs
                # of ours, and still fine to compare signatures against.
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                certificates.append(x509.load_pem_x509_certificate(_PEM_BEGIN + block))
        except ValueError:
            logger.warning("skipping an unparseable certificate in a CA bundle")
    return certificates


@lru_cache(maxsize=8)
def load_trust_store(ca_bundle: str | None = None, *, include_system: bool = True) -> TrustStore:
    """``--ca-bundle`` plus the system store (cached: loaded once per process and bundle).

    A ``ca_bundle`` that cannot be read raises ``ValueError`` (a usage error); a missing system
    store just leaves it out.
    """
    certificates: list[x509.Certificate] = []
    sources: list[str] = []
    if ca_bundle:
        try:
            data = Path(ca_bundle).read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read CA bundle {ca_bundle!r}: {exc.strerror}") from exc
        bundle = load_pem_certificates(data)
        if not bundle:
            raise ValueError(f"CA bundle {ca_bundle!r} contains no PEM certificate")
        certificates += bundle
        sources.append(ca_bundle)
    system = system_ca_file() if include_system else None
    if system is not None:
        try:
            certificates += load_pem_certificates(system.read_bytes())
            sources.append(str(system))
        except OSError:
            logger.warning("cannot read the system CA store %s", system)
    return TrustStore.from_certificates(certificates, tuple(sources))


def certificate_facts(
    leaf: x509.Certificate,
    chain: Sequence[x509.Certificate],
    hostname: str,
    store: TrustStore,
    *,
    now: datetime | None = None,
    protocol: str | None = None,
    cipher: str | None = None,
) -> TlsFacts:
    """Everything an audit records about the certificate a server presented for ``hostname``."""
    now = now or datetime.now(UTC)
    not_before = leaf.not_valid_before_utc
    not_after = leaf.not_valid_after_utc
    sans = subject_alt_names(leaf)
    trusted, trust_detail = assess_trust(leaf, chain, store)
    return TlsFacts(
        protocol=protocol,
        cipher=cipher,
        subject_cn=_common_name(leaf.subject),
        sans=tuple(sans[:MAX_SANS]),
        san_count=len(sans),
        issuer=_name_text(leaf.issuer),
        not_before=not_before.isoformat(),
        not_after=not_after.isoformat(),
        expired=now > not_after,
        not_yet_valid=now < not_before,
        self_signed=is_self_signed(leaf),
        hostname_match=hostname_matches(leaf, hostname),
        trusted=trusted,
        trust_detail=trust_detail,
        sha256=leaf.fingerprint(_SHA256).hex(),
    )


def hostname_matches(certificate: x509.Certificate, hostname: str) -> bool:
    """RFC 6125 match of ``hostname`` (a DNS name or an IP literal) against the certificate."""
    host = hostname.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        is_ip = False
    else:
        is_ip = True
    try:
        if is_ip:
            verify_certificate_ip_address(certificate, host)
        else:
            verify_certificate_hostname(certificate, host)
    except (VerificationError, CertificateError, ValueError):
        # CertificateError: no SAN at all, or a malformed wildcard pattern; ValueError: a
        # hostname service-identity refuses (e.g. not IDNA-encodable). None of them match.
        return False
    return True


def subject_alt_names(certificate: x509.Certificate) -> list[str]:
    try:
        extension = certificate.extensions.get_extension_for_oid(
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME
        )
    except (x509.ExtensionNotFound, ValueError):
        return []
    value = extension.value
    assert isinstance(value, x509.SubjectAlternativeName)
    names = [_clip(str(name)) for name in value.get_values_for_type(x509.DNSName)]
    names += [str(address) for address in value.get_values_for_type(x509.IPAddress)]
    return names


def is_self_signed(certificate: x509.Certificate) -> bool:
    return certificate.issuer == certificate.subject and _signed_by(certificate, certificate)


def assess_trust(
    leaf: x509.Certificate, chain: Sequence[x509.Certificate], store: TrustStore
) -> tuple[bool | None, str]:
    """``(trusted, detail)``: True, False (self-signed / untrusted root), None (issuer unknown)."""
    if not len(store):
        return None, "no trust store (no --ca-bundle and no system store)"
    sent = [c for c in chain if c != leaf]
    current = leaf
    for _ in range(MAX_CHAIN_DEPTH):
        if store.contains(current):
            return True, f"trusted certificate {_name_text(current.subject)}"
        for issuer in store.issuers_of(current):
            if _signed_by(current, issuer):
                return True, f"issued by trusted {_name_text(issuer.subject)}"
        if current.issuer == current.subject and _signed_by(current, current):
            what = "self-signed" if current is leaf else "untrusted root"
            return False, f"{what} {_name_text(current.subject)}"
        parent = next(
            (c for c in sent if c.subject == current.issuer and _signed_by(current, c)), None
        )
        if parent is None:
            return None, f"issuer not sent and not in the trust store: {_name_text(current.issuer)}"
        sent.remove(parent)
        current = parent
    return None, f"chain longer than {MAX_CHAIN_DEPTH} certificates"


# -- helpers -----------------------------------------------------------------------------------

_SHA256 = hashes.SHA256()


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _common_name(name: x509.Name) -> str | None:
    try:
        attributes = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return None
    if not attributes:
        return None
    value = attributes[0].value
    return _clip(value if isinstance(value, str) else value.decode("utf-8", "replace"))


def _name_text(name: x509.Name) -> str:
    try:
        return _clip(name.rfc4514_string())
    except ValueError:
        return "(unparseable name)"


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"
