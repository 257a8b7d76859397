"""The HTML report: one self-contained file, safe to open whatever the crawled sites said.

Layers of defence, each sufficient on its own for the common attacks:

1. Every crawled string goes through :func:`icpscan.report.text.visible` (invisible and bidi
   characters shown as escapes, length capped) and is inserted by jinja2 with autoescape on;
   URLs from pages are shown as text, never as links.
2. Data for our script travels as JSON in ``<script type="application/json">`` with ``<``,
   ``>``, ``&`` and U+2028/U+2029 escaped, read with ``JSON.parse`` and only ever written to
   the page through ``textContent``/attributes (never ``innerHTML``).
3. A Content-Security-Policy ``<meta>`` allows exactly our inline script and stylesheet (by
   SHA-256) and nothing else: no other script runs and nothing is fetched, even if an escaping
   bug let markup through.

Scale: the charts and the header count every domain of the scan; the table holds at most
``max_rows`` domains (default :data:`DEFAULT_MAX_ROWS`), the most severe first, and each
domain's embedded details are capped (see docs/report.md). The script pages the table.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import sqlite_utils
from markupsafe import Markup

from icpscan import __version__
from icpscan.models import FINDING_CODES, Severity
from icpscan.report.charts import (
    REGION_COLOURS,
    SEVERITY_COLOURS,
    BarChart,
    BarItem,
    bar_chart,
)
from icpscan.report.data import (
    SEVERITIES,
    ScanSummary,
    iter_records,
    scan_summary,
    severity_rank,
)
from icpscan.report.files import max_severity
from icpscan.report.text import visible
from icpscan.resources import reports_path

DEFAULT_MAX_ROWS = 5_000  # domains in the table of one report
PAGE_SIZE = 100  # table rows the script shows per page

# Per-domain caps on what is embedded (a hostile page can make any of these huge).
MAX_TEXT = 300  # characters of one value (URL, title, header, number...)
MAX_FINDINGS = 25
MAX_EVIDENCE_CHARS = 3_000  # characters of one finding's evidence, as indented JSON
MAX_EVIDENCE_STRING = 500  # characters of one string inside evidence
MAX_EVIDENCE_ITEMS = 20  # items of one list/object inside evidence
MAX_EVIDENCE_DEPTH = 6
MAX_NUMBERS = 25
MAX_NUMBERS_IN_TABLE = 4  # own numbers listed in a table cell (all are in the details)
MAX_ADDRESSES = 16
MAX_LIST = 12  # CNAMEs, redirects, attempts, DNS errors, hosting evidence
MAX_SEARCH_TEXT = 600  # characters of a row's search text in the script data

TEMPLATE = "report.html.j2"
STYLESHEET = "report.css"
SCRIPT = "report.js"


# -- embedding ---------------------------------------------------------------------------------

_JSON_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: it can never close the element."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_JSON_ESCAPES)


def csp_hash(source: str) -> str:
    """The CSP source expression allowing exactly this inline script/style text."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(script: str, stylesheet: str) -> str:
    return (
        "default-src 'none'; img-src data:; "
        f"style-src {csp_hash(stylesheet)}; script-src {csp_hash(script)}; "
        "base-uri 'none'; form-action 'none'"
    )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(reports_path())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


@cache
def _asset(name: str) -> str:
    text = reports_path(name).read_text(encoding="utf-8")
    # Our own assets are inlined verbatim; they must not be able to end their element early.
    closing = "</script" if name.endswith(".js") else "</style"
    if closing in text.lower():
        raise ValueError(f"{name} contains {closing!r}")
    return text


# -- view models -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberView:
    kind: str
    number: str
    raw: str  # "" when the page wrote it exactly as normalised
    location: str
    valid: bool
    placeholder: bool
    linked: bool
    own: bool
    href: str
    problems: str
    province: str


@dataclass(frozen=True)
class FindingView:
    code: str
    severity: str
    message: str
    evidence: str  # indented JSON, capped


