"""End-to-end throughput: ``icpscan scan`` vs the naive script a researcher would write.

Starts the offline sandbox (profile "bench": healthy 20-150 KB pages in mixed encodings, ~10%
redirects, ~5% failures) in its own process -- the web farm in a child, the DNS server in a
grandchild (:class:`~icpscan.sandbox.dns_process.DnsServerProcess`) -- so it competes with the
scanner only for the CPU it really uses. Then, in the same run and on the same domains:

* ``icpscan scan`` end to end (resolve, locate, fetch, extract, assess, store in SQLite),
  ``--workers`` processes (default: every core) -- the real command, as a user runs it on a
  large list: ``--format jsonl -o results.jsonl`` (the terminal table costs ~0.6 ms a row);
* the naive baseline: requests + ThreadPoolExecutor + BeautifulSoup, dnspython's sync resolver
  pointed at the sandbox DNS, ipwhois ``IPASN`` (``asn_methods=["dns"]``) through the sandbox's
  Team-Cymru zone; requests land on the farm through the same connect-to rules (a transport
  adapter connects to the loopback port and keeps the Host header and TLS SNI).

Prints domains/s for both, the ratio, CPU seconds (scanner processes, and the sandbox's own),
peak RSS (sum over the scan's processes, sampled with psutil) and a correctness check of the
scan against the sandbox's truth (every domain exactly once; region and reached as expected).
The last line is always::

    scan_bench: icpscan X dom/s, baseline Y dom/s, ratio R, peak_rss M MB

Server certificates are issued before the clock starts (``--cold-certs`` issues them on first
use instead): issuing one costs the farm ~1 ms, which is the sandbox's cost, not the scanner's.
Everything stays on loopback. The machine is shared: run it twice and compare within a run.

    /work/venv/bin/python bench/scan_bench.py --sites 3000 [--workers 2] [--baseline-sites 600]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


# -- the sandbox, in its own process ----------------------------------------------------------


def serve(directory: Path, sites: int, seed: int, prewarm: bool) -> None:
    """Child process: serve the bench world until stdin closes; one JSON line when ready."""
    from icpscan import egress
    from icpscan.sandbox.dns_process import DnsServerProcess
    from icpscan.sandbox.farm import Farm
    from icpscan.sandbox.scenario import generate

    egress.install_loopback_guard()
    scenario = generate(sites, seed, "bench")
    scenario.write_files(directory)
    dns = DnsServerProcess(scenario.world).start()
    farm = Farm(scenario.world, state_dir=directory)
    issued = farm.prewarm_certificates() if prewarm else 0
    bodies = farm.prewarm_bodies() if prewarm else 0
    farm.start()
    farm.write_connect_to_file(directory / "connect-to.txt")
    ready = {
        "nameserver": f"127.0.0.1:{dns.port}",
        "dns_pid": dns.pid,
        "issued": issued,
        "bodies": bodies,
    }
    print(json.dumps(ready), flush=True)
    try:
        sys.stdin.read()  # until the parent closes the pipe (or dies)
    finally:
        farm.stop()
        dns.stop()


class SandboxProcess:
    def __init__(self, directory: Path, sites: int, seed: int, prewarm: bool) -> None:
        self.directory = directory
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                str(directory),
                "--sites",
                str(sites),
                "--seed",
                str(seed),
                *(["--prewarm"] if prewarm else []),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the sandbox did not start")
        self.info = json.loads(line)

    @property
    def nameserver(self) -> str:
        return str(self.info["nameserver"])

    def scan_args(self) -> list[str]:
        return [
            "--nameserver",
            self.nameserver,
            "--connect-to-file",
            str(self.directory / "connect-to.txt"),
            "--ca-bundle",
            str(self.directory / "ca.pem"),
            "--loopback-only",
        ]

    def cpu_seconds(self) -> float:
        import psutil

        total = 0.0
        for pid in (self.proc.pid, self.info["dns_pid"]):
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- measuring a process tree -----------------------------------------------------------------


class TreeSampler(threading.Thread):
    """Samples the RSS of a process and its descendants: peak of the sum, peak per process."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_total = 0
        self.peak_each: dict[str, int] = {}
        self.cpu_each: dict[int, tuple[str, float]] = {}  # last CPU seconds seen per process
        self.stop_event = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.stop_event.is_set():
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in procs:
                try:
                    rss = proc.memory_info().rss
                    name = _role(proc.cmdline())
                    times = proc.cpu_times()
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue
                total += rss
                self.cpu_each[proc.pid] = (name, times.user + times.system)
                self.peak_each[name] = max(self.peak_each.get(name, 0), rss)
            self.peak_total = max(self.peak_total, total)
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.join()


