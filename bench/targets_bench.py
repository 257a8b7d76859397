"""Throughput and memory of the input reader on 1M generated lines (text and CSV).

Run: /work/venv/bin/python bench/targets_bench.py [--lines N]

Prints lines/s for icpscan.targets.read_targets next to two figures measured in the same run
on the same file: the naive reader (`idna.encode(line.strip(), uts46=True)` per line, the
obvious hand-written loop; for CSV the same on `csv.reader`'s domain column) and the raw
ceiling (iterating lines with the stdlib and doing nothing). Then the resident memory sampled
every 100k lines while reading (flat = streaming) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import idna

from icpscan.targets import Target, read_targets

_WORDS = ["shop", "news", "bbs", "cloud", "data", "mail", "img", "cdn", "api", "game", "edu"]
_TLDS = ["com", "cn", "com.cn", "net", "org", "gov.cn", "hk", "io", "xn--fiqs8s"]


def _entry(rng: random.Random, index: int) -> str:
    name = f"{rng.choice(_WORDS)}{index}.{rng.choice(_TLDS)}"
    roll = rng.random()
    if roll < 0.80:
        return name
    if roll < 0.90:
        return f"https://www.{name}/index.html?from=list"
    if roll < 0.93:
        return f"{name.upper()}."
    if roll < 0.95:
        return f"例子{index}.中国"
    if roll < 0.97:
        return f"{name}  # note"
    if roll < 0.98:
        return "# comment line"
    if roll < 0.99:
        return f"10.{index % 256}.0.1"
    return ""


def _write_inputs(directory: Path, lines: int) -> tuple[Path, Path]:
    rng = random.Random(20240501)
    text_path = directory / "domains.txt"
    csv_path = directory / "tranco.csv"
    with (
        text_path.open("w", encoding="utf-8") as text,
        csv_path.open("w", encoding="utf-8") as tranco,
    ):
        tranco.write("rank,domain\n")
        for index in range(lines):
            text.write(_entry(rng, index) + "\n")
            tranco.write(f"{index + 1},{rng.choice(_WORDS)}{index}.{rng.choice(_TLDS)}\n")
    return text_path, csv_path


def _ceiling(path: Path, as_csv: bool) -> float:
    start = time.perf_counter()
    with path.open(encoding="utf-8", newline="") if as_csv else path.open("rb") as handle:
        count = sum(1 for _ in (csv.reader(handle) if as_csv else handle))
    return count / (time.perf_counter() - start)


def _naive(path: Path, as_csv: bool) -> float:
    start = time.perf_counter()
    count = 0
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        entries = (row[1] for row in csv.reader(handle)) if as_csv else handle
        for entry in entries:
            count += 1
            try:  # noqa: SIM105 - contextlib.suppress costs more, and this loop is timed
                idna.encode(entry.strip(), uts46=True)
            except idna.IDNAError:
                pass
    return count / (time.perf_counter() - start)


def _ours(path: Path, lines: int) -> tuple[float, list[float], int]:
    process = psutil.Process()
    rss: list[float] = []
    targets = 0
    start = time.perf_counter()
    for count, item in enumerate(read_targets(path), 1):
        targets += isinstance(item, Target)
        if count % 100_000 == 0:
            rss.append(process.memory_info().rss / 2**20)
    elapsed = time.perf_counter() - start
    return lines / elapsed, rss, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        text_path, csv_path = _write_inputs(Path(tmp), args.lines)
        print(
            f"{args.lines:,} lines; text {text_path.stat().st_size / 2**20:.1f} MiB, "
            f"csv {csv_path.stat().st_size / 2**20:.1f} MiB; python {sys.version.split()[0]}, "
            f"{os.cpu_count()} cpus"
        )
        for label, path, as_csv in (("text", text_path, False), ("csv ", csv_path, True)):
            naive = _naive(path, as_csv)
            ceiling = _ceiling(path, as_csv)
            rate, rss, targets = _ours(path, args.lines)
            print(
                f"{label}: read_targets {rate:>9,.0f} lines/s ({targets:,} targets) | "
                f"naive idna loop {naive:>9,.0f} lines/s (ratio {rate / naive:.2f}) | "
                f"bare line iteration {ceiling:>11,.0f} lines/s"
            )
            print(
                f"      RSS MiB every 100k lines: {' '.join(f'{value:.1f}' for value in rss)}"
                f" (growth {rss[-1] - rss[0]:+.1f})"
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the whole process (ru_maxrss): {peak:.1f} MiB")


if __name__ == "__main__":
    main()
