"""`icpscan demo`, the README's first command: the whole job offline, files where it says."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from lxml import html as lxml_html


def test_demo_scans_the_sandbox_and_writes_dataset_and_report(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "icpscan", "demo", "--sites", "60", "--dir", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        f"dataset:     {out / 'icpscan.db'}   (datasette {out / 'icpscan.db'})",
        f"HTML report: {out / 'report.html'}",
        f"sandbox:     {out / 'sandbox'} (domains.txt, truth.jsonl, expected-filings.csv)",
    ]
    db = sqlite3.connect(out / "icpscan.db")
    assert db.execute("SELECT status FROM scans").fetchall() == [("finished",)]
    assert db.execute("SELECT count(*) FROM domains").fetchone()[0] == 60
    codes = {row[0] for row in db.execute("SELECT DISTINCT code FROM findings")}
    assert {"MAINLAND_NO_ICP", "OFFSHORE_WITH_ICP", "UNREACHABLE"} <= codes
    page = lxml_html.fromstring((out / "report.html").read_bytes())
    assert page.xpath("count(//svg)") >= 3
    assert "Hosting region" in result.stderr  # the summary went to stderr
