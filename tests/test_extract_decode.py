"""Charset decisions of icpscan.extract.decode on the traps of ENGINEERING-NOTES §7."""

from __future__ import annotations

import codecs

import pytest

from icpscan.extract.decode import decode, normalise_label, sniff_meta

TEXT = (
    "<html><body><p>欢迎光临本网站，镕喆堃玥</p>"
    "<footer>京ICP备2021012345号-1</footer></body></html>"
)


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("x-gbk", "gb18030"),
        ("GB_2312-80", "gb18030"),
        ("cp936", "gb18030"),
        ("big5", "big5hkscs"),
        ("Big5-HKSCS", "big5hkscs"),
        ("iso-8859-1", "cp1252"),
        ("UTF8", "utf-8"),
        ("utf-16", "utf-8"),
        ("shift_jis", "shift-jis"),
        ("klingon", None),
        ("", None),
    ],
)
def test_labels_map_to_superset_codecs(label, codec):
    assert normalise_label(label) == codec


def test_meta_and_xml_declarations_are_sniffed():
    assert sniff_meta(b'<meta http-equiv="Content-Type" content="text/html; charset=GBK">') == "GBK"
    assert sniff_meta(b"<meta charset='gb2312'>") == "gb2312"
    assert sniff_meta(b'<?xml version="1.0" encoding="big5"?><html>') == "big5"
    assert sniff_meta(b"<html><body>no declaration</body></html>") is None


@pytest.mark.parametrize(
    ("data", "hint", "expected"),
    [
        # (bytes, hint, (codec, declared, source, lied))
        (TEXT.encode("gbk"), "gbk", ("gb18030", "gb18030", "declared", False)),
        (TEXT.encode("gbk"), "utf-8", ("gb18030", "utf-8", "detected", True)),
        (TEXT.encode("gbk"), "iso-8859-1", ("gb18030", "cp1252", "detected", True)),
        (TEXT.encode("gbk"), None, ("gb18030", None, "detected", False)),
        (TEXT.encode("utf-8"), "gbk", ("utf-8", "gb18030", "detected", True)),
        (TEXT.encode("utf-8")[:-4], "gbk", ("utf-8", "gb18030", "detected", True)),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "gbk", ("utf-8", "gb18030", "bom", False)),
        (TEXT.encode("utf-16"), None, ("utf-16-le", None, "bom", False)),
        (b"<html>plain ascii</html>", "gbk", ("gb18030", "gb18030", "declared", False)),
        (b"<html>plain ascii</html>", None, ("utf-8", None, "declared", False)),
    ],
)
def test_declarations_lose_when_the_bytes_disagree(data, hint, expected):
    result = decode(data, hint)
    assert (result.encoding, result.declared, result.source, result.declaration_lied) == expected
    assert "京ICP备2021012345号" in result.text or "plain ascii" in result.text


def test_big5_page_mislabelled_as_gbk_is_read_as_big5():
    text = "<p>歡迎光臨本網站，這是我們的首頁，請多指教。</p>京ICP備2021040002號"
    result = decode(text.encode("big5"), "gbk")
    assert (result.encoding, result.declaration_lied) == ("big5hkscs", True)
    assert result.text == text


def test_truncated_gbk_page_keeps_its_encoding():
    data = ('<meta charset="gb2312">欢迎光临 京ICP备2021012345号').encode("gbk")[:-1]
    result = decode(data)
    assert (result.encoding, result.declaration_lied) == ("gb18030", False)
    assert result.text.endswith("京ICP备2021012345\ufffd")
