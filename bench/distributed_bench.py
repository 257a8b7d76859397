"""Distributed scans on this machine: domains/s with 1, 2 and 4 worker processes, what one
domain costs the shared Redis, and a local scan of the same list as the baseline.

Starts a redis-server (loopback, no persistence) and the offline sandbox (``bench`` profile),
then scans the same domain list:

* ``local-1`` / ``local-2``: ``icpscan scan --workers N`` (the baseline, same run);
* ``redis-N``: ``icpscan scan --redis URL`` (feeder + collector) and one ``icpscan worker
  --processes N``, for N in 1, 2, 4.

Rates are wall clock, from starting the commands to the feeder's exit (process start-up
included, as a user sees it). Per domain it prints the Redis commands the server executed,
the round trips the clients made (counted by icpscan's client), the bytes in and out of the
server, the server's CPU time and the time clients spent waiting for Redis. The machine has two
cores shared by the crawlers, the feeder, the sandbox's servers and Redis, so the curve
flattens at two; figures are noisy on a shared machine, so rounds are interleaved and the best
kept. Loopback only. ``--network-rate 0``: the politeness budget is measured separately
(``--with-budget`` adds a run with it on; the bench world spreads its sites over ~3,000 /24s).

    python bench/distributed_bench.py --sites 3000 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import redis  # noqa: E402

from icpscan.sandbox.runner import Sandbox  # noqa: E402
from icpscan.sandbox.scenario import generate  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

FAST = ["--timeout", "5", "--dns-timeout", "2", "--dns-retries", "1", "-q"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env["ICPSCAN_LOOPBACK_ONLY"] = "1"
    return env


def _icpscan(*args: str) -> list[str]:
    return [sys.executable, "-m", "icpscan", *args]


def _server_counters(client: redis.Redis) -> dict[str, float]:
    stats = client.info("stats")
    commands = client.info("commandstats")
    return {
        # every command the server ran, those inside Lua scripts and MULTI blocks included
        "commands": sum(v["calls"] for v in commands.values()),
        "bytes_in": stats["total_net_input_bytes"],
        "bytes_out": stats["total_net_output_bytes"],
        "server_usec": sum(v["usec"] for v in commands.values()),
    }


def _run_local(box: Sandbox, listing: Path, workers: int, tmp: Path) -> float:
    db = tmp / f"local-{workers}-{time.monotonic_ns()}.db"
    args = ["scan", str(listing), "--db", str(db), "--format", "jsonl", "-o", os.devnull,
            "--workers", str(workers), *box.scan_args(), *FAST]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(_icpscan(*args), env=_env(), capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"local scan failed:\n{done.stderr[-2000:]}")
    return wall


def _run_distributed(
    box: Sandbox, listing: Path, processes: int, server: RedisServer, tmp: Path, rate: float
) -> tuple[float, dict[str, float], Path]:
    client = redis.Redis.from_url(server.url)
    client.flushall()
    client.config_resetstat()
    db = tmp / f"redis-{processes}-{time.monotonic_ns()}.db"
    feeder_args = ["scan", str(listing), "--db", str(db), "--format", "jsonl", "-o",
                   os.devnull, "--redis", server.url, "--network-rate", str(rate),
                   *box.scan_args(), *FAST]  # fmt: skip
    log = (tmp / "bench.log").open("ab")
    started = time.perf_counter()
    feeder = subprocess.Popen(_icpscan(*feeder_args), env=_env(), stderr=log)
    worker = subprocess.Popen(
        _icpscan("worker", "--redis", server.url, "--processes", str(processes), "--once"),
        env=_env(),
        stderr=log,
    )
    if feeder.wait(1800) != 0:
        raise SystemExit(f"feeder failed, see {tmp / 'bench.log'}")
    wall = time.perf_counter() - started
    worker.wait(120)  # its crawlers add their round trips as they leave
    log.close()
    counters = _server_counters(client)
    with sqlite3.connect(db) as conn:
        options = json.loads(conn.execute("SELECT options FROM scans").fetchone()[0])
    scan = client.hgetall(f"icpscan:{options['redis_scan']}:scan")
    counters["round_trips"] = float(scan.get(b"redis_round_trips", 0))
    counters["client_seconds"] = float(scan.get(b"redis_seconds", 0))
    counters["requeued"] = float(scan.get(b"requeued", 0))
    return wall, counters, db


def _writer_rate(source_db: Path, tmp: Path, count: int = 10_000) -> tuple[float, float]:
    """Records/s the single collector's SQLite writer sustains (JSON decode + write_results,
    500 per transaction), replaying this run's records under new names; and their mean size."""
    from icpscan import store

    with sqlite3.connect(source_db) as conn:
        texts = [row[0] for row in conn.execute("SELECT record FROM domains")]
    db = store.open_db(tmp / f"writer-{time.monotonic_ns()}.db")
    scan_id = store.create_scan(db, input_name="replay", options={})
    names = [f"replay{i}.cn" for i in range(count)]
    store.enqueue_targets(db, scan_id, [(n, n, i) for i, n in enumerate(names)], lines_read=count)
    payloads = []
    for i, name in enumerate(names):
        record = json.loads(texts[i % len(texts)])
        record["domain"] = name
        payloads.append(store.dumps(record))
    started = time.perf_counter()
    for first in range(0, count, 500):
        store.write_results(db, scan_id, [json.loads(t) for t in payloads[first : first + 500]])
    return count / (time.perf_counter() - started), sum(map(len, payloads)) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--with-budget", action="store_true",
                        help="also run 2 processes with --network-rate 10")  # fmt: skip
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="icpscan-distbench-"))
    box = Sandbox(generate(args.sites, 1, "bench"), tmp / "sandbox").start()
    server = RedisServer(tmp / "redis").start()
    try:
        listing = box.domains_file
        domains = len(listing.read_text(encoding="utf-8").split())
        best: dict[str, float] = {}
        costs: dict[str, dict[str, float]] = {}
        configs = [("local-1", 1, None), ("local-2", 2, None)]
        configs += [(f"redis-{p}", p, 0.0) for p in args.processes]
        if args.with_budget:
            configs.append(("redis-2-budget", 2, 10.0))
        for round_number in range(args.rounds):
            for name, count, rate in configs:
                if rate is None:
                    wall = _run_local(box, listing, count, tmp)
                else:
                    wall, counters, last_db = _run_distributed(
                        box, listing, count, server, tmp, rate
                    )
                    if name not in costs or wall < best[name]:
                        costs[name] = counters
                best[name] = min(best.get(name, wall), wall)
                print(f"round {round_number + 1} {name:15} {domains / wall:7.1f} domains/s"
                      f" ({wall:.1f} s)", flush=True)  # fmt: skip
        writer, record_size = _writer_rate(last_db, tmp)
    finally:
        server.stop()
        box.stop()

    print(f"\n{domains} domains (sandbox 'bench' profile), best of {args.rounds} rounds,"
          f" {os.cpu_count()} cores")  # fmt: skip
    print(f"{'configuration':15} {'domains/s':>10} {'vs local-1':>11}")
    for name in best:
        rate = domains / best[name]
        print(f"{name:15} {rate:10.1f} {rate * best['local-1'] / domains:10.2f}x")
    print("\nRedis cost per domain (whole scan: feeding, claims, results, heartbeats, stats,")
    print("politeness, collection; duplicates from requeues included)")
    header = f"{'configuration':15} {'commands':>9} {'round trips':>12} {'bytes in':>9}"
    print(header + f" {'bytes out':>10} {'server us':>10} {'client ms':>10}")
    for name, c in costs.items():
        print(f"{name:15} {c['commands'] / domains:9.1f} {c['round_trips'] / domains:12.2f}"
              f" {c['bytes_in'] / domains:9.0f} {c['bytes_out'] / domains:10.0f}"
              f" {c['server_usec'] / domains:10.1f}"
              f" {1000 * c['client_seconds'] / domains:10.2f}")  # fmt: skip
    print(f"\nThe collector's SQLite writer: {writer:,.0f} records/s ({record_size:,.0f}-byte"
          " records, 500 per transaction): the ceiling of one scan.")  # fmt: skip
    two = costs.get("redis-2") or next(iter(costs.values()))
    ops = two["commands"] / domains
    per_machine = domains / best.get("redis-2", min(best.values()))
    print(f"\nExtrapolation: {ops:.1f} Redis commands per domain x {per_machine:.0f} domains/s"
          f" per 2-core machine = {ops * per_machine:,.0f} commands/s per machine; a single"
          f" Redis at ~100,000 commands/s saturates near {100_000 / (ops * per_machine):,.0f}"
          f" such machines ({100_000 / ops:,.0f} domains/s).")  # fmt: skip


if __name__ == "__main__":
    main()
