"""Helpers of the fault-injection suite: run the real CLI, read what it stored, watch memory."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import psutil

FAST = ["--timeout", "2", "--dns-timeout", "1", "--dns-retries", "1", "-q"]


def icpscan_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "icpscan", *args]


def run_icpscan(*args: str, stdin: str | bytes | None = None, timeout: float = 300, **kw):
    text = not isinstance(stdin, bytes)
    return subprocess.run(
        icpscan_command(*args),
        capture_output=True,
        text=text,
        input=stdin,
        timeout=timeout,
        env=os.environ,
        check=False,
        **kw,
    )


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def stored_records(db_path: Path, scan_id: int | None = None) -> dict[str, dict]:
    """domain -> stored record JSON of one scan (the latest when not given)."""
    with closing(sqlite3.connect(db_path)) as conn:
        if scan_id is None:
            scan_id = conn.execute("SELECT max(id) FROM scans").fetchone()[0]
        rows = conn.execute(
            "SELECT domain, record FROM domains WHERE scan_id = ?", [scan_id]
        ).fetchall()
    return {domain: json.loads(record) for domain, record in rows}


@dataclass
class RssWatch:
    """Samples the resident memory of a process tree (a scan and its workers) until stopped."""

    pid: int
    interval: float = 0.05
    peaks: dict[int, int] = field(default_factory=dict)  # pid -> peak RSS bytes
    roles: dict[int, str] = field(default_factory=dict)  # pid -> "parent" | "worker"
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssWatch:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in tree:
                try:
                    rss = proc.memory_info().rss
                    if proc.pid not in self.roles:
                        cmdline = proc.cmdline()
                        self.roles[proc.pid] = "worker" if "icpscan.worker" in cmdline else "parent"
                except psutil.Error:
                    continue
                self.peaks[proc.pid] = max(self.peaks.get(proc.pid, 0), rss)
            time.sleep(self.interval)

    def peak(self, role: str) -> int:
        return max((v for pid, v in self.peaks.items() if self.roles.get(pid) == role), default=0)


def outcome_problems(expect, record: dict) -> list[str]:
    """How a stored record differs from a case's :class:`~icpscan.sandbox.hostile.Expect`."""
    import re

    fetch = record["fetch"]
    error = fetch["error"] or {}
    problems = []

    def differs(what: str, want: object, got: object) -> None:
        if want is not None and want != got:
            problems.append(f"{what}: want {want!r}, got {got!r}")

    differs("reached", expect.reached, fetch["reached"])
    if expect.reached:
        if fetch["error"] is not None:
            problems.append(f"reached, yet an error is recorded: {fetch['error']}")
    else:
        differs("error kind", expect.error_kind, error.get("kind"))
    if expect.detail is not None and not re.search(expect.detail, error.get("detail") or ""):
        problems.append(f"detail {error.get('detail')!r} does not match {expect.detail!r}")
    if expect.numbers is not None:
        own = sorted(n["number"] for n in record["numbers"] if n["own"])
        differs("numbers", sorted(expect.numbers), own)
    differs("truncated", expect.truncated, fetch["truncated"])
    differs("is_html", expect.is_html, fetch["is_html"])
    differs("status", expect.status, fetch["status"])
    differs("body_size", expect.body_size, fetch["body_size"])
    differs("final_url", expect.final_url, fetch["final_url"])
    if expect.dns_error is not None:
        failures = record["hosting"]["errors"]
        matching = [
            f
            for f in failures
            if f["error"] == expect.dns_error
            and (expect.dns_detail is None or re.search(expect.dns_detail, f["detail"]))
        ]
        if not matching:
            problems.append(f"no DNS failure {expect.dns_error}/{expect.dns_detail}: {failures}")
    return problems
