"""JSON lines and CSV: exact lines and rows, formula defusing, hostile text kept as data."""

from __future__ import annotations

import csv
import io
import json

from hypothesis import given
from hypothesis import strategies as st

from icpscan.report.data import iter_record_json, iter_records
from icpscan.report.files import CSV_COLUMNS, defuse_cell, record_json, write_csv, write_jsonl
from tests.report_records import hostile_record, hostile_strings, plain_records, store_records


def test_jsonl_is_exactly_the_stored_json_one_record_per_line(tmp_path):
    db, scan_id = store_records(tmp_path / "s.db", [*plain_records(), hostile_record(6)])
    out = io.StringIO()
    assert write_jsonl(iter_record_json(db, scan_id), out) == 6
    stored = [
        row[0]
        for row in db.execute(
            "SELECT record FROM domains WHERE scan_id = ? ORDER BY line", [scan_id]
        ).fetchall()
    ]
    assert out.getvalue() == "".join(line + "\n" for line in stored)
    # Records given as dicts (how `icpscan scan` streams them) serialise identically.
    again = io.StringIO()
    write_jsonl(iter_records(db, scan_id), again)
    assert again.getvalue() == out.getvalue()
    # Hostile text stays data: U+2028 and ANSI escapes are inside JSON strings, one line each.
    lines = out.getvalue().split("\n")
    assert len(lines) == 7 and lines[-1] == ""
    hostile = json.loads(lines[5])
    assert hostile["fetch"]["headers"]["server"].startswith("\x1b[31mRED")
    assert hostile["title"].endswith("L" * 100_000)


def test_jsonl_record_with_a_lone_surrogate_falls_back_to_ascii_escapes():
    record = {"domain": "a.cn", "title": "bad \ud800 surrogate 中"}
    line = record_json(record)
    assert line == '{"domain":"a.cn","title":"bad \\ud800 surrogate \\u4e2d"}'
    line.encode("utf-8")  # writable
    assert record_json({"domain": "中.cn"}) == '{"domain":"中.cn"}'


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_has_documented_columns_and_exact_rows(tmp_path):
    db, scan_id = store_records(tmp_path / "c.db", plain_records())
    out = io.StringIO(newline="")
    assert write_csv(iter_record_json(db, scan_id), out) == 5
    assert out.getvalue().startswith(",".join(CSV_COLUMNS) + "\r\n")
    rows = _csv_rows(out.getvalue())
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1:] == [
        [
            "good.cn",
            "good.cn",
            "mainland",
            "high",
            "China Telecom",
            "",
            "true",
            "200",
            "https://good.cn/",
            "",
            "京ICP备2021012345号-1",
            "京公网安备11010502030143号",
            "",
            "",
            "",
        ],
        [
            "noicp.cn",
            "noicp.cn",
            "mainland",
            "high",
            "Alibaba Cloud",
            "",
            "true",
            "200",
            "https://noicp.cn/",
            "",
            "",
            "",
            "",
            "MAINLAND_NO_ICP;PSB_MISSING",
            "high",
        ],
        [
            "hk.example",
            "hk.example",
            "hongkong",
            "high",
            "Tencent Cloud",
            "",
            "true",
            "200",
            "https://hk.example/",
            "",
            "沪ICP备12345678号",
            "",
            "",
            "OFFSHORE_WITH_ICP",
            "info",
        ],
        [
            "down.example",
            "down.example",
            "unknown",
            "high",
            "",
            "",
            "false",
            "",
            "",
            "dns",
            "",
            "",
            "",
            "UNREACHABLE",
            "info",
        ],
        [
            "xn--fsqu00a.xn--fiqs8s",
            "例子.中国",
            "mainland",
            "high",
            "China Telecom",
            "",
            "true",
            "200",
            "https://xn--fsqu00a.xn--fiqs8s/",
            "",
            "京ICP备XXXXXXXX号",
            "",
            "粤B2-20090059",
            "ICP_PLACEHOLDER;PSB_MISSING",
            "high",
        ],
    ]
    # dicts and stored lines give the same CSV
    again = io.StringIO(newline="")
    write_csv(iter_records(db, scan_id), again)
    assert again.getvalue() == out.getvalue()


def test_csv_defuses_formulas_and_keeps_hostile_text_as_one_cell(tmp_path):
    h = hostile_strings()
    db, scan_id = store_records(tmp_path / "h.db", [hostile_record(1)])
    out = io.StringIO(newline="")
    write_csv(iter_record_json(db, scan_id), out)
    header, row = _csv_rows(out.getvalue())
    cells = dict(zip(header, row, strict=True))
    assert cells["psb_numbers"] == "'" + h["csv"]  # =HYPERLINK(...) cannot run
    assert cells["display"] == h["rtl"] + h["script"]  # data, exact (CSV is not rendered)
    assert cells["provider"] == h["img"]
    assert cells["final_url"] == h["javascript"]
    assert cells["cdn"] == h["link"]
    assert cells["icp_numbers"] == "京ICP备2021012345号-1"
    assert cells["finding_codes"] == (
        'ICP_NOT_LINKED;PSB_PROVINCE_MISMATCH;X"><img src="http://127.0.0.1:9/code.png">'
    )
    assert cells["max_severity"] == "medium"
    assert len(row) == len(CSV_COLUMNS)


def test_defuse_cell_prefixes_exactly_the_formula_starts():
    for value in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert defuse_cell(value) == "'" + value
    for value in ("", "a=1", "京ICP备", "'=1", " =1"):
        assert defuse_cell(value) == value


@given(st.text())
def test_defused_cells_never_start_a_formula_and_lose_nothing(value):
    cell = defuse_cell(value)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell in (value, "'" + value)