@dataclass(frozen=True)
class DomainView:
    index: int
    line: str
    domain: str
    display: str  # "" when the same as domain
    region: str
    status: str
    status_class: str  # ok | error (HTTP >= 400) | unreached
    numbers: tuple[NumberView, ...]
    numbers_more: int
    codes: tuple[tuple[str, str], ...]  # (code, severity), most severe first
    severity: str
    findings: tuple[FindingView, ...]
    findings_more: int
    hosting: tuple[tuple[str, str], ...]  # (label, value) facts
    fetch: tuple[tuple[str, str], ...]
    own_numbers: int
    sort_line: int = 0  # input line (the row index when unknown)
    http_status: int = 0
    reached: bool = False
    province_codes: tuple[str, ...] = ()  # provinces of the own numbers
    search: str = ""  # lower-case text the script's search box matches


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…[+{len(text) - limit:,} chars]"


def _prune(value: Any, depth: int = 0) -> Any:
    """A bounded copy of evidence: long strings cut, long lists/objects shortened, depth capped."""
    if isinstance(value, str):
        return _cut(value, MAX_EVIDENCE_STRING)
    if depth >= MAX_EVIDENCE_DEPTH and isinstance(value, dict | list):
        return "…"
    if isinstance(value, dict):
        items = list(value.items())
        pruned = {_cut(str(k), 80): _prune(v, depth + 1) for k, v in items[:MAX_EVIDENCE_ITEMS]}
        if len(items) > MAX_EVIDENCE_ITEMS:
            pruned["…"] = f"{len(items) - MAX_EVIDENCE_ITEMS} more keys"
        return pruned
    if isinstance(value, list):
        pruned_list = [_prune(v, depth + 1) for v in value[:MAX_EVIDENCE_ITEMS]]
        if len(value) > MAX_EVIDENCE_ITEMS:
            pruned_list.append(f"… {len(value) - MAX_EVIDENCE_ITEMS} more")
        return pruned_list
    return value


def _evidence_text(evidence: Any) -> str:
    """Evidence as indented JSON: JSON escapes C0 controls; visible() shows the rest as \\uNNNN."""
    if not evidence:
        return ""
    text = json.dumps(_prune(evidence), ensure_ascii=False, indent=2)
    return visible(text, MAX_EVIDENCE_CHARS, multiline=True)


def _v(value: Any, limit: int = MAX_TEXT) -> str:
    return visible(value, limit)


def _lines(shown: list[str], items: list[Any], cap: int) -> str:
    """Already-visible lines, one per item, and how many were left out."""
    more = [f"(+{len(items) - cap} more)"] if len(items) > cap else []
    return "\n".join(shown + more)


