"""Typed records shared by every pipeline stage.

One domain becomes one :class:`DomainResult` that grows as it passes each stage
(target -> resolution -> hosting -> fetch -> extraction -> findings). JSON lines, CSV,
SQLite rows and the HTML report are all renderings of these records; ``SCHEMA_VERSION``
travels with every serialised record. Changing a field name or meaning is a breaking change.
"""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = "1.0"


class Region(StrEnum):
    """Where a domain (or one address) is served from, as far as ICP rules care."""

    MAINLAND = "mainland"
    HONGKONG = "hongkong"
    MACAU = "macau"
    TAIWAN = "taiwan"
    ABROAD = "abroad"
    MIXED = "mixed"  # addresses in more than one of the above
    UNKNOWN = "unknown"  # not resolved, or sources could not decide

    @property
    def needs_filing(self) -> bool:
        return self is Region.MAINLAND


OFFSHORE_REGIONS = frozenset({Region.HONGKONG, Region.MACAU, Region.TAIWAN, Region.ABROAD})


class NumberKind(StrEnum):
    ICP_FILING = "icp_filing"  # 京ICP备2021012345号-1
    ICP_LICENCE = "icp_licence"  # 京ICP证030173号
    TELECOM_LICENCE = "telecom_licence"  # 浙B2-20080101, A2.B1.B2-20090003
    PSB_FILING = "psb_filing"  # 京公网安备11010502030143号


ICP_KINDS = frozenset({NumberKind.ICP_FILING, NumberKind.ICP_LICENCE, NumberKind.TELECOM_LICENCE})


class Location(StrEnum):
    """Where on the page a number was seen; the most visible occurrence wins."""

    FOOTER = "footer"
    BODY = "body"
    SCRIPT = "script"  # only inside JavaScript (SPA config, createTextNode, ...)
    ATTRIBUTE = "attribute"  # only in alt/title/meta content/href
    COMMENT = "comment"  # only in an HTML comment: not visible to a visitor


VISIBLE_LOCATIONS = frozenset({Location.FOOTER, Location.BODY, Location.SCRIPT, Location.ATTRIBUTE})


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}


@dataclass(frozen=True)
class FindingCode:
    code: str
    severity: Severity
    meaning: str


def _codes(*rows: tuple[str, Severity, str]) -> dict[str, FindingCode]:
    return {code: FindingCode(code, sev, meaning) for code, sev, meaning in rows}


