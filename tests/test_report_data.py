"""Report readers: scan summaries and record streams read back from real SQLite files."""

from __future__ import annotations

import json

import pytest

from icpscan import store
from icpscan.report.data import (
    CodeCount,
    FetchTiming,
    ProvinceCount,
    ReportError,
    iter_record_json,
    iter_records,
    resolve_scan_id,
    scan_summary,
    severity_rank,
)
from tests.report_records import plain_records, record, store_records

INVALID = [(6, "ht tp://x", "bad_url", "not a URL"), (8, "*.x.cn", "wildcard", "wildcard")]


@pytest.fixture
def plain_db(tmp_path):
    db, scan_id = store_records(tmp_path / "scan.db", plain_records(), invalid=INVALID)
    return db, scan_id


def test_summary_counts_every_aggregate_exactly(plain_db):
    db, scan_id = plain_db
    summary = scan_summary(db, scan_id)
    assert summary.scan.id == scan_id
    assert summary.scan.input == "domains.txt"
    assert summary.scan.status == "finished"
    assert summary.scan.input_complete is True
    assert (summary.scan.input_lines, summary.scan.invalid_lines) == (7, 2)
    assert (summary.domains, summary.queued, summary.pending) == (5, 5, 0)
    assert (summary.reached, summary.unreached) == (4, 1)
    assert summary.regions == {"mainland": 3, "hongkong": 1, "unknown": 1}
    assert list(summary.regions) == ["mainland", "hongkong", "unknown"]  # Region order
    assert (summary.findings, summary.domains_with_findings) == (6, 4)
    assert summary.severities == {"high": 2, "low": 2, "info": 2}
    assert summary.domains_by_severity == {"high": 2, "info": 2}
    assert summary.codes == (
        CodeCount("ICP_PLACEHOLDER", "high", 1, 1),
        CodeCount("MAINLAND_NO_ICP", "high", 1, 1),
        CodeCount("PSB_MISSING", "low", 2, 2),
        CodeCount("OFFSHORE_WITH_ICP", "info", 1, 1),
        CodeCount("UNREACHABLE", "info", 1, 1),
    )
    assert summary.codes[1].meaning.startswith("Served from the mainland")
    # good.cn shows 京 ICP + 京 PSB, 例子.中国 a 京 placeholder; 沪 on hk.example; 粤 licence.
    assert summary.provinces == (
        ProvinceCount("11", "北京", "Beijing", 2, 3),
        ProvinceCount("31", "上海", "Shanghai", 1, 1),
        ProvinceCount("44", "广东", "Guangdong", 1, 1),
    )
    assert summary.numbers_by_kind == {"icp_filing": 3, "icp_licence": 1, "psb_filing": 1}
    assert summary.fetch_errors == {"dns": 1}
    assert summary.dns_errors == {"nxdomain": 1}
    assert summary.input_errors == {"bad_url": 1, "wildcard": 1}
    assert summary.timing == FetchTiming(5, 0.25, 0.25)


def test_quoted_numbers_do_not_count_as_a_province(tmp_path):
    from tests.report_records import number

    quoted = number(
        "icp_filing",
        "粤ICP备12345678号",
        province=("粤", "44", "广东", "Guangdong"),
        own=False,
        location="body",
    )
    db, scan_id = store_records(tmp_path / "q.db", [record("a.cn", 1, numbers=[quoted])])
    summary = scan_summary(db, scan_id)
    assert summary.provinces == ()
    assert summary.numbers_by_kind == {}


def test_duration_and_rate_come_from_the_scan_times(plain_db):
    db, scan_id = plain_db
    db.execute(
        "UPDATE scans SET started_at = ?, finished_at = ? WHERE id = ?",
        ["2026-11-28T10:00:00+00:00", "2026-11-28T10:00:02+00:00", scan_id],
    )
    summary = scan_summary(db, scan_id)
    assert summary.scan.duration == 2.0
    assert summary.rate == 2.5