def _yes(value: Any) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _hosting_facts(hosting: Mapping[str, Any]) -> list[tuple[str, str]]:
    facts = [
        (
            "region",
            f"{_v(hosting.get('region') or 'unknown')} "
            f"(confidence {_v(hosting.get('confidence') or '-')})",
        ),
    ]
    if hosting.get("provider"):
        facts.append(("provider", _v(hosting["provider"])))
    cdn = hosting.get("cdn")
    if isinstance(cdn, Mapping):
        facts.append(
            (
                "CDN",
                f"{_v(cdn.get('name'))} ({_v(cdn.get('provider'))}; mainland nodes: "
                f"{_v(cdn.get('mainland_nodes'))}) via {_v(cdn.get('cname') or cdn.get('suffix'))}",
            )
        )
    info = {
        str(i.get("address")): i
        for i in hosting.get("address_info") or []
        if isinstance(i, Mapping)
    }
    addresses = [str(a) for a in hosting.get("addresses") or []]
    lines = []
    for address in addresses[:MAX_ADDRESSES]:
        about = info.get(address, {})
        parts = [str(about.get("region") or "")]
        if about.get("asn"):
            parts.append(f"AS{about['asn']} {about.get('asn_name') or ''}".strip())
        if about.get("country"):
            parts.append(f"registry {about['country']}")
        if about.get("special"):
            parts.append(str(about["special"]))
        detail = ", ".join(p for p in parts if p)
        lines.append(_v(f"{address} — {detail}" if detail else address))
    if addresses:
        facts.append(("addresses", _lines(lines, addresses, MAX_ADDRESSES)))
    cnames = [str(c) for c in hosting.get("cnames") or []]
    if cnames:
        facts.append(("CNAMEs", _lines([_v(c) for c in cnames[:MAX_LIST]], cnames, MAX_LIST)))
    views = hosting.get("views") or {}
    if isinstance(views, Mapping):
        for name, view in list(views.items())[:MAX_LIST]:
            if isinstance(view, Mapping):
                seen = ", ".join(str(a) for a in (view.get("addresses") or [])[:MAX_ADDRESSES])
                facts.append((f"view {_v(name, 40)}", _v(f"{view.get('region')}: {seen}")))
    errors = [e for e in hosting.get("errors") or [] if isinstance(e, Mapping)]
    if errors:
        lines = [
            _v(
                f"{e.get('rtype')} {e.get('name')}: {e.get('error')}"
                + (f" ({e.get('detail')})" if e.get("detail") else "")
            )
            for e in errors[:MAX_LIST]
        ]
        facts.append(("DNS errors", _lines(lines, errors, MAX_LIST)))
    evidence = [e for e in hosting.get("evidence") or [] if isinstance(e, Mapping)]
    if evidence:
        lines = [
            _v(
                f"{e.get('source')}: {e.get('claim')}"
                + (f" [{e.get('region')}]" if e.get("region") else "")
            )
            for e in evidence[:MAX_LIST]
        ]
        facts.append(("evidence", _lines(lines, evidence, MAX_LIST)))
    return facts


def _tls_text(tls: Mapping[str, Any]) -> str:
    flags = [
        name
        for name, bad in (
            ("expired", tls.get("expired")),
            ("self-signed", tls.get("self_signed")),
            ("name mismatch", tls.get("hostname_match") is False),
            ("untrusted", tls.get("trusted") is False),
        )
        if bad
    ]
    return (
        f"CN={_v(tls.get('subject_cn'), 120)}; issuer {_v(tls.get('issuer'), 160)}; "
        f"until {_v(tls.get('not_after'), 40)}; " + (", ".join(flags) or "valid")
    )


def _fetch_facts(record: Mapping[str, Any], fetch: Mapping[str, Any]) -> list[tuple[str, str]]:
    if not fetch:
        return [("fetch", "not fetched")]
    facts = [("reached", _yes(fetch.get("reached")))]
    if fetch.get("status") is not None:
        facts.append(("status", _v(fetch["status"])))
    if fetch.get("final_url"):
        facts.append(("final URL", _v(fetch["final_url"])))
    if fetch.get("left_registrable_domain"):
        facts.append(("left domain", f"yes, to {_v(fetch.get('final_registrable_domain'))}"))
    chain = [h for h in fetch.get("chain") or [] if isinstance(h, Mapping)]
    if chain:
        lines = [
            _v(f"{h.get('status')} ({h.get('kind')}) → {_v(h.get('url'))}", 2 * MAX_TEXT)
            for h in chain[:MAX_LIST]
        ]
        facts.append(("redirects", _lines(lines, chain, MAX_LIST)))
    attempts = [a for a in fetch.get("attempts") or [] if isinstance(a, Mapping)]
    if len(attempts) > 1 or (attempts and attempts[0].get("error")):
        lines = []
        for attempt in attempts[:MAX_LIST]:
            error = attempt.get("error") or {}
            outcome = (
                f"{error.get('kind')}: {error.get('detail')}" if error else attempt.get("status")
            )
            lines.append(f"{_v(attempt.get('url'))} → {_v(outcome)}")
        facts.append(("attempts", _lines(lines, attempts, MAX_LIST)))
    error = fetch.get("error")
    if isinstance(error, Mapping):
        facts.append(("error", f"{_v(error.get('kind'), 40)}: {_v(error.get('detail'))}"))
    headers = fetch.get("headers") or {}
    if isinstance(headers, Mapping):
        for name in ("server", "content-type", "x-powered-by"):
            if headers.get(name):
                facts.append((name, _v(headers[name])))
    tls = fetch.get("tls")
    if isinstance(tls, Mapping):
        facts.append(("TLS", _tls_text(tls)))
    if fetch.get("address") or fetch.get("peer"):
        facts.append(
            ("address", f"{_v(fetch.get('address'), 60)} (peer {_v(fetch.get('peer'), 60)})")
        )
    size = fetch.get("body_size")
    if size is not None:
        facts.append(
            ("body", f"{size:,} bytes" + (" (truncated)" if fetch.get("truncated") else ""))
        )
    if fetch.get("elapsed") is not None:
        facts.append(("elapsed", f"{float(fetch['elapsed']):.2f} s"))
    if record.get("title"):
        facts.append(("title", _v(record["title"])))
    if record.get("encoding"):
        facts.append(("encoding", _v(record["encoding"], 40)))
    signals = record.get("signals") or []
    if signals:
        facts.append(("signals", _v(", ".join(str(s) for s in signals))))
    return facts


