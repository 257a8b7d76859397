"""Bad input through ``icpscan scan``: a bad line is reported and skipped, a bad file is one
clear line with exit code 2, and nothing typed by hand stops the rest of a list.

Lines: malformed entries, IDN edge cases (full-width dots, upper case, mixed scripts, emoji,
bad punycode, joiners), names and labels past the DNS limits, wildcards, IP literals, URLs with
credentials (which must never be stored), control characters and duplicates. Files: a CSV with
wrong columns, one without a domain column, empty and comment-only files, binary files.
"""

from __future__ import annotations

import random

import pytest

from tests.faults.conftest import db_rows
from tests.faults.support import FAST, read_jsonl, run_icpscan


def _reachable(lab, count: int) -> list[str]:
    found = [d for d, t in lab.scenario.truth.items() if t.reachable and "http:ok" in t.exercises]
    return found[:count]


def _scan(lab, tmp_path, name: str, content: str | bytes, *extra: str):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    out = tmp_path / f"{name}.jsonl"
    result = run_icpscan(
        "scan", str(path), "--db", str(tmp_path / f"{name}.db"), "--format", "jsonl", "-o",
        str(out), "--workers", "1", *lab.sandbox.scan_args(), *FAST[:-1], *extra,
    )  # fmt: skip
    return result, (read_jsonl(out) if out.exists() else []), tmp_path / f"{name}.db"


def test_a_messy_hand_typed_list_scans_what_is_valid_and_reports_the_rest(lab, tmp_path):
    one, two, three = _reachable(lab, 3)
    lines = [
        one, "  # a comment", "", "*.wild-lab.cn", "1.2.3.4", "[2001:db8::1]",
        "http://10.0.0.1/", "127.1", f"https://alice:s3cret@{two.upper()}:8443/p?q=1#f",
        f"user:hunter2@{three}", "例子.中国", "例子。中国", "BÜCHER.de", "pаypal.com",
        "xn--zz.com", "a" * 64 + ".cn", "abc." * 63 + "cn", "x" * 70_000, "exa_mple.com",
        "a..com", "localhost", "http://", "example.com:abc", "\x1b[31mred.cn", "i❤️.ws",
        "straße.de", one, f"{one}.", "xn--fiqs8s.cn", "ab\u200dc.cn", "example.123", "https://bob:topsecret@10.0.0.1/admin",
    ]  # fmt: skip
    result, records, db = _scan(lab, tmp_path, "messy.txt", "\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert [(r["domain"], r["display"], r["line"]) for r in records] == [
        (one, one, 1),
        (two, two, 9),
        (three, three, 10),
        ("xn--fsqu00a.xn--fiqs8s", "例子.中国", 11),
        ("xn--bcher-kva.de", "bücher.de", 13),
        ("xn--pypal-4ve.com", "xn--pypal-4ve.com", 14),  # mixed scripts are shown as punycode
        ("xn--i-7iq.ws", "i❤.ws", 25),
        ("xn--strae-oqa.de", "straße.de", 26),
        ("xn--fiqs8s.cn", "中国.cn", 29),
    ]
    assert [r["fetch"]["reached"] for r in records[:3]] == [True, True, True]
    assert {r["fetch"]["error"]["kind"] for r in records[3:]} == {"dns"}  # not in the sandbox
    assert db_rows(db, "SELECT line, reason FROM input_errors ORDER BY line") == [
        (4, "wildcard"), (5, "ip_literal"), (6, "ip_literal"), (7, "ip_literal"),
        (8, "ip_literal"), (15, "bad_idna"), (16, "label_too_long"), (17, "too_long"),
        (18, "too_long"), (19, "bad_characters"), (20, "empty_label"), (21, "single_label"),
        (22, "bad_url"), (23, "bad_url"), (24, "bad_characters"), (30, "bad_idna"),
        (31, "ip_literal"), (32, "ip_literal"),
    ]  # fmt: skip
    assert db_rows(db, "SELECT input_lines, invalid_lines, duplicate_lines FROM scans") == [
        (32, 18, 3)
    ]
    # credentials never leave the reader: not in the output, not in any byte of the dataset
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("messy.txt.db*"))
    for secret in (b"s3cret", b"hunter2", b"alice", b"topsecret"):
        assert secret not in stored
        assert secret.decode() not in result.stdout + result.stderr
    assert db_rows(db, "SELECT raw FROM input_errors WHERE line = 32") == [
        ("https://***@10.0.0.1/admin",)
    ]
    long_raw = db_rows(db, "SELECT length(raw) FROM input_errors WHERE line = 18")
    assert long_raw[0][0] <= 210  # a 70,000-character line is not kept


def test_csv_rows_with_wrong_columns_are_reported_and_the_rest_scanned(lab, tmp_path):
    a, b, c = _reachable(lab, 3)
    content = (
        "rank,domain,note\n"
        f'1,{a},x\n2,{b}\n3,{b},x,extra\n4,,x\n5,"{b}",x\n6,"broken.cn,x\n7,{c},x\n'
    )
    result, records, db = _scan(lab, tmp_path, "sites.csv", content)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [(r["domain"], r["line"]) for r in records] == [(a, 2), (b, 6), (c, 8)]
    assert db_rows(db, "SELECT line, reason, message FROM input_errors ORDER BY line") == [
        (3, "bad_csv_row", "the row has 2 fields but the header has 3"),
        (4, "bad_csv_row", "the row has 4 fields but the header has 3"),
        (5, "bad_csv_row", "the domain column is empty in this row"),
        (7, "bad_csv_row", "the row has an unterminated or misplaced quote"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "extra", "message"),
    [
        (
            "nodomain.csv",
            "name,owner,notes\nfoo,bar,baz\n",
            (),
            "has no domain column: the first row has columns 'name', 'owner', 'notes'",
        ),
        ("list.txt", "a.cn\n", ("--column", "2"), "icpscan: error:"),
        ("sites.csv", "rank,domain\n1,a.cn\n", ("--column", "owner"), "icpscan: error:"),
        ("image.txt", b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(4000), (), "binary"),
        ("archive.txt", b"PK\x03\x04" + random.Random(2).randbytes(4000), (), "binary"),
        ("program.txt", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, (), "binary"),
        ("junk.txt", random.Random(3).randbytes(8192), (), "binary"),
    ],
)
def test_an_unusable_input_file_is_one_line_and_exit_2(
    lab, tmp_path, name, content, extra, message
):
    result, records, _db = _scan(lab, tmp_path, name, content, *extra)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("icpscan: error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr and records == []


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.txt", ""), ("comments.txt", "# nothing here\n\n   \n# still nothing\n"),
     ("header.csv", "rank,domain\n")],
)  # fmt: skip
def test_an_empty_input_gives_an_empty_finished_scan(lab, tmp_path, name, content):
    result, records, db = _scan(lab, tmp_path, name, content)
    assert (result.returncode, records) == (0, []), result.stderr
    assert db_rows(db, "SELECT status, input_complete FROM scans") == [("finished", 1)]
    assert db_rows(db, "SELECT count(*) FROM domains") == [(0,)]
