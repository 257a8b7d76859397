"""The scan input reader: every format quirk, every invalid reason, IDN edge cases, streaming."""

from __future__ import annotations

import codecs
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from icpscan.targets import (
    MAX_LINE_CHARS,
    REASONS,
    InputFileError,
    InvalidLine,
    Target,
    parse_target,
    read_targets,
    unique_targets,
)


def T(domain, line, raw, display=None):
    return Target(domain, display or domain, line, raw)


def read_bytes(tmp_path, data: bytes, name="list.txt", **options):
    path = tmp_path / name
    path.write_bytes(data)
    return list(read_targets(path, **options))


# --------------------------------------------------------------------------------------------
# parse_target: valid entries
# --------------------------------------------------------------------------------------------

VALID = [
    # (entry, domain, display)
    ("example.com", "example.com", "example.com"),
    ("  Example.COM.  ", "example.com", "example.com"),
    ("www.example.com.cn", "www.example.com.cn", "www.example.com.cn"),
    ("https://www.example.com/path?q=1#frag", "www.example.com", "www.example.com"),
    ("HTTP://EXAMPLE.COM:8080", "example.com", "example.com"),
    ("//cdn.example.com/x.js", "cdn.example.com", "cdn.example.com"),
    ("ftp://files.example.org/pub/", "files.example.org", "files.example.org"),
    ("wss://push.example.net:443/socket", "push.example.net", "push.example.net"),
    ("example.com:443", "example.com", "example.com"),
    ("example.com/index.html", "example.com", "example.com"),
    ("example.com?from=list", "example.com", "example.com"),
    ("http:example.com", "example.com", "example.com"),
    ("https:/example.com/", "example.com", "example.com"),
    ("http://example.com.:80/", "example.com", "example.com"),
    ("r3---sn-ab5l6n.googlevideo.com", "r3---sn-ab5l6n.googlevideo.com", None),
    ("例子.中国", "xn--fsqu00a.xn--fiqs8s", "例子.中国"),
    ("例子。中国", "xn--fsqu00a.xn--fiqs8s", "例子.中国"),  # ideographic full stop
    ("例子．中国", "xn--fsqu00a.xn--fiqs8s", "例子.中国"),  # full-width full stop
    ("例子｡中国", "xn--fsqu00a.xn--fiqs8s", "例子.中国"),  # half-width ideographic full stop
    ("https://例子。中国/首页", "xn--fsqu00a.xn--fiqs8s", "例子.中国"),
    ("ｅｘａｍｐｌｅ．ｃｏｍ", "example.com", "example.com"),  # full-width letters
    ("xn--fiqs8s.xn--fiqz9s", "xn--fiqs8s.xn--fiqz9s", "中国.中國"),
    ("XN--FIQS8S.cn", "xn--fiqs8s.cn", "中国.cn"),
    ("xn--MAANA-PTA.com", "xn--maana-pta.com", "mañana.com"),
    ("http://%E4%BE%8B%E5%AD%90.cn/", "xn--fsqu00a.cn", "例子.cn"),
    ("BÜCHER.de", "xn--bcher-kva.de", "bücher.de"),  # upper-case Unicode folds
    ("ΣΑΣ.gr", "xn--mxa9ab.gr", "σασ.gr"),  # UTS #46 maps every Σ to σ
    ("straße.de", "xn--strae-oqa.de", "straße.de"),  # ß kept (non-transitional)
    ("ς.gr", "xn--3xa.gr", "ς.gr"),  # final sigma kept (non-transitional)
    ("i❤️.ws", "xn--i-7iq.ws", "i❤.ws"),  # emoji valid in UTS #46; U+FE0F is ignored
    ("☃.net", "xn--n3h.net", "☃.net"),
    ("xn--n3h.net", "xn--n3h.net", "☃.net"),
    ("Ⅻ.com", "xii.com", "xii.com"),  # compatibility mapping
    ("qq音乐.cn", "xn--qq-r12c3310a.cn", "qq音乐.cn"),  # Latin + Han is ordinary
    ("مثال.إختبار", "xn--mgbh0fb.xn--kgbechtv", "مثال.إختبار"),
    ("xn--mgbh0fb.xn--kgbechtv", "xn--mgbh0fb.xn--kgbechtv", "مثال.إختبار"),
    ("https://xn--fiqs8s.xn--fiqz9s/", "xn--fiqs8s.xn--fiqz9s", "中国.中國"),
    # Mixed Latin/Cyrillic look-alike: a valid IDN, but shown as punycode, never as "paypal".
    ("pаypal.com", "xn--pypal-4ve.com", "xn--pypal-4ve.com"),
    ("ωmega.com", "xn--mega-fpd.com", "xn--mega-fpd.com"),
    ("αβγ.gr", "xn--mxacd.gr", "αβγ.gr"),  # one script: shown as is
]