def _number_view(number: Mapping[str, Any]) -> NumberView:
    province = number.get("province") or {}
    raw = str(number.get("raw") or "")
    value = str(number.get("number") or "")
    return NumberView(
        kind=_v(number.get("kind"), 40),
        number=_v(value, 120),
        raw="" if raw == value else _v(raw, 200),
        location=_v(number.get("location"), 40),
        valid=bool(number.get("valid")),
        placeholder=bool(number.get("placeholder")),
        linked=bool(number.get("linked")),
        own=bool(number.get("own", True)),
        href=_v(number.get("href")),
        problems=_v(", ".join(str(p) for p in number.get("problems") or []), 200),
        province=_v(province.get("name") if isinstance(province, Mapping) else "", 20),
    )


def _status(fetch: Mapping[str, Any]) -> tuple[str, str]:
    status = fetch.get("status")
    error = (
        (fetch.get("error") or {}).get("kind") if isinstance(fetch.get("error"), Mapping) else None
    )
    if fetch.get("reached"):
        if isinstance(status, int) and status >= 400:
            return _v(status, 10), "error"
        return _v(status if status is not None else "ok", 10), "ok"
    if error:
        text = f"{status} {error}" if status is not None else str(error)
        return _v(text, 40), "unreached"
    return "-", "unreached"


def domain_view(index: int, record: Mapping[str, Any]) -> DomainView:
    """What the report shows for one record, every crawled string made visible and capped.

    A record of an unexpected shape (a database edited by hand, a future schema) is shown as
    unreadable instead of failing the whole report.
    """
    try:
        return _domain_view(index, record)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        domain = record.get("domain") if isinstance(record, Mapping) else None
        return DomainView(
            index=index,
            line="",
            domain=_v(domain or "?"),
            display="",
            region="unknown",
            status="-",
            status_class="unreached",
            numbers=(),
            numbers_more=0,
            codes=(),
            severity="",
            findings=(),
            findings_more=0,
            hosting=(("record", _v(f"unreadable record: {type(exc).__name__}: {exc}")),),
            fetch=(),
            own_numbers=0,
        )


