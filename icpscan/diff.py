"""Longitudinal: what changed for each domain between two scans of one dataset.

Pure comparison of two stored records (:func:`diff_records`) plus a streaming reader that walks
both scans in domain order (:func:`iter_scan_diff`), so comparing two million-domain scans
needs memory for one domain at a time. The change kinds are documented in
``docs/data-dictionary.md``; the ``changes_between_last_two_scans`` SQL view applies the same
definitions inside the database.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

FILING_KINDS = frozenset({"icp_filing", "icp_licence", "telecom_licence"})

# every change kind, in the order they are listed
CHANGE_KINDS: tuple[str, ...] = (
    "added",  # only in the second scan
    "removed",  # only in the first scan
    "number_appeared",  # showed no filing number, now shows one
    "number_disappeared",  # showed one, now shows none
    "number_changed",  # shows other filing numbers than before
    "moved_into_mainland",  # region became mainland
    "moved_out_of_mainland",  # region was mainland, is not any more
    "region_changed",  # any other region change (e.g. hongkong -> abroad, -> mixed)
    "cdn_changed",  # CDN recognised in the CNAME chain appeared, disappeared or changed
    "became_reachable",
    "became_unreachable",
    "findings_opened",  # finding codes present now that were not
    "findings_closed",  # finding codes present before that are not any more
)


@dataclass(frozen=True)
class DomainState:
    """The parts of one domain's record a diff compares."""

    region: str | None
    cdn: str | None
    reached: bool | None
    numbers: frozenset[str]  # own, shown, valid, non-placeholder filing-family numbers
    codes: frozenset[str]  # distinct finding codes

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DomainState:
        hosting = record.get("hosting") or {}
        fetch = record.get("fetch") or {}
        numbers = frozenset(
            str(n.get("number"))
            for n in record.get("numbers") or []
            if n.get("kind") in FILING_KINDS
            and n.get("own")
            and n.get("valid")
            and not n.get("placeholder")
            and n.get("location") != "comment"
        )
        return cls(
            region=hosting.get("region"),
            cdn=(hosting.get("cdn") or {}).get("name"),
            reached=fetch.get("reached"),
            numbers=numbers,
            codes=frozenset(str(f.get("code")) for f in record.get("findings") or []),
        )


@dataclass(frozen=True)
class DomainDiff:
    domain: str
    changes: tuple[str, ...]
    before: DomainState | None
    after: DomainState | None

    @property
    def numbers_added(self) -> list[str]:
        return sorted(_numbers(self.after) - _numbers(self.before))

    @property
    def numbers_removed(self) -> list[str]:
        return sorted(_numbers(self.before) - _numbers(self.after))

    @property
    def findings_opened(self) -> list[str]:
        return sorted(_codes(self.after) - _codes(self.before))

    @property
    def findings_closed(self) -> list[str]:
        return sorted(_codes(self.before) - _codes(self.after))

    def to_json(self, scan_a: int, scan_b: int) -> dict[str, Any]:
        def pair(attr: str) -> list[Any]:
            return [getattr(s, attr) if s else None for s in (self.before, self.after)]

        return {
            "domain": self.domain,
            "scan_a": scan_a,
            "scan_b": scan_b,
            "changes": list(self.changes),
            "region": pair("region"),
            "cdn": pair("cdn"),
            "reached": pair("reached"),
            "numbers": [sorted(_numbers(s)) if s else None for s in (self.before, self.after)],
            "numbers_added": self.numbers_added,
            "numbers_removed": self.numbers_removed,
            "findings_opened": self.findings_opened,
            "findings_closed": self.findings_closed,
        }


def _numbers(state: DomainState | None) -> frozenset[str]:
    return state.numbers if state else frozenset()


def _codes(state: DomainState | None) -> frozenset[str]:
    return state.codes if state else frozenset()


def changes_between(before: DomainState | None, after: DomainState | None) -> tuple[str, ...]:
    """The change kinds from ``before`` to ``after`` (None = absent from that scan)."""
    if before is None and after is None:
        return ()
    if before is None:
        return ("added",)
    if after is None:
        return ("removed",)
    found: list[str] = []
    if not before.numbers and after.numbers:
        found.append("number_appeared")
    elif before.numbers and not after.numbers:
        found.append("number_disappeared")
    elif before.numbers != after.numbers:
        found.append("number_changed")
    if before.region != after.region:
        if after.region == "mainland":
            found.append("moved_into_mainland")
        elif before.region == "mainland":
            found.append("moved_out_of_mainland")
        else:
            found.append("region_changed")
    if before.cdn != after.cdn:
        found.append("cdn_changed")
    if not before.reached and after.reached:
        found.append("became_reachable")
    elif before.reached and not after.reached:
        found.append("became_unreachable")
    if after.codes - before.codes:
        found.append("findings_opened")
    if before.codes - after.codes:
        found.append("findings_closed")
    return tuple(found)


def diff_records(
    domain: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> DomainDiff:
    """Compare one domain's stored records of two scans (either may be None)."""
    a = DomainState.from_record(before) if before is not None else None
    b = DomainState.from_record(after) if after is not None else None
    return DomainDiff(domain, changes_between(a, b), a, b)


def _domain_records(db: sqlite_utils.Database, scan_id: int) -> Iterator[tuple[str, str]]:
    cursor = db.conn.execute(
        "SELECT domain, record FROM domains WHERE scan_id = ? ORDER BY domain", [scan_id]
    )
    try:
        yield from cursor
    finally:
        cursor.close()


def iter_scan_diff(
    db: sqlite_utils.Database, scan_a: int, scan_b: int, *, unchanged: bool = False
) -> Iterator[DomainDiff]:
    """Each domain of either scan, in domain order, with what changed (merge join)."""
    left, right = _domain_records(db, scan_a), _domain_records(db, scan_b)
    a, b = next(left, None), next(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            result = diff_records(a[0], json.loads(a[1]), None)
            a = next(left, None)
        elif a is None or b[0] < a[0]:
            result = diff_records(b[0], None, json.loads(b[1]))
            b = next(right, None)
        else:
            result = diff_records(a[0], json.loads(a[1]), json.loads(b[1]))
            a, b = next(left, None), next(right, None)
        if result.changes or unchanged:
            yield result


@dataclass
class DiffSummary:
    """Counts of a diff: domains on each side and per change kind."""

    scan_a: int
    scan_b: int
    domains_a: int = 0
    domains_b: int = 0
    common: int = 0
    changed: int = 0
    changes: Counter[str] = field(default_factory=Counter)

    def add(self, diff: DomainDiff) -> None:
        self.domains_a += diff.before is not None
        self.domains_b += diff.after is not None
        self.common += diff.before is not None and diff.after is not None
        if diff.changes:
            self.changed += 1
            self.changes.update(diff.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "scan_a": self.scan_a,
            "scan_b": self.scan_b,
            "domains_a": self.domains_a,
            "domains_b": self.domains_b,
            "common": self.common,
            "changed": self.changed,
            "changes": {k: self.changes[k] for k in CHANGE_KINDS if self.changes[k]},
        }


def summarise(diffs: Iterator[DomainDiff], summary: DiffSummary) -> Iterator[DomainDiff]:
    """Pass changed diffs through while counting every diff into ``summary``."""
    for diff in diffs:
        summary.add(diff)
        if diff.changes:
            yield diff
