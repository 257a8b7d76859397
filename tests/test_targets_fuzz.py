"""Property tests for the input reader, and the regression corpus found by fuzzing.

``parse_target`` must never raise and every Target it returns must be a DNS host name that
parses to itself; ``read_targets`` must never raise anything but InputFileError on any bytes.
The corpus in ``tests/corpus/targets/`` holds inputs that once broke a property (see its
README); each runs through every check here.
"""

from __future__ import annotations

import io
import re
import string
import unicodedata
from pathlib import Path

import idna
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from icpscan.targets import (
    MAX_DOMAIN_OCTETS,
    MAX_LABEL_OCTETS,
    REASONS,
    InputFileError,
    InvalidLine,
    Target,
    parse_target,
    read_targets,
)

CORPUS = Path(__file__).parent / "corpus" / "targets"
LDH = frozenset(string.ascii_lowercase + string.digits + "-")

# Characters that exercise every branch: ASCII host and URL syntax, dots of every width,
# upper case, Han, Greek final sigma, ß, Cyrillic look-alikes, Arabic/Hebrew (bidi), combining
# marks, joiners, ignored characters, emoji, full-width forms, controls and surrogates.
INTERESTING = (
    string.ascii_letters
    + string.digits
    + "-.:/@[]%#?*_ \t"
    + "。．｡"
    + "例子中国网公司ßςΣσаеоpΑΩ"
    + "مثالאבג١٢"
    + "\u0301\u0308\u200c\u200d\u200b\u00ad\ufe0f\ufeff"
    + "❤☃😀ⅫＡｂ１＊"
    + "\x00\x1b\x7f\u202e\ud800"
)
# Mostly plausible names (letters of several scripts, digits, hyphens, dots of every width), so
# that many examples are valid and the "valid" properties are exercised, not just rejections.
NAME_CHARS = string.ascii_letters + string.digits + "-" + "例子中国网公司ßςΣσаеоÜéñαβｅＸ１"
name_text = st.builds(
    lambda labels, dot, root: dot.join(labels) + root,
    st.lists(st.text(alphabet=NAME_CHARS, min_size=1, max_size=12), min_size=2, max_size=4),
    st.sampled_from([".", "。", "．"]),
    st.sampled_from(["", "."]),
)
entry_text = st.one_of(
    name_text,
    st.text(),
    st.text(alphabet=INTERESTING, max_size=40),
    st.lists(st.text(alphabet=INTERESTING, min_size=1, max_size=12), min_size=1, max_size=5).map(
        ".".join
    ),
    st.builds(
        lambda scheme, user, host, port, path: f"{scheme}{user}{host}{port}{path}",
        st.sampled_from(["", "http://", "https://", "//", "ftp://", "HTTP:"]),
        st.sampled_from(["", "user:pw@", "@", "a@b@"]),
        st.lists(
            st.text(alphabet=INTERESTING, min_size=1, max_size=10), min_size=1, max_size=4
        ).map(".".join),
        st.sampled_from(["", ":80", ":", ":x", ":99999"]),
        st.sampled_from(["", "/", "/a?b#c", "#x"]),
    ),
)


def assert_valid_target(target: Target) -> None:
    domain = target.domain
    assert domain.isascii()
    assert domain == domain.lower()
    assert 0 < len(domain) <= MAX_DOMAIN_OCTETS
    labels = domain.split(".")
    assert len(labels) >= 2
    for label in labels:
        assert 0 < len(label) <= MAX_LABEL_OCTETS
        assert LDH.issuperset(label)
        assert not label.startswith("-")
        assert not label.endswith("-")
    assert not labels[-1].isdigit()
    # Idempotent: the normalised name, and the form shown to people, parse back to it.
    again = parse_target(domain)
    assert isinstance(again, Target), again
    assert (again.domain, again.display) == (domain, target.display)
    assert parse_target(target.display).domain == domain
    assert target.raw.isprintable()


def assert_result(result: Target | InvalidLine) -> None:
    if isinstance(result, Target):
        assert_valid_target(result)
    else:
        assert isinstance(result, InvalidLine)
        assert result.reason in REASONS
        assert result.message
        assert result.raw.isprintable() or result.raw == ""
        assert len(result.raw) <= 2_100  # 200 characters, each escaped to at most 10


@settings(max_examples=1500, deadline=None)
@given(entry_text)
@example("xn--n3h.net")
@example("ΣΑΣ.gr")
@example("a\u200cb.com")
@example("١.com")
def test_parse_target_never_raises_and_targets_are_host_names(text):
    assert_result(parse_target(text))


