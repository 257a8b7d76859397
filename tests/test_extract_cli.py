"""``icpscan extract``: encodings, stdin, --base-url, exit codes, and the library's answer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from icpscan import extract
from icpscan.cli import main
from icpscan.models import to_jsonable
from tests.conftest import REPO_ROOT

FOOTER = (
    "<footer><p>版权所有 镕喆堃玥科技</p>"
    '<a href="https://beian.miit.gov.cn/">京ICP备2021040001号-1</a> '
    '<a href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=11010502040001">'
    "京公网安备11010502040001号</a></footer>"
)
BIG5_FOOTER = (
    "<footer><p>歡迎光臨本網站，這是我們的首頁。</p>"
    "京ICP備2021040002號 京公網安備11010502040002號</footer>"
)


def page(meta: str | None, footer: str = FOOTER) -> str:
    head = f'<meta charset="{meta}">' if meta else ""
    title = "網站" if footer is BIG5_FOOTER else "测试"
    return f"<html><head>{head}<title>{title}</title></head><body>{footer}</body></html>"


# name -> (bytes, --encoding hint or None, codec the engine must pick)
FIXTURES = {
    "utf8-declared": (page("utf-8").encode("utf-8"), None, "utf-8"),
    "utf8-undeclared": (page(None).encode("utf-8"), None, "utf-8"),
    "utf8-meta-says-gbk": (page("gbk").encode("utf-8"), None, "utf-8"),
    "gbk-meta-gb2312": (page("gb2312").encode("gbk"), None, "gb18030"),
    "gbk-undeclared": (page(None).encode("gbk"), None, "gb18030"),
    "gbk-hint-utf8": (page(None).encode("gbk"), "utf-8", "gb18030"),
    "gbk-hint-latin1-meta-utf8": (page("utf-8").encode("gbk"), "iso-8859-1", "gb18030"),
    "gb18030-4-byte": (page("gb2312").replace("镕", "𠮷").encode("gb18030"), None, "gb18030"),
    "big5-declared": (page("big5", BIG5_FOOTER).encode("big5"), None, "big5hkscs"),
    "big5-undeclared": (page(None, BIG5_FOOTER).encode("big5"), None, "big5hkscs"),
    "big5-hint-gbk": (page(None, BIG5_FOOTER).encode("big5"), "gbk", "big5hkscs"),
}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_cli_json_equals_library_on_every_encoding(name, tmp_path, capsys):
    data, hint, codec = FIXTURES[name]
    path = tmp_path / f"{name}.html"
    path.write_bytes(data)
    args = ["extract", str(path), "--format", "json"] + (["--encoding", hint] if hint else [])
    code, out, err = run_cli(args, capsys)
    library = extract(data, encoding=hint)
    assert (code, err, library.encoding) == (0, "", codec)
    assert json.loads(out) == {"numbers": [to_jsonable(n) for n in library.numbers]}
    numbers = {n["number"] for n in json.loads(out)["numbers"]}
    expected_icp = "京ICP备2021040002号" if "big5" in name else "京ICP备2021040001号-1"
    assert expected_icp in numbers and len(numbers) == 2


def test_cli_json_object_shape(tmp_path, capsys):
    path = tmp_path / "p.html"
    path.write_bytes(FIXTURES["gbk-meta-gb2312"][0])
    code, out, _err = run_cli(["extract", str(path), "--format", "json"], capsys)
    document = json.loads(out)
    assert code == 0 and list(document) == ["numbers"]
    assert document["numbers"][0] == {
        "kind": "icp_filing",
        "number": "京ICP备2021040001号-1",
        "raw": "京ICP备2021040001号-1",
        "province": {"prefix": "京", "code": "11", "name": "北京", "name_en": "Beijing"},
        "valid": True,
        "placeholder": False,
        "linked": True,
        "href": "https://beian.miit.gov.cn/",
        "location": "footer",
        "own": True,
        "problems": [],
        "site_index": "1",
    }


def test_cli_reads_stdin_in_a_real_process():
    data = FIXTURES["gbk-undeclared"][0]
    proc = subprocess.run(
        [sys.executable, "-m", "icpscan", "extract", "-", "--format", "json"],
        input=data,
        capture_output=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert json.loads(proc.stdout) == {"numbers": [to_jsonable(n) for n in extract(data).numbers]}


def test_cli_base_url_resolves_relative_links(tmp_path, capsys):
    path = tmp_path / "p.html"
    path.write_text('<footer><a href="/icp">京ICP备2021040003号</a></footer>', encoding="utf-8")
    code, out, _ = run_cli(
        ["extract", str(path), "--format", "json", "--base-url", "https://www.example.cn/a/"],
        capsys,
    )
    number = json.loads(out)["numbers"][0]
    assert (code, number["href"], number["linked"]) == (0, "https://www.example.cn/icp", False)


def test_cli_table_lists_numbers_and_encoding(tmp_path, capsys):
    path = tmp_path / "p.html"
    path.write_bytes(FIXTURES["gbk-hint-utf8"][0])
    code, out, err = run_cli(["extract", str(path), "--encoding", "utf-8"], capsys)
    assert (code, err) == (0, "")
    assert "京ICP备2021040001号-1" in out and "京公网安备11010502040001号" in out
    assert "decoded as gb18030 (declaration overruled)" in out


def test_cli_writes_output_file(tmp_path, capsys):
    source = tmp_path / "p.html"
    source.write_bytes(FIXTURES["utf8-declared"][0])
    target = tmp_path / "out.json"
    code, out, _ = run_cli(["extract", str(source), "--format", "json", "-o", str(target)], capsys)
    assert (code, out) == (0, "")
    assert len(json.loads(target.read_text(encoding="utf-8"))["numbers"]) == 2


def test_cli_empty_page_gives_empty_list(tmp_path, capsys):
    path = tmp_path / "empty.html"
    path.write_bytes(b"")
    assert run_cli(["extract", str(path), "--format", "json"], capsys)[:2] == (
        0,
        '{\n  "numbers": []\n}\n',
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["extract", "{missing}"], "icpscan: error: cannot read {missing}: no such file\n"),
        (["extract", "{dir}"], "icpscan: error: cannot read {dir}: is a directory\n"),
        (
            ["extract", "{page}", "--base-url", "ftp://x"],
            "icpscan: error: --base-url must be an http(s) URL with a host, got 'ftp://x'\n",
        ),
        (
            ["extract", "{page}", "--encoding", "klingon"],
            "icpscan: error: unknown encoding 'klingon'\n",
        ),
    ],
)
def test_cli_input_errors_exit_2_with_one_line(args, message, tmp_path, capsys):
    page_path = tmp_path / "p.html"
    page_path.write_text("京ICP备2021040004号", encoding="utf-8")
    values = {"missing": tmp_path / "nope.html", "dir": tmp_path, "page": page_path}
    code, out, err = run_cli([a.format(**values) for a in args], capsys)
    assert (code, out, err) == (2, "", message.format(**values))


def test_cli_bad_format_is_a_usage_error(tmp_path, capsys):
    page_path = tmp_path / "p.html"
    page_path.write_text("x", encoding="utf-8")
    code, _out, err = run_cli(["extract", str(page_path), "--format", "xml"], capsys)
    assert code == 2
    assert err.startswith("icpscan: error: Invalid value for '--format': 'xml' is not one of")
    assert err.count("\n") == 1


def test_cli_missing_file_in_a_real_process_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "icpscan", "extract", str(tmp_path / "none.html")],
        capture_output=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
        text=True,
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"icpscan: error: cannot read {tmp_path / 'none.html'}: no such file\n"