@pytest.mark.parametrize(("entry", "domain", "display"), VALID)
def test_valid_entries(entry, domain, display):
    result = parse_target(entry)
    assert result == Target(domain, display or domain, 0, entry.strip())


def test_ignored_characters_vanish_from_the_name_but_show_in_raw():
    # UTS #46 ignores zero-width spaces and soft hyphens; raw shows them escaped.
    assert parse_target("exa\u200bmple.com") == T("example.com", 0, "exa\\u200bmple.com")
    assert parse_target("exa\u00admple.com") == T("example.com", 0, "exa\\xadmple.com")


def test_parse_target_keeps_the_line_number():
    assert parse_target("example.com", line=7) == T("example.com", 7, "example.com")


def test_253_octets_is_the_limit():
    name_253 = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(name_253) == 253
    assert parse_target(name_253) == Target(name_253, name_253, 0, name_253[:200] + "…")
    assert parse_target(name_253 + ".").domain == name_253  # the root dot does not count
    name_254 = ".".join(["a" * 63] * 3 + ["b" * 62])
    assert parse_target(name_254) == InvalidLine(
        0,
        name_254[:200] + "…",
        "too_long",
        "the name is 254 octets long in ASCII form; a domain name has at most 253",
    )


def test_63_octet_labels_are_the_limit():
    assert parse_target("a" * 63 + ".com").domain == "a" * 63 + ".com"
    assert parse_target("a" * 64 + ".com") == InvalidLine(
        0,
        "a" * 64 + ".com",
        "label_too_long",
        f"the label '{'a' * 24}…' is 64 octets long in ASCII form; a label has at most 63",
    )


def test_the_ascii_form_decides_the_length_of_unicode_labels():
    # 24 different Han characters: 24 characters, but a 69-octet A-label.
    label = "".join(chr(0x4E00 + index * 97) for index in range(24))
    alabel = "xn--" + label.encode("punycode").decode()
    assert len(alabel) == 69
    assert (
        parse_target(label[:20] + ".cn").domain
        == "xn--" + label[:20].encode("punycode").decode() + ".cn"
    )
    assert parse_target(label + ".cn") == InvalidLine(
        0,
        label + ".cn",
        "label_too_long",
        f"the label '{alabel[:24]}…' is 69 octets long in ASCII form; a label has at most 63",
    )


def test_credentials_are_redacted_from_raw():
    assert parse_target("https://user:s3cret@example.com/x") == T(
        "example.com", 0, "https://***@example.com/x"
    )
    assert parse_target("ftp://anonymous@files.example.org") == T(
        "files.example.org", 0, "ftp://***@files.example.org"
    )
    assert parse_target("admin:hunter2@example.com:8080") == T(
        "example.com", 0, "***@example.com:8080"
    )
    bad = parse_target("http://user:s3cret@/nohost")
    assert bad == InvalidLine(0, "http://***@/nohost", "bad_url", "the URL has no host name")
    # An '@' in the path is not a credential.
    assert parse_target("https://example.com/@someone") == T(
        "example.com", 0, "https://example.com/@someone"
    )


def test_credentials_are_redacted_from_csv_rows_that_do_not_parse(tmp_path):
    # Found by the property test: an unquoted comma in the password splits the row.
    data = b"rank,url\n1,http://:S3CR3T,@\n2,https://user:S3CR3T@example.com/\n"
    assert read_bytes(tmp_path, data) == [
        InvalidLine(2, "1,http://***@", "bad_csv_row", "the row has 3 fields but the header has 2"),
        T("example.com", 3, "https://***@example.com/"),
    ]


def test_raw_escapes_control_characters_and_is_truncated():
    result = parse_target("https://example.com/\x1b[31mred\x07")
    assert result == T("example.com", 0, "https://example.com/\\x1b[31mred\\x07")
    result = parse_target("https://example.com/\u202egnp.exe")
    assert result.raw == "https://example.com/\\u202egnp.exe"
    long_url = "https://example.com/" + "p" * 500
    assert parse_target(long_url).raw == long_url[:200] + "…"


# --------------------------------------------------------------------------------------------
# parse_target: each invalid reason, with its message
# --------------------------------------------------------------------------------------------

NUMERIC = (
    " ends in a number, so it is read as an IPv4 address, not a domain name; "
    "icpscan audits domain names"
)