# The single source of truth for finding codes; the README table is tested against it.
FINDING_CODES: dict[str, FindingCode] = _codes(
    (
        "MAINLAND_NO_ICP",
        Severity.HIGH,
        "Served from the mainland but the homepage shows no valid, non-placeholder ICP filing, "
        "ICP licence or telecom licence number of its own.",
    ),
    (
        "ICP_PLACEHOLDER",
        Severity.HIGH,
        "The page shows a template or example number (XXXXXXXX, 12345678, 00000000, {{ icp }}...).",
    ),
    (
        "ICP_INVALID",
        Severity.MEDIUM,
        "An ICP/licence number is malformed: unknown prefix, implausible digit count or year.",
    ),
    (
        "ICP_NONSTANDARD_PREFIX",
        Severity.LOW,
        "The ICP number uses a province character MIIT does not issue (川/贵/云/甘/秦 instead of "
        "蜀/黔/滇/陇/陕).",
    ),
    (
        "ICP_NOT_LINKED",
        Severity.MEDIUM,
        "A valid ICP filing or licence number is shown but not linked to the MIIT lookup "
        "(beian.miit.gov.cn).",
    ),
    (
        "ICP_STALE_LINK",
        Severity.LOW,
        "The ICP number links to a retired MIIT host (miibeian.gov.cn / miitbeian.gov.cn).",
    ),
    (
        "ICP_HIDDEN",
        Severity.MEDIUM,
        "The site's only ICP number is in an HTML comment, which visitors never see.",
    ),
    (
        "PSB_MISSING",
        Severity.LOW,
        "Served from the mainland but shows no public-security (公网安备) filing number.",
    ),
    (
        "PSB_INVALID",
        Severity.LOW,
        "A public-security number is malformed (digit count, unknown prefix).",
    ),
    (
        "PSB_PROVINCE_MISMATCH",
        Severity.MEDIUM,
        "A public-security number's division code belongs to another province than its prefix "
        "character: a strong sign of a copied number.",
    ),
    (
        "LICENCE_SIGNALS",
        Severity.LOW,
        "The page shows e-commerce, forum or news features but only a 备 filing, no ICP licence "
        "(pre-approval categories).",
    ),
    (
        "NUMBER_SHARED",
        Severity.MEDIUM,
        "The same website number (with -N) appears on unrelated registrable domains in this scan.",
    ),
    (
        "OFFSHORE_WITH_ICP",
        Severity.INFO,
        "Served from Hong Kong, Macau, Taiwan or abroad and shows an ICP number (legal; noted).",
    ),
    (
        "UNREACHABLE",
        Severity.INFO,
        "No homepage could be fetched (DNS, connection, TLS or HTTP failure); content not judged.",
    ),
    (
        "PAIR_NUMBER_MISMATCH",
        Severity.HIGH,
        "The site shows a different ICP number than the expected-filings file says is filed.",
    ),
    (
        "PAIR_SERVER_MISMATCH",
        Severity.MEDIUM,
        "The domain no longer resolves to any of the servers its filing lists.",
    ),
    (
        "UNFILED_ON_OUR_SERVERS",
        Severity.HIGH,
        "A scanned domain resolves to servers in the expected-filings file but has no filing "
        "there.",
    ),
    # -- reconciliation with filing records (--records / --record-service) --
    (
        "RECORD_MISSING",
        Severity.HIGH,
        "Served from the mainland and shows a filing number, but the filing records hold no "
        "record for the domain.",
    ),
    (
        "RECORD_NUMBER_MISMATCH",
        Severity.HIGH,
        "The number shown is not the domain's filed entity number: it belongs to another "
        "entity or domain (a borrowed or stolen number).",
    ),
    (
        "RECORD_SITE_SUFFIX_MISMATCH",
        Severity.MEDIUM,
        "The entity number is the domain's, but the website index (-N) shown is not the one "
        "filed for this domain.",
    ),
    (
        "RECORD_SCOPE",
        Severity.MEDIUM,
        "The filing does not cover what the site does: an individual (个人) filing on a site with "
        "e-commerce or forum features, or news content without the pre-approval item.",
    ),
)


@dataclass(frozen=True)
class Province:
    """A mainland provincial-level division as a number's prefix names it."""

    prefix: str  # the character as written, e.g. 京, 蜀, 川
    code: str  # GB/T 2260 two-digit code, e.g. "11", "51"
    name: str  # Chinese name, e.g. 北京
    name_en: str  # e.g. Beijing


@dataclass(frozen=True)
class FoundNumber:
    """One filing/licence number as a page shows it (the ``icpscan extract`` JSON object)."""

    kind: NumberKind
    number: str  # normalised, e.g. 京ICP备2021012345号-1
    raw: str  # text as written on the page
    province: Province | None
    valid: bool
    placeholder: bool
    linked: bool  # inside a link to the official lookup for its kind
    href: str | None  # the href of that link (or of the nearest link around the number)
    location: Location
    own: bool  # False when it is an example in an article while the footer shows another
    problems: tuple[str, ...] = ()  # machine-readable reasons, e.g. "nonstandard_prefix"
    site_index: str | None = None  # the -N part (with an App/mini-program letter), if any


@dataclass(frozen=True)
class Extraction:
    """Everything :func:`icpscan.extract` reads from one page."""

    numbers: tuple[FoundNumber, ...]
    encoding: str  # codec the page was decoded with ("utf-8", "gb18030", ...; "str" for text)
    declared_encoding: str | None = None  # what the hint / <meta> said (normalised)
    encoding_mismatch: bool = False  # a declaration was overruled because the bytes disagreed
    title: str | None = None
    signals: frozenset[str] = frozenset()  # "ecommerce", "forum", "news" (LICENCE_SIGNALS)


@dataclass(frozen=True)
class Evidence:
    source: str  # e.g. "ranges-file", "cloud:aws", "cdn-cname", "iptocc", "cymru"
    claim: str  # human-readable statement
    region: Region | None = None  # what this source says, when it says a region


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def finding(code: str, message: str | None = None, **evidence: Any) -> Finding:
    """Build a finding with the registered severity for ``code``."""
    spec = FINDING_CODES[code]
    return Finding(code, spec.severity, message or spec.meaning, evidence)


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
_DATACLASS_FIELDS: dict[type, tuple[str, ...]] = {}


