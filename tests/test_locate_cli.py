"""``icpscan locate`` / ``icpscan data`` input handling (no DNS needed for these)."""

from __future__ import annotations

import json

import pytest

from icpscan.cli import main
from icpscan.cli.locate import read_domains, system_nameservers


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["locate"], "icpscan: error: no domains: give DOMAIN arguments or -f FILE "
         "(see 'icpscan locate --help')"),
        (["locate", "example.cn"],
         "icpscan: error: no --nameserver given and ICPSCAN_LOOPBACK_ONLY is set, so "
         "/etc/resolv.conf is not used: pass --nameserver HOST[:PORT]"),
        (["locate", "example.cn", "--nameserver", "dns.google"],
         "icpscan: error: nameserver 'dns.google' must be an IP address with an optional port "
         "(HOST[:PORT], [V6]:PORT)"),
        (["locate", "example.cn", "--nameserver", "127.0.0.1", "--vantage", "x,ecs=bad"],
         "icpscan: error: vantage 'x,ecs=bad': 'bad' is not a subnet"),
        (["locate", "example.cn", "--nameserver", "127.0.0.1",
          "--vantage", "mainland", "--vantage", "mainland"],
         "icpscan: error: each --vantage needs its own name"),
        (["locate", "-f", "/nonexistent/list.txt"], "icpscan: error: cannot read domain list "
         "/nonexistent/list.txt: No such file or directory"),
        (["locate", "example.cn", "--nameserver", "127.0.0.1", "--format", "xml"],
         "icpscan: error: Invalid value for '--format': 'xml' is not one of "
         "'jsonl', 'json', 'table'. (see 'icpscan locate --help')"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", message + "\n")


def test_bad_ranges_file_is_a_usage_error(capsys, tmp_path):
    ranges = tmp_path / "r.csv"
    ranges.write_text("prefix,region,provider\n1.2.3.0/24,moon,X\n", encoding="utf-8")
    code, out, err = run(
        capsys, "locate", "example.cn", "--nameserver", "127.0.0.1", "--ranges", str(ranges)
    )
    assert (code, out) == (2, "")
    assert err == (
        f"icpscan: error: {ranges}:2: region 'moon' is not one of "
        "mainland, hongkong, macau, taiwan, abroad\n"
    )


def test_read_domains_from_arguments_files_and_stdin(tmp_path, monkeypatch):
    listing = tmp_path / "d.txt"
    listing.write_text(
        "\ufeff# header\nexample.cn\n\n  example.com , extra\nexample.cn\n", encoding="utf-8"
    )
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin.cn\n"))
    assert read_domains(("a.cn",), (str(listing), "-")) == [
        "a.cn",
        "example.cn",
        "example.com",
        "from-stdin.cn",
    ]


def test_system_nameservers(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "# generated\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\nnameserver bogus\nsearch lan\n",
        encoding="utf-8",
    )
    assert [str(ns) for ns in system_nameservers(conf)] == ["10.0.0.2:53", "[fe80::1]:53"]
    assert system_nameservers(tmp_path / "missing") == []


def test_data_import_aws_and_rir(capsys, tmp_path):
    aws = tmp_path / "ip-ranges.json"
    aws.write_text(
        json.dumps({"createDate": "2026-11-20-10-00-00", "prefixes": [
            {"ip_prefix": "52.80.0.0/16", "region": "cn-north-1", "service": "EC2"}]}),
        encoding="utf-8",
    )  # fmt: skip
    code, out, err = run(capsys, "data", "import-aws", str(aws), "--data-dir", str(tmp_path))
    assert (code, err) == (0, "")
    assert out == (
        f"imported 1 prefixes (AWS ip-ranges.json createDate 2026-11-20-10-00-00) into "
        f"{tmp_path / 'cloud_ranges.csv'}\n"
    )
    rir = tmp_path / "delegated-apnic-latest"
    rir.write_text(
        "2|apnic|20261127|1|19830613|20261126|+1000\napnic|HK|ipv4|1.0.4.0|256|20110412|assigned\n"
    )
    code, out, err = run(capsys, "data", "import-rir", str(rir), "--data-dir", str(tmp_path))
    assert (code, err) == (0, "")
    assert out == (
        "delegated-apnic-latest: apnic serial 20261127 (19830613-20261126), 1 records\n"
        f"wrote 1 ranges to {tmp_path / 'rir_country.csv'}\n"
    )


def test_data_import_errors_exit_2(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"values": []}', encoding="utf-8")
    code, out, err = run(capsys, "data", "import-aws", str(bad), "--data-dir", str(tmp_path))
    assert (code, out, err) == (
        2,
        "",
        f"icpscan: error: {bad}: not an AWS ip-ranges.json (no 'prefixes')\n",
    )
    code, out, err = run(capsys, "data", "import-rir", str(bad), "--data-dir", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == f"icpscan: error: {bad}:1: not a delegated-statistics record\n"


@pytest.mark.parametrize(
    ("line", "host"),
    [
        ("https://Example.cn:8443/x?y", "Example.cn"),
        ("example.cn/path", "example.cn"),
        ("*.example.cn", "example.cn"),
        ("[2001:db8::1]:53", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("user:pw@host.cn", "host.cn"),
        ("http://[::1]/", "::1"),
        ("host.cn:80", "host.cn"),
        ("1.2.3.4:8080", "1.2.3.4"),
    ],
)
def test_host_of_domain_list_lines(line, host):
    from icpscan.locate import host_of

    assert host_of(line) == host


def test_read_domains_dedupes_by_host():
    found = read_domains(("Example.CN", "https://example.cn/", "b.cn", "example.cn."), ())
    assert found == ["Example.CN", "b.cn"]
