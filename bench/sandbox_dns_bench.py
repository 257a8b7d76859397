"""Queries/s and server CPU per query of the sandbox DNS server, against a dnslib baseline.

    python bench/sandbox_dns_bench.py [--hosts 3000] [--seconds 4]

Loopback only (the egress guard is armed). Two clients:

* ``raw``: pre-encoded queries over one connected UDP socket, 64 in flight. The client costs a
  few microseconds per query, so this measures what the *server* can do.
* ``dnspython``: ``dns.asyncresolver`` at concurrency 100 resolving A + AAAA per host (half of
  the hosts sit behind a 2-hop CNAME chain), plus the two Cymru TXT lookups per address that
  the locate stage makes. This is the scanner's workload; the notes measured its ceiling at
  ~1.5k q/s with any server, because the dnspython client is CPU-bound.

Servers run in a child process (so client and server each get a core, as in a scan whose DNS
server is another process); then the dnspython client runs against ``DnsServer`` in its own
process (the pytest-fixture case: the server thread competes with the client for the GIL) and
against ``DnsServerProcess`` (the same server, started from the client's process as a child).
The baseline is dnslib's threaded ``DNSServer`` with a dict-backed resolver, as measured in
ENGINEERING-NOTES section 4. The machine has 2 cores shared with other work: run it twice and
expect +-15 % when it is quiet, much more when it is not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dns.asyncresolver
import dns.message
import dns.rdatatype
import dns.resolver

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from icpscan import egress  # noqa: E402

WORLD_SOURCE = textwrap.dedent(
    """
    import random
    from icpscan.sandbox.world import AsnInfo, AsnPrefix, DnsName, World

    def bench_world(hosts):
        rnd = random.Random(7)
        world = World()
        for i in range(hosts):
            p = i % 5000  # inside the i-th announced /16 below
            v4 = f"{(p * 37) % 223 + 1}.{p % 256}.{rnd.randrange(256)}.{i % 250 + 1}"
            records = {"A": [v4], "AAAA": [f"240e:{i:x}::1"]}
            if i % 2:
                world.dns[f"www.site{i}.cn"] = DnsName(records={"CNAME": [f"site{i}.cdn.test"]})
                world.dns[f"site{i}.cdn.test"] = DnsName(records={"CNAME": [f"e{i}.edge.test"]})
                world.dns[f"e{i}.edge.test"] = DnsName(records=records, ttl=60)
            else:
                world.dns[f"www.site{i}.cn"] = DnsName(records=records)
        for i in range(5000):
            world.asn_prefixes.append(
                AsnPrefix(f"{(i * 37) % 223 + 1}.{i % 256}.0.0/16", (4134 + i,), "CN", "apnic", "")
            )
            world.asn_names[4134 + i] = AsnInfo(4134 + i, "CN", "apnic", "", f"AS-{i}, CN")
        return world
    """
)
namespace: dict = {}
exec(WORLD_SOURCE, namespace)  # the same world in this process and in the server children
bench_world = namespace["bench_world"]

SANDBOX_SERVER = WORLD_SOURCE + textwrap.dedent(
    """
    import sys, time
    from icpscan import egress
    from icpscan.sandbox.dns import serve_forever
    egress.install_loopback_guard()
    serve_forever(bench_world(int(sys.argv[1])), "127.0.0.1", 0,
                  ready=lambda s: print(s.port, time.process_time(), flush=True))
    """
)

DNSLIB_SERVER = WORLD_SOURCE + textwrap.dedent(
    """
    import signal, sys, threading, time
    from dnslib import QTYPE, RR, DNSLabel, A, AAAA, CNAME, TXT
    from dnslib.server import BaseResolver, DNSLogger, DNSServer
    from icpscan import egress
    egress.install_loopback_guard()
    world = bench_world(int(sys.argv[1]))
    import ipaddress
    txt = {f"as{a}.asn.cymru.com": f"{a} | CN | apnic |  | {info.name}"
           for a, info in world.asn_names.items()}
    networks = [(ipaddress.ip_network(p.prefix), p) for p in world.asn_prefixes]
    for entry in world.dns.values():  # precomputed, as the notes' prototype did
        for v4 in entry.records.get("A", []):
            ip = ipaddress.ip_address(v4)
            for net, p in networks:
                if ip in net:
                    name = ".".join(reversed(v4.split("."))) + ".origin.asn.cymru.com"
                    txt[name] = f"{p.asns[0]} | {net} | CN | apnic | "

    class WorldResolver(BaseResolver):  # the naive resolver the notes' prototype used
        def resolve(self, request, handler):
            reply = request.reply()
            name = str(request.q.qname).rstrip(".").lower()
            qtype = QTYPE[request.q.qtype]
            if name in txt:
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(txt[name]), ttl=60))
                return reply
            for _ in range(8):
                entry = world.dns.get(name)
                if entry is None:
                    reply.header.rcode = 3
                    return reply
                if qtype in entry.records:
                    for value in entry.records[qtype]:
                        rdata = {"A": A, "AAAA": AAAA, "TXT": TXT}[qtype](value)
                        reply.add_answer(RR(name, getattr(QTYPE, qtype), rdata=rdata, ttl=60))
                    return reply
                if "CNAME" in entry.records:
                    target = entry.records["CNAME"][0]
                    reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(target), ttl=60))
                    name = target
                    continue
                return reply
            return reply

    logger = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data")
    server = DNSServer(WorldResolver(), address="127.0.0.1", port=0, logger=logger)
    server.start_thread()
    print(server.server.server_address[1], time.process_time(), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *a: done.set())
    done.wait()
    server.stop()
    """
)


class ChildServer:
    """A server in a child process; its CPU time is read from wait4() when it exits."""

    def __init__(self, source: str, hosts: int) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            [sys.executable, "-c", source, str(hosts)], stdout=subprocess.PIPE, env=env, text=True
        )
        assert self.process.stdout is not None
        port, cpu = self.process.stdout.readline().split()
        self.port, self.cpu_when_ready = int(port), float(cpu)

    def stop(self) -> float:
        """Stop the child; returns the CPU seconds it spent serving."""
        self.process.send_signal(signal.SIGINT)
        _, _, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = 0
        return usage.ru_utime + usage.ru_stime - self.cpu_when_ready


def query_names(hosts: int) -> list[tuple[str, str]]:
    """The scanner's question mix: A + AAAA per host, then the two Cymru TXT lookups."""
    world = bench_world(hosts)
    mix = []
    for i in range(hosts):
        mix += [(f"www.site{i}.cn", "A"), (f"www.site{i}.cn", "AAAA")]
        target = f"e{i}.edge.test" if i % 2 else f"www.site{i}.cn"
        v4 = world.dns[target].records["A"][0]
        reversed_ip = ".".join(reversed(v4.split(".")))
        mix.append((f"{reversed_ip}.origin.asn.cymru.com", "TXT"))
        mix.append((f"AS{4134 + i % 5000}.asn.cymru.com", "TXT"))
    return mix


