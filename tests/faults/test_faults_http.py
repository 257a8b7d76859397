"""HTTP faults through ``icpscan scan``: redirect loops and chains, size caps and bombs, lying
framing, non-HTML and binary bodies, broken charsets, and page shapes that break parsers.

Each hand-built case (:mod:`icpscan.sandbox.hostile`) has an exact expected outcome; the tests
here add what the expectation cannot say (the stored rows, the encoding used, the evidence).
"""

from __future__ import annotations

import json

import pytest

from icpscan.sandbox import hostile
from tests.faults.conftest import db_rows
from tests.faults.support import outcome_problems

HTTP_CASES = sorted(c.name for c in hostile.fault_cases() if c.fault_class == "http")


@pytest.mark.parametrize("name", HTTP_CASES)
def test_http_case_records_its_expected_outcome(lab, lab_scan, name):
    case = lab.by_name[name]
    assert outcome_problems(case.expect, lab_scan.record(case.domain)) == []


def test_redirect_loops_between_hosts_end_at_once(lab, lab_scan):
    for domain in lab.profile_domains("http:redirect_loop"):
        fetch = lab_scan.record(domain)["fetch"]
        assert fetch["error"] == {
            "kind": "too_many_redirects",
            "detail": f"redirect loop back to https://{domain}/",
        }
        assert [(h["kind"], h["status"]) for h in fetch["chain"]] == [("http", 302)] * 2


def test_a_chain_is_followed_up_to_the_bound_and_no_further(lab, lab_scan):
    at = lab_scan.record(lab.by_name["http:redirect_chain_at_bound"].domain)["fetch"]
    past = lab_scan.record(lab.by_name["http:redirect_chain_past_bound"].domain)["fetch"]
    assert len(at["chain"]) == hostile.MAX_REDIRECTS
    assert len(past["chain"]) == hostile.MAX_REDIRECTS + 1
    domain = lab.by_name["http:redirect_chain_past_bound"].domain
    assert past["error"]["detail"] == (
        f"more than {hostile.MAX_REDIRECTS} redirects (last to https://{domain}/hop/11)"
    )


@pytest.mark.parametrize(("coding", "compressed"), [("gzip", 1_061_908), ("deflate", 1_061_896)])
def test_a_decompression_bomb_is_stopped_at_the_cap(lab, lab_scan, coding, compressed):
    domain = lab.by_name[f"http:{coding}_bomb"].domain
    fetch = lab_scan.record(domain)["fetch"]
    assert fetch["error"]["kind"] == "size"
    assert fetch["error"]["detail"].startswith(
        f"Ignored response <200 https://{domain}/> because its body ({compressed} B compressed,"
    )
    assert fetch["error"]["detail"].endswith(
        f"exceeded DOWNLOAD_MAXSIZE ({hostile.DECOMPRESSION_CAP} B) during decompression."
    )
    assert fetch["status"] == 200 and fetch["body_size"] == 0


def test_a_brotli_bomb_of_a_few_hundred_bytes_is_stopped_too(lab, lab_scan):
    fetch = lab_scan.record(lab.by_name["http:br_bomb"].domain)["fetch"]
    assert fetch["error"]["kind"] == "size"
    compressed = int(fetch["error"]["detail"].split("its body (")[1].split(" B compressed")[0])
    assert compressed < 2000  # 1 GiB of zeros


def test_a_page_past_the_cap_is_cut_and_still_read(lab, lab_scan):
    for name in ("http:body_over_cap", "http:endless_body", "http:gzip_big_page"):
        domain = lab.by_name[name].domain
        row = db_rows(
            lab_scan.db,
            "SELECT truncated, body_size, reached FROM fetches WHERE domain = ?",
            domain,
        )
        assert row == [(1, hostile.PAGE_CAP, 1)], name


def test_a_response_longer_than_its_content_length_is_cut_at_the_declared_length(lab, lab_scan):
    record = lab_scan.record(lab.by_name["http:content_length_short"].domain)
    assert record["fetch"]["body_size"] == 40
    assert record["fetch"]["headers"]["content-length"] == "40"


def test_malformed_framing_is_an_http_error_not_a_fallback_to_another_url(lab, lab_scan):
    domain = lab.by_name["http:content_length_garbage"].domain
    fetch = lab_scan.record(domain)["fetch"]
    assert fetch["error"] == {
        "kind": "http",
        "detail": "malformed response: ValueError: Value contains non-decimal digits: b'12abc'",
    }
    assert [a["url"] for a in fetch["attempts"]] == [f"https://{domain}/"]
    gzip = lab_scan.record(lab.by_name["http:gzip_not_gzip"].domain)["fetch"]
    assert gzip["error"] == {"kind": "http", "detail": "BadGzipFile: Not a gzipped file (b'<!')"}


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("http:type_pdf", "application/pdf"),
        ("http:type_png", "image/png"),
        ("http:type_json", "application/json"),
    ],
)
def test_non_html_bodies_are_never_read_for_numbers(lab, lab_scan, name, content_type):
    record = lab_scan.record(lab.by_name[name].domain)
    assert record["fetch"]["headers"]["content-type"] == content_type
    assert (record["numbers"], record["encoding"], record["title"]) == ([], None, None)
    # judged like a mainland site whose (empty) HTML homepage shows no number
    empty = lab_scan.record(lab.by_name["http:empty_body"].domain)
    assert [f["code"] for f in record["findings"]] == [f["code"] for f in empty["findings"]]
    assert "MAINLAND_NO_ICP" in [f["code"] for f in record["findings"]]


@pytest.mark.parametrize(
    "name",
    [
        "http:charset_unknown",
        "http:charset_header_utf16",
        "http:charset_meta_big5",
        "http:charset_garbage",
        "http:charset_bytes_codec",
        "http:charset_undefined",
        "http:charset_utf7",
    ],
)
def test_a_lying_or_unknown_charset_loses_to_the_bytes(lab, lab_scan, name):
    record = lab_scan.record(lab.by_name[name].domain)
    assert record["encoding"] == "gb18030"
    assert len(record["numbers"]) == 1 and record["numbers"][0]["valid"] is True


def test_binary_junk_declared_as_html_yields_nothing_and_breaks_nothing(lab, lab_scan):
    record = lab_scan.record(lab.by_name["http:binary_junk"].domain)
    assert (record["fetch"]["reached"], record["numbers"], record["signals"]) == (True, [], [])
    assert record["fetch"]["body_size"] == hostile.JUNK_SIZE


def test_parser_breaking_shapes_still_give_their_number(lab, lab_scan):
    for name in ("http:long_line", "http:deep_nesting", "http:unclosed_nesting"):
        case = lab.by_name[name]
        numbers = lab_scan.record(case.domain)["numbers"]
        assert [(n["number"], n["linked"], n["valid"]) for n in numbers] == [
            (case.expect.numbers[0], True, True)
        ], name


def test_an_endless_digit_run_is_kept_small_in_the_record(lab, lab_scan):
    domain = lab.by_name["http:long_digit_run"].domain
    (number,) = lab_scan.record(domain)["numbers"]
    assert number["number"] == "京ICP备" + "7" * 20 + "号"
    assert number["valid"] is False and "digit_count" in number["problems"]
    (size,) = db_rows(lab_scan.db, "SELECT length(record) FROM domains WHERE domain = ?", domain)
    assert size[0] < 20_000


def test_an_overlong_header_line_is_dropped_not_kept(lab, lab_scan):
    record = lab_scan.record(lab.by_name["http:huge_header_line"].domain)
    assert "server" not in record["fetch"]["headers"]
    assert len(json.dumps(record["fetch"]["headers"])) < 1000
