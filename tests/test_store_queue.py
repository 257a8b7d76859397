"""The scan's work queue in SQLite: dedupe, claims, resume, concurrent claimers."""

from __future__ import annotations

import multiprocessing

import pytest

from icpscan import store


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "scan.db")


def _queue(db, scan_id, domains, lines_read=None):
    rows = [(d, d, i + 1) for i, d in enumerate(domains)]
    return store.enqueue_targets(db, scan_id, rows, lines_read=lines_read or len(rows))


def test_schema_is_created_by_migrations_and_reopening_is_idempotent(tmp_path):
    path = tmp_path / "a.db"
    db = store.open_db(path)
    tables = set(db.table_names())
    assert {"scans", "targets", "domains", "numbers", "findings", "fetches"} <= tables
    applied = [m.name for m in store.migrations.applied(db)]
    assert applied[:2] == ["m001_initial", "m002_filing_records_and_views"]
    db.conn.close()
    again = store.open_db(path)
    assert [m.name for m in store.migrations.applied(again)] == applied
    assert again.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _open_at_once(path, barrier, results):
    barrier.wait()
    try:
        db = store.open_db(path)
        results.put([m.name for m in store.migrations.applied(db)])
    except Exception as exc:  # reported to the test, which fails on it
        results.put(repr(exc))


def test_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path):
    # forkserver: cheap starts, so the openers really meet at the barrier (a race needs rounds)
    ctx = multiprocessing.get_context("forkserver")
    names = [m.name for m in store.migrations._migrations]
    count = 4
    for round_ in range(12):
        path = tmp_path / f"new-{round_}.db"
        barrier, results = ctx.Barrier(count), ctx.Queue()
        procs = [
            ctx.Process(target=_open_at_once, args=(path, barrier, results)) for _ in range(count)
        ]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(30)
        # nobody saw "database is locked" (WAL switch, migrations) or a half-made schema
        assert outcomes == [names] * count, (round_, outcomes)
        rows = store.open_db(path).execute("SELECT name FROM _sqlite_migrations").fetchall()
        assert [r[0] for r in rows] == names  # each migration recorded once


def test_duplicates_are_dropped_and_counted(db):
    scan_id = store.create_scan(db, input_name="list.txt", options={})
    assert _queue(db, scan_id, ["a.cn", "b.cn", "a.cn"]) == 2
    assert _queue(db, scan_id, ["b.cn", "c.cn"], lines_read=5) == 1
    scan = store.get_scan(db, scan_id)
    assert scan["duplicate_lines"] == 2
    assert scan["input_lines"] == 5
    assert store.queue_counts(db, scan_id) == {"pending": 3, "claimed": 0, "done": 0}


def test_claims_are_exclusive_and_in_input_order(db):
    scan_id = store.create_scan(db, input_name="x", options={})
    _queue(db, scan_id, [f"d{i}.cn" for i in range(10)])
    first = store.claim_targets(db, scan_id, "w1", 4)
    second = store.claim_targets(db, scan_id, "w2", 4)
    third = store.claim_targets(db, scan_id, "w1", 4)
    assert [t.domain for t in first] == ["d0.cn", "d1.cn", "d2.cn", "d3.cn"]
    assert [t.domain for t in second] == ["d4.cn", "d5.cn", "d6.cn", "d7.cn"]
    assert [t.domain for t in third] == ["d8.cn", "d9.cn"]
    assert store.claim_targets(db, scan_id, "w2", 4) == []


def test_release_claims_puts_unfinished_work_back(db):
    scan_id = store.create_scan(db, input_name="x", options={})
    _queue(db, scan_id, ["a.cn", "b.cn", "c.cn"])
    store.claim_targets(db, scan_id, "dead-worker", 2)
    assert store.release_claims(db, scan_id) == 2
    assert store.queue_counts(db, scan_id) == {"pending": 3, "claimed": 0, "done": 0}


def test_scans_are_kept_apart(db):
    one = store.create_scan(db, input_name="x", options={})
    two = store.create_scan(db, input_name="x", options={})
    _queue(db, one, ["a.cn"])
    _queue(db, two, ["a.cn"])
    assert store.latest_scan_id(db) == two
    store.finish_scan(db, two)
    assert store.latest_scan_id(db, unfinished=True) == one
    assert [t.domain for t in store.claim_targets(db, one, "w", 5)] == ["a.cn"]
    assert [t.domain for t in store.claim_targets(db, two, "w", 5)] == ["a.cn"]


def _claim_all(path, scan_id, worker, out):
    db = store.open_db(path)
    taken = []
    while batch := store.claim_targets(db, scan_id, worker, 7):
        taken.extend(t.domain for t in batch)
    out.put(taken)


def test_concurrent_claimers_in_processes_never_share_a_target(tmp_path):
    path = tmp_path / "q.db"
    db = store.open_db(path)
    scan_id = store.create_scan(db, input_name="x", options={})
    domains = [f"site{i}.cn" for i in range(600)]
    _queue(db, scan_id, domains)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(path, scan_id, f"w{i}", out)) for i in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    taken = [d for r in results for d in r]
    assert sorted(taken) == sorted(domains)
    assert len(taken) == len(set(taken))


def test_unusable_paths_are_clear_store_errors(tmp_path):
    with pytest.raises(store.StoreError, match="no such database"):
        store.open_db(tmp_path / "nope" / "x.db", create=False)
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(store.StoreError, match="cannot use database"):
        store.open_db(tmp_path / "dir.db")
    not_sqlite = tmp_path / "text.db"
    not_sqlite.write_text("domain list, not a database\n" * 100)
    with pytest.raises(store.StoreError, match="file is not a database"):
        store.open_db(not_sqlite)