INVALID = [
    # (entry, reason, message)
    ("", "empty_label", "the entry is empty"),
    ("a..com", "empty_label", "the name has an empty label (a leading dot, or two dots in a row)"),
    (
        ".example.com",
        "empty_label",
        "the name has an empty label (a leading dot, or two dots in a row)",
    ),
    (
        "example.com..",
        "empty_label",
        "the name has an empty label (a leading dot, or two dots in a row)",
    ),
    (
        "例子。。中国",
        "empty_label",
        "the name has an empty label (a leading dot, or two dots in a row)",
    ),
    (
        "localhost",
        "single_label",
        "'localhost' has no dot; a public domain name has at least two labels (e.g. example.com)",
    ),
    (
        "https://intranet/",
        "single_label",
        "'intranet' has no dot; a public domain name has at least two labels (e.g. example.com)",
    ),
    (
        "中国",
        "single_label",
        "'中国' has no dot; a public domain name has at least two labels (e.g. example.com)",
    ),
    (
        "*.example.com",
        "wildcard",
        "a wildcard entry cannot be scanned; list the host names to audit (e.g. www.example.com)",
    ),
    (
        "https://*.example.com/",
        "wildcard",
        "a wildcard entry cannot be scanned; list the host names to audit (e.g. www.example.com)",
    ),
    (
        "＊.example.com",
        "wildcard",
        "a wildcard entry cannot be scanned; list the host names to audit (e.g. www.example.com)",
    ),
    (
        "1.2.3.4",
        "ip_literal",
        "1.2.3.4 is an IP address, not a domain name; icpscan audits domain names",
    ),
    (
        "http://10.0.0.1:8080/admin",
        "ip_literal",
        "10.0.0.1 is an IP address, not a domain name; icpscan audits domain names",
    ),
    (
        "2001:db8::1",
        "ip_literal",
        "2001:db8::1 is an IP address, not a domain name; icpscan audits domain names",
    ),
    (
        "[2001:db8::1]",
        "ip_literal",
        "2001:db8::1 is an IP address, not a domain name; icpscan audits domain names",
    ),
    (
        "http://[::1]:8080/",
        "ip_literal",
        "::1 is an IP address, not a domain name; icpscan audits domain names",
    ),
    (
        "１２７．０．０．１",
        "ip_literal",
        "127.0.0.1 is an IP address, not a domain name; icpscan audits domain names",
    ),
    (
        "127.1",
        "ip_literal",
        f"'127.1'{NUMERIC}",
    ),
    (
        "example.123",
        "ip_literal",
        f"'example.123'{NUMERIC}",
    ),
    (
        "0x7f.0x1",
        "ip_literal",
        f"'0x7f.0x1'{NUMERIC}",
    ),
    (
        "exa mple.com",
        "bad_characters",
        "the character U+0020 is not allowed in a domain name; put one domain per line",
    ),
    (
        "exa_mple.com",
        "bad_characters",
        "the character '_' (U+005F) is not allowed in a domain name "
        "(underscores are not allowed in host names)",
    ),
    (
        "example.com,42",
        "bad_characters",
        "the character ',' (U+002C) is not allowed in a domain name; "
        "if this is a CSV file, read it as CSV and name the domain column",
    ),
    (
        "ex!ample.com",
        "bad_characters",
        "the character '!' (U+0021) is not allowed in a domain name",
    ),
    ("ex\x00ample.com", "bad_characters", "the character U+0000 is not allowed in a domain name"),
    (
        "ex\ufffdample.com",
        "bad_characters",
        "the character '\ufffd' (U+FFFD) is not allowed in a domain name",
    ),
    (
        "例子\u3000网.cn",
        "bad_characters",
        "the character U+3000 is not allowed in a domain name; put one domain per line",
    ),
    ("-example.com", "bad_characters", "the label '-example' starts or ends with a hyphen"),
    ("example-.com", "bad_characters", "the label 'example-' starts or ends with a hyphen"),
    ("xn--zz.com", "bad_idna", "the label 'xn--zz' is not valid punycode"),
    (
        "xn--abc.com",
        "bad_idna",
        "the label 'xn--abc' decodes to characters not allowed in domain names",
    ),
    ("xn--.com", "bad_idna", "the label 'xn--' is not the punycode form of a label"),
    ("xn--abc-.com", "bad_idna", "the label 'xn--abc-' is not the punycode form of a label"),
    ("xn--fiqs8s-.cn", "bad_idna", "the label 'xn--fiqs8s-' is not the punycode form of a label"),
    ("xn--xn--a-ecp.com", "bad_idna", "the label 'xn--xn--a-ecp' decodes to another 'xn--' label"),
    ("\u0301abc.com", "bad_idna", "the label '\u0301abc' starts with a combining mark"),
    (
        "ab\u200dcd.com",
        "bad_idna",
        "the label 'ab\\u200dcd' has a zero-width joiner where IDNA does not allow one",
    ),
    (
        "xn--a-0hc.com",  # the same name as punycode: checked the same way
        "bad_idna",
        "the name mixes right-to-left and left-to-right text in a way IDNA does not allow",
    ),
    (
        "0.א",  # UTS #46: in a name with a right-to-left label, every label obeys the Bidi Rule
        "bad_idna",
        "the name mixes right-to-left and left-to-right text in a way IDNA does not allow",
    ),
    (
        "aא.com",
        "bad_idna",
        "the name mixes right-to-left and left-to-right text in a way IDNA does not allow",
    ),
    ("http://", "bad_url", "the URL has no host name"),
    ("http://:80/", "bad_url", "the URL has no host name"),
    ("/index.html", "bad_url", "the URL has no host name"),
    ("?from=list", "bad_url", "the URL has no host name"),
    ("example.com:abc", "bad_url", "the port 'abc' is not a number between 0 and 65535"),
    ("example.com:70000", "bad_url", "the port '70000' is not a number between 0 and 65535"),
    ("[::1", "bad_url", "'[' opens an IPv6 address that is never closed"),
    ("http://[not-an-address]/", "bad_url", "the part in brackets is not an IPv6 address"),
    ("%ff%fe.com", "bad_url", "the host name has percent-escapes that are not UTF-8"),
]


