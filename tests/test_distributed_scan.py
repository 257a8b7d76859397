"""Distributed scans end to end: one feeder, several ``icpscan worker`` processes, a real
redis-server and the sandbox; workers killed, drained, Redis restarted.

The list is the sandbox's first 120 sites minus the few whose faults are *slow* (stalls,
tarpits, DNS timeouts): those test the crawler's clocks, not the distribution, and would make
every run here last as long as the slowest of them. A duplicate and an invalid line are added
so the input accounting is compared too.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from icpscan.distributed.connection import connect
from icpscan.distributed.keys import ScanKeys
from icpscan.distributed.status import gather
from tests.redis_server import RedisServer

# Four requests per worker: every one of three workers gets a share of ~100 domains.
FAST = ["--timeout", "2", "--dns-timeout", "1", "--dns-retries", "1", "--concurrency", "4"]
SLOW_FAULTS = ("stall", "tarpit", "slow", "trickle", "timeout")
SITES = 120
TIMING_KEYS = {"elapsed"}


def icpscan_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "icpscan", *args]


STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True, scope="module")
def _no_leftover_processes():
    yield
    for proc in STARTED:  # a failed test must not leave feeders and workers running
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def start(args: list[str], log: Path, *, warnings_are_errors: bool = False):
    env = dict(os.environ)
    if warnings_are_errors:  # like the suite's own filterwarnings = error
        env["PYTHONWARNINGS"] = "error"
    with log.open("ab") as stream:
        proc = subprocess.Popen(icpscan_command(*args), env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=stream)  # fmt: skip
    STARTED.append(proc)
    return proc


def icpscan_status(url: str, *args: str) -> list[dict]:
    result = subprocess.run(icpscan_command("status", "--redis", url, "--format", "json", *args),
                            capture_output=True, text=True, env=os.environ, timeout=60,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def start_worker(
    url: str, log: Path, name: str, *, warnings_are_errors: bool = False, scan: str | None = None
):
    only = ["--scan", scan] if scan else []
    return start(["worker", "--redis", url, "--processes", "1", "--once", "--lease", "3",
                  "--name", name, *only], log, warnings_are_errors=warnings_are_errors)  # fmt: skip


def wait_for(condition, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM domains").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def scan_token(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        options = conn.execute("SELECT options FROM scans ORDER BY id DESC").fetchone()[0]
    return json.loads(options)["redis_scan"]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


@pytest.fixture(scope="module")
def world(sandbox, tmp_path_factory):
    truth = [json.loads(line) for line in sandbox.truth_file.read_text("utf-8").splitlines()]
    domains = [
        t["domain"]
        for t in truth[:SITES]
        if not any(fault in e for e in t["exercises"] for fault in SLOW_FAULTS)
    ]
    listing = tmp_path_factory.mktemp("distributed") / "domains.txt"
    lines = [*domains[:10], domains[3], "not a domain!", *domains[10:]]
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sandbox, listing, domains


def scan_args(world, db: Path, out: Path) -> list[str]:
    sandbox, listing, _ = world
    return ["scan", str(listing), "--db", str(db), "--format", "jsonl", "-o", str(out),
            *sandbox.scan_args(), *FAST]  # fmt: skip


@pytest.fixture(scope="module")
def reference(world, tmp_path_factory):
    """The same list scanned by one local worker process: what the distributed scan must equal."""
    out = tmp_path_factory.mktemp("reference")
    db, jsonl = out / "local.db", out / "local.jsonl"
    result = subprocess.run(icpscan_command(*scan_args(world, db, jsonl), "--workers", "1", "-q"),
                            capture_output=True, text=True, env=os.environ, timeout=180,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return db, read_jsonl(jsonl)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis-e2e")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def distributed(world, redis_server, tmp_path_factory):
    """One feeder and three workers; the first worker seen holding domains is killed (SIGKILL
    of its supervisor: its crawler dies with it, as on a machine that goes down)."""
    out = tmp_path_factory.mktemp("dist")
    db, jsonl, log = out / "dist.db", out / "dist.jsonl", out / "feeder.log"
    url = redis_server.url
    client = redis.Redis.from_url(url)
    feeder = start([*scan_args(world, db, jsonl), "--redis", url, "-q"], log,
                   warnings_are_errors=True)  # fmt: skip
    workers = {
        f"w{i}": start_worker(url, out / f"w{i}.log", f"w{i}", warnings_are_errors=True)
        for i in range(3)
    }
    token = wait_for(lambda: db.exists() and _token_or_none(db), 30, "the scan")
    keys = ScanKeys(token)

    def holding():
        for name in client.smembers(keys.workers):
            if client.llen(keys.processing(name.decode())) >= 4:
                return name.decode()
        return None

    victim = wait_for(holding, 60, "a worker holding domains")
    crawler_pid = int(client.hget(f"icpscan:worker:{victim}", "pid"))
    supervisor = workers[victim.split("-")[0]]
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait(10)
    wait_for(lambda: not _alive(crawler_pid), 10, "the killed worker's crawler to die")
    held_at_kill = client.llen(keys.processing(victim))
    running = gather(connect(url), token)[0]  # what `icpscan status` sees at that moment
    assert feeder.wait(180) == 0, log.read_text()[-3000:]
    survivors = [p for name, p in workers.items() if not victim.startswith(name + "-")]
    codes = [p.wait(60) for p in survivors]
    (finished,) = icpscan_status(url, "--scan", token)
    return {
        "db": db,
        "records": read_jsonl(jsonl),
        "client": client,
        "keys": keys,
        "victim": victim,
        "held_at_kill": held_at_kill,
        "running": running,
        "finished": finished,
        "worker_codes": codes,
        "feeder_log": log.read_text(),
        "worker_logs": "".join((out / f"w{i}.log").read_text() for i in range(3)),
    }


def _token_or_none(db: Path) -> str | None:
    try:
        return scan_token(db)
    except (sqlite3.OperationalError, TypeError, KeyError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_feeder_and_workers_ran_without_warnings_or_errors(distributed):
    # The feeder's reaper or a surviving worker's gives the dead worker's domains back,
    # whichever looks first; only the feeder's says so.
    held = distributed["held_at_kill"]
    assert distributed["feeder_log"] in (
        "",
        f"icpscan: requeued {held} domains held by workers that stopped\n",
    )
    logs = distributed["worker_logs"]
    assert "Warning" not in logs and "Traceback" not in logs, logs[-3000:]


def test_every_domain_is_stored_exactly_once(world, distributed):
    _, _, domains = world
    with sqlite3.connect(distributed["db"]) as conn:
        rows = conn.execute("SELECT domain, count(*) FROM domains GROUP BY domain").fetchall()
        status = conn.execute("SELECT id, status FROM scans").fetchall()
    assert sorted(d for d, _ in rows) == sorted(domains)
    assert {count for _, count in rows} == {1}
    assert status == [(1, "finished")]
    assert [r["domain"] for r in distributed["records"]] == domains  # input order, like local


def test_the_records_equal_a_single_process_scan(reference, distributed):
    _, local = reference
    assert len(distributed["records"]) == len(local)
    for ours, theirs in zip(distributed["records"], local, strict=True):
        assert without_timings(ours) == without_timings(theirs), ours["domain"]


TABLES = {
    "domains": "domain, display, line, region, confidence, provider, cdn, reached, status,"
    " final_url, final_registrable_domain, error_kind, encoding, numbers_count,"
    " findings_count, max_severity, finding_codes",
    "numbers": "domain, kind, number, raw, province_code, province, valid, placeholder, linked,"
    " href, location, own, site_index, problems",
    "findings": "domain, code, severity, message, evidence",
    "fetches": "domain, reached, final_url, status, left_registrable_domain, address, peer,"
    " server, content_type, truncated, body_size, error_kind, tls_trusted, tls_issuer",
    "dns_answers": "domain, view, name, rtype, value, ttl, cnames",
    "dns_failures": "domain, view, name, rtype, error",
    "domain_addresses": "domain, address, view",
    "addresses": "address, version, region, confidence, special, asn, asn_name, registry,"
    " prefix, country, provider",
    "targets": "domain, display, line, state",
    "input_errors": "line, raw, reason, message",
    "scans": "id, status, input_complete, input_lines, invalid_lines, duplicate_lines",
}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_equals_a_single_process_scan(reference, distributed, table):
    columns = TABLES[table]

    def rows(db: Path) -> list[tuple]:
        with sqlite3.connect(db) as conn:
            return sorted(conn.execute(f"SELECT {columns} FROM {table}").fetchall(), key=repr)

    local_rows, our_rows = rows(reference[0]), rows(distributed["db"])
    assert local_rows, f"the reference scan has no {table} rows to compare"
    assert our_rows == local_rows


def test_a_worker_killed_mid_run_loses_nothing(distributed):
    client, keys = distributed["client"], distributed["keys"]
    held = distributed["held_at_kill"]
    assert held > 0, "the worker was killed while it held domains"
    record = client.hgetall(keys.scan)
    assert int(record[b"requeued"]) == held  # exactly what the dead worker held went back
    assert record[b"status"] == b"finished"
    assert distributed["worker_codes"] == [0, 0]  # the survivors finished normally
    assert client.exists(keys.processing(distributed["victim"]), keys.requests) == 0


def test_progress_is_visible_from_any_machine(world, distributed):
    _, _, domains = world
    running, finished = distributed["running"], distributed["finished"]
    assert running.record.scan_id == 1
    assert running.record.status == "running"
    assert running.record.fed == len(domains)
    assert 0 <= running.record.stored < len(domains)
    victim = next(w for w in running.workers if w.name == distributed["victim"])
    assert victim.held == distributed["held_at_kill"]
    assert running.in_flight >= victim.held
    assert finished["record"]["status"] == "finished"
    assert finished["record"]["fed"] == finished["record"]["stored"] == len(domains)
    assert finished["record"]["requeued"] == distributed["held_at_kill"]
    assert (finished["queued"], finished["in_flight"], finished["workers"]) == (0, 0, [])
    # Scrapy's counters, added up over the three workers (the killed one's last seconds lost,
    # its requeued domains counted twice)
    assert finished["stats"]["item_scraped_count"] >= len(domains) - distributed["held_at_kill"]
    assert finished["stats"]["response_received_count"] > len(domains) / 2


def test_feeding_twice_queues_nothing_twice_and_sigterm_drains(world, tmp_path):
    """A feeder killed after feeding everything is resumed: nothing is queued again. A worker
    told to stop (SIGTERM) finishes and delivers what it holds; another one completes."""
    _, _, domains = world
    server = RedisServer(tmp_path / "redis").start()
    try:
        url = server.url
        client = redis.Redis.from_url(url)
        db, jsonl = tmp_path / "twice.db", tmp_path / "twice.jsonl"
        args = [*scan_args(world, db, jsonl), "--redis", url, "-q"]
        first = start(args, tmp_path / "first.log")
        token = wait_for(lambda: db.exists() and _token_or_none(db), 30, "the scan")
        keys = ScanKeys(token)
        wait_for(lambda: client.hget(keys.scan, "input_complete") == b"1", 30, "input read")
        first_epoch = client.hget(keys.scan, "epoch")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        queued = client.lrange(keys.requests, 0, -1)
        assert len(queued) == len(domains) == client.scard(keys.dupefilter)

        second = start([*args, "--resume"], tmp_path / "second.log")
        wait_for(lambda: client.hget(keys.scan, "epoch") != first_epoch, 30, "the resumed feeder")
        time.sleep(1.0)  # it publishes, then queues what Redis lacks, in one go
        assert client.lrange(keys.requests, 0, -1) == queued  # nothing queued twice
        assert client.scard(keys.dupefilter) == len(domains)

        drained = start_worker(url, tmp_path / "drained.log", "drained")

        def draining_worker():
            for name in client.smembers(keys.workers):
                if client.llen(keys.processing(name.decode())) > 0 and stored(db) > 0:
                    return name.decode()
            return None

        name = wait_for(draining_worker, 60, "a worker holding domains")
        drained.send_signal(signal.SIGTERM)
        assert drained.wait(60) == 0, (tmp_path / "drained.log").read_text()[-2000:]
        assert client.llen(keys.processing(name)) == 0  # everything it held was delivered
        assert client.hget(keys.scan, "requeued") in (None, b"0")  # nothing was given back
        assert not client.exists(f"icpscan:worker:{name}")  # it unregistered

        # the drained worker may have finished the scan: this one then exits at once
        finisher = start_worker(url, tmp_path / "finisher.log", "finisher", scan=token)
        assert second.wait(120) == 0, (tmp_path / "second.log").read_text()[-3000:]
        assert finisher.wait(60) == 0
    finally:
        server.stop()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT domain, count(*) FROM domains GROUP BY domain").fetchall()
    assert sorted(d for d, _ in rows) == sorted(domains)
    assert {count for _, count in rows} == {1}
    assert [r["domain"] for r in read_jsonl(jsonl)] == domains


def test_a_redis_restart_mid_run_is_survived_and_reported(world, reference, tmp_path):
    _, _, domains = world
    server = RedisServer(tmp_path / "redis").start()
    db, jsonl, log = tmp_path / "restart.db", tmp_path / "restart.jsonl", tmp_path / "feeder.log"
    try:
        feeder = start([*scan_args(world, db, jsonl), "--redis", server.url, "-q"], log)
        workers = [start_worker(server.url, tmp_path / f"w{i}.log", f"r{i}") for i in range(2)]
        wait_for(lambda: stored(db) >= 15, 60, "15 stored domains")
        before = stored(db)
        server.restart(down_for=1.5)  # a Redis without persistence comes back empty
        assert feeder.wait(180) == 0, log.read_text()[-3000:]
        assert [w.wait(60) for w in workers] == [0, 0]
    finally:
        server.stop()
    assert before < len(domains), "Redis restarted mid-run"
    text = log.read_text()
    assert "icpscan: redis unreachable (" in text
    assert "icpscan: redis lost scan 1's state (restarted without persistence, or flushed):" in text
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT domain, count(*) FROM domains GROUP BY domain").fetchall()
    assert sorted(d for d, _ in rows) == sorted(domains)
    assert {count for _, count in rows} == {1}
    _, local = reference
    ours = read_jsonl(jsonl)
    assert [without_timings(r) for r in ours] == [without_timings(r) for r in local]


def test_collect_finishes_a_scan_whose_feeder_died(world, tmp_path):
    sandbox, _, domains = world
    subset = tmp_path / "subset.txt"
    subset.write_text("\n".join(domains[:30]) + "\n", encoding="utf-8")
    server = RedisServer(tmp_path / "redis").start()
    db = tmp_path / "collect.db"
    try:
        client = redis.Redis.from_url(server.url)
        feeder = start(["scan", str(subset), "--db", str(db), "--redis", server.url, "-q",
                        *sandbox.scan_args(), *FAST], tmp_path / "feeder.log")  # fmt: skip
        keys = ScanKeys(wait_for(lambda: db.exists() and _token_or_none(db), 30, "the scan"))
        wait_for(lambda: client.hget(keys.scan, "input_complete") == b"1", 30, "input read")
        feeder.send_signal(signal.SIGKILL)
        feeder.wait(10)
        worker = start_worker(server.url, tmp_path / "worker.log", "c")
        collected = subprocess.run(icpscan_command("collect", "--redis", server.url, "--db",
                                                   str(db)),
                                   capture_output=True, text=True, env=os.environ, timeout=120,
                                   check=False)  # fmt: skip
        assert collected.returncode == 0, collected.stderr[-3000:]
        assert worker.wait(60) == 0
    finally:
        server.stop()
    assert collected.stderr.startswith("Scan 1 · ")
    assert "30 domains: " in collected.stderr  # the summary a local scan prints
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT domain, count(*) FROM domains GROUP BY domain").fetchall()
        status = conn.execute("SELECT status FROM scans").fetchall()
    assert sorted(d for d, _ in rows) == sorted(domains[:30])
    assert {count for _, count in rows} == {1}
    assert status == [("finished",)]
