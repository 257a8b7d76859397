"""``icpscan report``: formats, files, scan selection and one-line errors with exit code 2."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import lxml.html
import pytest

from icpscan import store
from icpscan.cli import main
from icpscan.report import iter_record_json, write_csv
from tests.conftest import REPO_ROOT
from tests.report_records import hostile_record, plain_records, record, store_records


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "results.db"
    db, _ = store_records(path, [*plain_records(), hostile_record(6)])
    db.close()
    return path


def test_default_is_the_table_and_summary_without_colour(db_path, capsys):
    code, out, err = run(["report", "--db", str(db_path)], capsys)
    assert (code, err) == (0, "")
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[0].split() == ["domain", "region", "status", "numbers", "findings", "severity"]
    assert lines[2].split() == ["good.cn", "mainland", "200", "京ICP备2021012345号-1", "-"]
    assert "Hosting region" in lines and "Findings" in lines and "Errors" in lines
    assert "6 domains: 5 reached, 1 unreached" in out
    assert "\x1b" not in out
    assert max(len(line) for line in lines) <= 160  # pipes get a fixed width


def test_jsonl_prints_the_stored_lines(db_path, capsys):
    code, out, err = run(["report", "--db", str(db_path), "--format", "jsonl"], capsys)
    assert (code, err) == (0, "")
    db = store.open_db(db_path, create=False)
    assert out == "".join(line + "\n" for line in iter_record_json(db, 1))
    assert [json.loads(line)["line"] for line in out.split("\n")[:-1]] == [1, 2, 3, 4, 5, 6]


def test_csv_to_a_file_keeps_crlf_and_stdout_empty(db_path, tmp_path, capsys):
    target = tmp_path / "out.csv"
    code, out, err = run(
        ["report", "--db", str(db_path), "--format", "csv", "-o", str(target)], capsys
    )
    assert (code, out, err) == (0, "", "")
    expected = io.StringIO(newline="")
    write_csv(iter_record_json(store.open_db(db_path, create=False), 1), expected)
    assert target.read_bytes() == expected.getvalue().encode("utf-8")
    assert target.read_bytes().count(b"\r\n") == 7


def test_html_writes_the_file_and_one_line_on_stderr(db_path, tmp_path, capsys):
    target = tmp_path / "report.html"
    code, out, err = run(["report", "--db", str(db_path), "--html", str(target)], capsys)
    assert (code, out) == (0, "")
    assert err == f"icpscan: wrote the HTML report of scan 1 to {target}\n"
    root = lxml.html.document_fromstring(target.read_text(encoding="utf-8"))
    assert len(root.xpath("//tbody[@class='domain']")) == 6


def test_html_with_an_explicit_format_also_prints_it(db_path, tmp_path, capsys):
    target = tmp_path / "report.html"
    code, out, _ = run(
        [
            "report",
            "--db",
            str(db_path),
            "--html",
            str(target),
            "--format",
            "jsonl",
            "--max-rows",
            "2",
        ],
        capsys,
    )
    assert code == 0 and len(out.split("\n")) == 7  # U+2028 inside a record is not a line end
    root = lxml.html.document_fromstring(target.read_text(encoding="utf-8"))
    assert len(root.xpath("//tbody[@class='domain']")) == 2


def test_scan_option_picks_a_scan_and_the_default_is_the_latest(db_path, capsys):
    db = store.open_db(db_path, create=False)
    second = store.create_scan(db, input_name="second.txt", options={})
    store.write_results(db, second, [record("later.cn", 1) | {"scan_id": second}])
    _, latest, _ = run(["report", "--db", str(db_path), "--format", "csv"], capsys)
    _, first, _ = run(["report", "--db", str(db_path), "--format", "csv", "--scan", "1"], capsys)
    assert [row.split(",")[0] for row in latest.splitlines()[1:]] == ["later.cn"]
    assert len(first.splitlines()) == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "{tmp}/missing.db"], "icpscan: error: no such database: {tmp}/missing.db\n"),
        (
            ["--db", "{db}", "--scan", "9"],
            "icpscan: error: no scan 9 in the database (scans 1..1): {db}\n",
        ),
        (
            ["--db", "{tmp}/empty.db"],
            "icpscan: error: the database holds no scan yet: {tmp}/empty.db\n",
        ),
        (
            ["--db", "{tmp}/text.db"],
            "icpscan: error: cannot use database {tmp}/text.db: file is not a database\n",
        ),
        (["--db", "{db}", "--html", "{db}/r.html"], None),  # the parent is a file
        (["--db", "{db}", "--format", "xml"], None),
        (["--db", "{db}", "--max-rows", "-1"], None),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, db_path, tmp_path, capsys):
    store.open_db(tmp_path / "empty.db").close()
    (tmp_path / "text.db").write_text("not sqlite\n" * 200, encoding="utf-8")
    args = [a.format(tmp=tmp_path, db=db_path) for a in args]
    code, out, err = run(["report", *args], capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("icpscan: error: ")
    if message is not None:
        assert err == message.format(tmp=tmp_path, db=db_path)
    assert not (tmp_path / "missing.db").exists()  # a report never creates a database


def test_help_names_every_option(capsys):
    code, out, _ = run(["report", "--help"], capsys)
    assert code == 0
    for option in ("--db", "--scan", "--html", "--format", "--output", "--max-rows"):
        assert option in out


def test_runs_as_a_subprocess_and_survives_a_closed_pipe(db_path):
    # `icpscan report ... | head -1`: no traceback when the reader goes away.
    process = subprocess.Popen(
        [sys.executable, "-m", "icpscan", "report", "--db", str(db_path), "--format", "jsonl"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = process.stdout.readline()
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert json.loads(first)["domain"] == "good.cn"
    assert b"Traceback" not in err
