"""Run a scenario: the sandbox DNS server and web farm serving it, its files in one directory.

:class:`Sandbox` is what the tests, the benchmarks, the demo and ``icpscan sandbox`` use. The DNS
server answers the public addresses the scenario gives its sites; every connection still lands
on loopback because the scanner is told, through a curl-style ``--connect-to`` file, which
loopback port stands in for each (host, port). :meth:`Sandbox.scan_args` is the exact option
list that points a scan at it.
"""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from icpscan.sandbox.scenario import Scenario

if TYPE_CHECKING:  # the servers are imported when a sandbox starts
    from icpscan.sandbox.dns import DnsServer
    from icpscan.sandbox.farm import Farm

DOMAINS_FILE = "domains.txt"
TRUTH_FILE = "truth.jsonl"
EXPECTED_FILE = "expected-filings.csv"
CONNECT_TO_FILE = "connect-to.txt"
CA_FILE = "ca.pem"


class NotLoopbackError(ValueError):
    """The sandbox only ever listens on loopback."""


def loopback_host(host: str) -> str:
    """``host`` as an IP literal if it is a loopback address, else :class:`NotLoopbackError`."""
    candidate = "127.0.0.1" if host == "localhost" else host.strip("[]")
    try:
        ip = ipaddress.ip_address(candidate)
    except ValueError:
        raise NotLoopbackError(f"--host must be a loopback IP address, not {host!r}") from None
    if not ip.is_loopback:
        raise NotLoopbackError(
            f"--host must be a loopback address (127.0.0.0/8 or ::1), not {host}"
        )
    return str(ip)


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Sandbox:
    """A DNS server and a web farm serving one :class:`Scenario`; files in ``state_dir``."""

    def __init__(
        self,
        scenario: Scenario,
        state_dir: Path,
        host: str = "127.0.0.1",
        dns_port: int = 0,
        http_port: int = 0,
        https_port: int = 0,
    ) -> None:
        self.scenario = scenario
        self.host = loopback_host(host)
        self.state_dir = Path(state_dir)
        self.domains_file = self.state_dir / DOMAINS_FILE
        self.truth_file = self.state_dir / TRUTH_FILE
        self.expected_file = self.state_dir / EXPECTED_FILE
        self.connect_to_file = self.state_dir / CONNECT_TO_FILE
        self.ca_cert_path = self.state_dir / CA_FILE
        self._dns_port, self._http_port, self._https_port = dns_port, http_port, https_port
        self.dns: DnsServer | None = None
        self.farm: Farm | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self.dns is not None:
            return self
        from icpscan.sandbox.dns import DnsServer
        from icpscan.sandbox.farm import Farm

        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.scenario.write_files(self.state_dir)
        dns = DnsServer(self.scenario.world, host=self.host, port=self._dns_port)
        farm = Farm(
            self.scenario.world,
            self.host,
            http_port=self._http_port,
            https_port=self._https_port,
            state_dir=self.state_dir,
        )
        dns.start()
        try:
            farm.start()
        except BaseException:
            dns.stop()
            raise
        self.dns, self.farm = dns, farm
        self._write_runtime_files()
        return self

    def stop(self) -> None:
        farm, dns = self.farm, self.dns
        self.farm = self.dns = None
        try:
            if farm is not None:
                farm.stop()
        finally:
            if dns is not None:
                dns.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def swap(self, scenario: Scenario) -> None:
        """Serve another scenario without restarting (same ports, same CA; files rewritten)."""
        self.scenario = scenario
        scenario.write_files(self.state_dir)
        if self.dns is not None and self.farm is not None:
            self.dns.world = scenario.world
            self.farm.world = scenario.world
            self._write_runtime_files()

    def _write_runtime_files(self) -> None:
        assert self.farm is not None
        self.farm.write_connect_to_file(self.connect_to_file)
        source = Path(self.farm.ca_cert_path)
        if source.resolve() != self.ca_cert_path.resolve():
            shutil.copyfile(source, self.ca_cert_path)

    # -- what a scan needs -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.dns is not None

    def _started(self) -> tuple[DnsServer, Farm]:
        if self.dns is None or self.farm is None:
            raise RuntimeError("the sandbox is not running (call start())")
        return self.dns, self.farm

    @property
    def dns_port(self) -> int:
        return int(self._started()[0].port)

    @property
    def http_port(self) -> int:
        return int(self._started()[1].http_port)

    @property
    def https_port(self) -> int:
        return int(self._started()[1].https_port)

    @property
    def nameserver(self) -> str:
        return host_port(self.host, self.dns_port)

    def scan_args(self) -> list[str]:
        """Options that point ``icpscan scan`` at this sandbox (add ``--expected`` yourself)."""
        return [
            "--nameserver",
            self.nameserver,
            "--connect-to-file",
            str(self.connect_to_file),
            "--ca-bundle",
            str(self.ca_cert_path),
            "--loopback-only",
        ]

    def scan_command(self, with_expected: bool = False) -> list[str]:
        """The whole ``icpscan scan`` command line for this sandbox's domain list."""
        command = ["icpscan", "scan", str(self.domains_file), *self.scan_args()]
        if with_expected:
            command += ["--expected", str(self.expected_file)]
        return command
