"""Certificate facts: validity, self-signed, RFC 6125 name matching, trust through a chain."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from icpscan.crawl.tls import (
    MAX_SANS,
    TrustStore,
    assess_trust,
    certificate_facts,
    hostname_matches,
    load_pem_certificates,
    load_trust_store,
)

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _load(blob: trustme.Blob) -> x509.Certificate:
    return x509.load_pem_x509_certificate(blob.bytes())


def _chain(leaf: trustme.LeafCert) -> list[x509.Certificate]:
    return [_load(b) for b in leaf.cert_chain_pems]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="Sandbox CA")


@pytest.fixture(scope="module")
def store(ca) -> TrustStore:
    return TrustStore.from_certificates([_load(ca.cert_pem)])


def _self_signed(name: str, sans: list[x509.GeneralName] | None = None) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256())


def test_valid_certificate_facts(ca, store):
    leaf = ca.issue_cert(
        "site.test",
        "www.site.test",
        common_name="site.test",
        not_before=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    )
    chain = _chain(leaf)
    facts = certificate_facts(
        chain[0], chain, "site.test", store, now=NOW, protocol="TLSv1.3", cipher="X"
    )
    assert facts.protocol == "TLSv1.3"
    assert facts.cipher == "X"
    assert facts.subject_cn == "site.test"
    assert facts.sans == ("site.test", "www.site.test")
    assert facts.san_count == 2
    assert "O=Sandbox CA" in facts.issuer
    assert facts.not_before == "2026-01-01T00:00:00+00:00"
    assert facts.not_after == "2027-01-01T00:00:00+00:00"
    assert (facts.expired, facts.not_yet_valid, facts.self_signed) == (False, False, False)
    assert facts.hostname_match is True
    assert facts.trusted is True
    assert facts.trust_detail.startswith("issued by trusted ")
    assert facts.sha256 == chain[0].fingerprint(hashes.SHA256()).hex()


def test_expired_and_not_yet_valid_are_facts_not_trust_failures(ca, store):
    expired = _load(
        ca.issue_cert(
            "old.test",
            not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
            not_after=dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
        ).cert_chain_pems[0]
    )
    facts = certificate_facts(expired, [expired], "old.test", store, now=NOW)
    assert (facts.expired, facts.not_yet_valid, facts.trusted, facts.hostname_match) == (
        True,
        False,
        True,
        True,
    )
    future = _load(
        ca.issue_cert(
            "new.test",
            not_before=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
            not_after=dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
        ).cert_chain_pems[0]
    )
    facts = certificate_facts(future, [future], "new.test", store, now=NOW)
    assert (facts.expired, facts.not_yet_valid) == (False, True)


def test_self_signed_is_untrusted(store):
    cert = _self_signed("self.test", [x509.DNSName("self.test")])
    facts = certificate_facts(cert, [cert], "self.test", store, now=NOW)
    assert facts.self_signed is True
    assert facts.trusted is False
    assert facts.trust_detail == "self-signed CN=self.test"
    assert facts.hostname_match is True
    assert facts.issuer == "CN=self.test"


def test_wrong_name_is_trusted_but_does_not_match(ca, store):
    cert = _load(ca.issue_cert("other.test").cert_chain_pems[0])
    facts = certificate_facts(cert, [cert], "site.test", store, now=NOW)
    assert (facts.trusted, facts.hostname_match) == (True, False)


@pytest.mark.parametrize(
    ("host", "matches"),
    [
        ("a.wild.test", True),
        ("A.WILD.TEST.", True),
        ("wild.test", False),  # the wildcard needs exactly one label
        ("a.b.wild.test", False),
        ("xn--fsq.wild.test", False),  # no wildcard over an IDN A-label (RFC 6125 6.4.3)
        ("exact.test", True),
        ("127.0.0.1", True),  # IP SAN
        ("[::1]", True),
        ("127.0.0.2", False),
    ],
)
def test_rfc6125_hostname_matching(ca, host, matches):
    cert = _load(ca.issue_cert("*.wild.test", "exact.test", "127.0.0.1", "::1").cert_chain_pems[0])
    assert hostname_matches(cert, host) is matches


def test_no_common_name_fallback_and_bad_wildcards_do_not_match():
    assert hostname_matches(_self_signed("cn-only.test"), "cn-only.test") is False
    partial = _self_signed("x", [x509.DNSName("f*.bad.test")])
    assert hostname_matches(partial, "foo.bad.test") is False
    too_short = _self_signed("x", [x509.DNSName("*.test")])
    assert hostname_matches(too_short, "a.test") is False


def test_trust_through_a_sent_intermediate(ca, store):
    intermediate = ca.create_child_ca()
    leaf = intermediate.issue_cert("deep.test")
    chain = _chain(leaf)
    assert len(chain) == 2
    trusted, detail = assess_trust(chain[0], chain, store)
    assert trusted is True
    assert detail == f"issued by trusted {_load(ca.cert_pem).subject.rfc4514_string()}"
    trusted, detail = assess_trust(chain[0], [chain[0]], store)  # intermediate not sent
    assert trusted is None
    assert detail.startswith("issuer not sent and not in the trust store: ")


def test_untrusted_root_sent_by_the_server_is_false(ca):
    other = trustme.CA(organization_name="Private CA")
    leaf = other.issue_cert("corp.test")
    chain = [*_chain(leaf), _load(other.cert_pem)]
    trusted, detail = assess_trust(
        chain[0], chain, TrustStore.from_certificates([_load(ca.cert_pem)])
    )
    assert trusted is False
    assert detail.startswith("untrusted root ")
    assert "Private CA" in detail


def test_empty_store_is_undecidable(ca):
    leaf = _load(ca.issue_cert("site.test").cert_chain_pems[0])
    assert assess_trust(leaf, [leaf], TrustStore()) == (
        None,
        "no trust store (no --ca-bundle and no system store)",
    )


def test_a_trusted_leaf_itself_is_trusted():
    cert = _self_signed("pinned.test", [x509.DNSName("pinned.test")])
    trusted, detail = assess_trust(cert, [cert], TrustStore.from_certificates([cert]))
    assert (trusted, detail) == (True, "trusted certificate CN=pinned.test")


def test_sans_are_capped_but_counted(ca):
    names = [f"n{i}.test" for i in range(MAX_SANS + 50)]
    cert = _load(ca.issue_cert(*names).cert_chain_pems[0])
    facts = certificate_facts(cert, [cert], "n0.test", TrustStore(), now=NOW)
    assert len(facts.sans) == MAX_SANS
    assert facts.san_count == MAX_SANS + 50
    assert facts.sans[0] == "n0.test"


def test_ip_sans_are_listed_as_text(ca):
    cert = _load(ca.issue_cert("ip.test", "192.0.2.7").cert_chain_pems[0])
    facts = certificate_facts(cert, [cert], "192.0.2.7", TrustStore(), now=NOW)
    assert facts.sans == ("ip.test", str(ipaddress.ip_address("192.0.2.7")))
    assert facts.hostname_match is True


def test_load_trust_store_from_a_bundle(tmp_path, ca):
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(b"junk\n" + ca.cert_pem.bytes() + b"-----BEGIN CERTIFICATE-----\nbad\n")
    store = load_trust_store(str(bundle), include_system=False)
    assert len(store) == 1
    assert store.sources == (str(bundle),)
    with pytest.raises(ValueError) as caught:
        load_trust_store(str(tmp_path / "missing.pem"), include_system=False)
    assert str(caught.value) == (
        f"cannot read CA bundle '{tmp_path / 'missing.pem'}': No such file or directory"
    )
    empty = tmp_path / "empty.pem"
    empty.write_text("nothing here")
    with pytest.raises(ValueError) as caught:
        load_trust_store(str(empty), include_system=False)
    assert str(caught.value) == f"CA bundle '{empty}' contains no PEM certificate"


def test_pem_parser_skips_bad_blocks(ca):
    data = ca.cert_pem.bytes() + b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert [c.subject for c in load_pem_certificates(data)] == [_load(ca.cert_pem).subject]