def _domain_view(index: int, record: Mapping[str, Any]) -> DomainView:
    hosting = record.get("hosting") or {}
    fetch = record.get("fetch") or {}
    findings = [f for f in record.get("findings") or [] if isinstance(f, Mapping)]
    numbers = [n for n in record.get("numbers") or [] if isinstance(n, Mapping)]
    numbers.sort(key=lambda n: not n.get("own", True))  # own numbers first, quotes after
    domain = str(record.get("domain") or "")
    display = str(record.get("display") or domain)
    severity = max_severity(findings)
    codes: dict[str, str] = {}
    for item in sorted(findings, key=lambda f: -severity_rank(f.get("severity"))):
        codes.setdefault(_v(item.get("code"), 60), _v(item.get("severity"), 20))
    status, status_class = _status(fetch)
    line = record.get("line")
    own = [n for n in numbers if n.get("own", True)]
    provinces = sorted(
        {_v((n.get("province") or {}).get("code"), 10) for n in own if n.get("province")}
    )
    http_status = fetch.get("status")
    words = [display, domain, hosting.get("region"), status]
    words += [n.get("number") for n in own[:MAX_NUMBERS]]
    words += list(codes)
    words += [record.get("title"), hosting.get("provider")]
    search = " ".join(_v(word, 120) for word in words if word).lower()
    return DomainView(
        index=index,
        line="" if line is None else _v(line, 12),
        domain=_v(domain),
        display="" if display == domain else _v(display),
        region=_v(hosting.get("region") or "unknown", 20),
        status=status,
        status_class=status_class,
        numbers=tuple(_number_view(n) for n in numbers[:MAX_NUMBERS]),
        numbers_more=max(len(numbers) - MAX_NUMBERS, 0),
        codes=tuple(codes.items()),
        severity=severity,
        findings=tuple(
            FindingView(
                code=_v(f.get("code"), 60),
                severity=_v(f.get("severity"), 20),
                message=_v(f.get("message"), 600),
                evidence=_evidence_text(f.get("evidence")),
            )
            for f in findings[:MAX_FINDINGS]
        ),
        findings_more=max(len(findings) - MAX_FINDINGS, 0),
        hosting=tuple(_hosting_facts(hosting)),
        fetch=tuple(_fetch_facts(record, fetch)),
        own_numbers=len(own),
        sort_line=line if isinstance(line, int) else index,
        http_status=http_status if isinstance(http_status, int) else 0,
        reached=bool(fetch.get("reached")),
        province_codes=tuple(provinces),
        search=search[:MAX_SEARCH_TEXT],
    )


def _row_data(view: DomainView) -> dict[str, Any]:
    """The sort and filter keys of one table row, for the script (compact keys)."""
    return {
        "l": view.sort_line,
        "d": (view.display or view.domain).lower(),
        "r": view.region,
        "h": view.http_status,
        "u": 1 if view.reached else 0,
        "n": view.own_numbers,
        "s": severity_rank(view.severity),
        "c": [code for code, _ in view.codes],
        "p": list(view.province_codes),
        "t": view.search,
    }


# -- charts ------------------------------------------------------------------------------------


def summary_charts(summary: ScanSummary) -> tuple[BarChart, BarChart, BarChart]:
    regions = bar_chart(
        "chart-regions",
        "Hosting regions (domains)",
        [
            BarItem(
                label=visible(region, 40),
                value=count,
                colour=REGION_COLOURS.get(region, "#34495e"),
                filter=f"region:{visible(region, 40)}",
            )
            for region, count in summary.regions.items()
        ],
        total=summary.domains,
    )
    findings = bar_chart(
        "chart-findings",
        "Findings by code",
        [
            BarItem(
                label=visible(count.code, 60),
                value=count.findings,
                colour=SEVERITY_COLOURS.get(count.severity, "#34495e"),
                tooltip=(
                    f"{visible(count.code, 60)} ({visible(count.severity, 20)}): "
                    f"{count.findings:,} findings on {count.domains:,} domains. {count.meaning}"
                ),
                filter=f"code:{visible(count.code, 60)}",
            )
            for count in summary.codes
        ],
    )
    provinces = bar_chart(
        "chart-provinces",
        "Provinces of the numbers shown (domains)",
        [
            BarItem(
                label=visible(f"{p.name} {p.name_en}".strip(), 60),
                value=p.domains,
                colour="#2c7fb8",
                tooltip=visible(
                    f"{p.name} {p.name_en} (division {p.code}): {p.domains:,} domains show "
                    f"{p.numbers:,} distinct numbers",
                    200,
                ),
                filter=f"province:{visible(p.code, 10)}",
            )
            for p in summary.provinces
        ],
        total=summary.domains,
    )
    return regions, findings, provinces


# -- rendering ---------------------------------------------------------------------------------


