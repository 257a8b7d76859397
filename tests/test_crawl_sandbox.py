"""The crawl against the generated sandbox: which sites are reached, and where they end.

The scenario generator (``icpscan.sandbox.scenario``) states, independently of this code, what a
correct crawler reaches and its final URL for each of its 300 realistic sites (redirect chains,
meta/JS redirects, cross-domain partners, certificate errors, stalls, refused and tarpitted
hosts, ``www``-only sites...). One crawl of all of them through the sandbox's own DNS server and
``--connect-to`` file must agree on every site, and yield one record per domain.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT

TIMEOUT = 4.0  # short, so the tarpitted sites cost seconds, not minutes
# Pages that are slow on purpose may hit a short timeout on a loaded machine.
TIMING_SENSITIVE = frozenset({"http:slow", "http:trickle"})


def test_reached_and_final_url_agree_with_the_scenario_truth(sandbox, tmp_path):
    output = tmp_path / "pages.jsonl"
    command = [
        sys.executable, "-m", "icpscan.crawl", str(sandbox.domains_file), "-o", str(output),
        "--nameserver", sandbox.nameserver, "--connect-to-file", str(sandbox.connect_to_file),
        "--ca-bundle", str(sandbox.ca_cert_path), "--timeout", str(TIMEOUT),
        "--set", "RETRY_TIMES=0", "--set", "LOG_LEVEL=WARNING",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in output.read_text().splitlines()]
    truth = sandbox.scenario.truth
    assert sorted(r["domain"] for r in records) == sorted(sandbox.scenario.domains)

    disagreements = []
    for record in records:
        expected = truth[record["domain"]]
        got = (record["reached"], record["final_url"] if record["reached"] else None)
        if got == (expected.reachable, expected.final_url):
            continue
        timed_out = record["error"] is not None and record["error"]["kind"] == "timeout"
        if timed_out and TIMING_SENSITIVE & set(expected.exercises):
            continue
        disagreements.append((record["domain"], expected.exercises, got, record["error"]))
    assert disagreements == []
    reached = sum(r["reached"] for r in records)
    assert 0 < reached < len(records)  # the scenario has both kinds: the check is not vacuous
