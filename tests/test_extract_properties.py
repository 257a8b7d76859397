"""Property tests for the extraction engine (hypothesis)."""

from __future__ import annotations

import datetime
import html
import os
import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from icpscan import extract
from icpscan.extract import CANONICAL_PATTERNS, normalise, parse_number
from icpscan.extract import provinces as prov

TODAY = datetime.date(2026, 11, 28)
ROWS = [r for r in prov.tables().rows if r.mainland]
# ICPSCAN_HYPOTHESIS_EXAMPLES=5000 for a long soak; 200 keeps the default run at a few seconds.
EXAMPLES = int(os.environ.get("ICPSCAN_HYPOTHESIS_EXAMPLES", "200"))
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


@st.composite
def valid_numbers(draw: st.DrawFn) -> tuple[str, list[str]]:
    """(normalised number, its parts) for a number the engine must judge valid."""
    row = draw(st.sampled_from(ROWS))
    kind = draw(st.sampled_from(["filing", "licence", "vats", "psb"]))
    if kind == "filing":
        if draw(st.booleans()):
            body = f"{draw(st.integers(2004, 2021)) % 100:02d}{draw(_digits(6))}"
        else:
            body = f"{draw(st.integers(2020, 2026))}{draw(_digits(6))}"
        index = draw(st.one_of(st.none(), st.integers(1, 40).map(str)))
        if index and draw(st.booleans()):
            index += draw(st.sampled_from("AX"))
        parts = [row.icp_prefix, "ICP", "备", body, "号"] + (["-", index] if index else [])
        number = f"{row.icp_prefix}ICP备{body}号" + (f"-{index}" if index else "")
    elif kind == "licence":
        body = f"{draw(st.integers(0, 26)):02d}{draw(_digits(4))}"
        parts = [row.icp_prefix, "ICP", "证", body, "号"]
        number = f"{row.icp_prefix}ICP证{body}号"
    elif kind == "vats":
        prefix = draw(st.sampled_from(["", row.licence_prefixes[0]]))
        cats = draw(st.sampled_from(["B2", "B1.B2", "A2.B1.B2"]))
        body = f"{draw(st.integers(2001, 2026))}{draw(_digits(4))}"
        parts = [prefix, cats, "-", body]
        number = f"{prefix}{cats}-{body}"
    else:
        body = f"{row.code}{draw(_digits(4))}{draw(_digits(8))}"
        parts = [row.psb_prefixes[0], "公网安备", body, "号"]
        number = f"{row.psb_prefixes[0]}公网安备{body}号"
    judged = parse_number(number, today=TODAY)
    assume(judged is not None and judged.valid and not judged.problems)
    return number, parts


FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
TRADITIONAL = {"备": "備", "证": "證", "号": "號", "公网安备": "公網安備"}
GAPS = ["", " ", "&nbsp;", "\u3000", "\u200b", "<span></span>", "\n  "]


@st.composite
def messy(draw: st.DrawFn, parts: list[str]) -> str:
    """Render parts the way real footers do: gaps, widths, case, Traditional, split tags."""
    out = []
    for i, part in enumerate(parts):
        if not part:
            continue
        style = draw(st.sampled_from(["plain", "fullwidth", "lower", "trad", "span", "entity"]))
        if style == "fullwidth" and part.isascii():
            part = "".join(FULLWIDTH.get(c, c) for c in part)
        elif style == "lower" and part == "ICP":
            part = "icp"
        elif style == "trad" and part in TRADITIONAL:
            part = TRADITIONAL[part]
        elif style == "span":
            part = f"<span class='x'>{part}</span>"
        elif style == "entity" and len(part) == 1 and not part.isascii():
            part = f"&#{ord(part)};"
        if part == "-":
            part = draw(st.sampled_from(["-", "－", "—", " - "]))
        if i and parts[i - 1] not in ("", "-") and part not in ("-",):
            part = draw(st.sampled_from(GAPS)) + part
        out.append(part)
    label = draw(st.sampled_from(["", "备案号：", "ICP备案号：", "© 2024 某某公司 ", "| "]))
    return label + "".join(out)


@SETTINGS
@given(st.data())
def test_messy_rendering_extracts_the_same_number(data: st.DataObject) -> None:
    number, parts = data.draw(valid_numbers())
    text = data.draw(messy(parts))
    page = f"<html><body><p>正文</p><footer><p>{text}</p></footer></body></html>"
    result = extract(page, today=TODAY)
    assert [n.number for n in result.numbers] == [number], text
    assert result.numbers[0].valid, text


@SETTINGS
@given(st.data())
def test_normalise_is_idempotent_on_numbers(data: st.DataObject) -> None:
    number, parts = data.draw(valid_numbers())
    text = html.unescape(re.sub(r"<[^>]*>", "", data.draw(messy(parts))))
    once = normalise(text)
    assert once is not None, text
    assert normalise(once) == once
    assert once == number


@SETTINGS
@given(st.text(max_size=300))
def test_normalise_is_idempotent_on_any_text(text: str) -> None:
    once = normalise(text)
    if once is not None:
        assert normalise(once) == once


HTML_BITS = st.sampled_from(
    [
        "<a href='https://beian.miit.gov.cn/'>",
        "</a>",
        "<footer>",
        "</footer>",
        "<!--",
        "-->",
        "<script>",
        "</script>",
        "<style>",
        "<div class='copyright'>",
        "</div>",
        "<",
        ">",
        "&",
        "&nbsp;",
        "&#20140;",
        "京",
        "沪",
        "川",
        "ICP",
        "icp",
        "备",
        "证",
        "号",
        "公网安备",
        "公安机关备案号：",
        "B2-",
        "A2.B1.",
        "2021",
        "0123456789",
        "X",
        "-",
        " ",
        "\n",
        "{{ icp }}",
        "<a href='http://www.beian.gov.cn/?recordcode=11010502030143'>",
        "备案号:",
        "\u200b",
        "<span>",
        "</span>",
        "<img alt='京ICP备",
        "'>",
        "\\u4eac",
        "合字",
        "(全网)",
    ]
)
html_soup = st.lists(st.one_of(HTML_BITS, st.text(max_size=5)), max_size=60).map("".join)


@SETTINGS
@given(st.one_of(st.binary(max_size=2000), st.text(max_size=2000), html_soup))
def test_arbitrary_input_never_raises_and_outputs_canonical_numbers(page: bytes | str) -> None:
    result = extract(page, base_url="https://www.example.cn/", today=TODAY)
    assert isinstance(result.encoding, str)
    for number in result.numbers:
        assert CANONICAL_PATTERNS[number.kind].fullmatch(number.number), number
        assert not (number.valid and number.placeholder)


@SETTINGS
@given(html_soup, st.sampled_from(["utf-8", "gb18030", "big5", "utf-16"]))
def test_encoded_soup_never_raises(page: str, codec: str) -> None:
    data = page.encode(codec, errors="ignore")
    result = extract(data, encoding=codec if codec != "utf-16" else None, today=TODAY)
    for number in result.numbers:
        assert CANONICAL_PATTERNS[number.kind].fullmatch(number.number), number