@pytest.mark.parametrize(("entry", "reason", "message"), INVALID)
def test_invalid_entries(entry, reason, message):
    result = parse_target(entry)
    assert isinstance(result, InvalidLine), result
    assert (result.reason, result.message) == (reason, message)
    assert result.line == 0


def test_every_reason_is_exercised():
    reasons = {reason for _, reason, _ in INVALID} | {"too_long", "label_too_long"}
    reasons |= {"not_text", "bad_csv_row"}  # reader-level: tested below
    assert reasons == set(REASONS)


def test_a_huge_host_is_rejected_without_mapping_it():
    result = parse_target("a" * 5000 + ".com")
    assert (result.reason, result.message) == (
        "too_long",
        "the host name is 5004 characters long; a domain name has at most 253 octets",
    )
    result = parse_target("例" * 5000 + ".cn")
    assert result == InvalidLine(
        0,
        "例" * 200 + "…",
        "too_long",
        "the host name is 5003 characters long; a domain name has at most 253 octets",
    )


def test_unique_targets_keeps_the_first_and_all_invalid_lines():
    items = [
        parse_target("example.com", line=1),
        parse_target("bad name", line=2),
        parse_target("https://EXAMPLE.com/x", line=3),
        parse_target("例子.中国", line=4),
        parse_target("bad name", line=5),
        parse_target("xn--fsqu00a.xn--fiqs8s", line=6),
    ]
    kept = list(unique_targets(items))
    assert [(item.line, type(item).__name__) for item in kept] == [
        (1, "Target"),
        (2, "InvalidLine"),
        (4, "Target"),
        (5, "InvalidLine"),
    ]


# --------------------------------------------------------------------------------------------
# Text files
# --------------------------------------------------------------------------------------------


def test_text_list_with_comments_blanks_and_urls(tmp_path):
    data = (
        "# my sites\n"
        "\n"
        "example.com\n"
        "   https://Shop.Example.cn/cart   # the shop\n"
        "\t\n"
        "news.example.org#not-a-comment\n"
        "localhost\n"
        "例子.中国  # IDN\n"
    ).encode()
    assert read_bytes(tmp_path, data) == [
        T("example.com", 3, "example.com"),
        T("shop.example.cn", 4, "https://Shop.Example.cn/cart"),
        T("news.example.org", 6, "news.example.org#not-a-comment"),
        InvalidLine(
            7,
            "localhost",
            "single_label",
            "'localhost' has no dot; a public domain name has at least two labels "
            "(e.g. example.com)",
        ),
        T("xn--fsqu00a.xn--fiqs8s", 8, "例子.中国", display="例子.中国"),
    ]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_line_ends(tmp_path, newline):
    data = newline.join([b"a.example.com", b"", b"b.example.com", b"c.example.com"]) + newline
    assert read_bytes(tmp_path, data) == [
        T("a.example.com", 1, "a.example.com"),
        T("b.example.com", 3, "b.example.com"),
        T("c.example.com", 4, "c.example.com"),
    ]


def test_mixed_line_ends_and_no_final_newline(tmp_path):
    data = b"a.example.com\r\nb.example.com\rc.example.com\nd.example.com"
    assert [t.line for t in read_bytes(tmp_path, data)] == [1, 2, 3, 4]


def test_utf8_bom_is_dropped(tmp_path):
    data = codecs.BOM_UTF8 + "例子.中国\nexample.com\n".encode()
    assert read_bytes(tmp_path, data) == [
        T("xn--fsqu00a.xn--fiqs8s", 1, "例子.中国", display="例子.中国"),
        T("example.com", 2, "example.com"),
    ]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32(tmp_path, encoding):
    text = "# list\r\n例子.中国\r\nexample.com\r\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    if encoding == "utf-16-le":  # no BOM at all: recognised by the NUL pattern
        assert not data.startswith(codecs.BOM_UTF16_LE)
    assert read_bytes(tmp_path, data) == [
        T("xn--fsqu00a.xn--fiqs8s", 2, "例子.中国", display="例子.中国"),
        T("example.com", 3, "example.com"),
    ]


