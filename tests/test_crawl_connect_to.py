"""--connect-to rules and --resolve pins: parsing, matching, rules files."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icpscan.crawl.connect_to import (
    ConnectionOverrides,
    ConnectToRule,
    ResolvePin,
    load_connect_to_file,
    load_resolve_file,
    parse_connect_to,
    parse_resolve,
    read_rules_file,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.com:443:127.0.0.1:8443", ConnectToRule("a.com", 443, "127.0.0.1", 8443)),
        ("::127.0.0.1:9", ConnectToRule(None, None, "127.0.0.1", 9)),
        (":80:127.0.0.1:5000", ConnectToRule(None, 80, "127.0.0.1", 5000)),
        ("a.com:443::8443", ConnectToRule("a.com", 443, None, 8443)),
        (
            "A.Example.COM.:80:backend.local:",
            ConnectToRule("a.example.com", 80, "backend.local", None),
        ),
        ("[::1]:80:[2001:DB8::1]:8080", ConnectToRule("::1", 80, "2001:db8::1", 8080)),
        (
            "例子.中国:443:10.0.0.1:443",
            ConnectToRule("xn--fsqu00a.xn--fiqs8s", 443, "10.0.0.1", 443),
        ),
        (" a.com : 443 : 1.2.3.4 : 1 ", ConnectToRule("a.com", 443, "1.2.3.4", 1)),
    ],
)
def test_parse_connect_to(text, expected):
    assert parse_connect_to(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a.com:443:127.0.0.1",
            "bad --connect-to rule 'a.com:443:127.0.0.1': expected "
            "HOST1:PORT1:HOST2:PORT2 (4 fields, IPv6 in brackets), got 3",
        ),
        (
            "::1:80:127.0.0.1:1",
            "bad --connect-to rule '::1:80:127.0.0.1:1': expected "
            "HOST1:PORT1:HOST2:PORT2 (4 fields, IPv6 in brackets), got 6",
        ),
        (
            "a.com:http:1.2.3.4:80",
            "bad --connect-to rule 'a.com:http:1.2.3.4:80': port 'http' is not a number",
        ),
        (
            "a.com:0:1.2.3.4:80",
            "bad --connect-to rule 'a.com:0:1.2.3.4:80': port 0 is out of range 1-65535",
        ),
        (
            "a.com:443:1.2.3.4:65536",
            "bad --connect-to rule 'a.com:443:1.2.3.4:65536': port 65536 is out of range 1-65535",
        ),
        ("[::1:80:x:1", "bad --connect-to rule '[::1:80:x:1': unclosed '['"),
        ("[zz]:80:x:1", "bad --connect-to rule '[zz]:80:x:1': '[zz]' is not an IPv6 address"),
        (
            "a_b-.com:80:x:1",
            "bad --connect-to rule 'a_b-.com:80:x:1': 'a_b-.com' is not a valid host name",
        ),
        (
            "a..com:80:x:1",
            "bad --connect-to rule 'a..com:80:x:1': 'a..com' is not a valid host name",
        ),
    ],
)
def test_parse_connect_to_errors_are_one_clear_line(text, message):
    with pytest.raises(ValueError) as caught:
        parse_connect_to(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.com:443:1.2.3.4", ResolvePin("a.com", 443, ("1.2.3.4",))),
        ("+A.com:80:1.2.3.4,[::1]", ResolvePin("a.com", 80, ("1.2.3.4", "::1"))),
        ("*:*:127.0.0.1", ResolvePin(None, None, ("127.0.0.1",))),
        ("a.com:443:2001:db8::1", ResolvePin("a.com", 443, ("2001:db8::1",))),
    ],
)
def test_parse_resolve(text, expected):
    assert parse_resolve(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.com:443:", "bad --resolve pin 'a.com:443:': expected HOST:PORT:ADDR[,ADDR...]"),
        ("a.com:443", "bad --resolve pin 'a.com:443': expected HOST:PORT:ADDR[,ADDR...]"),
        (
            "a.com:443:example.org",
            "bad --resolve pin 'a.com:443:example.org': 'example.org' is not an IP address",
        ),
        (
            "-a.com:443:1.2.3.4",
            "bad --resolve pin '-a.com:443:1.2.3.4': removing pins ('-HOST:PORT') is not supported",
        ),
        (":443:1.2.3.4", "bad --resolve pin ':443:1.2.3.4': HOST is empty (use * for any host)"),
        (
            "a.com::1.2.3.4",
            "bad --resolve pin 'a.com::1.2.3.4': PORT is empty (use * for any port)",
        ),
    ],
)
def test_parse_resolve_errors(text, message):
    with pytest.raises(ValueError) as caught:
        parse_resolve(text)
    assert str(caught.value) == message


def test_first_matching_rule_wins_and_empty_fields_mean_any_or_keep():
    overrides = ConnectionOverrides.parse(
        [
            "refused.test::127.0.0.1:9",
            "slow.test:443:127.0.0.1:7",
            "keep.test:8080::",
            ":80:127.0.0.1:8000",
            ":443:127.0.0.1:8443",
        ]
    )
    assert overrides.connect_target("refused.test", 80) == ("127.0.0.1", 9)
    assert overrides.connect_target("REFUSED.test.", 443) == ("127.0.0.1", 9)
    assert overrides.connect_target("slow.test", 443) == ("127.0.0.1", 7)
    assert overrides.connect_target("slow.test", 80) == ("127.0.0.1", 8000)
    assert overrides.connect_target("keep.test", 8080) == ("keep.test", 8080)
    assert overrides.connect_target("other.test", 443) == ("127.0.0.1", 8443)
    assert overrides.connect_target("other.test", 8080) is None
    assert ConnectionOverrides().connect_target("a.com", 80) is None


def test_resolve_pins_match_host_and_port():
    overrides = ConnectionOverrides.parse(
        resolve=["a.com:443:1.1.1.1", "a.com:*:2.2.2.2", "*:80:3.3.3.3"]
    )
    assert overrides.pinned_addresses("a.com", 443) == ("1.1.1.1",)
    assert overrides.pinned_addresses("a.com", 80) == ("2.2.2.2",)
    assert overrides.pinned_addresses("b.com", 80) == ("3.3.3.3",)
    assert overrides.pinned_addresses("b.com", 443) is None


def test_ipv6_url_hosts_match_bracketed_rules():
    overrides = ConnectionOverrides.parse(["[2001:db8::1]:443:[::1]:8443"])
    assert overrides.connect_target("[2001:db8::1]", 443) == ("::1", 8443)
    assert overrides.connect_target("2001:db8:0::1", 443) is None  # not normalised: exact text


def test_rules_files_with_comments_and_line_numbers(tmp_path):
    path = tmp_path / "rules.txt"
    path.write_text(
        "\ufeff# sandbox rules\n\nrefused.test::127.0.0.1:9  # closed port\n  :80:127.0.0.1:8000\n",
        encoding="utf-8",
    )
    assert read_rules_file(path) == [(3, "refused.test::127.0.0.1:9"), (4, ":80:127.0.0.1:8000")]
    assert load_connect_to_file(path) == [
        ConnectToRule("refused.test", None, "127.0.0.1", 9),
        ConnectToRule(None, 80, "127.0.0.1", 8000),
    ]
    bad = tmp_path / "bad.txt"
    bad.write_text("a.com:443:1.2.3.4\nb.com:x:1.2.3.4\n", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load_resolve_file(bad)
    assert str(caught.value) == (
        f"{bad}:2: bad --resolve pin 'b.com:x:1.2.3.4': port 'x' is not a number"
    )
    with pytest.raises(ValueError) as caught:
        read_rules_file(tmp_path / "missing.txt")
    assert str(caught.value).startswith(f"cannot read rules file '{tmp_path / 'missing.txt'}': ")


_hosts = st.one_of(
    st.none(),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,8}){0,3}", fullmatch=True),
    st.ip_addresses().map(str),
)
_ports = st.one_of(st.none(), st.integers(1, 65535))


@given(_hosts, _ports, _hosts, _ports)
def test_connect_to_round_trips_through_its_text(host, port, connect_host, connect_port):
    rule = ConnectToRule(host, port, connect_host, connect_port)
    assert parse_connect_to(str(rule)) == rule


@given(st.text(max_size=60))
def test_connect_to_parser_only_raises_value_error(text):
    try:
        rule = parse_connect_to(text)
    except ValueError as exc:
        assert str(exc)
        assert "\n" not in str(exc)
    else:
        assert parse_connect_to(str(rule)) == rule


@pytest.mark.parametrize(
    ("rules", "host", "port", "target"),
    [
        ([":80:a.test:1", "x.cn:80:b.test:2"], "x.cn", 80, ("a.test", 1)),
        (["x.cn:80:b.test:2", ":80:a.test:1"], "x.cn", 80, ("b.test", 2)),
        (["x.cn:443:b.test:2", ":80:a.test:1", "x.cn::c.test:3"], "x.cn", 80, ("a.test", 1)),
        (["x.cn:443:b.test:2", "x.cn::c.test:3", ":80:a.test:1"], "x.cn", 80, ("c.test", 3)),
        (["y.cn::b.test:2", ":443:a.test:1"], "x.cn", 80, None),
    ],
)
def test_first_matching_rule_wins_across_host_and_any_host_rules(rules, host, port, target):
    assert ConnectionOverrides.parse(rules).connect_target(host, port) == target