def to_jsonable(value: Any) -> Any:
    """Dataclasses/enums/tuples -> plain JSON types (no schema_version added).

    Runs for every field of every record: plain values return at once and each dataclass's
    field names are looked up once per class (``dataclasses.fields`` per object cost a
    worker ~0.15 ms per domain).
    """
    cls = type(value)
    if cls in _PLAIN_TYPES:
        return value
    names = _DATACLASS_FIELDS.get(cls)
    if names is None and dataclasses.is_dataclass(cls):
        names = _DATACLASS_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    if names is not None:
        return {name: to_jsonable(getattr(value, name)) for name in names}
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return value


# --- hosting location (resolve + locate) -------------------------------------------------------

DNS_ERRORS = ("nxdomain", "servfail", "refused", "no_answer", "timeout", "error")
CONFIDENCES = ("high", "medium", "low")


@dataclass(frozen=True)
class DnsAnswer:
    """One successful lookup: the records of ``rtype`` at the end of ``cnames``."""

    name: str  # the name asked, lower-case, no trailing dot
    rtype: str  # "A", "AAAA", "NS", "TXT", ...
    records: tuple[str, ...]  # addresses / targets / texts, in answer order
    ttl: int  # smallest TTL along the CNAME chain and the record set
    cnames: tuple[str, ...] = ()  # CNAME targets followed from ``name``, in order
    view: str = "default"  # vantage the answer was seen from


@dataclass(frozen=True)
class DnsFailure:
    """A lookup that gave no records, as a recorded fact (never an exception)."""

    name: str
    rtype: str
    error: str  # one of DNS_ERRORS
    detail: str = ""  # e.g. "no reply from 127.0.0.1:53 after 3 tries"
    view: str = "default"
    cnames: tuple[str, ...] = ()  # CNAMEs followed before the failure, if any


@dataclass(frozen=True)
class Resolution:
    """What one domain resolved to from one vantage."""

    domain: str  # as asked (IDNA, lower-case)
    view: str  # vantage name; "default" = plain queries to the configured nameservers
    name: str  # the name whose addresses were used: ``domain`` or ``www.`` + domain
    addresses: tuple[str, ...]  # IPv4 first, then IPv6, in answer order, no duplicates
    cnames: tuple[str, ...]  # CNAME chain from ``name``
    answers: tuple[DnsAnswer, ...] = ()
    failures: tuple[DnsFailure, ...] = ()
    ns: tuple[str, ...] = ()  # NS of ``domain`` (context only), when asked for
    subnet: str | None = None  # EDNS Client Subnet sent for this view, if any


@dataclass(frozen=True)
class AddressInfo:
    """Everything the offline sources and Team Cymru say about one address."""

    address: str
    version: int  # 4 or 6
    region: Region
    confidence: str  # "high" | "medium" | "low"
    special: str | None = None  # egress.forbidden_reason: "private", "loopback", ... (no lookups)
    asn: int | None = None  # first origin AS (multi-origin prefixes list the rest in evidence)
    asn_name: str | None = None
    asn_country: str | None = None  # registry country of the prefix, as Cymru reports it
    registry: str | None = None  # "apnic", "arin", ...
    prefix: str | None = None  # BGP prefix Cymru reports
    allocated: str | None = None  # "YYYY-MM-DD" or None
    country: str | None = None  # offline registry country (RIR import, else iptocc)
    provider: str | None = None
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Cdn:
    """A CDN recognised from a CNAME suffix (data/cdn_suffixes.csv)."""

    name: str  # e.g. "Alibaba Cloud CDN"
    provider: str  # e.g. "Alibaba Cloud"
    mainland_nodes: str  # "yes" | "no" | "depends"
    suffix: str  # the suffix that matched, e.g. "kunlunaq.com"
    cname: str = ""  # the CNAME in the chain that matched


@dataclass(frozen=True)
class AsnRef:
    asn: int
    name: str | None = None


@dataclass(frozen=True)
class ViewSummary:
    """What one vantage saw: a mainland resolver may see another site than we do."""

    region: Region
    addresses: tuple[str, ...]
    cnames: tuple[str, ...]
    subnet: str | None = None


