"""The HTML report in a real browser (headless Chromium), built from hostile records.

Shows that (1) the charts are in the rendered DOM, (2) our filter script ran, (3) no hostile
script ran, and (4) nothing was requested: every resource URL in the payloads points at a
loopback HTTP server started here, which must see zero requests. A control page proves the
server would have seen them. Chromium stays on loopback: its own resolver maps every name to
NOTFOUND (the egress guard cannot see inside Chromium), and the payload URLs are 127.0.0.1.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import lxml.html
import pytest

from icpscan.report import write_html
from tests.report_records import hostile_record, plain_records, store_records

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
TITLE = "icpscan report: scan 1"


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "headless Chromium is required (Debian package 'chromium'; .ci/run installs it)"
        )
    return found


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[Recorder]:
        server = cls()
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def _record(self) -> None:
        with self.server.lock:
            self.server.paths.append(self.path)
        body = b"document.title='pwned-by-loaded-script';"
        self.send_response(200)
        self.send_header("Content-Type", "application/javascript")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _record
    do_POST = _record

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with Recorder.running() as server:
        yield server


def dump_dom(url: str, profile: Path) -> lxml.html.HtmlElement:
    completed = subprocess.run(
        [chromium_binary(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "<html" in completed.stdout[:100], completed.stderr[-2000:]
    return lxml.html.document_fromstring(completed.stdout)


@pytest.fixture
def hostile_report(tmp_path, recorder) -> Path:
    records = [*plain_records(), hostile_record(6, recorder.base), hostile_record(7, recorder.base)]
    db, scan_id = store_records(tmp_path / "h.db", records, input_name="<b>hostile</b>")
    return write_html(db, scan_id, tmp_path / "report.html")


def test_control_page_proves_the_recorder_sees_requests(tmp_path, recorder):
    page = tmp_path / "control.html"
    page.write_text(
        f'<html><body><img src="{recorder.base}/control.png">'
        "<script>document.title='ran'</script></body></html>",
        encoding="utf-8",
    )
    root = dump_dom(page.as_uri(), tmp_path / "profile")
    assert root.findtext(".//title") == "ran"
    assert "/control.png" in recorder.paths


def test_report_renders_runs_our_script_and_nothing_else(tmp_path, recorder, hostile_report):
    root = dump_dom(hostile_report.as_uri(), tmp_path / "profile")
    html = root.getroottree().getroot()
    # (2) our script ran: it marks the document and fills the counter.
    assert html.get("data-icpscan-ready") == "1"
    assert html.get("data-icpscan-matching") == "7"
    assert "js" in html.get("class", "").split()
    assert root.get_element_by_id("filters").get("hidden") is None
    assert root.get_element_by_id("f-count").text_content() == (
        "showing 1\u20137 of 7 matching domains (7 in this report)"
    )
    # (1) the charts are in the rendered DOM with their labels.
    labels = root.xpath("//figure[@id='chart-regions']//*[local-name()='text'][@class='label']")
    assert [t.text for t in labels] == ["mainland", "hongkong", "unknown"]
    assert len(root.xpath("//figure[@id='chart-findings']//*[local-name()='rect']")) == 8
    assert len(root.xpath("//figure[@id='chart-provinces']//*[local-name()='rect']")) == 3
    # (3) no hostile script ran, no hostile element exists.
    assert root.findtext(".//title") == TITLE
    assert root.xpath("//*[@data-pwned]") == []
    assert root.xpath("//*[@id='pwned-img']") == []
    for tag in ("img", "iframe", "object", "link", "base", "a", "image", "embed"):
        assert root.xpath(f"//*[local-name()='{tag}']") == [], tag
    assert [s.get("type") for s in root.iter("script")] == ["application/json", None]
    assert "<script>document.title='pwned'" in root.body.text_content()
    # (4) nothing was fetched from anywhere.
    assert recorder.paths == []


def test_filter_from_the_url_fragment_hides_rows(tmp_path, recorder, hostile_report):
    root = dump_dom(hostile_report.as_uri() + "#sev=4", tmp_path / "profile")
    html = root.getroottree().getroot()
    assert html.get("data-icpscan-ready") == "1"
    assert html.get("data-icpscan-matching") == "2"
    shown = [
        body.xpath("string(.//td[@class='name']/span[1])")
        for body in root.xpath("//tbody[@class='domain'][not(@hidden)]")
    ]
    assert shown == ["noicp.cn", "例子.中国"]
    assert len(root.xpath("//tbody[@class='domain'][@hidden]")) == 5
    assert root.get_element_by_id("f-sev").get("value") is None  # select state is a property
    assert recorder.paths == []


def test_csp_blocks_markup_that_escaped_escaping(tmp_path, recorder, hostile_report):
    """Simulate an escaping bug: raw payloads spliced into the report must still do nothing."""
    document = hostile_report.read_text(encoding="utf-8")
    base = recorder.base
    injected = (
        f'<img src="{base}/bug.png" onerror="document.title=\'pwned\'">'
        "<script>document.title='pwned'</script>"
        f'<script src="{base}/bug.js"></script>'
        f'<link rel="stylesheet" href="{base}/bug.css">'
        f"<style>@import url({base}/bug-import.css);body{{background:url({base}/bug-bg.png)}}"
        "</style>"
        f'<iframe src="{base}/bug-frame.html"></iframe>'
        f'<div style="background:url({base}/bug-inline.png)">x</div>'
        f'<svg><image href="{base}/bug-svg.png"/></svg>'
        f'<form action="{base}/bug-form" method="post" id="bugform"></form>'
        "<script>document.getElementById('bugform').submit()</script>"
    )
    spliced = tmp_path / "spliced.html"
    spliced.write_text(document.replace("<main>", "<main>" + injected, 1), encoding="utf-8")
    root = dump_dom(spliced.as_uri(), tmp_path / "profile")
    assert root.findtext(".//title") == TITLE
    assert root.getroottree().getroot().get("data-icpscan-ready") == "1"  # ours still runs
    assert recorder.paths == []


def test_sort_and_page_from_the_url_fragment(tmp_path, recorder):
    db, scan_id = store_records(tmp_path / "p.db", plain_records())
    report = write_html(db, scan_id, tmp_path / "paged.html", page_size=2)
    root = dump_dom(report.as_uri() + "#sort=d&dir=1&page=2", tmp_path / "profile")
    html = root.getroottree().getroot()
    assert html.get("data-icpscan-ready") == "1"
    order = [
        body.xpath("string(.//td[@class='name']/span[1])")
        for body in root.xpath("//tbody[@class='domain']")
    ]
    assert order == ["down.example", "good.cn", "hk.example", "noicp.cn", "例子.中国"]
    shown = [
        body.xpath("string(.//td[@class='name']/span[1])")
        for body in root.xpath("//tbody[@class='domain'][not(@hidden)]")
    ]
    assert shown == ["hk.example", "noicp.cn"]
    assert root.get_element_by_id("p-info").text_content() == "page 2 of 3"
    assert root.get_element_by_id("pager").get("hidden") is None
    sorted_header = root.xpath("//th[@aria-sort]")
    assert [(th.text, th.get("aria-sort")) for th in sorted_header] == [("Domain", "ascending")]
    assert recorder.paths == []
