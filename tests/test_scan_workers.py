"""Any number of worker processes: every domain is scanned exactly once, with the same result.

``--workers`` defaults to one per core and the workers share one SQLite queue. The 2-worker
scan is checked against the truth in ``test_scan_e2e.py``; here 1 and 4 workers (more workers
than cores, so claims interleave) must give the same exact records: no domain lost, none
stored twice, every target done, and every record equal to the ground truth.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import psutil
import pytest
from test_scan_e2e import FAST, assert_matches_truth, run_icpscan, truth_of


@pytest.mark.parametrize("workers", [1, 4])
def test_every_domain_once_whatever_the_worker_count(sandbox, tmp_path, workers):
    db, out = tmp_path / "scan.db", tmp_path / "results.jsonl"
    result = run_icpscan(
        "scan", str(sandbox.domains_file), "--db", str(db), "--format", "jsonl", "-o", str(out),
        "--expected", str(sandbox.expected_file), "--workers", str(workers),
        *sandbox.scan_args(), *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert_matches_truth(truth_of(sandbox), records, "findings_with_expected")
    conn = sqlite3.connect(db)
    stored, distinct = conn.execute(
        "SELECT count(*), count(DISTINCT domain) FROM domains"
    ).fetchone()
    states = dict(conn.execute("SELECT state, count(*) FROM targets GROUP BY state").fetchall())
    claimed_by = {row[0] for row in conn.execute("SELECT DISTINCT worker FROM targets")}
    conn.close()
    assert stored == distinct == len(records) == len(truth_of(sandbox))
    assert states == {"done": len(records)}
    # (which workers got work depends on start-up timing; each claim is by one of them)
    assert claimed_by and claimed_by <= {f"w{i}" for i in range(workers)}


def test_workers_retire_and_hand_over_without_losing_or_repeating_a_domain(sandbox, tmp_path):
    """--retire-after: each worker leaves after N domains and a fresh process takes its place."""
    db, out = tmp_path / "scan.db", tmp_path / "results.jsonl"
    result = run_icpscan(
        "scan", str(sandbox.domains_file), "--db", str(db), "--format", "jsonl", "-o", str(out),
        "--expected", str(sandbox.expected_file), "--workers", "2", "--retire-after", "40",
        *sandbox.scan_args(), *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert_matches_truth(truth_of(sandbox), records, "findings_with_expected")
    conn = sqlite3.connect(db)
    per_worker = dict(conn.execute("SELECT worker, count(*) FROM targets GROUP BY worker"))
    stored = conn.execute("SELECT count(*), count(DISTINCT domain) FROM domains").fetchone()
    conn.close()
    assert stored == (len(records), len(records))
    assert sum(per_worker.values()) == len(records)
    assert max(per_worker.values()) <= 40  # nobody scanned past its share
    # 300 domains at most 40 per process: at least 8 processes, named by generation
    assert len(per_worker) >= len(records) // 40
    assert all(name.split(".")[0] in ("w0", "w1") for name in per_worker)


def test_the_command_keeps_pandas_out():
    # sqlite-utils imports pandas/numpy when installed: 80 MB per process, unused by icpscan
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "icpscan", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "sqlite_utils" in imported  # the importer of pandas ran...
    assert not imported & {"pandas", "numpy", "pyarrow"}  # ...and found them absent


_ORPHAN = """
import os, sys, time
parent = os.getppid()
print(os.getpid(), flush=True)
while os.getppid() == parent:  # still importing when the scan is killed
    time.sleep(0.01)
from icpscan.worker import die_with_parent
die_with_parent()
time.sleep(60)  # a worker that missed its parent's death would scan on here
"""


def test_a_worker_whose_scan_died_during_its_start_up_exits_at_once(tmp_path):
    """PR_SET_PDEATHSIG cannot fire for a parent that is already gone: the pid check does."""
    starter = (
        "import os, subprocess, sys\n"
        "from icpscan.worker import PARENT_PID_ENV\n"
        f"child = subprocess.Popen([sys.executable, '-c', {_ORPHAN!r}],"
        " env={**os.environ, PARENT_PID_ENV: str(os.getpid())})\n"
        "child_pid = sys.stdin.readline()\n"
    )
    scan = subprocess.Popen(
        [sys.executable, "-c", starter], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    worker_pid = int(scan.stdout.readline())
    scan.kill()  # before the worker asked to die with it
    scan.wait(10)
    scan.stdout.close()
    scan.stdin.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and psutil.pid_exists(worker_pid):
        with contextlib.suppress(psutil.Error):
            if psutil.Process(worker_pid).status() == psutil.STATUS_ZOMBIE:
                break
        time.sleep(0.05)
    else:
        if psutil.pid_exists(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)
            raise AssertionError("the orphaned worker kept running")
