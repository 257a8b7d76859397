"""Reconciliation and longitudinal research end to end, against the sandbox.

One 100-site world (a full block: every record case occurs) scanned twice into one database:
epoch 0, then — after ``Sandbox.swap`` to the same world one epoch later (numbers added,
removed and changed, sites moved into and out of the mainland, a CDN switch) — epoch 1, both
with the world's filing-records export. Asserted exactly: every RECORD_* finding against the
records truth, the diff of the two scans against the difference of the two truths, the export
read back in every format, the Datasette canned queries; and the HTTP lookup source against the
mock service throttling, blocking and changing its schema.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from icpscan.sandbox.records_service import RecordService
from icpscan.sandbox.runner import Sandbox
from icpscan.sandbox.scenario import generate

FAST = ["--timeout", "2", "--dns-timeout", "1", "--dns-retries", "1", "-q"]
FILING_KINDS = {"icp_filing", "icp_licence", "telecom_licence"}


def run_icpscan(*args: str, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "icpscan", *args], capture_output=True, text=True, timeout=300,
        env=env or os.environ, check=False,
    )  # fmt: skip


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def scan(box: Sandbox, db: Path, out: Path, *extra: str, domains: Path | None = None) -> list:
    result = run_icpscan(
        "scan", str(domains or box.domains_file), "--db", str(db), "--format", "jsonl",
        "-o", str(out), *box.scan_args(), *FAST, *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return jsonl(out)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    state = tmp_path_factory.mktemp("reconcile")
    box = Sandbox(generate(100, 1), state / "box").start()
    db = state / "icpscan.db"
    try:
        truth0 = {t["domain"]: t for t in jsonl(box.state_dir / "records-truth.jsonl")}
        plain0 = {t["domain"]: t for t in jsonl(box.truth_file)}
        records = str(box.state_dir / "records.csv")
        first = scan(box, db, state / "a.jsonl", "--records", records, "--workers", "2")
        box.swap(generate(100, 1, epoch=1))
        truth1 = {t["domain"]: t for t in jsonl(box.state_dir / "records-truth.jsonl")}
        plain1 = {t["domain"]: t for t in jsonl(box.truth_file)}
        second = scan(box, db, state / "b.jsonl", "--records", records, "--workers", "2")
        yield SimpleNamespace(
            box=box, db=db, state=state, first=first, second=second, truth0=truth0,
            truth1=truth1, plain0=plain0, plain1=plain1,
        )  # fmt: skip
    finally:
        box.stop()


def _mismatches(records: list[dict], truth: dict[str, dict]) -> list[str]:
    problems = []
    assert sorted(r["domain"] for r in records) == sorted(truth)
    for record in records:
        want = truth[record["domain"]]["findings_with_records"]
        got = sorted(f["code"] for f in record["findings"])
        if got != want:
            problems.append(f"{record['domain']} ({truth[record['domain']]['record_case']}): "
                            f"got {got}, want {want}")  # fmt: skip
    return problems


def test_every_record_finding_matches_the_truth_in_both_epochs(world):
    assert _mismatches(world.first, world.truth0) == []
    assert _mismatches(world.second, world.truth1) == []
    codes = Counter(c for t in world.truth0.values() for c in t["record_findings"])
    assert set(codes) == {
        "RECORD_MISSING", "RECORD_NUMBER_MISMATCH", "RECORD_SITE_SUFFIX_MISMATCH", "RECORD_SCOPE",
    }  # fmt: skip
    cases = Counter(t["record_case"] for t in world.truth0.values())
    assert {k for k, v in cases.items() if v} >= {
        "match", "unfiled", "other_entity", "other_suffix", "individual", "news_no_item",
    }  # fmt: skip


def test_lookups_are_recorded_per_domain(world):
    statuses = Counter((r["records"] or {}).get("status") for r in world.first)
    assert set(statuses) == {"found", "none", "skipped"}
    for record in world.first:
        check = record["records"]
        assert check["source"] == "file:records.csv"
        if check["status"] == "skipped":
            assert check["domains"] == [] and not any(
                f["code"].startswith("RECORD_") for f in record["findings"]
            )
    unfiled = [r for r in world.first if world.truth0[r["domain"]]["record_case"] == "unfiled"]
    assert unfiled and all(r["records"]["status"] == "none" for r in unfiled)


def test_the_stolen_number_finding_names_its_owner(world):
    thief = next(d for d, t in world.plain0.items() if "role:stolen_thief" in t["exercises"])
    victim = next(d for d, t in world.plain0.items() if "role:stolen_victim" in t["exercises"])
    record = next(r for r in world.first if r["domain"] == thief)
    [finding] = [f for f in record["findings"] if f["code"] == "RECORD_NUMBER_MISMATCH"]
    assert [o["domain"] for o in finding["evidence"]["owner_records"]] == [victim]
    assert finding["evidence"]["records"] == []
    assert finding["severity"] == "high"


def test_records_are_kept_in_the_dataset(world):
    import sqlite3

    conn = sqlite3.connect(world.db)
    lookups = conn.execute(
        "SELECT kind, status, count(*) FROM record_lookups GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()
    assert {(k, s) for k, s, _ in lookups} >= {("domain", "found"), ("domain", "none")}
    rows = conn.execute(
        "SELECT count(*) FROM filing_records r JOIN record_lookups l ON l.id = r.lookup_id"
    ).fetchone()[0]
    assert rows == conn.execute("SELECT sum(record_count) FROM record_lookups").fetchone()[0]
    # every looked-up domain of the first scan has its answer stored, with source and date
    looked = {d for r in world.first for d in (r["records"] or {}).get("domains", [])}
    stored = {q for (q,) in conn.execute("SELECT query FROM record_lookups WHERE kind='domain'")}
    assert looked <= stored
    assert (
        conn.execute(
            "SELECT count(*) FROM filing_records WHERE source != 'file:records.csv'"
            " OR fetched_at IS NULL"
        ).fetchone()[0]
        == 0
    )


# -- longitudinal --------------------------------------------------------------------------------


def _state(truth: dict, plain: dict) -> tuple:
    numbers = frozenset(
        n["number"] for n in plain["numbers"]
        if n["kind"] in FILING_KINDS and n["own"] and n["valid"] and not n["placeholder"]
        and n["location"] != "comment"
    )  # fmt: skip
    return plain["region"], numbers, plain["reachable"], set(truth["findings_with_records"])


def expected_changes(world) -> dict[str, list[str]]:
    """The documented change kinds, from the two truths (CDN from the scenario's own tags)."""
    expected = {}
    for domain in world.plain0:
        region_a, numbers_a, reached_a, codes_a = _state(world.truth0[domain], world.plain0[domain])
        region_b, numbers_b, reached_b, codes_b = _state(world.truth1[domain], world.plain1[domain])
        changes = []
        if not numbers_a and numbers_b:
            changes.append("number_appeared")
        elif numbers_a and not numbers_b:
            changes.append("number_disappeared")
        elif numbers_a != numbers_b:
            changes.append("number_changed")
        if region_a != region_b:
            changes.append(
                "moved_into_mainland" if region_b == "mainland"
                else "moved_out_of_mainland" if region_a == "mainland" else "region_changed"
            )  # fmt: skip
        if "epoch_change:cdn_changed" in world.plain1[domain]["exercises"]:
            changes.append("cdn_changed")
        if reached_a != reached_b:
            changes.append("became_reachable" if reached_b else "became_unreachable")
        if codes_b - codes_a:
            changes.append("findings_opened")
        if codes_a - codes_b:
            changes.append("findings_closed")
        if changes:
            expected[domain] = changes
    return expected


def test_diff_of_the_two_scans_is_exact(world):
    result = run_icpscan("diff", "--db", str(world.db), "1", "2", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    got = {d["domain"]: d["changes"] for d in map(json.loads, result.stdout.splitlines())}
    want = expected_changes(world)
    assert got == want
    kinds = Counter(k for v in want.values() for k in v)
    assert {"number_appeared", "number_disappeared", "number_changed", "moved_into_mainland",
            "moved_out_of_mainland", "cdn_changed", "findings_opened",
            "findings_closed"} <= set(kinds)  # fmt: skip
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith("icpscan: scan 1: 100 domains, scan 2: 100 domains, 100 in both; ")
    assert f"{len(want)} changed" in summary


def test_diff_details_and_other_formats(world):
    result = run_icpscan("diff", "--db", str(world.db), "--format", "jsonl")  # last two scans
    diffs = {d["domain"]: d for d in map(json.loads, result.stdout.splitlines())}
    moved = next(d for d in diffs.values() if "moved_into_mainland" in d["changes"])
    assert moved["region"][1] == "mainland" and moved["region"][0] != "mainland"
    renumbered = next(d for d in diffs.values() if "number_changed" in d["changes"])
    assert len(renumbered["numbers_added"]) == len(renumbered["numbers_removed"]) == 1
    csv_out = run_icpscan("diff", "--db", str(world.db), "1", "2", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(csv_out.stdout)))
    assert {r["domain"]: r["changes"].split(";") for r in rows} == {
        d: v["changes"] for d, v in diffs.items()
    }
    table = run_icpscan("diff", "--db", str(world.db), "1", "2")
    assert table.returncode == 0 and moved["domain"] in table.stdout
    flat = " ".join(table.stdout.split())  # the summary wraps at the console width
    assert f"{len(diffs)} changed (" in flat
    bad = run_icpscan("diff", "--db", str(world.db), "1", "9")
    assert (bad.returncode, bad.stderr.strip()) == (2, "icpscan: error: no scan 9 in this database")


# -- the dataset ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_reads_back_equal(world, fmt):
    from icpscan.dataset.export import read_export
    from icpscan.dataset.rows import iter_rows
    from icpscan.store import open_db

    db = open_db(world.db, create=False)
    out = world.state / f"export-{fmt}"
    result = run_icpscan(
        "export", "--db", str(world.db), "--scan", "1", "--format", fmt, "--table", "all",
        "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert package["version"] == "1.0"
    for resource in package["resources"]:
        table = resource["name"]
        rows = list(iter_rows(db, 1, table))
        back = list(read_export(out / resource["path"], fmt, table))
        assert back == rows, table
        assert resource["rows"] == len(rows) > 0


def test_parquet_carries_the_dictionary(world, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    result = run_icpscan("export", "--db", str(world.db), "--format", "parquet", "-o", str(path))
    assert result.returncode == 0 and "exported 100 domains rows of scan 2" in result.stderr
    schema = pq.read_schema(path)
    assert schema.metadata[b"icpscan.dataset_version"] == b"1.0"
    assert schema.metadata[b"icpscan.scan_id"] == b"2"
    assert schema.field("region").metadata[b"description"].startswith(b"Hosting region")
    numbers_type = schema.field("filing_numbers").type
    assert pa.types.is_list(numbers_type) and pa.types.is_string(numbers_type.value_type)
    stdout = run_icpscan("export", "--db", str(world.db), "--format", "parquet")
    assert stdout.returncode == 2 and "Parquet is binary" in stdout.stderr


def test_load_gives_dataframes(world):
    import icpscan

    data = icpscan.load(world.db, scan=1)
    assert data.scan_id == 1
    assert len(data.domains) == 100
    regions = data.domains.groupby("region").size().to_dict()
    assert regions == dict(Counter(t["region"] for t in world.plain0.values()))
    assert str(data.domains["reached"].dtype) == "boolean"
    assert len(data.findings) == sum(len(r["findings"]) for r in world.first)
    assert set(data.records["relation"]) == {"domain", "number"}


def test_datasette_runs_the_canned_queries(world, tmp_path):
    from datasette.app import Datasette  # pinned in the dev extra

    from icpscan.dataset.datasette import datasette_metadata

    shipped = json.loads(
        (Path(__file__).resolve().parent.parent / "datasette" / "metadata.json").read_text()
    )
    assert shipped == datasette_metadata("icpscan")
    ds = Datasette([str(world.db)], metadata=shipped)
    moved = next(
        d for d, t in world.plain1.items() if "epoch_change:moved_into_mainland" in t["exercises"]
    )

    async def fetch(path: str) -> list[dict]:
        response = await ds.client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        return response.json()

    async def run() -> dict[str, list[dict]]:
        base = "/icpscan/{}.json?_shape=array&_size=max"
        names = ["mainland_without_number_latest", "shared_numbers_latest",
                 "changes_between_last_two_scans"]  # fmt: skip
        results = {name: await fetch(base.format(name)) for name in names}
        results["history"] = await fetch(base.format("domain_history") + "&domain=" + moved)
        table = await ds.client.get("/icpscan/findings.json?_facet=code&_size=0")
        results["facets"] = table.json()["facet_results"]
        return results

    results = asyncio.run(run())
    no_number = {r["domain"] for r in results["mainland_without_number_latest"]}
    assert no_number == {
        d for d, t in world.truth1.items() if "MAINLAND_NO_ICP" in t["findings_with_records"]
    }
    shared = {r["number"] for r in results["shared_numbers_latest"] if r["website_number"]}
    flagged = {
        f["evidence"]["number"] for r in world.second for f in r["findings"]
        if f["code"] == "NUMBER_SHARED"
    }  # fmt: skip
    assert shared == flagged and shared
    view = {r["domain"]: r["changes"].split() for r in results["changes_between_last_two_scans"]}
    merged = {}
    for domain, kinds in expected_changes(world).items():
        kinds = [k for k in kinds if not k.startswith("findings_")]
        if any(k.startswith("findings_") for k in expected_changes(world)[domain]):
            kinds.append("findings_changed")
        merged[domain] = kinds
    assert view == merged
    assert [(r["scan_id"], r["region"]) for r in results["history"]] == [
        (1, world.plain0[moved]["region"]), (2, "mainland"),
    ]  # fmt: skip
    facets = {f["value"]: f["count"] for f in results["facets"]["code"]["results"]}
    assert facets["RECORD_MISSING"] == sum(
        f["code"] == "RECORD_MISSING" for r in world.first + world.second for f in r["findings"]
    )


# -- the HTTP lookup source ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def lookups(world, tmp_path_factory):
    """Ten healthy domains that show numbers, and the mock service serving the world's records."""
    state = tmp_path_factory.mktemp("service")
    picks = [
        d for d, t in world.plain1.items()
        if "http:ok" in t["exercises"] and world.truth1[d]["record_case"]
        and not any(x.startswith(("http:slow", "http:trickle")) for x in t["exercises"])
    ][:10]  # fmt: skip
    listing = state / "picks.txt"
    listing.write_text("\n".join(picks) + "\n", encoding="utf-8")
    with RecordService(world.box.scenario.records) as service:
        yield SimpleNamespace(service=service, picks=picks, listing=listing, state=state)


def _service_scan(world, lookups, name: str, *extra: str, **config) -> list[dict]:
    path = lookups.state / f"{name}.toml"
    path.write_text(lookups.service.config_text(**config), encoding="utf-8")
    return scan(
        world.box, lookups.state / f"{name}.db", lookups.state / f"{name}.jsonl",
        "--record-service", str(path), *extra, domains=lookups.listing,
    )  # fmt: skip


def _record_codes(record: dict) -> list[str]:
    return sorted(f["code"] for f in record["findings"] if f["code"].startswith("RECORD_"))


def test_service_throttling_is_waited_out_and_the_rate_limit_is_shared(world, lookups):
    service = lookups.service
    service.reset_counters()
    service.throttle_first, service.retry_after = 2, "1"
    try:
        records = _service_scan(world, lookups, "throttled", "--workers", "2", requests=4)
    finally:
        service.throttle_first = 0
    assert {r["domain"]: _record_codes(r) for r in records} == {
        d: world.truth1[d]["record_findings"] for d in lookups.picks
    }
    assert all(r["records"]["status"] in ("found", "none") for r in records)
    assert service.statuses[429] == 2
    gaps = [b - a for a, b in zip(service.times, service.times[1:], strict=False)]
    # 4 per second for the whole scan (two workers share it), Retry-After held everyone back
    assert min(gaps) >= 0.2
    assert max(gaps) >= 0.9
    # a second scan into the same database asks nothing: positive and negative answers cached
    before = service.requests
    again = scan(
        world.box, lookups.state / "throttled.db", lookups.state / "again.jsonl",
        "--record-service", str(lookups.state / "throttled.toml"), domains=lookups.listing,
    )  # fmt: skip
    assert service.requests == before
    assert all(r["records"]["cached"] for r in again if r["records"]["status"] != "skipped")
    assert {r["domain"]: _record_codes(r) for r in again} == {
        r["domain"]: _record_codes(r) for r in records
    }


@pytest.mark.parametrize(
    ("knob", "kind"), [("block_after", "blocked"), ("schema_after", "schema_changed")]
)
def test_blocked_or_changed_service_fails_softly(world, lookups, knob, kind):
    service = lookups.service
    service.reset_counters()
    setattr(service, knob, 3)
    try:
        records = _service_scan(world, lookups, kind, "--workers", "1", requests=50)
    finally:
        setattr(service, knob, None)
    statuses = Counter(r["records"]["status"] for r in records)
    assert statuses["error"] >= len(lookups.picks) - 3
    for record in records:
        if record["records"]["status"] == "error":
            assert record["records"]["error"]["kind"] == kind
            assert _record_codes(record) == []  # never "not filed" because a lookup failed
        else:
            assert _record_codes(record) == world.truth1[record["domain"]]["record_findings"]
    assert service.requests == 4  # three answers, one refusal, then not asked again
