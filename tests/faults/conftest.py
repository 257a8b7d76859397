"""Fixtures of the fault-injection suite: one "lab" sandbox, one scan of it, shared by the files.

The lab serves the scenario generator's ``faults`` profile (100 sites: every DNS fault three
times, every connection/TLS/HTTP failure twice, the ground truth for all of them) plus the
hand-built cases of :mod:`icpscan.sandbox.hostile` (bombs, lying framing and charsets, private
and metadata addresses, hostile markup...). One real ``icpscan scan`` of all of it, with the
faults spread through ordinary sites, is what the test files check from their angle; a second,
small scan of the egress cases runs with ``--allow-private``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from icpscan.sandbox import hostile
from icpscan.sandbox.runner import Sandbox
from icpscan.sandbox.scenario import Scenario, generate
from tests.faults.support import FAST, RssWatch, icpscan_command, read_jsonl
from tests.test_report_chromium import Recorder

LAB_SITES, LAB_SEED = 100, 7


@dataclass
class Lab:
    sandbox: Sandbox
    scenario: Scenario
    cases: list[hostile.FaultCase]
    recorder: Recorder
    input_file: Path
    domains: list[str]  # the scan's input, in order

    @property
    def by_name(self) -> dict[str, hostile.FaultCase]:
        return hostile.cases_by_name(self.cases)

    def profile_domains(self, tag: str) -> list[str]:
        """Generated sites whose ground truth exercises ``tag`` (e.g. "http:stall")."""
        found = [d for d, t in self.scenario.truth.items() if tag in t.exercises]
        assert found, f"the faults profile has no site exercising {tag}"
        return found


@dataclass
class LabScan:
    db: Path
    records: dict[str, dict]  # domain -> record, from the scan's JSON lines output
    order: list[str]  # domains in output order
    returncode: int
    stderr: str
    elapsed: float
    peak_worker_rss: int
    peak_parent_rss: int
    tcp_queries: int
    extra: dict = field(default_factory=dict)

    def record(self, domain: str) -> dict:
        return self.records[domain]


@pytest.fixture(scope="session")
def lab_recorder() -> Iterator[Recorder]:
    """A loopback HTTP server every hostile page points its resources at: it must stay unused."""
    with Recorder.running() as server:
        yield server


@pytest.fixture(scope="session")
def lab(tmp_path_factory, lab_recorder) -> Iterator[Lab]:
    scenario = generate(LAB_SITES, LAB_SEED, "faults")
    cases = hostile.fault_cases(beacon=lab_recorder.base)
    hostile.install(scenario.world, cases)
    hostile.warm(cases)
    state = tmp_path_factory.mktemp("fault-lab")
    domains = list(hostile.iter_interleaved(scenario.domains, [c.domain for c in cases]))
    input_file = state / "input.txt"
    input_file.write_text("".join(f"{d}\n" for d in domains), encoding="utf-8")
    with Sandbox(scenario, state / "sandbox") as sandbox:
        yield Lab(sandbox, scenario, cases, lab_recorder, input_file, domains)


def _scan(lab: Lab, out: Path, input_file: Path, *extra: str) -> LabScan:
    db, jsonl, log = out / "scan.db", out / "results.jsonl", out / "stderr.log"
    tcp_before = lab.sandbox.dns.tcp_queries if lab.sandbox.dns else 0
    command = icpscan_command(
        "scan", str(input_file), "--db", str(db), "--format", "jsonl", "-o", str(jsonl),
        "--workers", "2", *lab.sandbox.scan_args(), *FAST, *extra,
    )  # fmt: skip
    started = time.monotonic()
    with log.open("wb") as err:
        proc = subprocess.Popen(command, env=os.environ, stdout=subprocess.DEVNULL, stderr=err)
        with RssWatch(proc.pid) as watch:
            returncode = proc.wait(timeout=300)
    elapsed = time.monotonic() - started
    records = read_jsonl(jsonl) if jsonl.exists() else []
    return LabScan(
        db=db,
        records={r["domain"]: r for r in records},
        order=[r["domain"] for r in records],
        returncode=returncode,
        stderr=log.read_text(encoding="utf-8", errors="replace"),
        elapsed=elapsed,
        peak_worker_rss=watch.peak("worker"),
        peak_parent_rss=watch.peak("parent"),
        tcp_queries=(lab.sandbox.dns.tcp_queries if lab.sandbox.dns else 0) - tcp_before,
    )


@pytest.fixture(scope="session")
def lab_scan(lab: Lab, tmp_path_factory) -> LabScan:
    """The whole lab scanned once, every fault amid ordinary sites."""
    result = _scan(lab, tmp_path_factory.mktemp("lab-scan"), lab.input_file)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="session")
def lab_scan_allow_private(lab: Lab, tmp_path_factory) -> LabScan:
    """The egress cases scanned again with ``--allow-private``."""
    out = tmp_path_factory.mktemp("lab-scan-private")
    listing = out / "egress.txt"
    listing.write_text(
        "".join(f"{c.domain}\n" for c in lab.cases if c.fault_class == "egress"), encoding="utf-8"
    )
    result = _scan(lab, out, listing, "--allow-private")
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def db_rows(db: Path, sql: str, *params: object) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()
