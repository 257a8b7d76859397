"""The whole fault lab in one real scan: it finishes, loses nothing, and the faults stay local.

Every other file of the suite looks at one fault class in this same scan; here are the checks
that hold for all of them together: one record per input domain, in input order; every
generated site (faults and ordinary ones alike) exactly as its ground truth says; every
hand-built case exactly as its expectation says; memory bounded although the scan met three
1 GiB decompression bombs, a 256 MiB endless body and a 6 MiB page.
"""

from __future__ import annotations

from icpscan.sandbox import hostile
from tests.faults.conftest import db_rows
from tests.faults.support import outcome_problems
from tests.test_scan_e2e import assert_matches_truth

RSS_BOUND = 500 * 1024 * 1024


def test_every_input_domain_has_exactly_one_record_in_input_order(lab, lab_scan):
    assert lab_scan.order == lab.domains
    rows = db_rows(lab_scan.db, "SELECT domain, count(*) FROM domains GROUP BY domain")
    assert sorted(rows) == sorted((d, 1) for d in lab.domains)
    assert db_rows(lab_scan.db, "SELECT state, count(*) FROM targets GROUP BY state") == [
        ("done", len(lab.domains))
    ]
    assert db_rows(lab_scan.db, "SELECT count(*) FROM fetches") == [(len(lab.domains),)]
    assert db_rows(lab_scan.db, "SELECT id, status FROM scans") == [(1, "finished")]


def test_generated_sites_match_the_ground_truth_amid_the_faults(lab, lab_scan):
    truth = {d: t.to_json() for d, t in lab.scenario.truth.items()}
    assert_matches_truth(truth, [lab_scan.record(d) for d in truth], "findings")


def test_every_hand_built_case_records_exactly_its_expected_outcome(lab, lab_scan):
    problems = {
        case.name: found
        for case in lab.cases
        if (found := outcome_problems(case.expect, lab_scan.record(case.domain)))
    }
    assert problems == {}


def test_an_unreached_site_gets_the_unreachable_finding_and_no_numbers(lab, lab_scan):
    for case in lab.cases:
        record = lab_scan.record(case.domain)
        codes = [f["code"] for f in record["findings"]]
        if not case.expect.reached:
            assert (record["numbers"], codes) == ([], ["UNREACHABLE"]), case.name


def test_worker_memory_stays_bounded_under_bombs_and_huge_bodies(lab, lab_scan):
    bombs = [c.domain for c in lab.cases if c.name.endswith("_bomb")]
    assert len(bombs) == 3
    assert [lab_scan.record(d)["fetch"]["error"]["kind"] for d in bombs] == ["size"] * 3
    assert 0 < lab_scan.peak_worker_rss < RSS_BOUND
    assert 0 < lab_scan.peak_parent_rss < RSS_BOUND


def test_the_catalogue_covers_every_fault_class(lab):
    classes = {c.fault_class for c in lab.cases}
    assert classes == {"dns", "egress", "http", "hostile"}
    assert len({c.domain for c in lab.cases}) == len(lab.cases)
    assert all(c.domain.endswith(hostile.LAB_SUFFIX) for c in lab.cases)
