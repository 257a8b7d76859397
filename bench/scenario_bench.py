"""How fast the scenario generator builds a world, and what it keeps in memory.

Printed: seconds to generate 1k and 10k sites (and 100k with --large), the memory a world
holds per site, and how fast the farm's lazy bodies render (pages/s, MB/s). The baseline,
measured in the same run, is the eager design: render and keep every homepage body at
generation time, as a naive generator would; the ratios show what lazy bodies save.

    python bench/scenario_bench.py [--seed 1] [--large]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from icpscan.sandbox import plan
from icpscan.sandbox.scenario import LazyBody, build_site, generate


def timed_generate(sites: int, seed: int) -> float:
    """Cold: the per-block trait plans are not cached from an earlier run."""
    plan.block_plan.cache_clear()
    start = time.perf_counter()
    generate(sites, seed)
    return time.perf_counter() - start


def world_memory(sites: int, seed: int, eager: bool) -> tuple[float, float]:
    """(bytes held per site, seconds) for a world with lazy or eagerly rendered bodies."""
    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    scenario = generate(sites, seed)
    if eager:
        for host in scenario.world.hosts.values():
            for table in (host.http, host.https):
                for response in table.values():
                    if isinstance(response.body, LazyBody):
                        response.body = response.body()
    elapsed = time.perf_counter() - start
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del scenario
    return current / sites, elapsed


def render_rate(seed: int, pages: int) -> tuple[float, float]:
    plan.block_plan.cache_clear()
    bodies = [LazyBody(seed, "bench", index, "home") for index in range(pages)]
    start = time.perf_counter()
    total = sum(len(body()) for body in bodies)
    elapsed = time.perf_counter() - start
    return pages / elapsed, total / elapsed / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--large", action="store_true", help="also generate 100,000 sites")
    args = parser.parse_args()
    build_site(args.seed, 0)  # warm imports and the filler blocks
    sizes = (1_000, 10_000, 100_000) if args.large else (1_000, 10_000)
    for sites in sizes:
        runs = [timed_generate(sites, args.seed) for _ in range(2 if sites < 100_000 else 1)]
        print(
            f"generate {sites:>7} sites: {min(runs):6.2f} s ({min(runs) / sites * 1e3:.2f} ms/site)"
        )
    print("(memory runs under tracemalloc, so their times are inflated)")
    lazy, lazy_s = world_memory(2_000, args.seed, eager=False)
    eager, eager_s = world_memory(2_000, args.seed, eager=True)
    print(f"memory per site, lazy bodies (icpscan): {lazy / 1e3:8.1f} KB  ({lazy_s:.2f} s for 2k)")
    print(
        f"memory per site, eager bodies (baseline): {eager / 1e3:6.1f} KB  ({eager_s:.2f} s for 2k)"
    )
    print(f"ratio: lazy bodies hold {eager / lazy:.0f}x less memory than eager ones")
    rate, mbps = render_rate(args.seed, 2_000)
    print(f"lazy body rendering: {rate:,.0f} pages/s, {mbps:.0f} MB/s (bench profile, uncached)")


if __name__ == "__main__":
    main()
