"""Memory of a large scan: peak RSS per process must stay flat as the list grows (10k vs 100k).

For each size N: starts the offline sandbox (profile "bench") in its own process, streams the
domain list into ``icpscan scan -`` through stdin (the scan never sees the whole list at
once), and samples the RSS of the scan's processes (parent and workers, psutil) every 0.2 s.
Prints, per size, the peak RSS of each process and the RSS of the fattest worker when 10%,
50% and 90% of the domains were stored: flat memory means those stay level and the peaks at
10k and 100k are about equal. The last line is::

    memory_bench: peak_rss parent X MB, worker Y MB, total Z MB at 10000; ... at 100000

Loopback only. 100k domains take about 10 minutes on the 2-core machine.

    /work/venv/bin/python bench/memory_bench.py [--sizes 10000 100000] [--retire-after N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "bench"))

from scan_bench import SandboxProcess, _role  # noqa: E402 - sibling script

MB = 2**20


class Timeline(threading.Thread):
    """RSS of every process of a scan over time, and how many domains were stored."""

    def __init__(self, pid: int, db: Path, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.db, self.interval = pid, db, interval
        self.samples: list[tuple[int, dict[str, int]]] = []  # (domains stored, rss per role)
        self.stop_event = threading.Event()

    def _stored(self) -> int:
        try:
            conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=1)
            try:
                return int(conn.execute("SELECT count(*) FROM domains").fetchone()[0])
            finally:
                conn.close()
        except sqlite3.Error:
            return 0

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        ticks = 0
        stored = 0
        while not self.stop_event.is_set():
            rss: dict[str, int] = {}
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in procs:
                try:
                    rss[_role(proc.cmdline())] = proc.memory_info().rss
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue
            if ticks % 10 == 0:  # counting rows every 2 s is plenty
                stored = self._stored()
            ticks += 1
            self.samples.append((stored, rss))
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.join()

    def peaks(self) -> dict[str, int]:
        peaks: dict[str, int] = {}
        for _, rss in self.samples:
            for role, value in rss.items():
                peaks[role] = max(peaks.get(role, 0), value)
        return peaks

    def peak_total(self) -> int:
        """The most the scan's processes held together at one moment."""
        return max((sum(rss.values()) for _, rss in self.samples), default=0)

    def worker_rss_at(self, fraction: float, total: int) -> int:
        """The fattest worker's RSS at the first sample with ``fraction`` of the domains stored."""
        for stored, rss in self.samples:
            if stored >= fraction * total:
                return max((v for k, v in rss.items() if k.startswith("worker")), default=0)
        return 0


def measure(size: int, workers: int, seed: int, extra: list[str]) -> dict[str, int]:
    directory = Path(tempfile.mkdtemp(prefix="memory-bench-"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    started = time.perf_counter()
    box = SandboxProcess(directory, size, seed, prewarm=False)
    print(f"{size} sites: sandbox ready in {time.perf_counter() - started:.0f}s", flush=True)
    db = directory / "memory.db"
    try:
        started = time.perf_counter()
        with (directory / "domains.txt").open("rb") as domains, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "icpscan",
                    "scan",
                    "-",
                    "--db",
                    str(db),
                    "-q",
                    "--workers",
                    str(workers),
                    "--format",
                    "jsonl",
                    "-o",
                    os.devnull,
                    *box.scan_args(),
                    *extra,
                ],
                cwd=REPO_ROOT,
                env=env,
                stdin=domains,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            timeline = Timeline(proc.pid, db)
            timeline.start()
            code = proc.wait()
            timeline.stop()
            if code != 0:
                err.seek(0)
                raise SystemExit(f"scan failed:\n{err.read().decode()[-3000:]}")
        wall = time.perf_counter() - started
        conn = sqlite3.connect(db)
        counts = "SELECT count(*), count(DISTINCT domain) FROM domains"
        stored, distinct = conn.execute(counts).fetchone()
        conn.close()
    finally:
        box.stop()
        shutil.rmtree(directory, ignore_errors=True)
    peaks = timeline.peaks()
    worker_peak = max((v for k, v in peaks.items() if k.startswith("worker")), default=0)
    steps = ", ".join(
        f"{int(f * 100)}% {timeline.worker_rss_at(f, size) / MB:.0f} MB" for f in (0.1, 0.5, 0.9)
    )
    print(f"  {stored} records ({distinct} distinct) in {wall:.0f}s = {size / wall:.0f} dom/s")
    print("  peak RSS: " + ", ".join(f"{k} {v / MB:.0f} MB" for k, v in sorted(peaks.items())))
    print(f"  fattest worker when stored: {steps}")
    print(f"  peak RSS of all the scan's processes together: {timeline.peak_total() / MB:.0f} MB",
          flush=True)  # fmt: skip
    return {
        "parent": peaks.get("scan (parent)", 0),
        "worker": worker_peak,
        "total": timeline.peak_total(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--retire-after", type=int, help="passed to icpscan scan")
    args = parser.parse_args()
    extra = [] if args.retire_after is None else ["--retire-after", str(args.retire_after)]
    results = [(size, measure(size, args.workers, args.seed, extra)) for size in args.sizes]
    print(
        "memory_bench: peak_rss "
        + "; ".join(
            f"parent {r['parent'] / MB:.0f} MB, worker {r['worker'] / MB:.0f} MB, "
            f"total {r['total'] / MB:.0f} MB at {size}"
            for size, r in results
        )
    )


if __name__ == "__main__":
    main()
