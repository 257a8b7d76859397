"""`icpscan scan` end to end against the sandbox: the scan reproduces the ground truth exactly.

Real DNS over UDP/TCP to the sandbox's server, real HTTP(S) to its farm (through the scanner's
--connect-to rules), real worker processes, a real SQLite file. The comparison is exact for
every site of a seeded 300-site scenario: hosting region, whether the homepage was reached and
where it ended, every number shown (kind, normalised number, own, location, linked,
placeholder, valid) and every finding code.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.support import FAST, run_icpscan


def truth_of(sandbox) -> dict[str, dict]:
    lines = Path(sandbox.truth_file).read_text(encoding="utf-8").splitlines()
    return {t["domain"]: t for t in map(json.loads, lines)}


def number_key(n: dict) -> tuple:
    # valid is only meaningful where the number is not a placeholder (truth.py's convention)
    valid = None if n["placeholder"] else n["valid"]
    return (n["kind"], n["number"], n["own"], n["location"], n["linked"], n["placeholder"], valid)


def differences(truth: dict, record: dict, findings_key: str) -> list[str]:
    problems = []
    if record["hosting"]["region"] != truth["region"]:
        problems.append(f"region {record['hosting']['region']} != {truth['region']}")
    fetch = record["fetch"]
    if fetch["reached"] != truth["reachable"]:
        problems.append(f"reached {fetch['reached']} != {truth['reachable']} ({fetch['error']})")
    elif truth["reachable"] and fetch["final_url"] != truth["final_url"]:
        problems.append(f"final_url {fetch['final_url']} != {truth['final_url']}")
    want = sorted(number_key(n) for n in truth["numbers"])
    got = sorted(number_key(n) for n in record["numbers"])
    if want != got:
        problems.append(f"numbers: missing {sorted(set(want) - set(got))}, extra "
                        f"{sorted(set(got) - set(want))}")  # fmt: skip
    want_codes = Counter(truth[findings_key])
    got_codes = Counter(f["code"] for f in record["findings"])
    if want_codes != got_codes:
        problems.append(
            f"findings: missing {sorted((want_codes - got_codes).elements())}, extra "
            f"{sorted((got_codes - want_codes).elements())}"
        )
    return problems


def assert_matches_truth(truth: dict[str, dict], records: list[dict], findings_key: str):
    by_domain = {r["domain"]: r for r in records}
    assert sorted(by_domain) == sorted(truth), "every input domain has exactly one record"
    assert len(records) == len(truth)
    report = []
    for domain, expected in truth.items():
        for problem in differences(expected, by_domain[domain], findings_key):
            report.append(f"{domain} {expected['exercises']}: {problem}")
    assert report == [], "\n".join(report)


@pytest.fixture(scope="module")
def full_scan(sandbox, tmp_path_factory):
    out = tmp_path_factory.mktemp("scan")
    db, jsonl = out / "scan.db", out / "results.jsonl"
    result = run_icpscan(
        "scan", str(sandbox.domains_file), "--db", str(db), "--format", "jsonl", "-o",
        str(jsonl), "--expected", str(sandbox.expected_file), "--workers", "2",
        *sandbox.scan_args(), *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    return db, records


def test_scan_reproduces_the_ground_truth_exactly(sandbox, full_scan):
    _db, records = full_scan
    assert_matches_truth(truth_of(sandbox), records, "findings_with_expected")


def test_jsonl_records_follow_input_order_and_carry_the_schema(sandbox, full_scan):
    _db, records = full_scan
    domains = Path(sandbox.domains_file).read_text(encoding="utf-8").split()
    assert [r["domain"] for r in records] == domains
    first = records[0]
    assert first["schema_version"] == "1.0"
    assert list(first)[:4] == ["schema_version", "domain", "display", "line"]
    assert {"hosting", "fetch", "numbers", "findings"} <= set(first)


def test_the_database_holds_every_table_consistently(full_scan):
    db_path, records = full_scan
    db = sqlite3.connect(db_path)
    (scan_id, status, started, finished) = db.execute(
        "SELECT id, status, started_at, finished_at FROM scans"
    ).fetchone()
    assert (scan_id, status) == (1, "finished") and started <= finished
    assert db.execute("SELECT count(*) FROM domains").fetchone()[0] == len(records)
    assert db.execute("SELECT count(DISTINCT domain) FROM domains").fetchone()[0] == len(records)
    assert db.execute("SELECT count(*) FROM targets WHERE state != 'done'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM fetches").fetchone()[0] == len(records)
    numbers = sum(len(r["numbers"]) for r in records)
    findings = sum(len(r["findings"]) for r in records)
    assert db.execute("SELECT count(*) FROM numbers").fetchone()[0] == numbers
    assert db.execute("SELECT count(*) FROM findings").fetchone()[0] == findings
    shared = db.execute("SELECT count(*) FROM findings WHERE code = 'NUMBER_SHARED'").fetchone()
    assert shared[0] == sum(
        1 for r in records for f in r["findings"] if f["code"] == "NUMBER_SHARED"
    )
    assert shared[0] >= 2
    answers = db.execute("SELECT count(*), min(ttl) FROM dns_answers").fetchone()
    assert answers[0] > len(records) / 2 and answers[1] > 0
    regions = dict(db.execute("SELECT region, count(*) FROM domains GROUP BY region").fetchall())
    assert regions == Counter(r["hosting"]["region"] for r in records)


def test_scan_without_expected_file_gives_the_plain_findings(sandbox, tmp_path):
    truth = truth_of(sandbox)
    subset = list(truth)[:60]
    listing = tmp_path / "subset.txt"
    listing.write_text("\n".join(subset) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run_icpscan(
        "scan", str(listing), "--db", str(tmp_path / "s.db"), "--format", "jsonl", "-o",
        str(out), *sandbox.scan_args(), *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    # NUMBER_SHARED depends on which domains are in the scan: compare the rest exactly
    for record in records:
        record["findings"] = [f for f in record["findings"] if f["code"] != "NUMBER_SHARED"]
    expected = {d: dict(truth[d]) for d in subset}
    for t in expected.values():
        t["findings"] = [c for c in t["findings"] if c != "NUMBER_SHARED"]
    assert_matches_truth(expected, records, "findings")


def _healthy_domains(sandbox, count: int) -> list[str]:
    truth = truth_of(sandbox)
    good = [d for d, t in truth.items() if t["reachable"] and t["region"] == "mainland"]
    return good[:count]


@pytest.mark.parametrize(
    ("name", "render"),
    [
        ("list.txt", lambda ds: "\ufeff# audit list\r\n" + "\r\n".join(ds) + "\r\n\r\n"),
        ("urls.txt", lambda ds: "\n".join(f"https://{d}/index.html?x=1 # c" for d in ds)),
        (
            "sites.csv",
            lambda ds: "rank,domain,note\n" + "".join(f"{i},{d},x\n" for i, d in enumerate(ds, 1)),
        ),
        ("tranco.csv", lambda ds: "".join(f"{i},{d}\n" for i, d in enumerate(ds, 1))),
    ],
)
def test_every_input_format(sandbox, tmp_path, name, render):
    domains = _healthy_domains(sandbox, 4)
    path = tmp_path / name
    path.write_text(render([*domains, domains[0]]), encoding="utf-8")
    result = run_icpscan(
        "scan", str(path), "--db", str(tmp_path / "f.db"), "--format", "jsonl",
        *sandbox.scan_args(), *FAST, "--workers", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["domain"] for r in records] == domains  # the duplicate is dropped
    assert all(r["fetch"]["reached"] for r in records)


def test_stdin_input_and_invalid_lines_are_reported_not_fatal(sandbox, tmp_path):
    domains = _healthy_domains(sandbox, 2)
    text = f"{domains[0]}\n*.wildcard.cn\nnot a domain!\n1.2.3.4\n{domains[1]}\n"
    result = run_icpscan(
        "scan", "-", "--db", str(tmp_path / "in.db"), "--format", "jsonl",
        *sandbox.scan_args(), *FAST[:-1], "--workers", "1", stdin=text,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert [json.loads(line)["domain"] for line in result.stdout.splitlines()] == domains
    assert "line 2:" in result.stderr and "(wildcard)" in result.stderr
    assert "line 3:" in result.stderr and "line 4:" in result.stderr
    db = sqlite3.connect(tmp_path / "in.db")
    rows = db.execute("SELECT line, reason FROM input_errors ORDER BY line").fetchall()
    assert rows == [(2, "wildcard"), (3, "bad_characters"), (4, "ip_literal")]


def test_fail_on_gives_exit_code_1_only_when_a_finding_reaches_the_threshold(sandbox, tmp_path):
    truth = truth_of(sandbox)
    clean = next(d for d, t in truth.items() if t["reachable"] and not t["findings"])
    violating = next(d for d, t in truth.items() if "MAINLAND_NO_ICP" in t["findings"])
    for domain, threshold, code in ((clean, "info", 0), (violating, "high", 1)):
        listing = tmp_path / f"{domain}.txt"
        listing.write_text(domain + "\n", encoding="utf-8")
        result = run_icpscan(
            "scan", str(listing), "--db", str(tmp_path / f"{domain}.db"), "--fail-on",
            threshold, "--format", "jsonl", *sandbox.scan_args(), *FAST, "--workers", "1",
        )  # fmt: skip
        assert result.returncode == code, (domain, result.stderr[-2000:])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing-file.txt"], "icpscan: error: input file not found: missing-file.txt"),
        (["{domains}", "--connect-to", "nonsense"], "icpscan: error: bad --connect-to rule"),
        (["{domains}", "--expected", "{domains}"], "icpscan: error:"),
        (["{domains}", "--resume", "7"], "icpscan: error: no scan 7 in this database"),
    ],
)
def test_usage_errors_exit_2_with_one_line(sandbox, tmp_path, args, message):
    args = [a.replace("{domains}", str(sandbox.domains_file)) for a in args]
    result = run_icpscan("scan", *args, "--db", str(tmp_path / "e.db"), *sandbox.scan_args())
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message), lines[0]
    assert "Traceback" not in result.stderr


def test_resume_after_sigkill_stores_every_domain_exactly_once(sandbox, tmp_path):
    db = tmp_path / "killed.db"
    args = ["scan", str(sandbox.domains_file), "--db", str(db), *sandbox.scan_args(), *FAST,
            "--workers", "2", "--format", "jsonl", "-o", str(tmp_path / "out.jsonl")]  # fmt: skip
    log = (tmp_path / "killed.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "icpscan", *args], env=os.environ,
        stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and done < 60:
        time.sleep(0.2)
        try:
            with sqlite3.connect(db, timeout=5) as conn:
                done = conn.execute("SELECT count(*) FROM domains").fetchone()[0]
        except sqlite3.OperationalError:
            continue
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    log.close()
    assert 0 < done < 300, "killed mid-scan"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM scans").fetchone()[0] == "running"
    time.sleep(1)  # the workers die with their parent (PR_SET_PDEATHSIG)
    resumed = run_icpscan(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT domain, count(*) FROM domains GROUP BY domain").fetchall()
        statuses = conn.execute("SELECT id, status FROM scans").fetchall()
    domains = Path(sandbox.domains_file).read_text(encoding="utf-8").split()
    assert sorted(d for d, _ in rows) == sorted(domains)
    assert {count for _, count in rows} == {1}
    assert statuses == [(1, "finished")]
    records = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(records) == len(domains)
