"""Security through the real scanner: the SSRF egress policy, and hostile content kept inert.

* Egress: a domain list can point anywhere. Answers and redirect hops (HTTP, meta refresh, JS)
  that lead to private, loopback, link-local, CGNAT or cloud-metadata addresses are refused by
  default, after DNS and on every hop; ``--allow-private`` lifts the policy (the same cases are
  then fetched).
* Hostile pages: the scanner never runs a page's scripts nor loads its resources (every one of
  them points at a loopback recorder that must see no request, from the crawl or from the
  browser); what it stores from them is escaped wherever it is rendered: the terminal (scan
  table and summary, with control characters, ANSI escapes and bidi overrides in the input and
  in file names) and the HTML report, opened in headless Chromium.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys

import pytest

from icpscan.sandbox import hostile
from tests.faults.conftest import db_rows
from tests.faults.support import FAST, outcome_problems, run_icpscan
from tests.test_report_chromium import TITLE, dump_dom

EGRESS_CASES = sorted(c.name for c in hostile.fault_cases() if c.fault_class == "egress")
# What must never reach a terminal raw: C0 controls but newline, DEL, C1 controls, bidi controls.
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


@pytest.mark.parametrize("name", EGRESS_CASES)
def test_private_destinations_are_refused_by_default(lab, lab_scan, name):
    case = lab.by_name[name]
    record = lab_scan.record(case.domain)
    assert outcome_problems(case.expect, record) == []
    fetch = record["fetch"]
    assert fetch["error"]["detail"].endswith("address refused (--allow-private allows it)")
    assert fetch["peer"] is None  # no socket was opened to it


@pytest.mark.parametrize("name", EGRESS_CASES)
def test_allow_private_lifts_the_policy(lab, lab_scan_allow_private, name):
    case = lab.by_name[name]
    record = lab_scan_allow_private.record(case.domain)
    assert case.allow_private is not None
    assert outcome_problems(case.allow_private, record) == []
    assert record["fetch"]["peer"] == "127.0.0.1"  # the sandbox stands in for the private host


def test_the_policy_applies_after_dns_to_the_address_the_hosting_stage_found(lab, lab_scan):
    reasons = {"private", "loopback", "cloud metadata", "link-local", "CGNAT (100.64.0.0/10)"}
    for case in lab.cases:
        if not case.name.startswith("egress:dns_"):
            continue
        record = lab_scan.record(case.domain)
        (address,) = next(iter(case.dns.values())).records.values()
        ip = ipaddress.ip_address(address[0])
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        info = record["hosting"]["address_info"]
        assert [i["address"] for i in info] == [str(mapped or ip)]  # classified as IPv4
        assert info[0]["special"] in reasons
        assert f"{case.domain} -> {ip}: " in record["fetch"]["error"]["detail"]


def test_the_policy_applies_on_every_redirect_hop(lab, lab_scan):
    for name in ("egress:redirect_metadata", "egress:meta_refresh_metadata"):
        case = lab.by_name[name]
        fetch = lab_scan.record(case.domain)["fetch"]
        assert fetch["chain"][0]["url"].startswith("http://169.254.169.254/")
        assert fetch["error"]["detail"] == (
            "169.254.169.254: cloud metadata address refused (--allow-private allows it)"
        )
    name = lab.by_name["egress:redirect_private_name"]
    fetch = lab_scan.record(name.domain)["fetch"]
    assert fetch["error"]["detail"] == (
        f"intranet.{name.domain} -> 192.168.10.10: private address refused "
        "(--allow-private allows it)"
    )


def test_hostile_markup_is_data_the_scanner_never_runs_nor_loads(lab, lab_scan):
    case = lab.by_name["hostile:markup"]
    record = lab_scan.record(case.domain)
    assert outcome_problems(case.expect, record) == []
    assert record["title"].startswith("<script>document.title='pwned'</script>\x1b[2J")
    headers = record["fetch"]["headers"]  # control characters (ESC, BEL, C1 CSI) are dropped
    assert headers["server"] == "[31mevil [0m <script>alert(1)</script>"
    assert headers["x-powered-by"] == "]0;pwned 2J"
    assert [h["url"] for h in record["fetch"]["chain"]] == []  # refresh 999 s is not a redirect
    js = lab_scan.record(lab.by_name["hostile:refresh_javascript"].domain)["fetch"]
    assert (js["reached"], js["chain"]) == (True, [])  # a javascript: refresh is not followed
    # every resource, script, frame, form, stylesheet and refresh of the page points here:
    assert lab.recorder.paths == []


def _assert_inert_for_a_terminal(text: str) -> None:
    found = sorted({f"U+{ord(c):04X}" for c in RAW_CONTROL.findall(text)})
    assert found == [], f"raw control characters reached the terminal: {found}"


def test_terminal_output_shows_control_characters_escaped(lab, tmp_path):
    markup = lab.by_name["hostile:markup"].domain
    name = "list\x1b[31m\u202e.txt"
    listing = tmp_path / name
    listing.write_text(
        f"{markup}\nbad\x1b]0;pwned\x07name.cn\nrtl\u202etxt.cn\n\x9b31mc1.cn\n",
        encoding="utf-8",
    )
    result = run_icpscan(
        "scan", name, "--db", str(tmp_path / "t.db"), "--format", "table",
        "--workers", "1", *lab.sandbox.scan_args(), *FAST[:-1], cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    _assert_inert_for_a_terminal(result.stdout)
    _assert_inert_for_a_terminal(result.stderr)
    assert markup in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert lines == [
        f"line {n}: the character U+{code} is not allowed in a domain name (bad_characters)"
        for n, code in ((2, "001B"), (3, "202E"), (4, "009B"))
    ]
    assert "Scan 1 · list\\x1b[31m\\u202e.txt · finished" in result.stderr
    assert db_rows(tmp_path / "t.db", "SELECT count(*) FROM input_errors") == [(3,)]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("headless Chromium is required (Debian package 'chromium')")
    return found


def test_html_report_of_hostile_pages_runs_no_script_and_loads_nothing(lab, lab_scan, tmp_path):
    _chromium()
    report = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "icpscan", "report", "--db", str(lab_scan.db), "--html",
         str(report)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    root = dump_dom(report.as_uri(), tmp_path / "profile")
    html = root.getroottree().getroot()
    assert root.findtext(".//title") == TITLE
    assert html.get("data-icpscan-ready") == "1"  # the report's own script ran
    assert html.get("data-icpscan-matching") == str(len(lab.domains))
    for tag in ("img", "iframe", "object", "link", "base", "image", "embed", "form", "svg"):
        assert root.xpath(f"//*[local-name()='{tag}'][contains(@src, '127.0.0.1')]") == []
    assert root.xpath("//*[@onerror or @onmouseover or @onclick]") == []
    assert [s.get("type") for s in root.iter("script")] == ["application/json", None]
    body = root.body.text_content()
    assert "<script>document.title='pwned'</script>" in body  # shown as text
    assert "\\x1b[2J" in body  # the ESC of the title, visibly escaped
    assert lab.recorder.paths == []  # neither the crawl nor the browser requested anything
