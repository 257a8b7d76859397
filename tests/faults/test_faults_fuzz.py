"""Property fuzzing (hypothesis) of what reads hostile bytes first: the charset decoder, the
crawl's redirect detection, and the extractor on raw page bytes.

Charset labels are drawn from every codec name and alias Python knows (bytes-to-bytes codecs
such as zlib and base64 included): a page's ``<meta charset="zlib">`` used to crash both
decoders. The regression cases found while building this suite are pinned below.
"""

from __future__ import annotations

import codecs
import encodings.aliases
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icpscan.crawl.redirects import find_html_redirect, resolve_location
from icpscan.extract import extract
from icpscan.extract.decode import decode, normalise_label, sniff_meta
from icpscan.extract.numbers import MAX_DIGIT_RUN
from icpscan.models import HopKind

PAGE = "https://lab.example.cn/index.html"
LABELS = sorted(
    {*encodings.aliases.aliases, *encodings.aliases.aliases.values()}
    | {"gbk", "gb2312", "big5", "utf-8", "x-no-such", "", "utf-16", "undefined", "../../etc"}
)
FRAGMENTS = [
    "<html>", "<head>", "<meta charset=", '"', "'", "zlib", "gbk", "utf-8", ">", "<title>",
    "</title>", "<script>", "</script>", "location.href=", "'/x'", "location.replace(",
    ")", ";", "<meta http-equiv=refresh content='0;url=", "http://a.test/", "javascript:",
    "<!--", "-->", "<noscript>", "京ICP备", "2021012345", "号-1", "公网安备", "11010802",
    "1" * 30, "\x00", "\x1b[2J", "\u202e", "\x85", "中文", "<base href=", "{", "}", "\\",
]  # fmt: skip

page_bytes = st.one_of(
    st.binary(max_size=3000),
    st.lists(st.sampled_from(FRAGMENTS), max_size=60)
    .map("".join)
    .flatmap(
        lambda text: st.sampled_from(["utf-8", "gb18030", "big5", "latin-1"]).map(
            lambda codec: text.encode(codec, errors="replace")
        )
    ),
)
labels = st.one_of(st.none(), st.sampled_from(LABELS), st.text(max_size=20))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page_bytes, labels)
def test_the_decoder_reads_any_bytes_under_any_label(data, label):
    decoded = decode(data, label)
    assert isinstance(decoded.text, str)
    assert codecs.lookup(decoded.encoding)._is_text_encoding  # never zlib, base64...
    if data.isascii() and not data.startswith((b"\xfe\xff", b"\xff\xfe")):
        assert decoded.text == data.decode("ascii")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(LABELS))
def test_every_label_is_a_text_codec_or_refused(label):
    codec = normalise_label(label)
    if codec is not None:
        assert "\ufffd" not in b"<html>".decode(codec, errors="replace")


@settings(max_examples=300, deadline=None)
@given(page_bytes)
def test_sniff_meta_returns_an_ascii_label_or_nothing(data):
    found = sniff_meta(data)
    assert found is None or (found.isascii() and 0 < len(found) < 100)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page_bytes)
def test_redirect_detection_returns_only_absolute_http_urls(data):
    html = data.decode("utf-8", errors="replace")
    found = find_html_redirect(html, PAGE)
    if found is not None:
        assert found.kind in (HopKind.META, HopKind.JS)
        assert found.url.startswith(("http://", "https://"))
        assert not any(c in found.url for c in " \t\r\n\x00")
        assert found.url != PAGE


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_a_location_header_becomes_an_absolute_http_url_or_nothing(location):
    url = resolve_location(location, PAGE)
    assert url is None or (url.startswith(("http://", "https://")) and url.isascii())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page_bytes, labels)
def test_extraction_of_any_page_is_bounded_per_number(data, label):
    result = extract(data, base_url=PAGE, encoding=label)
    for number in result.numbers:
        # prefix + "ICP备"/"公网安备" + at most MAX_DIGIT_RUN digits + "号-NNNN"
        assert len(number.number) <= MAX_DIGIT_RUN + 16, number.number


# -- regressions found while building the fault suite ------------------------------------------


def test_regression_a_page_declaring_a_bytes_codec_is_still_read():
    for label in ("zlib", "base64", "hex", "rot13", "uu", "bz2", "quopri", "undefined", "idna"):
        page = f'<meta charset="{label}"><p>北京 京ICP备2021012345号-1</p>'.encode("gbk")
        for hint in (label, None):
            result = extract(page, encoding=hint)
            assert [n.number for n in result.numbers] == ["京ICP备2021012345号-1"], label
            assert result.encoding == "gb18030"


def test_regression_an_endless_digit_run_is_cut():
    page = ("<p>京ICP备" + "7" * 100_000 + "号 京公网安备" + "1" * 50_000 + "号</p>").encode()
    numbers = extract(page).numbers
    assert [n.number for n in numbers] == [
        "京ICP备" + "7" * MAX_DIGIT_RUN + "号",
        "京公网安备" + "1" * MAX_DIGIT_RUN + "号",
    ]
    assert all(len(n.raw) <= MAX_DIGIT_RUN + 6 for n in numbers)
    assert not any(n.valid for n in numbers)


def test_regression_a_tag_of_attribute_letters_is_read_in_linear_time():
    # 80 KB that took 73 s of CPU before the attribute pattern got its look-behind
    page = ("<p>京ICP备2021012345号-1</p><a " + ("a" * 400 + "ICP") * 200 + ">x</a>").encode()
    assert [n.number for n in extract(page).numbers] == ["京ICP备2021012345号-1"]


def test_regression_a_nul_in_the_charset_label_is_ignored():
    page = "<p>北京 京ICP备2021012345号-1</p>".encode("gbk")
    for label in ("\x00", "a\x00b", "gbk\x00"):
        assert decode(page, label).encoding == "gb18030"
        assert [n.number for n in extract(page, encoding=label).numbers] == [
            "京ICP备2021012345号-1"
        ]


CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "pages"


@pytest.mark.parametrize(
    "path", sorted(p for p in CORPUS.iterdir() if p.name != "README.md"), ids=lambda p: p.name
)
def test_corpus(path):
    data = path.read_bytes()
    for label in (None, "utf-8", "gbk", "zlib", "undefined"):
        assert codecs.lookup(decode(data, label).encoding)._is_text_encoding
        for number in extract(data, base_url=PAGE, encoding=label).numbers:
            assert len(number.number) <= MAX_DIGIT_RUN + 16
    found = find_html_redirect(decode(data).text, PAGE)
    assert found is None or found.url.startswith("https://lab.example.cn/")
