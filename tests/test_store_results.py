"""Writing result records: one row per domain, exactly once, whatever the page contained."""

from __future__ import annotations

import json

from icpscan import store


def record(domain: str, **extra) -> dict:
    base = {
        "schema_version": "1.0",
        "domain": domain,
        "display": domain,
        "line": 1,
        "hosting": {"region": "mainland", "addresses": ["1.2.4.8"], "address_info": [
            {"address": "1.2.4.8", "version": 4, "region": "mainland", "asn": 4134}
        ], "answers": [{"name": domain, "rtype": "A", "records": ["1.2.4.8"], "ttl": 600,
                        "cnames": [], "view": "default"}]},
        "fetch": {"reached": True, "status": 200, "final_url": f"https://{domain}/"},
        "numbers": [{"kind": "icp_filing", "number": "京ICP备2021012345号-1", "valid": True,
                     "placeholder": False, "linked": True, "location": "footer", "own": True,
                     "province": {"code": "11", "name": "北京"}, "problems": []}],
        "findings": [{"code": "PSB_MISSING", "severity": "low", "message": "m", "evidence": {}}],
    }  # fmt: skip
    base.update(extra)
    return base


def test_a_domain_delivered_twice_is_stored_once(tmp_path):
    db = store.open_db(tmp_path / "r.db")
    scan_id = store.create_scan(db, input_name="x", options={})
    store.enqueue_targets(db, scan_id, [("a.cn", "a.cn", 1)], lines_read=1)
    assert store.write_results(db, scan_id, [record("a.cn")]) == 1
    assert store.write_results(db, scan_id, [record("a.cn", title="second")]) == 0
    assert db.execute("SELECT count(*) FROM domains").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM numbers").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM findings").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM dns_answers").fetchone()[0] == 1
    assert store.queue_counts(db, scan_id) == {"pending": 0, "claimed": 0, "done": 1}
    row = db.execute("SELECT region, max_severity, finding_codes FROM domains").fetchone()
    assert row == ("mainland", "low", "PSB_MISSING")


def test_hostile_text_is_stored_as_valid_one_line_json(tmp_path):
    db = store.open_db(tmp_path / "r.db")
    scan_id = store.create_scan(db, input_name="x", options={})
    title = "lone \ud800 surrogate\u2028line separator'); DROP TABLE domains;--"
    assert store.write_results(db, scan_id, [record("b.cn", title=title)]) == 1
    (stored,) = db.execute("SELECT record FROM domains").fetchone()
    assert "\n" not in stored and "\u2028" not in stored
    assert stored.splitlines() == [stored]
    assert json.loads(stored)["title"] == title
    assert db.execute("SELECT count(*) FROM domains").fetchone()[0] == 1
