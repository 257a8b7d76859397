"""How fast the sandbox web farm serves 20-150 KB pages over loopback.

The server runs in a child process (so it has its own interpreter and core); a simple asyncio
client in this process fetches pages from many virtual hosts. Printed per mode: responses/s,
MB/s, and the server's CPU time per response (the figure that matters when the farm shares two
cores with a scanner). Also printed: how long a farm takes to start
for 1k and 100k sites (certificates are issued lazily, so this must not grow with the world).
The baseline, measured in the same run with the same client, is the bare
asyncio Protocol server of the engineering notes (find the blank line, look up the Host, write a
prepared page): it shows what the farm's parsing (h11) and World lookups cost on top.

    python bench/sandbox_farm_bench.py [--sites 1000] [--requests 6000] [--concurrency 64]

Only loopback is used (the icpscan loopback guard is armed).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import ssl
import sys
import time
import typing
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from icpscan import egress
from icpscan.sandbox.certs import SandboxCA
from icpscan.sandbox.farm import Farm
from icpscan.sandbox.world import CertMode, Host, Response, World

FILLER = ("<p>新闻动态 news block 联系我们 about us 版权所有 copyright</p>\n" * 3000).encode()


def page_size(i: int) -> int:
    return random.Random(i).randrange(20_000, 150_000)


def build_world(sites: int) -> World:
    hosts = {}
    for i in range(sites):
        size = page_size(i)
        # Callables, as the scenario generator writes them: a 100k-site world stays small.
        body = lambda size=size: FILLER[:size]  # noqa: E731
        response = Response(headers=[("Content-Type", "text/html; charset=utf-8")], body=body)
        hosts[f"site{i}.test"] = Host(http={"/": response}, https={"/": response})
    return World(hosts=hosts)


# -- servers (child processes) -------------------------------------------------------------------


def serve_farm(sites: int, conn) -> None:
    egress.install_loopback_guard()
    farm = Farm(build_world(sites)).start()
    conn.send((farm.http_port, farm.https_port, str(farm.ca_cert_path)))
    conn.recv()  # wait for "stop"
    conn.send(farm.requests)
    farm.stop()


class _Baseline(asyncio.Protocol):
    pages: typing.ClassVar[dict[bytes, bytes]] = {}

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            host = b""
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"host":
                    host = value.strip()
            page = self.pages.get(host, b"")
            close = b"connection: close" in head.lower()
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                b"Content-Length: %d\r\nConnection: %s\r\n\r\n"
                % (len(page), b"close" if close else b"keep-alive")
            )
            self.transport.write(page)
            if close:
                self.transport.close()
                return


def serve_baseline(sites: int, conn) -> None:
    egress.install_loopback_guard()
    _Baseline.pages = {f"site{i}.test".encode(): FILLER[: page_size(i)] for i in range(sites)}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Baseline, "127.0.0.1", 0)
        conn.send((server.sockets[0].getsockname()[1], 0, ""))
        await loop.run_in_executor(None, conn.recv)
        conn.send(0)
        server.close()

    asyncio.run(main())


# -- client ---------------------------------------------------------------------------------------


async def fetch(reader, writer, host: str, close: bool) -> int:
    writer.write(
        f"GET / HTTP/1.1\r\nHost: {host}\r\nAccept: text/html\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head[:80])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    return len(body)


async def run_client(port, tls, requests, concurrency, sites, close) -> tuple[float, int]:
    queue = list(range(requests))
    received = 0

    async def worker() -> None:
        nonlocal received
        reader = writer = None
        while queue:
            i = queue.pop()
            host = f"site{i % sites}.test"
            if reader is None:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=tls, server_hostname=host if tls else None
                )
            size = await fetch(reader, writer, host, close)
            received += size
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, received


def measure(name, target, args, modes) -> dict[str, float]:
    parent, child = mp.Pipe()
    process = mp.Process(target=target, args=(args.sites, child), daemon=True)
    process.start()
    http_port, https_port, ca_path = parent.recv()
    server = psutil.Process(process.pid)
    results = {}
    for mode, tls_wanted, close in modes:
        tls = None
        if tls_wanted:
            tls = ssl.create_default_context(cafile=ca_path)
        port = https_port if tls_wanted else http_port
        asyncio.run(run_client(port, tls, 200, 8, args.sites, close))  # warm up (certs, caches)
        cpu_before = sum(server.cpu_times()[:2])
        elapsed, received = asyncio.run(
            run_client(port, tls, args.requests, args.concurrency, args.sites, close)
        )
        cpu = sum(server.cpu_times()[:2]) - cpu_before
        rate = args.requests / elapsed
        results[mode] = cpu / args.requests * 1000
        print(
            f"{name:<9} {mode:<16} {rate:8.0f} responses/s  {received / elapsed / 1e6:7.1f} MB/s"
            f"  server CPU {cpu / args.requests * 1000:.3f} ms/response"
        )
    parent.send("stop")
    parent.recv()
    process.join(10)
    return results


def measure_certificates(count: int = 500) -> None:
    ca = SandboxCA(cache_size=count)
    started = time.process_time()
    for i in range(count):
        ca.context_for(f"new{i}.test", CertMode.VALID)
    elapsed = time.process_time() - started
    print(f"certificate for a host first seen in SNI: {elapsed / count * 1000:.2f} ms CPU")


def measure_startup() -> None:
    for sites in (1000, 100_000):
        world = build_world(sites)
        started = time.perf_counter()
        farm = Farm(world).start()
        elapsed = time.perf_counter() - started
        rules = len(farm.connect_to_rules())
        farm.stop()
        print(f"farm start, {sites:>6} sites: {elapsed * 1000:5.1f} ms ({rules} connect-to rules)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    egress.install_loopback_guard()
    mp.set_start_method("fork")
    mean_kb = sum(page_size(i) for i in range(args.sites)) / args.sites / 1000
    print(
        f"{args.sites} sites, pages 20-150 KB (mean {mean_kb:.0f} KB), {args.requests} requests,"
        f" concurrency {args.concurrency}"
    )
    modes = [
        ("http keep-alive", False, False),
        ("http close", False, True),
        ("https keep-alive", True, False),
        ("https close", True, True),
    ]
    measure_startup()
    measure_certificates()
    base = measure("baseline", serve_baseline, args, modes[:2])
    farm = measure("farm", serve_farm, args, modes)
    for mode, ms in base.items():
        print(f"farm/baseline server CPU per response, {mode}: {farm[mode] / ms:.2f}x")


if __name__ == "__main__":
    main()
