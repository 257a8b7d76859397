"""The data dictionary of the exported dataset: tables, columns, types and meanings.

Single source of truth: ``icpscan export`` (Parquet schema with field descriptions, CSV and
JSON lines), ``icpscan.load`` (pandas dtypes) and ``docs/data-dictionary.md`` (tested to list
exactly these columns) all come from :data:`TABLES`. Bump :data:`DATASET_VERSION` on any
change: a removed or renamed column or a changed meaning is a new major version, an added
column a new minor one.
"""

from __future__ import annotations

from dataclasses import dataclass

DATASET_VERSION = "1.0"
TYPES = ("string", "integer", "number", "boolean", "string_list", "integer_list", "json")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # one of TYPES
    description: str


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _table(name: str, description: str, *columns: tuple[str, str, str]) -> Table:
    return Table(name, description, tuple(Column(*c) for c in columns))


_SCAN = ("scan_id", "integer", "The scan (``scans.id`` of the source database).")
_DOMAIN = ("domain", "string", "The scanned domain, ASCII (punycode), lower-case.")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        _table(
            "domains",
            "One row per scanned domain: hosting, homepage, numbers shown, findings, records.",
            _SCAN,
            _DOMAIN,
            ("display", "string", "The domain for humans (Unicode form of an IDN)."),
            ("line", "integer", "Input line the domain came from."),
            (
                "region",
                "string",
                "Hosting region: mainland, hongkong, macau, taiwan, abroad, mixed, unknown.",
            ),
            ("confidence", "string", "Confidence of the region: high, medium, low."),
            ("provider", "string", "Hosting provider recognised from address data, if any."),
            ("cdn", "string", "CDN recognised from the CNAME chain, if any."),
            ("addresses", "string_list", "Addresses the domain resolved to (IPv4 first)."),
            ("asns", "integer_list", "Origin AS numbers of those addresses."),
            ("reached", "boolean", "Whether a homepage was fetched (any HTTP status)."),
            ("status", "integer", "Last HTTP status received."),
            ("final_url", "string", "URL of the page read, after redirects."),
            ("final_registrable_domain", "string", "Registrable domain of the final URL."),
            (
                "left_registrable_domain",
                "boolean",
                "Redirects left the input's registrable domain.",
            ),
            (
                "error_kind",
                "string",
                "Why the homepage was not reached (dns, refused, timeout, reset, tls, http, ...).",
            ),
            ("encoding", "string", "Codec the homepage was decoded with."),
            ("title", "string", "The page title (crawled text: treat as hostile)."),
            (
                "filing_numbers",
                "string_list",
                "ICP filing, ICP licence and telecom licence "
                "numbers the site shows as its own: valid, not placeholders, not only in a "
                "comment.",
            ),
            ("psb_numbers", "string_list", "Public-security (公网安备) numbers shown as own."),
            ("numbers_count", "integer", "Numbers extracted from the page (rows in numbers)."),
            ("signals", "string_list", "Page features: ecommerce, forum, news."),
            ("finding_codes", "string_list", "Distinct finding codes, sorted."),
            ("findings_count", "integer", "Findings (rows in findings)."),
            ("max_severity", "string", "Worst finding severity: info, low, medium, high."),
            (
                "record_status",
                "string",
                "Filing-record lookup: found, none, error, skipped; "
                "empty when the scan had no record source.",
            ),
            (
                "record_source",
                "string",
                "Where the records came from (file:NAME, service:NAME).",
            ),
            (
                "record_error",
                "string",
                "Why the lookup failed: throttled, blocked, schema_changed, unavailable.",
            ),
            (
                "record_entity_numbers",
                "string_list",
                "Entity numbers (mainLicence) filed for the domain.",
            ),
            (
                "record_site_numbers",
                "string_list",
                "Website numbers (serviceLicence) filed for the domain.",
            ),
            ("schema_version", "string", "Version of the per-domain JSON record."),
        ),
        _table(
            "numbers",
            "One row per number found on a homepage (ICP filings, licences, PSB numbers).",
            _SCAN,
            _DOMAIN,
            ("kind", "string", "icp_filing, icp_licence, telecom_licence, psb_filing."),
            ("number", "string", "Normalised number, e.g. 京ICP备2021012345号-1."),
            ("raw", "string", "Text as written on the page."),
            ("province_code", "string", "GB/T 2260 code of the prefix's province."),
            ("province", "string", "Chinese name of that province."),
            ("valid", "boolean", "Well-formed: known prefix, plausible digits and year."),
            ("placeholder", "boolean", "A template or example number."),
            ("linked", "boolean", "Linked to the official lookup for its kind."),
            ("href", "string", "The link around the number, if any."),
            ("location", "string", "footer, body, script, attribute, comment."),
            ("own", "boolean", "The site's own number (false: an example quoted in text)."),
            ("site_index", "string", "The -N website index (with an App letter), if any."),
            ("problems", "string_list", "Machine-readable reasons (nonstandard_prefix, ...)."),
        ),
        _table(
            "findings",
            "One row per finding (docs/assessment-rules.md).",
            _SCAN,
            _DOMAIN,
            ("code", "string", "Finding code (README: finding codes)."),
            ("severity", "string", "info, low, medium, high."),
            ("message", "string", "What the code means."),
            ("evidence", "json", "What the finding rests on (JSON object)."),
        ),
        _table(
            "records",
            "One row per filing record a scanned domain was judged against.",
            _SCAN,
            _DOMAIN,
            (
                "relation",
                "string",
                "domain: filed for a looked-up domain; number: found by "
                "looking a shown number up (whose number it is).",
            ),
            ("filed_domain", "string", "The domain the record is filed for."),
            ("entity_name", "string", "主办单位名称 (unitName)."),
            ("entity_type", "string", "企业, 个人, 事业单位, 政府机关, ... (natureName)."),
            ("entity_number", "string", "主体备案号 (mainLicence)."),
            ("site_number", "string", "网站备案号 (serviceLicence)."),
            ("site_name", "string", "网站名称 (serviceName)."),
            ("content_types", "string_list", "Pre-approval items (contentTypeName)."),
            ("approval_time", "string", "审核通过时间 as the source gives it."),
            ("limit_access", "boolean", "是否限制接入 (limitAccess)."),
            ("source", "string", "file:NAME or service:NAME."),
            ("fetched_at", "string", "When the source gave the record (ISO 8601)."),
        ),
    )
}