@settings(max_examples=1500, deadline=None)
@given(entry_text)
@example("例子。中国")
@example("BÜCHER.de.")
@example("xn--fiqs8s.xn--fiqz9s")
@example("0。א")
def test_agrees_with_the_idna_package_wherever_it_accepts_a_name(text):
    """idna (IDNA 2008 + UTS #46) is stricter than browsers; where it accepts, we agree."""
    try:
        expected = idna.encode(text.strip(), uts46=True, std3_rules=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return
    expected = expected.removesuffix(".")
    labels = expected.split(".")
    if len(labels) < 2 or labels[-1].isdigit() or re.fullmatch("0x[0-9a-f]*", labels[-1]):
        return  # single labels and IPv4-looking names are not domains to icpscan
    if any(unicodedata.bidirectional(char) in ("R", "AL", "AN") for char in text):
        # idna checks the Bidi Rule only inside right-to-left labels; UTS #46 (and we) check
        # every label of a name that has one, so "0.א" is refused by us and not by idna.
        return
    result = parse_target(text)
    assert isinstance(result, Target), result
    assert result.domain == expected


credential_urls = st.builds(
    lambda scheme, user, secret, host, rest: f"{scheme}{user}:S3CR3T{secret}@{host}{rest}",
    st.sampled_from(["http://", "https://", "ftp://", "//", "", "HTTPS://"]),
    st.text(alphabet=string.ascii_letters + string.digits + "._~-", max_size=8),
    st.text(alphabet=string.ascii_letters + string.digits + "!$&'()*+,;=:-._~%", max_size=12),
    st.one_of(name_text, st.text(alphabet=INTERESTING.replace("@", ""), max_size=20)),
    st.sampled_from(["", "/", ":8080/x?y#z", ":bad", "/a@b"]),
)


@settings(max_examples=600, deadline=None)
@given(credential_urls, st.sampled_from(["text", "csv"]))
def test_passwords_never_reach_raw_or_messages(url, shape):
    results = [parse_target(url)]
    data = (url if shape == "text" else f"rank,url\n1,{url}").encode("utf-8", "surrogatepass")
    results += _drain(io.BytesIO(data))
    for result in results:
        assert "S3CR3T" not in result.raw
        if isinstance(result, InvalidLine):
            assert "S3CR3T" not in result.message
        else:
            assert "S3CR3T" not in result.domain + result.display


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=63),
        min_size=2,
        max_size=6,
    )
)
def test_ascii_names_within_limits_are_kept_as_written(labels):
    name = ".".join(labels)
    result = parse_target(name.upper())
    if len(name) > MAX_DOMAIN_OCTETS:
        assert isinstance(result, InvalidLine)
        assert result.reason == "too_long"
    elif labels[-1].isdigit() or re.fullmatch("0x[0-9a-f]*", labels[-1]):
        # A numeric last label (decimal or 0x-hex, as in WHATWG's IPv4 parser).
        assert isinstance(result, InvalidLine)
        assert result.reason == "ip_literal"
    elif any(label.startswith("xn--") for label in labels):
        pass  # validated as punycode; covered by the general property
    else:
        assert result == Target(name, name, 0, name.upper() if len(name) <= 200 else result.raw)


def _drain(source, **options) -> list[Target | InvalidLine]:
    try:
        items = list(read_targets(source, **options))
    except InputFileError as error:
        assert str(error)
        assert "\n" not in str(error)
        return []
    lines = [item.line for item in items]
    assert lines == sorted(lines)
    assert all(line >= 1 for line in lines)
    for item in items:
        assert_result(item)
    return items


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000), st.sampled_from(["auto", "text", "csv"]))
def test_read_targets_on_arbitrary_bytes(data, input_format):
    _drain(io.BytesIO(data), input_format=input_format)


line_bytes = st.one_of(
    st.text(alphabet=INTERESTING + ",;\"'\t", max_size=30).map(
        lambda s: s.encode("utf-8", "replace")
    ),
    st.text(alphabet="例子中国网站域名公司", max_size=8).map(lambda s: s.encode("gb18030")),
    st.sampled_from([b"domain", b"rank,domain", b"1,example.com", b'"', b"#", b"\xff", b""]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(line_bytes, max_size=25),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
    st.sampled_from(["auto", "text", "csv"]),
    st.sampled_from([None, "domain", "2", "1"]),
)
def test_read_targets_on_line_shaped_bytes(lines, newline, input_format, column):
    data = newline.join(lines)
    items = _drain(io.BytesIO(data), input_format=input_format, column=column)
    if input_format == "text" and column is None:
        # A text list yields at most one result per line.
        assert len(items) <= len(lines)


@pytest.mark.parametrize(
    "path", sorted(p for p in CORPUS.iterdir() if p.name != "README.md"), ids=lambda p: p.name
)
def test_corpus(path):
    data = path.read_bytes()
    for input_format in ("auto", "text", "csv"):
        _drain(io.BytesIO(data), input_format=input_format)
    for line in data.decode("utf-8", "surrogateescape").splitlines():
        assert_result(parse_target(line))