@dataclass(frozen=True)
class HostingVerdict:
    """Where a domain is served from, with the evidence that says so (``icpscan locate``)."""

    domain: str
    region: Region
    addresses: tuple[str, ...]  # all views, IPv4 first; the crawler fetches addresses[0]
    cnames: tuple[str, ...]
    asns: tuple[AsnRef, ...]
    provider: str | None
    cdn: Cdn | None
    confidence: str  # "high" | "medium" | "low"
    evidence: tuple[Evidence, ...]
    errors: tuple[DnsFailure, ...]  # failures that matter (not e.g. a missing AAAA)
    views: dict[str, ViewSummary] = field(default_factory=dict)
    ns: tuple[str, ...] = ()
    address_info: tuple[AddressInfo, ...] = ()
    answers: tuple[DnsAnswer, ...] = ()  # every answer of every view, with its TTL


# -- fetch (the crawl stage) -------------------------------------------------------------------


class FetchErrorKind(StrEnum):
    """Why a homepage fetch (or one attempt of it) failed."""

    DNS = "dns"  # the name did not resolve (NXDOMAIN, SERVFAIL, timeout, no address)
    REFUSED = "refused"  # TCP connection refused
    TIMEOUT = "timeout"  # connect, TLS handshake or transfer exceeded the download timeout
    RESET = "reset"  # connection reset or closed before the response was complete
    TLS = "tls"  # the TLS handshake failed
    EGRESS = "egress"  # the address is not allowed by the egress policy (private, loopback...)
    HTTP = "http"  # not a usable HTTP response (malformed, undecodable, bad redirect target)
    TOO_MANY_REDIRECTS = "too_many_redirects"  # redirect loop or chain past the bound
    SIZE = "size"  # the decompressed body exceeded the decompression cap (a bomb)
    ROBOTS = "robots"  # disallowed by robots.txt (only when robots.txt is obeyed)
    OTHER = "other"


class HopKind(StrEnum):
    """How a redirect hop was requested."""

    HTTP = "http"  # 3xx status with a Location header
    META = "meta"  # <meta http-equiv="refresh" content="0; url=...">
    JS = "js"  # location.href = "...", location.replace("..."), ...


@dataclass(frozen=True)
class FetchError:
    kind: FetchErrorKind
    detail: str


@dataclass(frozen=True)
class FetchAttempt:
    """One start URL tried for a domain (https://d/, http://d/, https://www.d/, http://www.d/)."""

    url: str
    status: int | None  # status of the last response of this attempt, if any
    error: FetchError | None


@dataclass(frozen=True)
class Hop:
    """One redirect: the response at the previous URL (``status``) sent us to ``url``."""

    kind: HopKind
    status: int
    url: str


@dataclass(frozen=True)
class TlsFacts:
    """What the server's TLS handshake showed. Certificate errors are facts, never skips."""

    protocol: str | None  # e.g. "TLSv1.3"
    cipher: str | None
    subject_cn: str | None
    sans: tuple[str, ...]  # DNS names and IP addresses (capped; see san_count)
    san_count: int
    issuer: str  # RFC 4514 string
    not_before: str  # ISO 8601, UTC
    not_after: str
    expired: bool
    not_yet_valid: bool
    self_signed: bool
    hostname_match: bool  # RFC 6125 (service-identity): SAN DNS names with wildcards, IP SANs
    trusted: bool | None  # chains to a trusted root; None = undecidable (issuer unknown)
    trust_detail: str
    sha256: str  # fingerprint of the leaf certificate, hex


@dataclass(frozen=True)
class FetchResult:
    """The crawl stage's record for one input domain (exactly one per domain).

    ``reached`` is True when a final page (any status) was read to its end, or to the page
    size cap (``truncated``). ``error`` says why it was not reached (None when reached): the
    last attempt's error, except that when the ``www.`` guess merely did not resolve, the apex's
    own failure is reported. ``status`` is the last HTTP status received, also when the
    redirect chain then failed.
    """

    domain: str
    reached: bool
    attempts: tuple[FetchAttempt, ...]
    chain: tuple[Hop, ...]  # redirects followed in the last attempt, in order
    final_url: str | None  # the last URL requested (the page when reached)
    status: int | None  # the last HTTP status received
    left_registrable_domain: bool  # final URL is on another registrable domain than the input
    final_registrable_domain: str | None
    headers: dict[str, str]  # headers of interest (lower-case names), from the last response
    is_html: bool  # the body is treated as HTML (content type, or sniffed when missing)
    address: str | None  # the address the hosting stage pinned / the resolver gave (checked)
    peer: str | None  # the address the socket actually talked to
    tls: TlsFacts | None
    truncated: bool  # the body was cut at the page size cap
    body_size: int  # bytes of (decoded) body kept
    error: FetchError | None
    elapsed: float  # seconds from the domain's first download (not its queueing) to the record