def iter_html(
    db: sqlite_utils.Database,
    scan_id: int,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    page_size: int = PAGE_SIZE,
    generated_at: str | None = None,
) -> Iterator[str]:
    """The report as a stream of text chunks.

    Records are read, turned into views and rendered one at a time; only the small per-row
    sort/filter keys accumulate (for the JSON block at the end of the page). Memory therefore
    stays flat whatever ``max_rows`` is, apart from those keys.
    """
    summary = scan_summary(db, scan_id)
    max_rows = max(max_rows, 0)
    records = iter_records(db, scan_id, most_severe_first=True, limit=max_rows)
    return render_records(
        summary,
        records,
        shown=min(max_rows, summary.domains),
        page_size=page_size,
        generated_at=generated_at,
    )


def render_records(
    summary: ScanSummary,
    records: Iterable[Mapping[str, Any]],
    *,
    shown: int,
    page_size: int = PAGE_SIZE,
    generated_at: str | None = None,
) -> Iterator[str]:
    """Chunks of the report of ``summary`` whose table holds ``records`` (``shown`` of them)."""
    script = _asset(SCRIPT)
    stylesheet = _asset(STYLESHEET)
    rows: list[dict[str, Any]] = []

    def views() -> Iterator[DomainView]:
        for index, record in enumerate(records):
            view = domain_view(index, record)
            rows.append(_row_data(view))
            yield view

    def data_json() -> Markup:
        # Called by the template after the table: every row's keys are collected by then.
        data = {
            "version": 1,
            "page_size": page_size,
            "rows": rows,
            "severities": list(SEVERITIES),
            "shown": len(rows),
            "total": summary.domains,
        }
        return Markup(script_json(data))  # noqa: S704 - script_json escapes < > & U+2028/9

    regions, findings, provinces = summary_charts(summary)
    template = _environment().get_template(TEMPLATE)
    return template.generate(
        csp=content_security_policy(script, stylesheet),
        script=Markup(script),  # noqa: S704 - our own asset, checked to hold no </script
        stylesheet=Markup(stylesheet),  # noqa: S704 - our own asset, checked to hold no </style
        data_json=data_json,
        summary=summary,
        scan=summary.scan,
        input_name=visible(summary.scan.input, 200),
        charts=(regions, findings, provinces),
        severities=list(SEVERITIES[::-1]),
        codes=[
            (code, spec.severity.value, spec.meaning)
            for code, spec in sorted(
                FINDING_CODES.items(), key=lambda kv: (-kv[1].severity.rank, kv[0])
            )
        ],
        seen_codes=[visible(c.code, 60) for c in summary.codes],
        regions=[visible(r, 40) for r in summary.regions],
        provinces=[
            (visible(p.code, 10), visible(f"{p.name} {p.name_en}".strip(), 60))
            for p in summary.provinces
        ],
        domains=views(),
        shown=shown,
        max_numbers_in_table=MAX_NUMBERS_IN_TABLE,
        fetch_errors={visible(k, 60): v for k, v in summary.fetch_errors.items()},
        dns_errors={visible(k, 60): v for k, v in summary.dns_errors.items()},
        input_errors={visible(k, 60): v for k, v in summary.input_errors.items()},
        version=__version__,
        generated_at=generated_at or datetime.now(UTC).isoformat(timespec="seconds"),
        high=Severity.HIGH.value,
    )


def render_html(
    db: sqlite_utils.Database,
    scan_id: int,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    page_size: int = PAGE_SIZE,
    generated_at: str | None = None,
) -> str:
    """The whole report as one string (see :func:`iter_html`)."""
    return "".join(
        iter_html(db, scan_id, max_rows=max_rows, page_size=page_size, generated_at=generated_at)
    )


def write_html(
    db: sqlite_utils.Database,
    scan_id: int,
    path: str | os.PathLike[str],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    page_size: int = PAGE_SIZE,
) -> Path:
    """Render the report straight to ``path``, atomically (a reader never sees half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as out:
            for chunk in iter_html(db, scan_id, max_rows=max_rows, page_size=page_size):
                out.write(chunk)
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target