def raw_udp(
    port: int, mix: list[tuple[str, str]], seconds: float, window: int = 64, once: bool = False
) -> float:
    """Queries/s from a cheap client keeping ``window`` queries in flight.

    ``once``: ask every question exactly once (every answer is computed: the cold path a scan
    of distinct domains takes); otherwise cycle through them for ``seconds`` (mostly repeats).
    """
    wires = [dns.message.make_query(n, t).to_wire() for n, t in mix]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        sock.settimeout(0.5)
        sent = answered = 0
        for _ in range(window):
            sock.send(wires[sent % len(wires)])
            sent += 1
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline and (not once or answered < len(wires)):
            try:
                sock.recv(4096)
                answered += 1
            except TimeoutError:  # a lost datagram: top the window up again
                pass
            if not once or sent < len(wires):
                sock.send(wires[sent % len(wires)])
                sent += 1
        elapsed = time.perf_counter() - start
    return answered / elapsed


async def _dnspython(port: int, mix: list[tuple[str, str]], seconds: float) -> float:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.timeout = resolver.lifetime = 3
    semaphore = asyncio.Semaphore(100)
    done = 0
    deadline = time.perf_counter() + seconds

    async def one(name: str, rdtype: str) -> None:
        nonlocal done
        async with semaphore:
            if time.perf_counter() > deadline:
                return
            with contextlib.suppress(dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                await resolver.resolve(name, rdtype)  # a negative answer is still an answer
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(one(n, t) for n, t in mix))
    return done / (time.perf_counter() - start)


