"""``python -m icpscan.crawl``: bad input is one line on stderr, exit code 2, no crawl."""

from __future__ import annotations

import pytest

from icpscan.crawl.__main__ import main


@pytest.fixture
def jobs(tmp_path):
    path = tmp_path / "jobs.txt"
    path.write_text("a.test\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--connect-to", "a.test:443"],
            "bad --connect-to rule 'a.test:443': expected HOST1:PORT1:HOST2:PORT2 (4 fields, "
            "IPv6 in brackets), got 2",
        ),
        (
            ["--resolve", "a.test:443:nope"],
            "bad --resolve pin 'a.test:443:nope': 'nope' is not an IP address",
        ),
        (["--nameserver", "dns.example"], "bad nameserver 'dns.example': not an IP address"),
        (["--timeout", "0"], "--timeout must be positive"),
        (["--set", "NOVALUE"], "--set expects NAME=JSON, got 'NOVALUE'"),
    ],
)
def test_bad_options_exit_2_with_one_line(jobs, capsys, extra, message):
    assert main([jobs, *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"icpscan.crawl: error: {message}\n"


def test_bad_files_exit_2(tmp_path, jobs, capsys):
    assert main([str(tmp_path / "missing.txt")]) == 2
    assert capsys.readouterr().err == (
        f"icpscan.crawl: error: cannot read jobs file '{tmp_path / 'missing.txt'}'\n"
    )
    rules = tmp_path / "rules.txt"
    rules.write_text("# ok\n:80:127.0.0.1:8080\nbad rule\n", encoding="utf-8")
    assert main([jobs, "--connect-to-file", str(rules)]) == 2
    assert capsys.readouterr().err == (
        f"icpscan.crawl: error: {rules}:3: bad --connect-to rule 'bad rule': expected "
        "HOST1:PORT1:HOST2:PORT2 (4 fields, IPv6 in brackets), got 1\n"
    )
    assert main([jobs, "--ca-bundle", str(tmp_path / "none.pem")]) == 2
    assert capsys.readouterr().err == (
        f"icpscan.crawl: error: cannot read CA bundle '{tmp_path / 'none.pem'}': "
        "No such file or directory\n"
    )
    hosts = tmp_path / "hosts.json"
    hosts.write_text("{not json", encoding="utf-8")
    assert main([jobs, "--static-hosts", str(hosts)]) == 2
    assert capsys.readouterr().err.startswith(
        f"icpscan.crawl: error: cannot read --static-hosts '{hosts}': Expecting property name"
    )