def _base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class FetchedPage:
    """What leaves the crawl stage: the JSON record plus what extraction needs (not serialised)."""

    result: FetchResult
    # decoded (Content-Encoding removed), at most the page size cap; Scrapy feed exports
    # (``scrapy crawl homepage -O pages.jsonl``) write it as base64 through this serializer.
    body: bytes = field(metadata={"serializer": _base64_text})
    charset: str | None  # charset parameter of the Content-Type header, as sent
    context: dict[str, Any] = field(default_factory=dict)  # opaque job context, passed through


# -- filing records (reconciliation with what is filed) ---------------------------------------

RECORD_STATUSES = ("found", "none", "error", "skipped")
RECORD_ERRORS = ("throttled", "blocked", "schema_changed", "unavailable", "config")


@dataclass(frozen=True)
class FilingRecord:
    """One filing record as a record source (an export file, a lookup service) states it.

    Field names follow the MIIT query API where one exists (``unitName`` -> ``entity_name``,
    ``natureName`` -> ``entity_type``, ``mainLicence`` -> ``entity_number``,
    ``serviceLicence`` -> ``site_number``, ``contentTypeName`` -> ``content_types``,
    ``updateRecordTime`` -> ``approval_time``); numbers are normalised like extracted ones.
    """

    domain: str  # the filed registrable domain, ASCII (punycode), lower-case
    entity_name: str | None  # 主办单位名称
    entity_type: str | None  # 企业 / 个人 / 事业单位 / 政府机关 / 社会团体 ...
    entity_number: str | None  # 主体备案号 (mainLicence), e.g. 京ICP备2021012345号
    site_number: str | None  # 网站备案号 (serviceLicence), e.g. 京ICP备2021012345号-1
    content_types: tuple[str, ...] = ()  # pre-approval items (前置审批), e.g. ("新闻",)
    approval_time: str | None = None  # as the source states it, e.g. 2022-10-11 09:27:57
    site_name: str | None = None
    limit_access: bool | None = None  # 是否限制接入
    source: str = ""  # e.g. "file:records.csv", "service:my-lookup"
    fetched_at: str | None = None  # ISO 8601: when the source said so


@dataclass(frozen=True)
class RecordError:
    kind: str  # one of RECORD_ERRORS
    detail: str


@dataclass(frozen=True)
class RecordCheck:
    """The filing records a scan consulted for one domain (``records`` of the JSON line).

    ``status`` is ``found`` (records exist for a looked-up domain), ``none`` (the source has
    none: a negative answer), ``error`` (a lookup failed; no RECORD_* rule was applied) or
    ``skipped`` (no rule could fire: the page shows no number and no scope signal).
    ``number_records`` are records found by looking up shown numbers that the domain's own
    records do not explain (whose number it is).
    """

    source: str
    status: str  # one of RECORD_STATUSES
    domains: tuple[str, ...]  # registrable domains looked up (the input's, then the page's)
    records: tuple[FilingRecord, ...] = ()
    found: tuple[str, ...] = ()  # the looked-up domains that have at least one record
    number_records: tuple[FilingRecord, ...] = ()
    error: RecordError | None = None
    cached: bool = False  # every answer came from the cache

    @property
    def usable(self) -> bool:
        return self.status in ("found", "none")


# -- the per-domain record (one JSON line, one `domains` row) ----------------------------------


@dataclass(frozen=True)
class DomainResult:
    """Everything a scan found about one input domain; every output renders this record."""

    domain: str  # ASCII (punycode), lower-case
    display: str  # Unicode form for humans
    line: int | None  # input line the domain came from
    hosting: HostingVerdict
    fetch: FetchResult
    numbers: tuple[FoundNumber, ...]
    signals: tuple[str, ...]
    encoding: str | None  # codec the homepage was decoded with
    title: str | None
    findings: tuple[Finding, ...]
    scan_id: int | None = None
    records: RecordCheck | None = None  # None: no record source was configured

    def to_json(self) -> dict[str, Any]:
        """The JSON line: ``schema_version`` first, then the record's fields."""
        return {"schema_version": SCHEMA_VERSION, **to_jsonable(self)}
