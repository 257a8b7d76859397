"""The HTML report parsed with lxml: charts, table, details, caps, escaping and the CSP."""

from __future__ import annotations

import base64
import hashlib
import json

import lxml.html
import pytest

from icpscan.report import html as report_html
from icpscan.report import render_html, write_html
from icpscan.report.html import content_security_policy, script_json
from tests.report_records import (
    finding,
    hostile_record,
    hostile_strings,
    number,
    plain_records,
    record,
    store_records,
)

SEVERITY_FILL = {"high": "#c0392b", "medium": "#e67e22", "low": "#d4ac0d", "info": "#7f8c8d"}


def parse(document: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(document)


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.fixture
def plain_report(tmp_path):
    db, scan_id = store_records(
        tmp_path / "p.db", plain_records(), invalid=[(6, "x y", "bad_url", "not a URL")]
    )
    return parse(render_html(db, scan_id, generated_at="2026-11-28T12:00:00+00:00"))


@pytest.fixture(scope="module")
def hostile_document(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "h.db"
    records = [*plain_records(), hostile_record(6), hostile_record(7)]
    db, scan_id = store_records(path, records, input_name='<b onclick="x()">list</b>')
    return render_html(db, scan_id)


def bars(root, chart_id: str) -> list[tuple[str, str, str, str]]:
    """(label, value text, fill, data-filter) of each bar of a chart."""
    return [
        (
            g.xpath("string(.//*[local-name()='text'][@class='label'])"),
            g.xpath("string(.//*[local-name()='text'][@class='value'])"),
            g.xpath("string(.//*[local-name()='rect']/@fill)"),
            g.get("data-filter"),
        )
        for g in root.xpath(f"//figure[@id='{chart_id}']//*[local-name()='g'][@class='bar']")
    ]


def test_charts_are_inline_svg_with_labels_and_values(plain_report):
    assert bars(plain_report, "chart-regions") == [
        ("mainland", "3 (60.0%)", "#c0392b", "region:mainland"),
        ("hongkong", "1 (20.0%)", "#8e44ad", "region:hongkong"),
        ("unknown", "1 (20.0%)", "#95a5a6", "region:unknown"),
    ]
    assert bars(plain_report, "chart-findings") == [
        ("ICP_PLACEHOLDER", "1", SEVERITY_FILL["high"], "code:ICP_PLACEHOLDER"),
        ("MAINLAND_NO_ICP", "1", SEVERITY_FILL["high"], "code:MAINLAND_NO_ICP"),
        ("PSB_MISSING", "2", SEVERITY_FILL["low"], "code:PSB_MISSING"),
        ("OFFSHORE_WITH_ICP", "1", SEVERITY_FILL["info"], "code:OFFSHORE_WITH_ICP"),
        ("UNREACHABLE", "1", SEVERITY_FILL["info"], "code:UNREACHABLE"),
    ]
    assert bars(plain_report, "chart-provinces") == [
        ("北京 Beijing", "2 (40.0%)", "#2c7fb8", "province:11"),
        ("上海 Shanghai", "1 (20.0%)", "#2c7fb8", "province:31"),
        ("广东 Guangdong", "1 (20.0%)", "#2c7fb8", "province:44"),
    ]
    widths = plain_report.xpath("//figure[@id='chart-findings']//*[local-name()='rect']/@width")
    assert [float(w) for w in widths] == [160.0, 160.0, 320.0, 160.0, 160.0]  # scaled to max
    tooltip = plain_report.xpath(
        "string(//figure[@id='chart-findings']//*[local-name()='g'][1]/*[local-name()='title'])"
    )
    assert tooltip.startswith("ICP_PLACEHOLDER (high): 1 findings on 1 domains. The page shows")


def test_header_summarises_the_scan(plain_report):
    counts = {
        dd.get("data-count"): dd.text_content() for dd in plain_report.xpath("//dd[@data-count]")
    }
    assert counts == {
        "domains": "5",
        "reached": "4",
        "unreached": "1",
        "findings": "6 on 4 domains",
        "worst-high": "2 domains",
        "worst-info": "2 domains",
    }
    assert plain_report.findtext(".//title") == "icpscan report: scan 1"
    assert plain_report.xpath("//div[@id='unfinished']|//p[@id='unfinished']") == []
    errors = [
        (t.findtext("caption"), [(r.findtext("th"), r.findtext("td")) for r in t.xpath("tr[th]")])
        for t in plain_report.xpath("//section[@id='errors']//table")
    ]
    assert errors == [
        ("Fetch: unreached domains by cause", [("dns", "1")]),
        ("DNS failures (domains)", [("nxdomain", "1")]),
        ("Invalid input lines", [("bad_url", "1")]),
    ]


def test_table_rows_most_severe_first_with_details(plain_report):
    bodies = plain_report.xpath("//table[@id='domains']/tbody[@class='domain']")
    rows = [
        [td.text_content().strip() for td in body.xpath("tr[@class='row']/td")] for body in bodies
    ]
    assert rows == [
        ["2", "noicp.cn", "mainland", "200", "", "MAINLAND_NO_ICP PSB_MISSING", "high"],
        [
            "5",
            "例子.中国xn--fsqu00a.xn--fiqs8s",
            "mainland",
            "200",
            "京ICP备XXXXXXXX号粤B2-20090059",
            "ICP_PLACEHOLDER PSB_MISSING",
            "high",
        ],
        ["3", "hk.example", "hongkong", "200", "沪ICP备12345678号", "OFFSHORE_WITH_ICP", "info"],
        ["4", "down.example", "unknown", "dns", "", "UNREACHABLE", "info"],
        [
            "1",
            "good.cn",
            "mainland",
            "200",
            "京ICP备2021012345号-1京公网安备11010502030143号",
            "",
            "",
        ],
    ]
    down = bodies[3]
    assert down.xpath("string(.//details/summary)") == "1 finding, 0 numbers, DNS and fetch"
    facts = dict(
        zip(down.xpath(".//dl/dt[not(@class)]/text()"), down.xpath(".//dl/dd/text()"), strict=True)
    )
    assert facts["DNS errors"] == "A down.example: nxdomain"
    assert facts["reached"] == "no"
    assert facts["error"] == "dns: NXDOMAIN for down.example"
    placeholder = bodies[1]
    evidence = placeholder.xpath(".//ol[@class='findings']/li[1]//pre/text()")
    assert json.loads(evidence[0]) == {"number": "京ICP备XXXXXXXX号", "raw": "京ICP备XXXXXXXX号"}
    numbers = [
        [td.text_content() for td in tr.xpath("td")]
        for tr in placeholder.xpath(".//table[@class='nums']/tbody/tr")
    ]
    assert numbers[0] == [
        "icp_filing",
        "京ICP备XXXXXXXX号",
        "",
        "北京",
        "footer",
        "no",
        "yes",
        "no",
        "yes",
        "",
        "",
    ]


def test_script_data_has_sort_and_filter_keys_per_row(plain_report):
    (data_element,) = plain_report.xpath("//script[@id='icpscan-data']")
    assert data_element.get("type") == "application/json"
    data = json.loads(data_element.text)
    assert data["page_size"] == 100 and data["shown"] == 5 and data["total"] == 5
    assert data["rows"][1] == {
        "l": 5,
        "d": "例子.中国",
        "r": "mainland",
        "h": 200,
        "u": 1,
        "n": 2,
        "s": 4,
        "c": ["ICP_PLACEHOLDER", "PSB_MISSING"],
        "p": ["11", "44"],
        "t": "例子.中国 xn--fsqu00a.xn--fiqs8s mainland 200 京icp备xxxxxxxx号 粤b2-20090059 "
        "icp_placeholder psb_missing home china telecom",
    }
    assert [row["s"] for row in data["rows"]] == [4, 4, 1, 1, 0]


def test_csp_allows_exactly_the_inline_script_and_stylesheet(plain_report):
    (meta,) = plain_report.xpath("//meta[@http-equiv='Content-Security-Policy']")
    head = plain_report.find("head")
    assert head.index(meta) == 1  # right after <meta charset>: applies to everything below
    (script,) = plain_report.xpath("//script[not(@type)]")
    (style,) = plain_report.xpath("//style")
    assert meta.get("content") == (
        "default-src 'none'; img-src data:; "
        f"style-src {sha256_source(style.text)}; script-src {sha256_source(script.text)}; "
        "base-uri 'none'; form-action 'none'"
    )
    assert meta.get("content") == content_security_policy(script.text, style.text)
    assert script.get("src") is None


def test_hostile_text_creates_no_element_and_no_attribute(hostile_document):
    root = parse(hostile_document)
    tags = {el.tag for el in root.iter() if isinstance(el.tag, str)}
    assert not tags & {
        "img",
        "iframe",
        "object",
        "embed",
        "link",
        "base",
        "a",
        "image",
        "svg:image",
    }
    assert [f.get("id") for f in root.iter("form")] == ["filters"]  # ours
    assert [b.get("id") for b in root.iter("button")] == ["f-reset", "p-prev", "p-next"]
    assert [s.get("type") for s in root.iter("script")] == ["application/json", None]
    assert len(root.xpath("//style")) == 1
    assert root.xpath("//meta/@http-equiv") == ["Content-Security-Policy"]
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name)
            assert "javascript:" not in value.lower(), (element.tag, name)
            assert name not in {"src", "href", "action", "style"}, (element.tag, name)
    # The payloads are there, as text.
    h = hostile_strings()
    body_text = root.body.text_content()
    assert "<script>document.title='pwned'" in body_text
    assert h["img"] in body_text
    assert h["javascript"] in body_text
    assert "{{ 7*7 }}{% if true %}jinja{% endif %}" in body_text  # no template evaluation
    assert "\\x1b[31mRED" in body_text and "\x1b" not in hostile_document
    assert "\\u202e" in body_text and "\u202e" not in hostile_document
    assert "\u2028" not in hostile_document and "\u2029" not in hostile_document
    assert "\x00" not in hostile_document and "\x9b" not in hostile_document
    assert root.findtext(".//title") == "icpscan report: scan 1"
    assert root.xpath("string(//dl[@id='summary']/div[1]/dd)") == '<b onclick="x()">list</b>'


def test_hostile_script_data_cannot_close_its_element(hostile_document):
    start = hostile_document.index('<script type="application/json" id="icpscan-data">')
    end = hostile_document.index("</script>", start)
    raw = hostile_document[start + len('<script type="application/json" id="icpscan-data">') : end]
    assert "<" not in raw and ">" not in raw and "&" not in raw
    data = json.loads(raw)
    hostile_rows = [row for row in data["rows"] if "hostile6.cn" in row["t"]]
    assert len(hostile_rows) == 1
    assert "<script>document.title='pwned'" in hostile_rows[0]["t"]
    assert 'X"><img src="http://127.0.0.1:9/code.png">' in hostile_rows[0]["c"]


def test_hostile_region_and_code_stay_inside_their_attributes(tmp_path):
    payload = 'x" onclick="alert(1)'
    rec = record(
        "r.cn",
        1,
        region=payload,
        findings=[{"code": payload, "severity": "high", "message": "m", "evidence": {}}],
    )
    db, scan_id = store_records(tmp_path / "r.db", [rec])
    root = parse(render_html(db, scan_id))
    assert root.xpath("//@onclick") == []
    assert root.xpath("//td[contains(@class, 'region')]/@class") == [f"region region-{payload}"]
    assert root.xpath("//select[@id='f-code']/option/@value") == ["", payload]
    assert bars(root, "chart-regions")[0][3] == f"region:{payload}"


def test_evidence_and_long_values_are_capped(hostile_document):
    root = parse(hostile_document)
    body = root.xpath("//tbody[@class='domain'][.//span[@class='ace']='hostile6.cn']")[0]
    pres = body.xpath(".//pre/text()")
    assert pres and all(len(text) <= report_html.MAX_EVIDENCE_CHARS + 40 for text in pres)
    assert any("chars]" in text for text in pres)
    facts = dict(
        zip(body.xpath(".//dl/dt[not(@class)]/text()"), body.xpath(".//dl/dd/text()"), strict=True)
    )
    assert facts["title"].endswith(
        "…[+" + f"{len(hostile_strings()['breakout']) + 100_000 - 300:,}" + " chars]"
    )
    assert len(hostile_document) < 200_000  # two 100 kB titles and evidence, capped


def test_max_rows_caps_the_table_most_severe_first_and_says_so(tmp_path):
    records = [record(f"d{i}.cn", i) for i in range(1, 8)]
    records[5]["findings"] = [finding("MAINLAND_NO_ICP")]
    records[2]["findings"] = [finding("PSB_MISSING")]
    db, scan_id = store_records(tmp_path / "m.db", records)
    root = parse(render_html(db, scan_id, max_rows=3))
    names = root.xpath("//tbody[@class='domain']//td[@class='name']/span/text()")
    assert names == ["d6.cn", "d3.cn", "d1.cn"]
    assert " ".join(root.xpath("string(//p[@id='table-note'])").split()) == (
        "The table holds 3 of 7 domains: the most severe findings first. Every domain is in the "
        "SQLite database and in icpscan report --format csv."
    )
    assert bars(root, "chart-regions") == [("mainland", "7 (100.0%)", "#c0392b", "region:mainland")]


def test_unfinished_scan_is_flagged(tmp_path):
    db, scan_id = store_records(tmp_path / "u.db", [record("a.cn", 1)], finish=False)
    root = parse(render_html(db, scan_id))
    assert " ".join(root.xpath("string(//p[@id='unfinished'])").split()) == (
        "This scan is running: 1 of 1 queued domains are stored; the counts below cover those only."
    )


def test_empty_scan_renders(tmp_path):
    db, scan_id = store_records(tmp_path / "e.db", [])
    root = parse(render_html(db, scan_id))
    assert root.xpath("//tbody[@class='domain']") == []
    assert root.xpath("string(//figure[@id='chart-regions']/p)") == "Nothing to show."


def test_write_html_replaces_the_file_atomically(tmp_path):
    db, scan_id = store_records(tmp_path / "w.db", plain_records())
    target = tmp_path / "out" / "report.html"
    assert write_html(db, scan_id, target) == target
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_script_json_escapes_what_could_end_the_element():
    text = script_json({"a": "</script><!--&\u2028\u2029"})
    assert text == '{"a":"\\u003c/script\\u003e\\u003c!--\\u0026\\u2028\\u2029"}'
    assert json.loads(text) == {"a": "</script><!--&\u2028\u2029"}


def test_table_cell_lists_four_own_numbers_then_a_count(tmp_path):
    numbers = [number("icp_filing", f"京ICP备2021{i:06d}号") for i in range(6)]
    numbers.append(number("icp_filing", "沪ICP备99999999号", own=False))
    db, scan_id = store_records(tmp_path / "n.db", [record("n.cn", 1, numbers=numbers)])
    root = parse(render_html(db, scan_id))
    cell = root.xpath("//td[@class='numbers']")[0]
    assert [s.text for s in cell.xpath("span")] == [
        "京ICP备2021000000号",
        "京ICP备2021000001号",
        "京ICP备2021000002号",
        "京ICP备2021000003号",
        "+2 more",
    ]
    details = root.xpath("//table[@class='nums']/tbody/tr")
    assert len(details) == 7 and details[-1].get("class") == "quoted"


def test_a_record_of_an_unexpected_shape_is_shown_as_unreadable(tmp_path):
    db, scan_id = store_records(tmp_path / "bad.db", [record("ok.cn", 1), record("bad.cn", 2)])
    broken = record("bad.cn", 2)
    broken["fetch"]["elapsed"] = "soon"
    broken["hosting"]["address_info"] = "nope"
    db.execute("UPDATE domains SET record = ? WHERE domain = 'bad.cn'", [json.dumps(broken)])
    root = parse(render_html(db, scan_id))
    names = root.xpath("//td[@class='name']/span/text()")
    assert names == ["ok.cn", "bad.cn"]
    facts = root.xpath("//tbody[@class='domain'][2]//dl/dd/text()")
    assert facts == ["unreadable record: ValueError: could not convert string to float: 'soon'"]


def test_evidence_is_indented_json_with_invisible_characters_escaped(tmp_path):
    evidence = {"raw": "\x1b[31m\u202eabc\u2028", "many": list(range(30)), "long": "x" * 600}
    rec = record("e.cn", 1, findings=[finding("ICP_INVALID", **evidence)])
    db, scan_id = store_records(tmp_path / "ev.db", [rec])
    root = parse(render_html(db, scan_id))
    (pre,) = root.xpath("//ol[@class='findings']//pre")
    expected = {
        "raw": "\x1b[31m\u202eabc\u2028",  # the shown text is JSON that decodes to the data
        "many": [*range(20), "… 10 more"],
        "long": "x" * 500 + "…[+100 chars]",
    }
    assert json.loads(pre.text) == expected
    assert '"raw": "\\u001b[31m\\u202eabc\\u2028"' in pre.text


def test_assets_follow_the_rules_in_reports_readme():
    from icpscan.resources import reports_path

    script = reports_path("report.js").read_text(encoding="utf-8")
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "Function(",
        "</script",
    ):
        assert sink not in script, sink
    template = reports_path("report.html.j2").read_text(encoding="utf-8")
    for forbidden in (" style=", " href=", " src=", "|safe", "autoescape false"):
        assert forbidden not in template, forbidden
    assert "</style" not in reports_path("report.css").read_text(encoding="utf-8")
