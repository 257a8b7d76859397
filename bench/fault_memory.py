"""Peak memory of a scan that meets decompression bombs and huge bodies, against a clean scan.

Run: /work/venv/bin/python bench/fault_memory.py [--copies N] [--workers 2]

Starts the sandbox with N copies of each hostile case of :mod:`icpscan.sandbox.hostile` that
sends a lot of bytes (1 GiB gzip / deflate / brotli bombs, a 256 MiB endless body, a 6 MiB page,
a 5 MiB page behind gzip, a 200 KB header line, and a 30 MB one) and, in the same run, the same
number of ordinary realistic pages (the baseline). Each set is scanned by the real CLI while the
resident memory of the scan process and its workers is sampled every 50 ms (psutil). Prints the
peak RSS of the workers and of the scan process for both, and the ratio; last line:
``fault_memory: bombs P MB, baseline B MB, ratio R (worker peak RSS)``.
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from icpscan import egress
from icpscan.sandbox import hostile
from icpscan.sandbox.runner import Sandbox
from icpscan.sandbox.scenario import generate
from icpscan.sandbox.world import DnsName, Host, Response
from tests.faults.support import RssWatch, icpscan_command

HEAVY = (
    "http:gzip_bomb",
    "http:deflate_bomb",
    "http:br_bomb",
    "http:endless_body",
    "http:body_over_cap",
    "http:gzip_big_page",
    "http:huge_header_line",
)


def heavy_cases(copies: int) -> list[hostile.FaultCase]:
    by_name = hostile.cases_by_name(hostile.fault_cases())
    cases = []
    for index in range(copies):
        for name in HEAVY:
            case = copy.deepcopy(by_name[name])
            case.domain = case.domain.replace(hostile.LAB_SUFFIX, f"-{index}{hostile.LAB_SUFFIX}")
            (old,) = list(case.dns)
            case.dns = {case.domain: case.dns[old]}
            case.hosts = {case.domain: case.hosts[old]}
            cases.append(case)
        domain = f"header-30mb-{index}{hostile.LAB_SUFFIX}"
        header = Response(200, [("Content-Type", "text/html"), ("X-Pad", "p" * 30_000_000)], b"x")
        cases.append(
            hostile.FaultCase(
                "http:header_30mb",
                domain,
                hostile.Expect(False),
                dns={domain: DnsName(records={"A": ["180.101.1.1"]})},
                hosts={domain: Host(https={"/": header})},
            )
        )
    return cases


def scan(sandbox: Sandbox, domains: list[str], out: Path, workers: int) -> tuple[int, int, float]:
    listing = out / "input.txt"
    listing.write_text("\n".join(domains) + "\n", encoding="utf-8")
    command = icpscan_command(
        "scan", str(listing), "--db", str(out / "scan.db"), "--format", "jsonl", "-o",
        os.devnull, "--workers", str(workers), *sandbox.scan_args(), "--timeout", "10", "-q",
    )  # fmt: skip
    started = time.monotonic()
    proc = subprocess.Popen(command, env=os.environ)
    with RssWatch(proc.pid) as watch:
        code = proc.wait()
    if code != 0:
        raise SystemExit(f"scan failed with exit code {code}")
    return watch.peak("worker"), watch.peak("parent"), time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="copies of each heavy case")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    egress.install_loopback_guard()
    os.environ[egress.LOOPBACK_ONLY_ENV] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")) if p
    )
    cases = heavy_cases(args.copies)
    clean = generate(len(cases), 3, "bench")
    scenario = generate(0, 1)
    hostile.install(scenario.world, cases)
    hostile.warm(cases)
    with tempfile.TemporaryDirectory(prefix="icpscan-fault-memory-") as tmp:
        root = Path(tmp)
        with Sandbox(clean, root / "clean") as box:
            (root / "a").mkdir()
            base_worker, base_parent, base_time = scan(box, clean.domains, root / "a", args.workers)
        with Sandbox(scenario, root / "bombs") as box:
            (root / "b").mkdir()
            domains = [c.domain for c in cases]
            bomb_worker, bomb_parent, bomb_time = scan(box, domains, root / "b", args.workers)
    mib = 1024 * 1024
    print(f"{len(cases)} domains each, {args.workers} workers")
    print(f"{'':10} {'worker peak':>12} {'scan peak':>10} {'time':>7}")
    for label, worker, parent, seconds in (
        ("baseline", base_worker, base_parent, base_time),
        ("bombs", bomb_worker, bomb_parent, bomb_time),
    ):
        print(f"{label:10} {worker / mib:9.0f} MB {parent / mib:7.0f} MB {seconds:6.1f}s")
    print(
        f"fault_memory: bombs {bomb_worker / mib:.0f} MB, baseline {base_worker / mib:.0f} MB, "
        f"ratio {bomb_worker / max(base_worker, 1):.2f} (worker peak RSS)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
