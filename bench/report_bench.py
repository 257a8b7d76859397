"""Cost of every report rendering on a large stored scan (default 100,000 domains).

Run: /work/venv/bin/python bench/report_bench.py [--domains N] [--table-domains N]

Builds a database with ``store.write_results`` from generated records (a realistic mix:
regions, numbers, findings, unreachable sites, a few huge hostile titles/evidence), then times
each renderer and prints it next to the baseline measured in the same run on the same file:
reading every stored record and parsing its JSON (what any renderer must at least do). Also
prints the HTML report's size, the resident memory after each step and the peak RSS.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from icpscan import store
from icpscan.report import (
    iter_record_json,
    iter_records,
    render_summary,
    scan_summary,
    write_csv,
    write_html,
    write_jsonl,
    write_table,
)
from tests.report_records import finding, good_tls, hostile_record, number, record

PROVINCES = [
    ("京", "11", "北京", "Beijing"),
    ("沪", "31", "上海", "Shanghai"),
    ("粤", "44", "广东", "Guangdong"),
    ("浙", "33", "浙江", "Zhejiang"),
    ("蜀", "51", "四川", "Sichuan"),
]
REGIONS = ["mainland"] * 5 + ["hongkong", "abroad", "abroad", "taiwan", "mixed", "unknown"]


def generated(index: int, rng: random.Random) -> dict:
    line = index + 1
    if index % 1000 == 999:
        return hostile_record(line) | {"domain": f"hostile{line}.cn"}
    region = rng.choice(REGIONS)
    prefix, code, name, name_en = rng.choice(PROVINCES)
    icp = f"{prefix}ICP备20{rng.randint(10, 24)}{rng.randint(0, 999999):06d}号-1"
    numbers = [number("icp_filing", icp, province=(prefix, code, name, name_en))]
    findings = []
    roll = rng.random()
    if region == "unknown" or roll < 0.05:
        return record(
            f"site{line}.cn",
            line,
            region=region,
            reached=False,
            status=None,
            error=("timeout", "no response after 10 s"),
            findings=[finding("UNREACHABLE", region=region)],
        )
    if roll < 0.25 and region == "mainland":
        numbers = []
        findings.append(finding("MAINLAND_NO_ICP", region=region, shown_numbers=[]))
    elif roll < 0.45:
        numbers[0]["linked"] = False
        findings.append(finding("ICP_NOT_LINKED", number=icp, raw=icp, href=None))
    if region == "mainland" and rng.random() < 0.6:
        findings.append(finding("PSB_MISSING", region=region))
    elif region == "mainland":
        numbers.append(
            number(
                "psb_filing",
                f"{prefix}公网安备{code}0105020{rng.randint(0, 9999999):07d}号",
                province=(prefix, code, name, name_en),
            )
        )
    if region in ("hongkong", "abroad", "taiwan") and numbers:
        findings.append(finding("OFFSHORE_WITH_ICP", numbers=[icp]))
    return record(
        f"site{line}.cn",
        line,
        region=region,
        numbers=numbers,
        findings=findings,
        title=f"站点 {line} 首页",
        tls=good_tls(f"site{line}.cn"),
    )


def build(path: Path, domains: int) -> int:
    db = store.open_db(path)
    scan_id = store.create_scan(db, input_name="bench.txt", options={})
    rng = random.Random(5)
    batch = []
    for index in range(domains):
        rec = generated(index, rng)
        rec["scan_id"] = scan_id
        batch.append(rec)
        if len(batch) == 1000:
            store.write_results(db, scan_id, batch)
            batch = []
    if batch:
        store.write_results(db, scan_id, batch)
    store.finish_scan(db, scan_id)
    db.close()
    return scan_id


def rss_mb() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def timed(label: str, baseline: float | None, func) -> float:
    start = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - start
    ratio = f"  {elapsed / baseline:5.2f}x baseline" if baseline else ""
    extra = f"  ({result})" if result is not None else ""
    print(f"{label:<44} {elapsed:8.2f} s{ratio}  rss {rss_mb():7.0f} MB{extra}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--table-domains", type=int, default=10_000)
    parser.add_argument("--build-only", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        build(Path(args.build_only), args.domains)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        start = time.perf_counter()
        # Built in a child process so the peak RSS below is the renderers' own.
        subprocess.run(
            [sys.executable, __file__, "--domains", str(args.domains), "--build-only", str(path)],
            check=True,
        )
        scan_id = 1
        size = path.stat().st_size / 2**20
        print(
            f"built {args.domains:,} domains in {time.perf_counter() - start:.1f} s "
            f"({size:.0f} MB database)"
        )
        db = store.open_db(path, create=False)

        def baseline_read() -> str:
            count = 0
            for (line,) in db.execute(
                "SELECT record FROM domains WHERE scan_id = ? ORDER BY line", [scan_id]
            ):
                json.loads(line)
                count += 1
            return f"{count:,} records"

        base = timed("baseline: read + json.loads every record", None, baseline_read)
        timed(
            "scan_summary (all aggregates)",
            base,
            lambda: f"{scan_summary(db, scan_id).findings:,} findings",
        )

        def summary_text() -> None:
            render_summary(Console(file=io.StringIO(), width=120), scan_summary(db, scan_id))

        timed("summary + render_summary", base, summary_text)
        jsonl = Path(tmp) / "out.jsonl"
        with jsonl.open("w", encoding="utf-8", newline="") as fh:
            timed(
                "jsonl (stored lines)", base, lambda: write_jsonl(iter_record_json(db, scan_id), fh)
            )
        csv_path = Path(tmp) / "out.csv"
        with csv_path.open("w", encoding="utf-8", newline="") as fh:
            timed("csv", base, lambda: write_csv(iter_record_json(db, scan_id), fh))
        count = min(args.table_domains, args.domains)
        table_out = Path(tmp) / "table.txt"
        with table_out.open("w", encoding="utf-8") as fh:
            console = Console(file=fh, width=160)
            elapsed = timed(
                f"table, first {count:,} domains",
                None,
                lambda: write_table(console, iter_records(db, scan_id, limit=count)),
            )
        print(f"{'':<44} {count / elapsed:8,.0f} domains/s for the table format")
        html = Path(tmp) / "report.html"
        timed("html (default 5,000-row table)", base, lambda: write_html(db, scan_id, html))
        print(f"{'':<44} {html.stat().st_size / 2**20:8.1f} MB report")
        timed(
            "html, 20,000-row table", base, lambda: write_html(db, scan_id, html, max_rows=20_000)
        )
        print(f"{'':<44} {html.stat().st_size / 2**20:8.1f} MB report")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
