"""Datasette metadata for an icpscan database: descriptions, facets and canned queries.

``datasette audit.db --metadata metadata.json`` with the output of
``icpscan datasette-metadata --db audit.db`` (the repo ships ``datasette/metadata.json`` for the
default database name ``icpscan``). The canned queries use the SQL views every icpscan
database has (``store.M002_VIEWS``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from icpscan import __version__
from icpscan.dataset.dictionary import DATASET_VERSION, TABLES

_TABLES: dict[str, dict[str, Any]] = {
    "scans": {
        "description": "One row per scan: when, what input, options, data versions.",
        "columns": {
            "status": "running, finished or interrupted.",
            "options": "The scan's command-line options (JSON).",
            "data_versions": "Versions of the offline data and libraries used (JSON).",
        },
    },
    "domains": {
        "description": "One row per scanned domain; record holds the full JSON result.",
        "facets": ["region", "max_severity", "cdn", "reached"],
        "columns": {
            "region": "mainland, hongkong, macau, taiwan, abroad, mixed or unknown.",
            "finding_codes": "Distinct finding codes, space-separated.",
            "max_severity": "Worst finding severity.",
            "record": "The per-domain JSON line (schema_version inside).",
        },
        "sort_desc": "id",
    },
    "numbers": {
        "description": "Every number found on a homepage.",
        "facets": ["kind", "location", "valid", "own"],
        "columns": {c.name: c.description for c in TABLES["numbers"].columns},
    },
    "findings": {
        "description": "Every finding (docs/assessment-rules.md); evidence is JSON.",
        "facets": ["code", "severity"],
        "columns": {c.name: c.description for c in TABLES["findings"].columns},
    },
    "fetches": {"description": "The homepage fetch of each domain (status, TLS, redirects)."},
    "addresses": {
        "description": "Classification cache: what the sources say about each address.",
        "facets": ["region", "provider", "asn_country"],
    },
    "domain_addresses": {"description": "Addresses each domain resolved to, per vantage."},
    "dns_answers": {"description": "Every DNS answer with its TTL and CNAME chain."},
    "dns_failures": {"description": "DNS lookups that failed, as recorded facts."},
    "targets": {"description": "The scan's work queue (state pending/claimed/done)."},
    "input_errors": {"description": "Input lines that were not domains, with the reason."},
    "record_lookups": {
        "description": "Answers of filing-record sources (status none = negative cache).",
        "facets": ["source", "kind", "status"],
    },
    "filing_records": {
        "description": "Filing records the sources returned, with their source and date.",
        "facets": ["entity_type", "source"],
        "columns": {c.name: c.description for c in TABLES["records"].columns},
    },
    "record_service_slots": {"description": "Rate-limit state of lookup services."},
    "mainland_without_number": {
        "description": "View: reached mainland-hosted domains that show no filing number.",
        "facets": ["scan_id", "provider"],
    },
    "shared_numbers": {
        "description": "View: numbers shown by more than one registrable domain in a scan "
        "(website_number = 1: a -N website number, which should never be shared).",
        "facets": ["scan_id", "kind", "website_number"],
    },
    "changes_between_last_two_scans": {
        "description": "View: what changed per domain between the last two finished scans.",
    },
    "domain_records": {
        "description": "View: filing-record answers with their records.",
        "facets": ["source", "status"],
    },
}

QUERIES: dict[str, dict[str, Any]] = {
    "mainland_without_number_latest": {
        "title": "Mainland sites without a filing number (latest scan)",
        "sql": "SELECT * FROM mainland_without_number WHERE scan_id = (SELECT max(id) FROM scans"
        " WHERE status = 'finished') ORDER BY domain",
    },
    "shared_numbers_latest": {
        "title": "Numbers shared across registrable domains (latest scan)",
        "sql": "SELECT * FROM shared_numbers WHERE scan_id = (SELECT max(id) FROM scans"
        " WHERE status = 'finished') ORDER BY website_number DESC, sites DESC, number",
    },
    "changes_between_last_two_scans": {
        "title": "Changes between the last two scans",
        "sql": "SELECT * FROM changes_between_last_two_scans ORDER BY domain",
    },
    "domain_history": {
        "title": "One domain across all scans",
        "sql": "SELECT d.scan_id, s.started_at, d.region, d.cdn, d.reached, d.finding_codes,"
        " (SELECT group_concat(number, ' ') FROM (SELECT DISTINCT number FROM numbers n"
        "  WHERE n.domain_id = d.id AND n.own = 1 ORDER BY number)) AS numbers"
        " FROM domains d JOIN scans s ON s.id = d.scan_id WHERE d.domain = :domain"
        " ORDER BY d.scan_id",
    },
    "number_holders": {
        "title": "Who shows a number, and whose it is on file",
        "sql": "SELECT 'shown' AS how, n.scan_id, n.domain, n.number, n.location"
        " FROM numbers n WHERE n.number = :number"
        " UNION ALL SELECT 'filed', NULL, r.domain, coalesce(r.site_number, r.entity_number),"
        " r.source FROM filing_records r"
        " WHERE r.entity_number = :number OR r.site_number = :number"
        " ORDER BY how, scan_id, domain",
    },
}


def datasette_metadata(db_name: str = "icpscan") -> dict[str, Any]:
    """Metadata for a database Datasette serves under ``db_name`` (the file's stem)."""
    return {
        "title": "icpscan dataset",
        "description": "ICP filing audit results: hosting, numbers shown, findings, filing "
        f"records. Dataset version {DATASET_VERSION} (icpscan {__version__}); columns are "
        "documented in docs/data-dictionary.md.",
        "source": "icpscan",
        "databases": {db_name: {"tables": _TABLES, "queries": QUERIES}},
    }


def database_name(db_path: str | Path) -> str:
    """The name Datasette gives a database file: its stem."""
    return Path(db_path).stem