def test_unfinished_scan_counts_what_is_still_queued(tmp_path):
    records = plain_records()
    db, scan_id = store_records(tmp_path / "u.db", records[:2], finish=False)
    store.enqueue_targets(
        db, scan_id, [("later.cn", "later.cn", 9), ("late2.cn", "late2.cn", 10)], lines_read=10
    )
    summary = scan_summary(db, scan_id)
    assert summary.scan.status == "running"
    assert summary.scan.finished_at is None
    assert summary.scan.duration is None
    assert summary.rate is None
    assert (summary.domains, summary.queued, summary.pending) == (2, 4, 2)


def test_empty_scan_has_zero_counts(tmp_path):
    db, scan_id = store_records(tmp_path / "e.db", [])
    summary = scan_summary(db, scan_id)
    assert (summary.domains, summary.reached, summary.unreached, summary.findings) == (0, 0, 0, 0)
    assert summary.regions == {} and summary.codes == () and summary.provinces == ()
    assert list(iter_records(db, scan_id)) == []


def test_records_stream_in_input_order_exactly_as_stored(tmp_path):
    records = plain_records()
    shuffled = [records[3], records[0], records[4], records[1], records[2]]
    db, scan_id = store_records(tmp_path / "o.db", shuffled)
    lines = list(iter_record_json(db, scan_id))
    assert [json.loads(line)["line"] for line in lines] == [1, 2, 3, 4, 5]
    stored = {
        row["domain"]: row["record"]
        for row in db.query("SELECT domain, record FROM domains WHERE scan_id = ?", [scan_id])
    }
    assert lines == [stored[json.loads(line)["domain"]] for line in lines]
    assert [r["domain"] for r in iter_records(db, scan_id)] == [
        "good.cn",
        "noicp.cn",
        "hk.example",
        "down.example",
        "xn--fsqu00a.xn--fiqs8s",
    ]


def test_most_severe_first_then_input_order_with_limit(plain_db):
    db, scan_id = plain_db
    domains = [r["domain"] for r in iter_records(db, scan_id, most_severe_first=True)]
    assert domains == [
        "noicp.cn",
        "xn--fsqu00a.xn--fiqs8s",
        "hk.example",
        "down.example",
        "good.cn",
    ]
    limited = [r["domain"] for r in iter_records(db, scan_id, most_severe_first=True, limit=2)]
    assert limited == ["noicp.cn", "xn--fsqu00a.xn--fiqs8s"]


def test_records_of_other_scans_are_not_mixed_in(tmp_path):
    path = tmp_path / "two.db"
    db, first = store_records(path, plain_records()[:2])
    second = store.create_scan(db, input_name="again.txt", options={})
    store.write_results(db, second, [record("only.cn", 1) | {"scan_id": second}])
    assert [r["domain"] for r in iter_records(db, second)] == ["only.cn"]
    assert scan_summary(db, first).domains == 2
    assert scan_summary(db, second).domains == 1
    assert resolve_scan_id(db, None) == second
    assert resolve_scan_id(db, first) == first


def test_unknown_scan_and_empty_database_are_report_errors(tmp_path):
    db, _ = store_records(tmp_path / "one.db", [])
    with pytest.raises(ReportError, match=r"^no scan 7 in the database \(scans 1\.\.1\)$"):
        resolve_scan_id(db, 7)
    with pytest.raises(ReportError, match="no scan 7"):
        scan_summary(db, 7)
    empty = store.open_db(tmp_path / "empty.db")
    with pytest.raises(ReportError, match=r"^the database holds no scan yet$"):
        resolve_scan_id(empty, None)


def test_severity_rank_orders_known_severities_and_ignores_others():
    assert [severity_rank(s) for s in ("info", "low", "medium", "high")] == [1, 2, 3, 4]
    assert severity_rank(None) == 0
    assert severity_rank("catastrophic") == 0
