"""Crawl-layer throughput: icpscan's homepage crawl vs plain Scrapy, measured in the same run.

Starts a small HTTPS/HTTP server on loopback (asyncio, a ~5 KB page per Host, trustme
certificate), then crawls N distinct host names three ways, each in its own process:

* ``icpscan``: ``python -m icpscan.crawl`` with the add-on (pinned handler, TLS facts, redirect
  detection, one record per domain), names resolved from a static table, ``--connect-to``;
* ``icpscan-untuned``: the same with Scrapy's default CONCURRENT_ITEMS, generator-return check,
  middlewares and extensions (what the add-on's tuning is worth);
* ``scrapy-baseline``: a minimal Scrapy spider with all defaults, a host-map resolver and a
  regex callback -- what a researcher would write (ENGINEERING-NOTES §6 measured ~245 pages/s).

Prints, per configuration (rounds interleaved, best kept): pages/s (wall, including process
start-up) and the crawler's CPU per page, then ratios. The server runs in this process and
shares the two cores, so on this machine wall rates are partly the server's; the CPU per page
is the crawler's own cost. Loopback only. Noisy on a shared machine: compare within one run.

    python bench/crawl_bench.py --sites 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>{host}</title></head><body>"
    + "<p>新闻 资讯 产品 服务 关于我们</p>" * 120
    + "<footer>京ICP备12345678号-1 京公网安备11010502030143号 {host}</footer></body></html>"
)


class _Page(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer:
            return
        host = b"unknown"
        for line in self.buffer.split(b"\r\n"):
            if line[:5].lower() == b"host:":
                host = line[5:].strip().split(b":")[0]
        body = PAGE.format(host=host.decode("latin-1")).encode()
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nServer: bench\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        self.transport.close()


def _serve(ready: list, certificate) -> None:
    async def main():
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        loop = asyncio.get_running_loop()
        plain = await loop.create_server(_Page, "127.0.0.1", 0, backlog=1024)
        tls = await loop.create_server(_Page, "127.0.0.1", 0, ssl=context, backlog=1024)
        ready.append((plain.sockets[0].getsockname()[1], tls.sockets[0].getsockname()[1]))
        await asyncio.Event().wait()

    asyncio.run(main())


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{command[:4]} failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


UNTUNED = {
    "CONCURRENT_ITEMS": 100,
    "WARN_ON_GENERATOR_RETURN_VALUE": True,
    "DOWNLOADER_MIDDLEWARES_BASE": {
        "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": 50,
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 100,
        "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": 300,
        "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware": 350,
        "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware": 400,
        "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": 500,
        "icpscan.crawl.middlewares.TransientRetryMiddleware": 550,
        "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": 590,
        "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": 750,
        "scrapy.downloadermiddlewares.stats.DownloaderStats": 850,
    },
    "SPIDER_MIDDLEWARES_BASE": {
        "scrapy.spidermiddlewares.start.StartSpiderMiddleware": 25,
        "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware": 50,
        "scrapy.spidermiddlewares.referer.RefererMiddleware": 700,
        "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": 800,
        "scrapy.spidermiddlewares.depth.DepthMiddleware": 900,
    },
    "EXTENSIONS_BASE": {
        "scrapy.extensions.corestats.CoreStats": 0,
        "scrapy.extensions.logcount.LogCount": 0,
        "scrapy.extensions.memusage.MemoryUsage": 0,
        "scrapy.extensions.closespider.CloseSpider": 0,
        "scrapy.extensions.logstats.LogStats": 0,
        "scrapy.extensions.spiderstate.SpiderState": 0,
        "scrapy.extensions.throttle.AutoThrottle": 0,
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--baseline-worker", nargs=2, metavar=("TLS_PORT", "COUNT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.baseline_worker:
        _baseline_worker(int(args.baseline_worker[0]), int(args.baseline_worker[1]))
        return

    import trustme

    names = [f"site{n:06d}.test" for n in range(args.sites)]
    certificate = trustme.CA().issue_cert("*.test")
    ready: list = []
    threading.Thread(target=_serve, args=(ready, certificate), daemon=True).start()
    while not ready:
        time.sleep(0.01)
    http_port, tls_port = ready[0]

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "ICPSCAN_LOOPBACK_ONLY": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        jobs = Path(tmp) / "jobs.txt"
        jobs.write_text("".join(f"{n}\n" for n in names))
        hosts = Path(tmp) / "hosts.json"
        # Public addresses, as DNS would give; --connect-to lands them here.
        hosts.write_text(
            json.dumps({n: f"1.2.{i // 250 % 250}.{i % 250 + 1}" for i, n in enumerate(names)})
        )
        common = [
            sys.executable, "-m", "icpscan.crawl", str(jobs), "-o", os.devnull,
            "--static-hosts", str(hosts),
            "--connect-to", f":443:127.0.0.1:{tls_port}",
            "--connect-to", f":80:127.0.0.1:{http_port}",
            "--set", "LOG_LEVEL=WARNING",
        ]  # fmt: skip
        untuned = [
            arg for key, value in UNTUNED.items() for arg in ("--set", f"{key}={json.dumps(value)}")
        ]
        runs = {
            "icpscan": common,
            "icpscan-untuned": common + untuned,
            "scrapy-baseline": [
                sys.executable,
                __file__,
                "--baseline-worker",
                str(tls_port),
                str(args.sites),
            ],
        }
        best: dict[str, tuple[float, float]] = {}
        for round_number in range(1, args.rounds + 1):  # interleaved: load drifts alike
            for label, command in runs.items():
                wall, cpu, out = _run(command, env)
                if label == "scrapy-baseline":
                    assert out.strip() == str(args.sites), out[-500:]
                rate, cpu_ms = args.sites / wall, 1000 * cpu / args.sites
                print(
                    f"round {round_number} {label:16s} {rate:7.0f} pages/s  wall {wall:6.2f} s"
                    f"  crawler cpu {cpu_ms:5.2f} ms/page"
                )
                previous = best.get(label)
                best[label] = (
                    (max(rate, previous[0]), min(cpu_ms, previous[1]))
                    if previous
                    else (rate, cpu_ms)
                )

    (ours, ours_cpu), (untuned, untuned_cpu), (base, base_cpu) = (
        best[k] for k in ("icpscan", "icpscan-untuned", "scrapy-baseline")
    )
    print(
        f"crawl_bench: icpscan {ours:.0f} pages/s ({ours_cpu:.2f} ms cpu/page), "
        f"untuned {untuned:.0f} pages/s ({untuned_cpu:.2f}), scrapy defaults {base:.0f} pages/s "
        f"({base_cpu:.2f}), tuning x{ours / untuned:.2f}, vs baseline x{ours / base:.2f} "
        f"(sites={args.sites}, https, best of {args.rounds}, wall incl. process start-up)"
    )


def _baseline_worker(tls_port: int, count: int) -> None:
    """A minimal Scrapy crawl with every default: the notes' baseline."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    pattern = re.compile(r"ICP\s*备\s*(\d{6,12})")

    class Baseline(scrapy.Spider):
        name = "baseline"
        found = 0

        async def start(self):
            for n in range(count):
                yield scrapy.Request(f"https://site{n:06d}.test:{tls_port}/", dont_filter=True)

        def parse(self, response):
            if pattern.search(response.text):
                Baseline.found += 1
            yield {"url": response.url}

    process = CrawlerProcess(
        {"TWISTED_DNS_RESOLVER": "bench.crawl_bench.LoopbackResolver", "LOG_LEVEL": "WARNING",
         "TELNETCONSOLE_ENABLED": False}
    )  # fmt: skip
    process.crawl(Baseline)
    process.start()
    print(Baseline.found)


try:  # the baseline's resolver: every name is 127.0.0.1 (ENGINEERING-NOTES §6's HostMapResolver)
    from scrapy.resolver import CachingThreadedResolver
    from twisted.internet import defer

    class LoopbackResolver(CachingThreadedResolver):
        def getHostByName(self, name, timeout=()):
            return defer.succeed("127.0.0.1")

except ImportError:  # pragma: no cover
    pass


if __name__ == "__main__":
    main()