def test_gb18030_lines_among_utf8_lines(tmp_path):
    data = b"\n".join(
        [
            "例子.中国".encode("gb18030"),
            "例子.中国".encode(),
            "https://网站.公司/".encode("gb18030"),
            "\U00020bb7.cn".encode("gb18030"),  # a four-byte GB18030 character
        ]
    )
    assert read_bytes(tmp_path, data) == [
        T("xn--fsqu00a.xn--fiqs8s", 1, "例子.中国", display="例子.中国"),
        T("xn--fsqu00a.xn--fiqs8s", 2, "例子.中国", display="例子.中国"),
        T("xn--5tzm5g.xn--55qx5d", 3, "https://网站.公司/", display="网站.公司"),
        T("xn--7l3i.cn", 4, "\U00020bb7.cn", display="\U00020bb7.cn"),
    ]


def test_undecodable_line_is_reported_and_reading_goes_on(tmp_path):
    data = b"good.example.com\n\xff\xfe\xff.example.com\nnext.example.com\n"
    assert read_bytes(tmp_path, data) == [
        T("good.example.com", 1, "good.example.com"),
        InvalidLine(
            2,
            "\\xff\\xfe\\xff.example.com",
            "not_text",
            "the line is not valid UTF-8 or GB18030 text",
        ),
        T("next.example.com", 3, "next.example.com"),
    ]


def test_over_long_line_is_reported_without_keeping_it(tmp_path):
    data = b"a.example.com\n" + b"x" * (MAX_LINE_CHARS * 3) + b"\nb.example.com\n"
    result = read_bytes(tmp_path, data)
    assert result == [
        T("a.example.com", 1, "a.example.com"),
        InvalidLine(
            2,
            "x" * 200 + "…",
            "too_long",
            f"the line is longer than {MAX_LINE_CHARS} characters; no domain or URL is",
        ),
        T("b.example.com", 3, "b.example.com"),
    ]


def test_empty_files_give_no_targets(tmp_path):
    assert read_bytes(tmp_path, b"") == []
    assert read_bytes(tmp_path, codecs.BOM_UTF8) == []
    assert read_bytes(tmp_path, b"\n\n# only comments\n   \n") == []
    assert read_bytes(tmp_path, b"", input_format="csv") == []


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "it has NUL bytes"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"example.com\n" * 10, "it has NUL bytes"),
        (bytes(range(1, 9)) * 200 + b"\x0e\x0f\x10\x11" * 200, "mostly not text"),
        (bytes(b for b in range(0x80, 0x100)) * 40, "mostly not text"),
    ],
    ids=["png", "zip", "controls", "high-bytes"],
)
def test_binary_file_is_an_input_error(tmp_path, data, why):
    path = tmp_path / "list.bin"
    path.write_bytes(data)
    with pytest.raises(InputFileError) as error:
        read_targets(path)
    detail = (
        "it has NUL bytes in its first 8192 bytes"
        if why == "it has NUL bytes"
        else "its first 8192 bytes are mostly not text"
    )
    assert str(error.value) == f"{path} looks binary, not a domain list ({detail})"


def test_a_latin1_line_is_not_mistaken_for_a_binary_file(tmp_path):
    data = "café.example\nexample.com\n".encode("latin-1")
    assert read_bytes(tmp_path, data) == [
        InvalidLine(
            1, "caf\\xe9.example", "not_text", "the line is not valid UTF-8 or GB18030 text"
        ),
        T("example.com", 2, "example.com"),
    ]