def dnspython_client(port: int, mix: list[tuple[str, str]], seconds: float) -> float:
    return asyncio.run(_dnspython(port, mix, seconds))


def measure_child(label: str, source: str, hosts: int, mix, seconds: float) -> dict[str, float]:
    server = ChildServer(source, hosts)
    try:
        cold_started = time.perf_counter()
        cold = raw_udp(server.port, mix, 60, once=True)
        cold_elapsed = time.perf_counter() - cold_started
        raw_started = time.perf_counter()
        raw = raw_udp(server.port, mix, seconds)
        raw_elapsed = time.perf_counter() - raw_started
        dnspy = dnspython_client(server.port, mix, seconds)
    finally:
        cpu = server.stop()
    print(
        f"  {label:<28} raw cold {cold:>7,.0f} q/s   raw warm {raw:>7,.0f} q/s"
        f"   dnspython {dnspy:>6,.0f} q/s",
        flush=True,
    )
    total_queries = cold * cold_elapsed + raw * raw_elapsed + dnspy * seconds
    return {"cold": cold, "raw": raw, "dnspython": dnspy, "cpu_us": cpu / total_queries * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    egress.install_loopback_guard()
    os.environ[egress.LOOPBACK_ONLY_ENV] = "1"
    random.seed(1)
    mix = query_names(args.hosts)
    random.shuffle(mix)
    print(f"{args.hosts} hosts, {len(mix)} distinct questions, {args.seconds:.0f} s per figure")
    ours = measure_child("icpscan DnsServer (child)", SANDBOX_SERVER, args.hosts, mix, args.seconds)
    base = measure_child("dnslib DNSServer (child)", DNSLIB_SERVER, args.hosts, mix, args.seconds)

    from icpscan.sandbox.dns import DnsServer
    from icpscan.sandbox.dns_process import DnsServerProcess

    with DnsServer(bench_world(args.hosts)) as server:
        dnspython_client(server.port, mix[:2000], 1.0)
        in_process = dnspython_client(server.port, mix, args.seconds)
    print(f"  {'icpscan DnsServer (thread)':<28} {'':>42}   dnspython {in_process:>6,.0f} q/s")
    with DnsServerProcess(bench_world(args.hosts)) as server:
        dnspython_client(server.port, mix[:2000], 1.0)
        process_class = dnspython_client(server.port, mix, args.seconds)
    print(f"  {'icpscan DnsServerProcess':<28} {'':>42}   dnspython {process_class:>6,.0f} q/s")

    print()
    print(
        f"server capacity, every question new (raw client): {ours['cold']:,.0f} vs "
        f"{base['cold']:,.0f} q/s = {ours['cold'] / base['cold']:.1f}x the dnslib baseline"
    )
    print(
        f"server capacity, repeated questions (raw client): {ours['raw']:,.0f} vs "
        f"{base['raw']:,.0f} q/s = {ours['raw'] / base['raw']:.1f}x"
    )
    print(
        f"scanner-like (dnspython, server in a child): {ours['dnspython']:,.0f} vs "
        f"{base['dnspython']:,.0f} q/s = {ours['dnspython'] / base['dnspython']:.2f}x"
    )
    print(
        f"scanner-like, DnsServer thread in the client's process: {in_process:,.0f} q/s; "
        f"DnsServerProcess: {process_class:,.0f} q/s = {process_class / in_process:.2f}x"
    )
    print(
        f"server CPU per query (from ready to exit): {ours['cpu_us']:.0f} us vs "
        f"{base['cpu_us']:.0f} us = {base['cpu_us'] / ours['cpu_us']:.1f}x less"
    )


if __name__ == "__main__":
    main()
