"""The running sandbox: every domain of a 1000-site world resolves and serves as its truth says.

Queries go to the sandbox DNS server with dnspython; pages are fetched with plain http.client/ssl
following the farm's connect-to rules and trusting only the sandbox CA, the way a scanner does.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import dns.exception
import dns.message
import dns.query
import dns.resolver
import pytest

from icpscan.sandbox import pages as pg
from icpscan.sandbox.runner import Sandbox
from icpscan.sandbox.scenario import LazyBody, build_site, generate
from tests.conftest import REPO_ROOT

# Cases whose whole point is to make a client wait: checked by the farm's own tests, skipped here.
SLOW = (
    "http:slow",
    "http:trickle",
    "http:stall",
    "http:tarpit",
    "http:cert_stall_fallback",
    "http:cert_stall_nofallback",
    "dns_fault:timeout",
)


def resolver_for(box: Sandbox, lifetime: float = 3.0) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [box.host]
    resolver.port = box.dns_port
    resolver.lifetime = resolver.timeout = lifetime
    return resolver


def addresses(resolver: dns.resolver.Resolver, name: str) -> set[str]:
    found: set[str] = set()
    for rtype in ("A", "AAAA"):
        with contextlib.suppress(dns.resolver.NoAnswer):
            found |= {r.to_text() for r in resolver.resolve(name, rtype)}
    return found


class ConnectTo:
    """curl --connect-to rules (``HOST:PORT:TARGET:PORT``, empty host/port = any), first wins."""

    def __init__(self, path: Path) -> None:
        self.rules = []
        for line in path.read_text(encoding="ascii").splitlines():
            host, port, target = line.split(":", 2)
            target_host, target_port = target.rsplit(":", 1)
            self.rules.append((host, port, target_host.strip("[]"), int(target_port)))

    def target(self, host: str, port: int) -> tuple[str, int]:
        for rule_host, rule_port, target_host, target_port in self.rules:
            if rule_host in ("", host) and rule_port in ("", str(port)):
                return target_host, target_port
        raise AssertionError(f"no connect-to rule for {host}:{port}")


def fetch(url: str, rules: ConnectTo, ca: Path, timeout: float = 5.0):
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    sock = socket.create_connection(rules.target(parts.hostname, port), timeout=timeout)
    if parts.scheme == "https":
        try:
            # like a scan: certificate errors are facts, not failures (the farm tests check
            # that VALID certificates verify against the sandbox CA)
            context = ssl.create_default_context(cafile=str(ca))
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        except BaseException:
            sock.close()
            raise
    conn = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    conn.sock = sock
    try:
        conn.request("GET", parts.path or "/", headers={"Accept-Encoding": "gzip"})
        with conn.getresponse() as response:
            body = response.read()
            if response.getheader("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return response.status, response.getheader("Location"), body
    finally:
        conn.close()


def follow(domain: str, start_host: str, rules: ConnectTo, ca: Path):
    """https then http, following HTTP, meta-refresh and JS-location redirects, like a scan."""
    last_error: Exception | None = None
    for scheme in ("https", "http"):
        url = f"{scheme}://{start_host}/"
        try:
            for _ in range(10):
                status, location, body = fetch(url, rules, ca)
                if status in (301, 302, 303, 307, 308) and location:
                    url = urljoin(url, location)
                    continue
                refresh = re.search(rb'http-equiv="refresh" content="0; url=([^"]+)"', body)
                script = re.search(rb'window\.location\.href = "([^"]+)"', body)
                if (refresh or script) and len(body) < 5000:
                    url = urljoin(url, (refresh or script).group(1).decode())
                    continue
                return url, status, body
            raise RuntimeError(f"{domain}: too many redirects")
        except (OSError, http.client.HTTPException, RuntimeError) as exc:
            last_error = exc
    raise ConnectionError(f"{domain}: {last_error}")


@pytest.fixture(scope="module")
def big(sandbox_factory) -> Sandbox:
    return sandbox_factory(1000, 7, "realistic")


def test_files_are_written_and_scan_args_point_at_the_servers(big):
    assert big.domains_file.read_text(encoding="utf-8").split() == big.scenario.domains
    assert len(big.truth_file.read_text(encoding="utf-8").splitlines()) == 1000
    assert big.expected_file.read_text(encoding="utf-8").startswith(
        "domain,icp_number,server_ips\n"
    )
    assert big.ca_cert_path.read_text(encoding="ascii").startswith("-----BEGIN CERTIFICATE-----")
    assert big.scan_args() == [
        "--nameserver",
        f"127.0.0.1:{big.dns_port}",
        "--connect-to-file",
        str(big.connect_to_file),
        "--ca-bundle",
        str(big.ca_cert_path),
        "--loopback-only",
    ]
    rules = ConnectTo(big.connect_to_file)
    assert rules.target("anything.example.cn", 443) == ("127.0.0.1", big.https_port)
    assert rules.target("anything.example.cn", 80) == ("127.0.0.1", big.http_port)


def test_every_sampled_domain_resolves_to_its_truth_addresses(big):
    resolver = resolver_for(big)
    checked = 0
    for index, domain in enumerate(big.scenario.domains):
        truth = big.scenario.truth[domain]
        tags = set(truth.exercises)
        if index % 5 and not any(t.startswith(("dns_fault:", "hosting:cname_loop")) for t in tags):
            continue
        if "dns_fault:timeout" in tags:
            continue
        name = f"www.{domain}" if "apex_no_address" in tags else domain
        if truth.addresses:
            assert addresses(resolver, name) == set(truth.addresses), domain
        elif "dns_fault:nxdomain" in tags:
            with pytest.raises(dns.resolver.NXDOMAIN):
                resolver.resolve(name, "A")
        elif "dns_fault:no_answer" in tags:
            with pytest.raises(dns.resolver.NoAnswer):
                resolver.resolve(name, "A")
        else:  # SERVFAIL, REFUSED, CNAME loop: no usable answer
            with pytest.raises(
                (dns.resolver.NoNameservers, dns.resolver.NoAnswer, dns.exception.DNSException)
            ):
                addresses(resolver, name)
        checked += 1
    assert checked > 200


def test_team_cymru_zones_answer_for_served_addresses(big):
    resolver = resolver_for(big)
    truth = next(t for t in big.scenario.truth.values() if "hosting:pool:tencent-hk" in t.exercises)
    address = next(a for a in truth.addresses if ":" not in a)
    name = ".".join(reversed(address.split("."))) + ".origin.asn.cymru.com"
    txt = resolver.resolve(name, "TXT")[0].strings[0].decode()
    # registry country CN, servers in Hong Kong
    assert re.fullmatch(
        r"132203 \| (119\.28|150\.109)\.0\.0/16 \| CN \| apnic \| \d{4}-\d\d-\d\d", txt
    )


def test_geodns_gives_a_mainland_client_a_mainland_cdn(big):
    truth = next(t for t in big.scenario.truth.values() if "geodns" in t.exercises)
    query = dns.message.make_query(truth.domain, "A")
    query.use_edns(0, options=[dns.edns.ECSOption("223.5.5.0", 24)])
    mainland = dns.query.udp(query, big.host, port=big.dns_port, timeout=3)
    default = dns.query.udp(
        dns.message.make_query(truth.domain, "A"), big.host, port=big.dns_port, timeout=3
    )
    first = lambda m: m.answer[0][0].to_text()  # noqa: E731
    assert first(mainland) != first(default)
    assert any(s in first(mainland) for s in ("kunlun", "cdngslb", "dnsv1.com.cn", "wscdns"))


def test_every_sampled_domain_serves_what_its_truth_says(big):
    rules = ConnectTo(big.connect_to_file)
    ca = big.ca_cert_path
    reached = failed = 0
    for index, domain in enumerate(big.scenario.domains):
        truth = big.scenario.truth[domain]
        tags = set(truth.exercises)
        if not truth.addresses or any(t in tags for t in SLOW):
            continue
        special = any(t.startswith(("http:", "role:")) and t != "http:ok" for t in tags)
        if index % 20 and not (special and index < 300):
            continue
        start = f"www.{domain}" if "apex_no_address" in tags else domain
        if not truth.reachable:
            with pytest.raises(ConnectionError):
                follow(domain, start, rules, ca)
            failed += 1
            continue
        url, status, body = follow(domain, start, rules, ca)
        assert url == truth.final_url, (domain, sorted(tags))
        expected_status = 404 if "http:status_404" in tags else 200
        if "http:status_500_bare" in tags or "http:status_503_bare" in tags:
            expected_status = 500 if "http:status_500_bare" in tags else 503
        assert status == expected_status, domain
        final = urlsplit(truth.final_url)
        host = big.scenario.world.hosts[final.hostname]
        served = (host.https if final.scheme == "https" else host.http)[final.path]
        assert body == served.body_bytes(), domain
        if truth.numbers:
            assert isinstance(served.body, LazyBody)
            page = build_site(7, served.body.index).pages[served.body.key]
            assert body == pg.render(page)
        reached += 1
    assert reached > 90 and failed >= 8


def test_swap_serves_another_scenario_on_the_same_ports(tmp_path):
    first, second = generate(50, 101), generate(50, 202)
    with Sandbox(first, tmp_path) as box:
        ports = (box.dns_port, box.http_port, box.https_port)
        resolver = resolver_for(box)
        probe = next(
            d
            for d in first.domains
            if first.truth[d].addresses and "apex_no_address" not in first.truth[d].exercises
        )
        assert addresses(resolver, probe) == set(first.truth[probe].addresses)
        box.swap(second)
        assert (box.dns_port, box.http_port, box.https_port) == ports
        with pytest.raises(dns.resolver.NXDOMAIN):
            resolver.resolve(probe, "A")
        other = next(
            d
            for d in second.domains
            if second.truth[d].addresses and "apex_no_address" not in second.truth[d].exercises
        )
        assert addresses(resolver, other) == set(second.truth[other].addresses)
        assert box.domains_file.read_text(encoding="utf-8").split() == second.domains
    assert not box.running


def test_non_loopback_hosts_are_refused():
    with pytest.raises(ValueError, match="loopback"):
        Sandbox(generate(1, 1), Path("/nonexistent"), host="192.0.2.1")


# -- the command -----------------------------------------------------------------------------


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "icpscan", "sandbox", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_cli_serves_1000_sites_prints_the_scan_command_and_exits_0_on_sigterm(tmp_path):
    proc = _cli("--sites", "1000", "--seed", "3", "--dir", str(tmp_path))
    lines: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("Serving until Ctrl-C"):
                break
        text = "\n".join(lines)
        assert "Serving until Ctrl-C" in text, text
        assert lines[0].startswith(
            "icpscan sandbox: 1000 sites (seed 3, profile realistic) ready in"
        )
        port = int(re.search(r"--nameserver 127\.0\.0\.1:(\d+)", text).group(1))
        command = next(x.strip() for x in lines if x.strip().startswith("icpscan scan "))
        assert command == (
            f"icpscan scan {tmp_path / 'domains.txt'} --nameserver 127.0.0.1:{port} "
            f"--connect-to-file {tmp_path / 'connect-to.txt'} --ca-bundle {tmp_path / 'ca.pem'} "
            "--loopback-only"
        )
        domains = (tmp_path / "domains.txt").read_text(encoding="utf-8").split()
        assert len(domains) == 1000
        truth = generate(1000, 3).truth
        probe = next(
            d for d in domains if truth[d].addresses and "apex_no_address" not in truth[d].exercises
        )
        answer = dns.query.udp(
            dns.message.make_query(probe, "A"), "127.0.0.1", port=port, timeout=3
        )
        assert answer.rcode() == 0 and answer.answer
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert err.strip().endswith("icpscan sandbox: stopped")
    assert out == ""


def test_cli_refuses_a_non_loopback_host():
    proc = _cli("--sites", "5", "--host", "0.0.0.0")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert (
        err
        == "icpscan: error: --host must be a loopback address (127.0.0.0/8 or ::1), not 0.0.0.0\n"
    )
    assert out == ""
