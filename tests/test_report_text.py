"""``visible``: invisible characters become escapes, lengths are capped; charts' geometry."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icpscan.report.charts import BAR_WIDTH, BarItem, bar_chart
from icpscan.report.text import visible

# Categories no rendered value may contain: controls, format characters (bidi, zero-width),
# line/paragraph separators and surrogates.
FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain 京ICP备2021012345号", "plain 京ICP备2021012345号"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("a\nb\tc\rd", "a\\nb\\tc\\x0dd"),
        ("moc.elgoog\u202e", "moc.elgoog\\u202e"),
        ("\u2066x\u2069\u200e\u200f\u061c", "\\u2066x\\u2069\\u200e\\u200f\\u061c"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("c1\x85\x9b del\x7f nul\x00", "c1\\x85\\x9b del\\x7f nul\\x00"),
        ("lone \ud800", "lone \\ud800"),
        ("[bold]x[/bold] <b>&", "[bold]x[/bold] <b>&"),  # markup is for later layers
        ("مرحبا.شبكة", "مرحبا.شبكة"),  # right-to-left letters are text, not controls
        (None, ""),
        (404, "404"),
    ],
)
def test_visible_examples(raw, shown):
    assert visible(raw) == shown


def test_every_control_format_and_separator_character_is_escaped():
    # Exhaustive over Unicode (as this Python knows it): a new Cf character fails here.
    hidden = [
        chr(cp)
        for cp in range(0x110000)
        if unicodedata.category(chr(cp)) in FORBIDDEN_CATEGORIES and chr(cp) not in "\t\n"
    ]
    shown = visible("".join(hidden))
    assert not [c for c in shown if unicodedata.category(c) in FORBIDDEN_CATEGORIES]
    assert shown.count("\\") == len(hidden)
    assert visible("tag\U000e0041\U000e0042") == "tag\\U000e0041\\U000e0042"


def test_multiline_keeps_newlines_and_tabs_only():
    assert visible("a\nb\tc\rd\u2028", multiline=True) == "a\nb\tc\\x0dd\\u2028"


def test_limit_counts_before_escaping_and_says_what_was_cut():
    assert visible("x" * 10, 4) == "xxxx…[+6 chars]"
    assert visible("\x1b" * 3 + "y" * 2000, 2) == "\\x1b\\x1b…[+2,001 chars]"
    assert visible("short", 5) == "short"


@given(st.text(), st.one_of(st.none(), st.integers(min_value=0, max_value=50)))
def test_visible_output_has_no_invisible_character(value, limit):
    shown = visible(value, limit)
    for char in shown:
        category = unicodedata.category(char)
        assert category not in FORBIDDEN_CATEGORIES, repr(char)
    shown.encode("utf-8")  # always writable
    if limit is not None and len(value) > limit:
        assert shown.endswith(f"…[+{len(value) - limit:,} chars]")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Zl", "Zp", "Cs"))))
def test_visible_leaves_ordinary_text_alone(value):
    assert visible(value) == value


def test_bar_chart_scales_to_the_largest_value():
    chart = bar_chart(
        "c",
        "Title",
        [BarItem("a", 10), BarItem("b", 5), BarItem("c", 0), BarItem("d", 1)],
        total=16,
    )
    assert [(b.label, b.width, b.value_text) for b in chart.bars] == [
        ("a", float(BAR_WIDTH), "10 (62.5%)"),
        ("b", BAR_WIDTH / 2, "5 (31.2%)"),
        ("c", 0.0, "0 (0.0%)"),
        ("d", 32.0, "1 (6.2%)"),
    ]
    assert [b.y for b in chart.bars] == [0.0, 22.0, 44.0, 66.0]
    assert chart.height == 88 and chart.title == "Title"


def test_bar_chart_keeps_tiny_bars_visible_and_cuts_long_lists_in_the_title():
    items = [BarItem("big", 100_000)] + [BarItem(f"i{n}", 1) for n in range(50)]
    chart = bar_chart("c", "Provinces", items, limit=40)
    assert len(chart.bars) == 40
    assert chart.title == "Provinces (top 40 of 51)"
    assert chart.bars[1].width == 1.0
    long = bar_chart("c", "T", [BarItem("x" * 60, 1)])
    assert long.bars[0].label == "x" * 27 + "…" and long.bars[0].full_label == "x" * 60
