"""The loopback guard catches every way a test could reach the outside world."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

import dns.message
import dns.query
import pytest

from icpscan import egress


def _fails_with_violation(action) -> list[str]:
    with pytest.raises(egress.EgressViolation):
        action()
    return egress.take_violations()


@pytest.mark.egress_violation_expected
def test_tcp_connect_to_public_address_is_refused_and_recorded():
    seen = _fails_with_violation(lambda: socket.create_connection(("192.0.2.10", 80), timeout=1))
    assert seen == ["socket.connect to ('192.0.2.10', 80)"]


@pytest.mark.egress_violation_expected
def test_udp_dns_query_to_public_resolver_is_refused():
    query = dns.message.make_query("example.com", "A")
    seen = _fails_with_violation(lambda: dns.query.udp(query, "192.0.2.53", timeout=1))
    assert len(seen) == 1
    assert "192.0.2.53" in seen[0]


@pytest.mark.egress_violation_expected
def test_system_resolver_lookup_is_refused():
    seen = _fails_with_violation(lambda: socket.getaddrinfo("example.com", 443))
    assert seen == ["name lookup of 'example.com' through the system resolver"]


@pytest.mark.egress_violation_expected
def test_asyncio_connection_is_refused():
    async def connect() -> None:
        await asyncio.wait_for(asyncio.open_connection("198.51.100.7", 443), 2)

    seen = _fails_with_violation(lambda: asyncio.run(connect()))
    assert seen == ["socket.connect to ('198.51.100.7', 443)"]


def test_loopback_traffic_is_allowed():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port), timeout=2)
    conn, _ = server.accept()
    client.sendall(b"ping")
    assert conn.recv(4) == b"ping"
    for s in (client, conn, server):
        s.close()
    assert egress.take_violations() == []


@pytest.mark.egress_violation_expected
def test_subprocess_violation_reaches_the_parent_through_the_log():
    code = (
        "import icpscan, socket\n"
        "try:\n    socket.create_connection(('203.0.113.9', 80), timeout=1)\n"
        "except ConnectionRefusedError as e:\n    print(type(e).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True
    )
    assert out.stdout.strip() == "EgressViolation"
    log = os.environ[egress.EGRESS_LOG_ENV]
    with open(log, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("socket.connect to ('203.0.113.9', 80)")


def test_the_guard_fixture_fails_a_test_that_swallows_a_violation(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import socket

        def test_sneaky():
            try:
                socket.create_connection(("192.0.2.77", 80), timeout=1)
            except OSError:
                pass  # the code under test hides the refusal
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "icpscan.sandbox.pytest_plugin", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*test tried to reach beyond loopback:*", "*socket.connect to ('192.0.2.77', 80)"]
    )


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.1", "private"),
        ("192.168.1.1", "private"),
        ("172.16.5.4", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.3.2", "CGNAT (100.64.0.0/10)"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:10.1.1.1", "private"),
        ("240.0.0.1", "private"),
        ("fc00::5", "private"),
        ("39.156.66.10", None),
        ("2400:3200::1", None),
        ("not-an-ip", "not an IP address"),
    ],
)
def test_scanner_egress_policy(address, reason):
    assert egress.forbidden_reason(address) == reason