def _role(cmdline: list[str]) -> str:
    if "icpscan.worker" in cmdline:
        return "worker " + cmdline[-1]
    if "--baseline" in cmdline:
        return "baseline"
    return "scan (parent)"


def run_measured(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``command``; wall time, CPU of the whole tree (rusage of waited children), RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()
        stdout, _ = proc.communicate()
        wall = time.perf_counter() - started
        sampler.stop()
        if proc.returncode != 0:
            stderr.seek(0)
            raise SystemExit(f"{' '.join(command[:4])} failed:\n{stderr.read().decode()[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu_by_role: dict[str, float] = {}
    if os.environ.get("SCAN_BENCH_DEBUG"):
        print(sampler.cpu_each, file=sys.stderr)
    for role, seconds in sampler.cpu_each.values():
        key = "workers" if role.startswith("worker") else role
        cpu_by_role[key] = cpu_by_role.get(key, 0.0) + seconds
    return {
        "wall": wall,
        "cpu": cpu,
        "peak_total": sampler.peak_total,
        "peak_each": sampler.peak_each,
        "cpu_by_role": cpu_by_role,
        "stdout": stdout,
    }


# -- the naive baseline -----------------------------------------------------------------------

ICP_TEXT = re.compile(r"ICP\s*[备证]\s*\d{6,12}\s*号(?:-\d+)?")
PSB_TEXT = re.compile(r"公网安备\s*\d{14}\s*号?")


def baseline(directory: Path, nameserver: str, threads: int, limit: int) -> None:
    """Child process: the script a researcher would write; prints one JSON line."""
    from urllib.parse import urlsplit

    import dns.resolver
    import ipwhois.net
    import requests
    from bs4 import BeautifulSoup
    from ipwhois.asn import IPASN
    from requests.adapters import HTTPAdapter

    from icpscan import egress
    from icpscan.crawl.connect_to import ConnectionOverrides, load_connect_to_file

    egress.install_loopback_guard()
    host, port = nameserver.rsplit(":", 1)
    real_resolver = dns.resolver.Resolver

    def sandbox_resolver() -> dns.resolver.Resolver:
        resolver = real_resolver(configure=False)  # never /etc/resolv.conf
        resolver.nameservers = [host]
        resolver.port = int(port)
        resolver.timeout = resolver.lifetime = 3.0
        return resolver

    # ipwhois builds a system resolver inside Net(); give it the sandbox's (ENGINEERING-NOTES §3)
    ipwhois.net.dns.resolver.Resolver = lambda *a, **k: sandbox_resolver()  # type: ignore[assignment]
    rules = ConnectionOverrides.parse(
        [str(r) for r in load_connect_to_file(directory / "connect-to.txt")], []
    )

    class ConnectToAdapter(HTTPAdapter):
        """Connect to the loopback port a connect-to rule names; URL, Host and SNI unchanged."""

        def build_connection_pool_key_attributes(self, request, verify, cert=None):  # type: ignore[no-untyped-def]
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(
                request, verify, cert
            )
            parts = urlsplit(request.url)
            default = 443 if parts.scheme == "https" else 80
            target = rules.connect_target(parts.hostname or "", parts.port or default)
            if target is None:
                raise requests.ConnectionError(f"no connect-to rule for {parts.hostname}")
            if parts.scheme == "https":
                pool_kwargs["server_hostname"] = parts.hostname
                pool_kwargs["assert_hostname"] = parts.hostname
            host_params["host"], host_params["port"] = target
            return host_params, pool_kwargs

        def send(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
            request.headers["Host"] = urlsplit(request.url).netloc
            return super().send(request, *args, **kwargs)

    local = threading.local()
    ca_file = str(directory / "ca.pem")  # per request: REQUESTS_CA_BUNDLE beats Session.verify

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            s = requests.Session()
            adapter = ConnectToAdapter()
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            s.trust_env = False  # no proxies from the environment: loopback only
            local.session = s
            local.resolver = sandbox_resolver()
        return local.session  # type: ignore[no-any-return]

    def scan(domain: str) -> dict[str, Any]:
        row: dict[str, Any] = {"domain": domain, "ips": [], "asn": None, "status": None}
        s = session()
        try:
            row["ips"] = [r.address for r in local.resolver.resolve(domain, "A")]
        except Exception as exc:
            row["dns_error"] = type(exc).__name__
            return row
        try:
            asn = IPASN(ipwhois.net.Net(row["ips"][0])).lookup(
                asn_methods=["dns"], get_asn_description=False, retry_count=1
            )
            row["asn"], row["asn_country"] = asn["asn"], asn["asn_country_code"]
        except Exception as exc:
            row["asn_error"] = type(exc).__name__
        for url in (f"https://{domain}/", f"http://{domain}/"):
            try:
                response = s.get(url, timeout=10, verify=ca_file)
            except Exception as exc:
                row["fetch_error"] = type(exc).__name__
                continue
            soup = BeautifulSoup(response.text, "lxml")
            text = soup.get_text(" ")
            row.update(
                status=response.status_code,
                url=response.url,
                title=soup.title.string if soup.title else None,
                icp=ICP_TEXT.findall(text),
                psb=PSB_TEXT.findall(text),
                links=len(soup.find_all("a")),
            )
            break
        return row

    domains = (directory / "domains.txt").read_text(encoding="utf-8").split()[:limit]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        rows = list(pool.map(scan, domains))
    wall = time.perf_counter() - started
    fetched = sum(1 for r in rows if r["status"] is not None)
    numbers = sum(1 for r in rows if r.get("icp"))
    print(json.dumps({"domains": len(rows), "wall": wall, "fetched": fetched, "with_icp": numbers}))


# -- checking the scan ------------------------------------------------------------------------


def check_scan(db_path: Path, truth_path: Path) -> tuple[int, int, list[str]]:
    """(records, distinct domains, problems) of the scan against the sandbox truth."""
    truth = {}
    for line in truth_path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        truth[item["domain"]] = item
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT domain, region, reached FROM domains").fetchall()
    conn.close()
    problems = []
    seen = {}
    for domain, region, reached in rows:
        seen[domain] = (region, reached)
    for domain, item in truth.items():
        got = seen.get(domain)
        if got is None:
            problems.append(f"{domain}: missing")
        elif got != (item["region"], int(item["reachable"])):
            problems.append(f"{domain}: got {got}, truth {(item['region'], item['reachable'])}")
    problems += [f"{d}: not in the input" for d in seen.keys() - truth.keys()]
    return len(rows), len(seen), problems


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--baseline-sites",
        type=int,
        default=None,
        help="domains for the baseline (default: all; it is ~10x slower)",
    )
    parser.add_argument("--baseline-threads", type=int, default=32)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--cold-certs", action="store_true", help="let the farm issue certificates during the scan"
    )
    parser.add_argument(
        "--scan-option",
        action="append",
        default=[],
        help="extra option for icpscan scan (repeatable)",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the files here")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--prewarm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--nameserver", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.sites, args.seed, args.prewarm)
        return
    if args.baseline:
        baseline(args.baseline, args.nameserver, args.baseline_threads, args.sites)
        return

    directory = Path(tempfile.mkdtemp(prefix="scan-bench-"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    print(
        f"scan_bench: {args.sites} sites (profile bench, seed {args.seed}), "
        f"{args.workers} workers, {os.cpu_count()} CPUs; sandbox in its own processes"
    )
    started = time.perf_counter()
    box = SandboxProcess(directory, args.sites, args.seed, prewarm=not args.cold_certs)
    print(
        f"  sandbox ready in {time.perf_counter() - started:.1f}s "
        f"({box.info['issued']} certificates issued and {box.info['bodies']} pages built "
        "before the clock)"
    )
    try:
        sandbox_cpu = box.cpu_seconds()
        db = directory / "bench.db"
        scan = run_measured(
            [
                sys.executable,
                "-m",
                "icpscan",
                "scan",
                str(directory / "domains.txt"),
                "--db",
                str(db),
                "-q",
                "--workers",
                str(args.workers),
                "--format",
                "jsonl",
                "-o",
                str(directory / "results.jsonl"),
                *box.scan_args(),
                *args.scan_option,
            ],
            env,
        )
        sandbox_scan_cpu = box.cpu_seconds() - sandbox_cpu
        records, distinct, problems = check_scan(db, directory / "truth.jsonl")
        rate = args.sites / scan["wall"]
        print(
            f"icpscan scan: {args.sites} domains in {scan['wall']:.1f}s = {rate:.0f} dom/s; "
            f"CPU {scan['cpu']:.1f}s ({1000 * scan['cpu'] / args.sites:.2f} ms/domain); "
            f"sandbox CPU {sandbox_scan_cpu:.1f}s "
            f"({1000 * sandbox_scan_cpu / args.sites:.2f} ms/domain)"
        )
        print(
            "  CPU by process (last sample, so slightly low): "
            + ", ".join(
                f"{role} {seconds:.1f}s" for role, seconds in sorted(scan["cpu_by_role"].items())
            )
        )
        print(
            f"  peak RSS: {scan['peak_total'] / 2**20:.0f} MB total; "
            + ", ".join(f"{k} {v / 2**20:.0f} MB" for k, v in sorted(scan["peak_each"].items()))
        )
        print(
            f"  check: {records} records, {distinct} distinct domains, "
            f"{len(problems)} differ from the truth (region, reached)"
        )
        for problem in problems[:10]:
            print(f"    {problem}")
        base_rate = 0.0
        if not args.skip_baseline:
            limit = min(args.sites, args.baseline_sites or args.sites)
            sandbox_cpu = box.cpu_seconds()
            base = run_measured(
                [
                    sys.executable,
                    __file__,
                    "--baseline",
                    str(directory),
                    "--nameserver",
                    box.nameserver,
                    "--sites",
                    str(limit),
                    "--baseline-threads",
                    str(args.baseline_threads),
                ],
                env,
            )
            sandbox_base_cpu = box.cpu_seconds() - sandbox_cpu
            result = json.loads(base["stdout"].strip().splitlines()[-1])
            base_rate = result["domains"] / base["wall"]
            print(
                f"baseline (requests + {args.baseline_threads} threads + BeautifulSoup + "
                f"dnspython + ipwhois): {result['domains']} domains in {base['wall']:.1f}s = "
                f"{base_rate:.0f} dom/s; CPU {base['cpu']:.1f}s "
                f"({1000 * base['cpu'] / result['domains']:.2f} ms/domain); sandbox CPU "
                f"{sandbox_base_cpu:.1f}s; peak RSS {base['peak_total'] / 2**20:.0f} MB; "
                f"{result['fetched']} fetched, {result['with_icp']} with an ICP number"
            )
    finally:
        box.stop()
        if args.keep:
            shutil.copytree(directory, args.keep, dirs_exist_ok=True)
        shutil.rmtree(directory, ignore_errors=True)
    ratio = rate / base_rate if base_rate else float("nan")
    print(
        f"scan_bench: icpscan {rate:.0f} dom/s, baseline {base_rate:.0f} dom/s, "
        f"ratio {ratio:.1f}, peak_rss {scan['peak_total'] / 2**20:.0f} MB"
    )


if __name__ == "__main__":
    main()