def test_missing_file_and_directory_are_input_errors(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(InputFileError, match=r"^input file not found: .*nope\.txt$"):
        read_targets(missing)
    with pytest.raises(InputFileError) as error:
        read_targets(tmp_path)
    assert str(error.value) == f"{tmp_path} is a directory, not a domain list"


def test_unopenable_paths_are_input_errors(tmp_path):
    too_long = tmp_path / ("x" * 300)
    with pytest.raises(InputFileError) as error:
        read_targets(too_long)
    assert str(error.value) == f"cannot read {too_long}: File name too long"
    with pytest.raises(InputFileError) as error:
        read_targets("list\x00.txt")
    assert str(error.value) == "cannot read list\\x00.txt: the path contains a NUL character"


def test_text_format_can_be_forced(tmp_path):
    data = b"domain\nexample.com\n"
    assert read_bytes(tmp_path, data, input_format="text") == [
        InvalidLine(
            1,
            "domain",
            "single_label",
            "'domain' has no dot; a public domain name has at least two labels (e.g. example.com)",
        ),
        T("example.com", 2, "example.com"),
    ]


def test_file_is_closed_when_done_or_closed_early(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("a.example.com\nb.example.com\n")

    def open_fds():
        fd_dir = Path("/proc/self/fd")
        return sum(1 for fd in fd_dir.iterdir() if os.path.realpath(fd) == str(path))

    reader = read_targets(path)
    assert open_fds() == 1
    assert len(list(reader)) == 2
    assert open_fds() == 0
    with read_targets(path) as reader:
        next(reader)
    assert open_fds() == 0


# --------------------------------------------------------------------------------------------
# Sources: streams, stdin, iterables; streaming
# --------------------------------------------------------------------------------------------


def test_binary_and_text_streams():
    data = "例子.中国\nexample.com\n"
    expected = [
        T("xn--fsqu00a.xn--fiqs8s", 1, "例子.中国", display="例子.中国"),
        T("example.com", 2, "example.com"),
    ]
    assert list(read_targets(io.BytesIO(data.encode("gb18030")))) == expected
    assert list(read_targets(io.StringIO(data))) == expected
    assert list(read_targets(data.splitlines(keepends=True))) == expected
    assert list(read_targets([line.encode("gb18030") for line in data.splitlines()])) == expected


def test_stdin_through_a_pipe():
    data = codecs.BOM_UTF8 + b"example.com\r\n# c\r\n\xc0\xfd\xd7\xd3.cn\r\nlocalhost\r\n"
    program = (
        "from icpscan.targets import read_targets\n"
        "for item in read_targets('-'):\n"
        "    print(type(item).__name__, item.line, getattr(item, 'domain', None) or item.reason)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.stderr == b""
    assert result.stdout.decode().splitlines() == [
        "Target 1 example.com",
        "Target 3 xn--fsqu00a.cn",
        "InvalidLine 4 single_label",
    ]


def test_closed_stdin_is_an_input_error(monkeypatch):
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(
        InputFileError, match=r"^standard input is closed; there is nothing to read$"
    ):
        read_targets("-")


def test_a_generator_source_is_consumed_lazily():
    pulled = 0

    def million_lines():
        nonlocal pulled
        for index in range(1_000_000):
            pulled += 1
            yield f"site{index}.example.com\n"

    reader = read_targets(million_lines())
    first = next(reader)
    assert first == T("site0.example.com", 1, "site0.example.com")
    assert pulled == 1
    for _ in range(9):
        next(reader)
    assert pulled == 10


def test_a_binary_stream_is_read_in_blocks_not_whole():
    class CountingStream(io.RawIOBase):
        """A 30 MB domain list that exists only as it is read."""

        def __init__(self):
            self.served = 0
            self.line = 0
            self.pending = b""

        def readable(self):
            return True

        def readinto(self, buffer):
            while len(self.pending) < len(buffer) and self.line < 1_000_000:
                self.pending += f"host{self.line}.example.com\n".encode()
                self.line += 1
            count = min(len(buffer), len(self.pending))
            buffer[:count] = self.pending[:count]
            self.pending = self.pending[count:]
            self.served += count
            return count

    stream = CountingStream()
    reader = read_targets(io.BufferedReader(stream))
    assert next(reader) == T("host0.example.com", 1, "host0.example.com")
    assert stream.served < 256 * 1024


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def test_csv_with_english_header(tmp_path):
    data = b"Rank,Domain,Category\n1,example.com,shop\n2,https://www.example.org/,news\n"
    reader = read_targets(_write(tmp_path, data))
    assert list(reader) == [
        T("example.com", 2, "example.com"),
        T("www.example.org", 3, "https://www.example.org/"),
    ]
    assert (reader.format, reader.column_name, reader.column_index) == ("csv", "Domain", 2)


def _write(tmp_path, data: bytes, name="input.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("序号,网站名称,域名", "域名"),
        ("序号,网站名称,网址", "网址"),
        ("id,name,Hostname", "Hostname"),
        ("id,Site URL,notes", "Site URL"),
        ("id,name,website", "website"),
        ("name,site,url", "url"),  # a URL column beats a "site" column
        ("host,domain", "domain"),
        ("DOMAIN_NAME,owner", "DOMAIN_NAME"),
        ("主办单位名称,网站备案号,网站名称,网站首页网址", "网站首页网址"),  # MIIT export
    ],
)
def test_csv_header_detection(tmp_path, header, column):
    names = header.split(",")
    index = names.index(column)
    row = ["x"] * len(names)
    row[index] = "例子.中国"
    data = f"{header}\n{','.join(row)}\n".encode()
    reader = read_targets(_write(tmp_path, data))
    assert list(reader) == [T("xn--fsqu00a.xn--fiqs8s", 2, "例子.中国", display="例子.中国")]
    assert (reader.column_name, reader.column_index) == (column, index + 1)


def test_csv_in_gb18030_with_chinese_header(tmp_path):
    data = "序号,单位名称,域名\r\n1,某某公司,例子.中国\r\n2,另一家,www.example.cn\r\n".encode(
        "gb18030"
    )
    assert read_bytes(tmp_path, data, name="备案.csv") == [
        T("xn--fsqu00a.xn--fiqs8s", 2, "例子.中国", display="例子.中国"),
        T("www.example.cn", 3, "www.example.cn"),
    ]


@pytest.mark.parametrize("delimiter", ["\t", ";", "|"])
def test_other_delimiters(tmp_path, delimiter):
    data = f"rank{delimiter}domain\n1{delimiter}example.com\n".encode()
    reader = read_targets(_write(tmp_path, data))
    assert list(reader) == [T("example.com", 2, "example.com")]
    assert reader.delimiter == delimiter


def test_tranco_without_header(tmp_path):
    data = b"1,google.com\n2,example.com\n3,bad_name.com\n4,localhost\n"
    reader = read_targets(_write(tmp_path, data, "top-1m.csv"))
    result = list(reader)
    assert result[:2] == [T("google.com", 1, "google.com"), T("example.com", 2, "example.com")]
    assert [(r.line, r.reason) for r in result[2:]] == [(3, "bad_characters"), (4, "single_label")]
    assert (reader.format, reader.column_name, reader.column_index) == ("csv", None, 2)


def test_quoted_fields(tmp_path):
    data = (
        b"name,domain,notes\n"
        b'"Example, Inc.",example.com,"says ""hi"""\n'
        b'"Multi\nline name",example.org,x\n'
        b'plain,"https://example.net/a,b",y\n'
        b"after,example.info,z\n"
    )
    assert read_bytes(tmp_path, data) == [
        T("example.com", 2, "example.com"),
        T("example.org", 3, "example.org"),  # the record starts on line 3, spans 3-4
        T("example.net", 5, "https://example.net/a,b"),
        T("example.info", 6, "example.info"),
    ]


def test_wrong_field_counts_and_empty_domains_are_row_errors(tmp_path):
    data = b"rank,domain\n1,example.com\n2,example.org,extra\n3\n4,\n\n# comment\n5,example.net\n"
    assert read_bytes(tmp_path, data) == [
        T("example.com", 2, "example.com"),
        InvalidLine(
            3, "2,example.org,extra", "bad_csv_row", "the row has 3 fields but the header has 2"
        ),
        InvalidLine(4, "3", "bad_csv_row", "the row has 1 field but the header has 2"),
        InvalidLine(5, "4,", "bad_csv_row", "the domain column is empty in this row"),
        T("example.net", 8, "example.net"),
    ]


def test_unterminated_quote_swallows_nothing(tmp_path):
    data = b'rank,domain\n1,"example.com\n2,example.org\n3,example.net\n'
    assert read_bytes(tmp_path, data) == [
        InvalidLine(
            2, '1,"example.com', "bad_csv_row", "the row has an unterminated or misplaced quote"
        ),
        T("example.org", 3, "example.org"),
        T("example.net", 4, "example.net"),
    ]


def test_runaway_quote_is_cut_after_a_bounded_number_of_lines(tmp_path):
    rows = [f"{n},site{n}.example.com" for n in range(2, 100)]
    data = ('rank,domain\n1,"oops\n' + "\n".join(rows) + "\n").encode()
    result = read_bytes(tmp_path, data)
    assert result[0] == InvalidLine(
        2, '1,"oops', "bad_csv_row", "the row has an unterminated or misplaced quote"
    )
    assert result[1:] == [
        T(f"site{n}.example.com", n + 1, f"site{n}.example.com") for n in range(2, 100)
    ]


def test_misplaced_quote_is_a_row_error(tmp_path):
    data = b'rank,domain\n1,"example.com"x\n2,example.org\n'
    assert read_bytes(tmp_path, data) == [
        InvalidLine(
            2, '1,"example.com"x', "bad_csv_row", "the row has an unterminated or misplaced quote"
        ),
        T("example.org", 3, "example.org"),
    ]


def test_undecodable_csv_row(tmp_path):
    data = b"rank,domain\n1,\xff\xff.com\n2,example.org\n"
    assert read_bytes(tmp_path, data) == [
        InvalidLine(
            2, "1,\\xff\\xff.com", "not_text", "the line is not valid UTF-8 or GB18030 text"
        ),
        T("example.org", 3, "example.org"),
    ]


def test_column_by_name_and_number(tmp_path):
    data = b"name,primary,mirror\nA,a.example.com,a.example.net\nB,b.example.com,b.example.net\n"
    path = _write(tmp_path, data)
    by_name = list(read_targets(path, column="mirror"))
    assert [t.domain for t in by_name] == ["a.example.net", "b.example.net"]
    assert [t.line for t in by_name] == [2, 3]
    assert list(read_targets(path, column=" MIRROR ")) == by_name
    assert list(read_targets(path, column="3")) == by_name  # the header row is recognised
    headerless = _write(tmp_path, b"a.example.com;x\nb.example.com;y\n", "plain.csv")
    reader = read_targets(headerless, column="1")
    assert [(t.domain, t.line) for t in reader] == [("a.example.com", 1), ("b.example.com", 2)]
    assert (reader.delimiter, reader.column_name) == (";", None)


def test_wrong_column_lists_the_columns(tmp_path):
    path = _write(tmp_path, b"rank,domain,category\n1,example.com,x\n")
    with pytest.raises(InputFileError) as error:
        read_targets(path, column="site")
    assert str(error.value) == (
        f"{path} has no column named 'site'; its columns are: 'rank', 'domain', 'category'"
    )
    with pytest.raises(InputFileError) as error:
        read_targets(path, column="4")
    assert str(error.value) == (
        f"column 4 is out of range: the first row of {path} has 3 columns "
        "('rank', 'domain', 'category')"
    )
    with pytest.raises(InputFileError, match=r"^CSV columns are numbered from 1$"):
        read_targets(path, column="0")


def test_csv_without_a_domain_column(tmp_path):
    path = _write(tmp_path, b"name,owner\nfoo,bar\n")
    with pytest.raises(InputFileError) as error:
        read_targets(path, input_format="csv")
    assert str(error.value) == (
        f"{path} has no domain column: the first row has columns 'name', 'owner'; "
        "name one (by header or 1-based number)"
    )
    # A .csv file is CSV even when not forced; the same lines in a .txt are a text list.
    with pytest.raises(InputFileError, match="has no domain column"):
        read_targets(path)
    text = _write(tmp_path, b"name,owner\nfoo,bar\n", "list.txt")
    assert [r.reason for r in read_targets(text)] == ["bad_characters", "bad_characters"]


def test_a_csv_file_without_header_is_read_as_one_column(tmp_path):
    path = _write(tmp_path, b"# exported\nexample.com\nexample.org\n", "sites.CSV")
    reader = read_targets(path)
    assert list(reader) == [T("example.com", 2, "example.com"), T("example.org", 3, "example.org")]
    assert (reader.format, reader.column_index, reader.column_name) == ("csv", 1, None)


def test_forced_csv_with_a_single_column(tmp_path):
    path = _write(tmp_path, b'example.com\n"example.org"\nhttps://example.net/?q=a,b\n', "l.txt")
    assert list(read_targets(path, input_format="csv")) == [
        T("example.com", 1, "example.com"),
        T("example.org", 2, "example.org"),
        T("example.net", 3, "https://example.net/?q=a,b"),
    ]


def test_single_column_csv_keeps_commas_in_urls(tmp_path):
    data = b"url\nhttps://example.com/?a=1,2\nexample.org\n"
    assert read_bytes(tmp_path, data) == [
        T("example.com", 2, "https://example.com/?a=1,2"),
        T("example.org", 3, "example.org"),
    ]


def test_a_column_in_a_text_list_is_an_input_error(tmp_path):
    path = _write(tmp_path, b"example.com\n", "list.txt")
    with pytest.raises(InputFileError) as error:
        read_targets(path, column="1", input_format="text")
    assert str(error.value) == "a column can only be chosen in CSV input, not in a text list"


def test_read_errors_become_input_errors():
    class FailingStream(io.RawIOBase):
        """Serves some blocks of good lines, then the disk fails."""

        def __init__(self):
            self.calls = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            self.calls += 1
            if self.calls > 5:
                raise OSError(5, "Input/output error")
            data = b"example.com\n" * (len(buffer) // 12)
            buffer[: len(data)] = data
            return len(data)

    read = []
    with pytest.raises(InputFileError) as error:
        for target in read_targets(FailingStream()):
            read.append(target)
    assert len(read) > 1000  # what was read before the failure was delivered
    assert str(error.value) == "cannot read the input: Input/output error"

    undecodable = io.TextIOWrapper(io.BytesIO(b"example.com\n\xff\n"), encoding="ascii")
    with pytest.raises(InputFileError) as error:
        list(read_targets(undecodable))
    assert str(error.value) == "cannot decode the input: ordinal not in range(128)"


def test_forced_csv_needs_a_readable_first_line(tmp_path):
    path = _write(tmp_path, b"\xff\xff\nexample.com\n")
    with pytest.raises(InputFileError) as error:
        read_targets(path, input_format="csv")
    assert str(error.value) == (
        f"{path}: the first line is not UTF-8 or GB18030 text, so the CSV header cannot be read"
    )


def test_an_unknown_format_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="input_format must be 'auto', 'text' or 'csv'"):
        read_targets(io.StringIO(""), input_format="json")
