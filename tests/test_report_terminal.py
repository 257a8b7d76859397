"""Terminal renderings: exact summary and table text, crawled text inert, colour rules."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from icpscan.report import iter_records, render_summary, scan_summary, terminal, write_table
from tests.report_records import (
    hostile_record,
    hostile_strings,
    number,
    plain_records,
    record,
    store_records,
)

SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colour codes


def plain_console(width: int = 100) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, color_system=None), out


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


@pytest.fixture
def plain_db(tmp_path):
    db, scan_id = store_records(
        tmp_path / "t.db", plain_records(), invalid=[(6, "ht tp://x", "bad_url", "not a URL")]
    )
    db.execute(
        "UPDATE scans SET started_at = ?, finished_at = ? WHERE id = ?",
        ["2026-11-28T10:00:00+00:00", "2026-11-28T10:01:40+00:00", scan_id],
    )
    return db, scan_id


def test_summary_text_is_exact(plain_db):
    db, scan_id = plain_db
    console, out = plain_console()
    render_summary(console, scan_summary(db, scan_id))
    assert lines(out.getvalue()) == [
        "Scan 1 · domains.txt · finished · started 2026-11-28T10:00:00+00:00, finished",
        "2026-11-28T10:01:40+00:00 (1m 40s, 0.05 domains/s)",
        "5 domains: 4 reached, 1 unreached · input: 1 invalid, 0 duplicate lines",
        "",
        "Hosting region",
        "region     domains   share",
        "──────────────────────────",
        "mainland         3   60.0%",
        "hongkong         1   20.0%",
        "unknown          1   20.0%",
        "",
        "Findings",
        "code                severity   findings   domains",
        "─────────────────────────────────────────────────",
        "ICP_PLACEHOLDER     high              1         1",
        "MAINLAND_NO_ICP     high              1         1",
        "PSB_MISSING         low               2         2",
        "OFFSHORE_WITH_ICP   info              1         1",
        "UNREACHABLE         info              1         1",
        "",
        "Errors",
        "fetch   dns 1",
        "dns     nxdomain 1",
        "input   bad_url 1",
    ]


def test_summary_of_a_clean_unfinished_scan(tmp_path):
    db, scan_id = store_records(
        tmp_path / "c.db", [record("a.cn", 1, region="abroad")], finish=False
    )
    db.execute(
        "INSERT INTO targets (scan_id, domain, display, line, state)"
        " VALUES (?, 'b.cn', 'b.cn', 2, 'pending')",
        [scan_id],
    )
    console, out = plain_console()
    render_summary(console, scan_summary(db, scan_id))
    text = lines(out.getvalue())
    assert text[0].startswith("Scan 1 · domains.txt · running · started ")
    assert text[1] == "1 domains: 1 reached, 0 unreached · 1 of 2 not scanned"
    assert "No findings." in text
    assert text[-3:] == ["fetch   none", "dns     none", "input   none"]


def test_table_text_is_exact(plain_db):
    db, scan_id = plain_db
    console, out = plain_console()
    assert write_table(console, iter_records(db, scan_id)) == 5
    assert lines(out.getvalue()) == [
        "domain               region    status      numbers                     findings"
        "             severity",
        "─" * 100,
        "good.cn              mainland  200         京ICP备2021012345号-1                  "
        "          -",
        "                                           京公网安备11010502030143号",
        "noicp.cn             mainland  200                                     MAINLAND_NO_ICP"
        "      high",
        "                                                                       PSB_MISSING",
        "hk.example           hongkong  200         沪ICP备12345678号           OFFSHORE_WITH_ICP"
        "    info",
        "down.example         unknown   dns                                     UNREACHABLE"
        "          info",
        "例子.中国            mainland  200         京ICP备XXXXXXXX号           ICP_PLACEHOLDER"
        "      high",
        "xn--fsqu00a.xn--fiq                        粤B2-20090059               PSB_MISSING",
        "s8s",
    ]


def test_long_tables_stream_in_aligned_chunks_with_one_header(tmp_path, monkeypatch):
    monkeypatch.setattr(terminal, "TABLE_CHUNK", 2)
    records = [
        record(f"d{i}.cn", i, numbers=[number("icp_filing", f"京ICP备2021{i:06d}号")])
        for i in range(1, 6)
    ]
    db, scan_id = store_records(tmp_path / "l.db", records)
    console, out = plain_console()
    assert write_table(console, iter_records(db, scan_id)) == 5
    text = lines(out.getvalue())
    assert sum(line.startswith("domain ") for line in text) == 1
    rows = [line for line in text if line.startswith("d")][1:]
    assert [row.split()[0] for row in rows] == [f"d{i}.cn" for i in range(1, 6)]
    assert len({row.index("京ICP备") for row in rows}) == 1  # the same column in every chunk


def test_empty_table_says_so():
    console, out = plain_console()
    assert write_table(console, []) == 0
    assert out.getvalue() == "No domains stored for this scan.\n"


def hostile_terminal_record():
    h = hostile_strings()
    rec = hostile_record(1)
    rec["display"] = h["ansi"] + h["rich"] + h["rtl"] + h["controls"]
    rec["numbers"][0]["number"] = h["ansi"] + "京ICP备2021012345号-1"
    return rec


@pytest.mark.parametrize("colour", [False, True])
def test_crawled_text_cannot_drive_the_terminal_or_inject_markup(tmp_path, colour):
    db, scan_id = store_records(
        tmp_path / "h.db", [hostile_terminal_record()], input_name="in\x1b[2Jput[red]"
    )
    out = io.StringIO()
    console = Console(
        file=out, width=120, force_terminal=colour, color_system="standard" if colour else None
    )
    write_table(console, iter_records(db, scan_id))
    render_summary(console, scan_summary(db, scan_id))
    text = out.getvalue()
    if colour:
        assert SGR.search(text)  # our own styling is there...
    residue = SGR.sub("", text)
    assert "\x1b" not in residue  # ...and it is the only escape sequence
    assert not set(residue) & {"\x07", "\x00", "\x08", "\r", "\x7f", "\x9b", "\u202e", "\u2066"}
    # What the cells say: every escape visible, markup as literal text.
    domain, _, _, numbers, codes, _ = (
        cell.plain for cell in terminal.domain_row(hostile_terminal_record())
    )
    assert domain.startswith(
        "\\x1b[31mRED\\x1b[0m\\x07\\x1b]0;title\\x07"
        "[bold red]markup[/bold red] [link=http://127.0.0.1:9/]l[/link]"
        "moc.elgoog\\u202e.evil\\u2066x\\u2069nul\\x00bs\\x08cr\\x0ddel\\x7fc1\\x9b"
    )
    assert numbers.startswith("\\x1b[31mRED\\x1b[0m\\x07\\x1b]0;title\\x07京ICP备")
    assert 'X"><img src="http://127.0.0.1:9/' in codes
    assert "red]markup[/bold red]" in residue  # markup would have been eaten by rich
    assert "in\\x1b[2Jput[red]" in residue  # the input name in the header


COLOUR_SGR = re.compile(r"\x1b\[(?:[0-9]+;)*(?:3[0-7]|9[0-7]|38;[0-9;]+)m")


@pytest.mark.parametrize("no_color", [False, True])
def test_no_color_environment_turns_colour_off_on_a_terminal(tmp_path, monkeypatch, no_color):
    db, scan_id = store_records(tmp_path / "n.db", plain_records())
    monkeypatch.delenv("NO_COLOR", raising=False)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system="standard")
    render_summary(console, scan_summary(db, scan_id))
    write_table(console, iter_records(db, scan_id))
    assert bool(COLOUR_SGR.search(out.getvalue())) is not no_color


def test_a_record_of_an_unexpected_shape_gets_a_row_saying_so():
    broken = record("bad.cn", 1)
    broken["numbers"] = ["not an object"]
    assert [cell.plain for cell in terminal.domain_row(broken)] == [
        "bad.cn",
        "-",
        "-",
        "",
        "unreadable record",
        "-",
    ]
