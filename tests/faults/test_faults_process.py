"""Process faults: SIGKILL at random points then ``--resume``, a full disk, a read-only database,
two scans writing one database at once.

The scans run against their own sandbox (the generator's ``bench`` profile: mostly healthy
sites, a few refused, reset and unresolvable ones) so they are quick; the input carries invalid
and duplicate lines too, whose counts must survive the kills. The dataset left by a scan that
was killed nine times and resumed must equal the dataset of a scan that never was: same
records (timings aside), same rows in every table, every domain exactly once.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shlex
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from icpscan.sandbox.runner import Sandbox
from icpscan.sandbox.scenario import generate
from tests.faults.support import FAST, icpscan_command, run_icpscan, stored_records

SITES, SEED = 160, 11
KILLS = 9


@dataclass
class ProcessLab:
    sandbox: Sandbox
    input_file: Path
    domains: list[str]  # unique valid domains of the input, in order

    def scan_args(self, db: Path, *extra: str) -> list[str]:
        # Few requests in flight, so a scan stores its domains over several batches and the
        # kills land at varied points (with the default 256 one flush stored everything).
        return [
            "scan", str(self.input_file), "--db", str(db), "--format", "jsonl",
            "--workers", "2", "--concurrency", "2", *self.sandbox.scan_args(), *FAST, *extra,
        ]  # fmt: skip


@pytest.fixture(scope="module")
def proc_lab(tmp_path_factory):
    scenario = generate(SITES, SEED, "bench")
    for host in scenario.world.hosts.values():  # slow enough that kills land mid-scan
        for response in [*host.http.values(), *host.https.values()]:
            response.delay = max(response.delay, 0.1)
    state = tmp_path_factory.mktemp("process-lab")
    lines = []
    for index, domain in enumerate(scenario.domains):
        lines.append(domain)
        if index % 40 == 7:
            lines += ["not a domain!", domain.upper()]  # an invalid and a duplicate line
    input_file = state / "input.txt"
    input_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Sandbox(scenario, state / "sandbox") as sandbox:
        yield ProcessLab(sandbox, input_file, list(scenario.domains))


@pytest.fixture(scope="module")
def baseline(proc_lab, tmp_path_factory) -> Path:
    """The same scan, never interrupted."""
    db = tmp_path_factory.mktemp("baseline") / "baseline.db"
    result = run_icpscan(*proc_lab.scan_args(db), "-o", os.devnull)
    assert result.returncode == 0, result.stderr[-2000:]
    return db


# -- comparing datasets ------------------------------------------------------------------------


def _comparable(record: dict) -> dict:
    record = json.loads(json.dumps(record))
    record["fetch"]["elapsed"] = None  # the only timing in a record
    return record


def _table_rows(db: Path) -> dict[str, Counter]:
    """Every row of every result table, ids and timestamps left out (order-free)."""
    queries = {
        "domains": "SELECT domain, display, line, region, reached, status, final_url, error_kind,"
        " numbers_count, findings_count, max_severity, finding_codes FROM domains",
        "fetches": "SELECT domain, reached, final_url, status, error_kind, error_detail,"
        " body_size, truncated FROM fetches",
        "numbers": "SELECT domain, kind, number, valid, own, location FROM numbers",
        "findings": "SELECT domain, code, severity, message FROM findings",
        "dns_answers": "SELECT domain, view, name, rtype, value, ttl, cnames FROM dns_answers",
        "dns_failures": "SELECT domain, view, name, rtype, error, detail FROM dns_failures",
        "domain_addresses": "SELECT domain, address, view FROM domain_addresses",
        "input_errors": "SELECT line, raw, reason, message FROM input_errors",
        "targets": "SELECT domain, display, line, state FROM targets",
        "scans": "SELECT status, input_complete, input_lines, invalid_lines, duplicate_lines"
        " FROM scans",
    }
    with closing(sqlite3.connect(db)) as conn:
        return {name: Counter(conn.execute(sql).fetchall()) for name, sql in queries.items()}


def assert_same_dataset(db: Path, baseline_db: Path, domains: list[str]) -> None:
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        per_domain = conn.execute("SELECT domain, count(*) FROM domains GROUP BY domain").fetchall()
    assert sorted(per_domain) == sorted((d, 1) for d in domains), "every domain exactly once"
    got, want = stored_records(db), stored_records(baseline_db)
    assert sorted(got) == sorted(want) == sorted(domains)
    different = [d for d in want if _comparable(got[d]) != _comparable(want[d])]
    assert different == []
    assert _table_rows(db) == _table_rows(baseline_db)


# -- SIGKILL at random points ------------------------------------------------------------------


def _stored(db: Path, timeout: float = 5) -> int:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=timeout)) as conn:
            return conn.execute("SELECT count(*) FROM domains").fetchone()[0]
    except sqlite3.Error:
        return 0  # not created yet (or busy, when polling)


def _unfinished_scan(db: Path) -> bool:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            row = conn.execute("SELECT count(*) FROM scans WHERE status != 'finished'").fetchone()
    except sqlite3.Error:
        return False
    return row[0] > 0


def _scan_finished(db: Path) -> bool:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute("SELECT status FROM scans").fetchall() == [("finished",)]
    except sqlite3.Error:
        return False


def _workers_of(proc: subprocess.Popen) -> list[psutil.Process]:
    workers = []
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        return []
    for child in children:
        try:
            if "icpscan.worker" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                workers.append(child)
        except psutil.Error:
            continue
    return workers


def _wait_gone(pids: set[int], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                continue
        if not alive:
            return True
        time.sleep(0.05)
    return False


def _kill_plan(rng: random.Random) -> list[tuple[str, float]]:
    """(mode, seconds), in a seeded random order:

    * 'early': kill the scan that long after it started (start-up, input loading, the first
      claims: a worker needs about 1.5 s before it stores anything; once every domain is stored,
      the scan-wide rules and the finishing writes);
    * 'progress': kill it that long after the first batch this run stored (claims outstanding,
      batches half done, the next flush pending);
    * 'worker': after the first batch, kill one of its workers (the scan restarts it and the
      claims go back to the queue); after the next, that long later, the scan itself.
    """
    plan = [("early", round(rng.uniform(0.2, 1.4), 2)) for _ in range(2)]
    plan += [("progress", round(rng.uniform(0.0, 0.3), 2)) for _ in range(KILLS - 4)]
    plan += [("worker", round(rng.uniform(0.0, 0.3), 2)) for _ in range(2)]
    rng.shuffle(plan)
    return plan


def _run_until_killed(args: list[str], mode: str, delay: float, db: Path, total: int) -> dict:
    started = time.monotonic()
    before = _stored(db)
    proc = subprocess.Popen(
        icpscan_command(*args), env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    killed_at: list[float] = []

    def kill() -> None:
        if proc.poll() is None:
            killed_at.append(time.monotonic() - started)
            proc.send_signal(signal.SIGKILL)

    # 'early' kills on a timer: a slow poll of the database or of /proc never delays it
    timer = threading.Timer(delay, kill) if mode == "early" else None
    if timer is not None:
        timer.start()
    kill_at = None
    killed_worker = False
    workers: set[int] = set()
    slowest_poll = 0.0
    while proc.poll() is None and time.monotonic() - started < 120 and not killed_at:
        polled = time.monotonic()
        workers.update(p.pid for p in _workers_of(proc))
        now, stored = time.monotonic(), _stored(db, timeout=0.05)  # never stall the kill
        slowest_poll = max(slowest_poll, now - polled)
        if kill_at is None and mode in ("progress", "worker") and stored > before:
            if mode == "worker" and not killed_worker:
                victims = _workers_of(proc)
                if victims:
                    victims[0].send_signal(signal.SIGKILL)
                    killed_worker, before = True, stored
                    continue
            kill_at = now + delay
        if kill_at is not None and now >= kill_at:
            kill()
            break
        time.sleep(0.02)
    if timer is not None:
        timer.cancel()
    finished_first = not killed_at
    if finished_first and proc.poll() is None:  # still running after 120 s: stop it anyway
        kill()
        finished_first = False
    proc.wait(30)
    assert _wait_gone(workers), "workers die with their scan (PR_SET_PDEATHSIG)"
    return {"mode": mode, "at": round(killed_at[0], 2) if killed_at else None,
            "stored": _stored(db), "worker_killed": killed_worker, "finished": finished_first,
            "slowest_poll": round(slowest_poll, 2)}  # fmt: skip


def test_sigkill_at_random_points_then_resume_equals_an_uninterrupted_scan(
    proc_lab, baseline, tmp_path
):
    db = tmp_path / "killed.db"
    total = len(proc_lab.domains)
    rng = random.Random(20261128)
    history: list[dict] = []
    for mode, delay in _kill_plan(rng):
        if _scan_finished(db):
            break
        if _stored(db) >= total:  # nothing left to crawl: kill it while it finishes
            mode, delay = "early", round(rng.uniform(0.3, 2.5), 2)
        resume = ["--resume"] if _unfinished_scan(db) else []
        history.append(_run_until_killed(proc_lab.scan_args(db, *resume), mode, delay, db, total))
    kills = [h for h in history if not h["finished"]]
    assert len(kills) >= KILLS - 1, history  # the scan may finish before the last kill
    assert len({h["stored"] for h in kills}) >= 4, f"kill points did not vary: {history}"
    assert sum(0 < h["stored"] < total for h in kills) >= 3, history
    assert sum(h["worker_killed"] for h in kills) >= 1, history
    out = tmp_path / "resumed.jsonl"
    for _ in range(3):  # resume until the scan is finished
        if not _unfinished_scan(db):
            break
        resumed = run_icpscan(*proc_lab.scan_args(db, "--resume"), "-o", str(out))
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert len(out.read_text(encoding="utf-8").splitlines()) == total
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT id, status FROM scans").fetchall() == [(1, "finished")]
    assert_same_dataset(db, baseline, proc_lab.domains)


# -- storage faults ----------------------------------------------------------------------------


def _small_input(proc_lab, tmp_path: Path, count: int) -> Path:
    listing = tmp_path / "small.txt"
    listing.write_text("\n".join(proc_lab.domains[:count]) + "\n", encoding="utf-8")
    return listing


def _scan_with(proc_lab, db: Path, listing: Path, **popen) -> subprocess.CompletedProcess:
    args = [
        "scan", str(listing), "--db", str(db), "--format", "jsonl", "-o", os.devnull,
        "--workers", "2", *proc_lab.sandbox.scan_args(), *FAST,
    ]  # fmt: skip
    return run_icpscan(*args, **popen)


def _integrity(db: Path) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchall()


def test_a_full_disk_stops_the_scan_with_one_line_and_a_sound_database(proc_lab, tmp_path):
    db = tmp_path / "full.db"
    first = _scan_with(proc_lab, db, _small_input(proc_lab, tmp_path, 20))
    assert first.returncode == 0, first.stderr[-2000:]
    before = stored_records(db, 1)
    limit = db.stat().st_size + 128 * 1024  # room for the scan row and a few batches
    full = _scan_with(
        proc_lab,
        db,
        proc_lab.input_file,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
    )
    assert full.returncode == 2, full.stderr[-2000:]
    assert full.stderr.splitlines() == [
        f"icpscan: error: cannot write to database {db}: disk I/O error "
        "(a write failed: disk full, file size limit or failing disk)"
    ]
    assert _integrity(db) == [("ok",)]
    assert stored_records(db, 1) == before  # the previous scan is intact
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT id, status FROM scans ORDER BY id").fetchall() == [
            (1, "finished"),
            (2, "interrupted"),
        ]
    # space again: the interrupted scan resumes and ends with every domain exactly once
    resumed = run_icpscan(*proc_lab.scan_args(db, "--resume"), "-o", os.devnull)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert sorted(stored_records(db, 2)) == sorted(proc_lab.domains)
    assert stored_records(db, 1) == before
    assert _integrity(db) == [("ok",)]


def _read_only_run(directory: Path, command: list[str]) -> subprocess.CompletedProcess:
    """``command`` with ``directory`` mounted read-only for it alone (a private mount namespace:
    root ignores file modes, a read-only mount it cannot ignore)."""
    quoted = shlex.quote(str(directory))
    script = f"mount -o bind,ro {quoted} {quoted} && exec {shlex.join(command)}"
    # root: a mount namespace; anyone else: a user namespace that maps them to root in it
    namespace = ["--mount"] if os.geteuid() == 0 else ["--user", "--map-root-user", "--mount"]
    return subprocess.run(
        ["unshare", *namespace, "sh", "-c", script],
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=120,
        check=False,
    )


def test_a_read_only_database_is_one_line_and_left_as_it_was(proc_lab, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = data / "audit.db"
    first = _scan_with(proc_lab, db, _small_input(proc_lab, tmp_path, 10))
    assert first.returncode == 0, first.stderr[-2000:]
    before = stored_records(db, 1)
    probe = _read_only_run(data, ["touch", str(data / "probe")])
    if probe.returncode != 0 and "Read-only file system" not in probe.stderr:
        pytest.fail(f"a private read-only mount is needed for this test: {probe.stderr.strip()}")
    assert not (data / "probe").exists()
    for target in (db, data / "new.db"):
        command = icpscan_command(
            "scan", str(proc_lab.input_file), "--db", str(target), *proc_lab.sandbox.scan_args(),
            *FAST,
        )  # fmt: skip
        result = _read_only_run(data, command)
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.splitlines()
        # SQLite fails at opening (no -wal/-shm can be made) or at the first write
        assert re.fullmatch(
            rf"icpscan: error: cannot (use|write to) database {re.escape(str(target))}: "
            r"(unable to open database file|attempt to write a readonly database) "
            r"\(the database or its directory is read-only( or missing)?\)",
            line,
        ), line
    assert sorted(p.name for p in data.iterdir()) == ["audit.db"]
    assert _integrity(db) == [("ok",)]
    assert stored_records(db, 1) == before


def test_a_database_path_on_a_read_only_filesystem_is_one_line(proc_lab, tmp_path):
    target = "/proc/icpscan-faults/audit.db"  # /proc never takes new files, even from root
    result = _scan_with(proc_lab, Path(target), _small_input(proc_lab, tmp_path, 3))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"icpscan: error: cannot use database {target}")
    assert "Traceback" not in result.stderr


def test_two_scans_writing_one_database_at_once_both_finish_whole(proc_lab, tmp_path):
    db = tmp_path / "shared.db"
    half = len(proc_lab.domains) // 2
    lists = {}
    for name, part in (
        ("first", proc_lab.domains[: half + 10]),
        ("second", proc_lab.domains[half:]),
    ):
        lists[name] = part
        (tmp_path / f"{name}.txt").write_text("\n".join(part) + "\n", encoding="utf-8")
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in lists}
    try:
        procs = {
            name: subprocess.Popen(
                icpscan_command(
                    "scan", str(tmp_path / f"{name}.txt"), "--db", str(db), "--format",
                    "jsonl", "-o", os.devnull, "--workers", "1", *proc_lab.sandbox.scan_args(),
                    *FAST,
                ),
                env=os.environ, stdout=subprocess.DEVNULL, stderr=logs[name],
            )
            for name in lists
        }  # fmt: skip
        for proc in procs.values():
            proc.wait(timeout=180)
    finally:
        for log in logs.values():
            log.close()
    for name, proc in procs.items():
        assert proc.returncode == 0, (name, (tmp_path / f"{name}.log").read_text()[-2000:])
    with closing(sqlite3.connect(db)) as conn:
        scans = dict(conn.execute("SELECT input, id FROM scans").fetchall())
        assert conn.execute("SELECT status FROM scans").fetchall() == [("finished",)] * 2
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert sorted(scans.values()) == [1, 2]
    for name, part in lists.items():
        records = stored_records(db, scans[str(tmp_path / f"{name}.txt")])
        assert sorted(records) == sorted(part)
    # the ten domains in both lists are stored once per scan, not once overall
    with closing(sqlite3.connect(db)) as conn:
        shared = conn.execute(
            "SELECT count(*) FROM domains GROUP BY domain HAVING count(*) > 1"
        ).fetchall()
    assert len(shared) == 10
