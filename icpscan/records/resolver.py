"""Look up a domain's filing records for a scan worker, off the crawl thread when it blocks.

The crawl runs on one event loop: a lookup service with a strict rate limit must never stall
it. :class:`RecordResolver` runs lookups of a blocking source (HTTP) on one background thread
and returns futures; an in-memory source (a file) answers at once. Failures become values:
a :class:`~icpscan.models.RecordCheck` with ``status="error"``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from icpscan.models import FilingRecord, FoundNumber, RecordCheck, RecordError
from icpscan.reconcile import numbers_to_trace
from icpscan.records.errors import RecordSourceError
from icpscan.records.source import RecordAnswer, RecordSource

log = logging.getLogger("icpscan.records")


@dataclass(frozen=True)
class Resolved:
    """A domain's check and the source answers behind it (to store in the dataset)."""

    check: RecordCheck
    answers: tuple[tuple[str, RecordAnswer], ...] = field(default=())


def _unique(records: Sequence[FilingRecord]) -> tuple[FilingRecord, ...]:
    return tuple(dict.fromkeys(records))


def resolve(
    source: RecordSource, domains: Sequence[str], numbers: Sequence[FoundNumber]
) -> Resolved:
    """Records for ``domains``; then, for shown numbers they do not explain, whose they are."""
    answers: list[tuple[str, RecordAnswer]] = []
    domains = tuple(dict.fromkeys(domains))
    try:
        for domain in domains:
            answers.append(("domain", source.lookup(domain)))
        records = _unique([r for _, a in answers for r in a.records])
        found = tuple(a.query for _, a in answers if a.records)
        owners: list[FilingRecord] = []
        if source.number_lookups:
            for number in numbers_to_trace(numbers, records):
                answer = source.lookup_number(number)
                answers.append(("number", answer))
                owners.extend(r for r in answer.records if r not in records)
    except RecordSourceError as exc:
        return Resolved(
            RecordCheck(
                source=source.name,
                status="error",
                domains=domains,
                error=RecordError(exc.kind, exc.detail),
            ),
            tuple(answers),
        )
    check = RecordCheck(
        source=source.name,
        status="found" if found else "none",
        domains=domains,
        records=records,
        found=found,
        number_records=_unique(owners),
        cached=bool(answers) and all(a.cached for _, a in answers),
    )
    return Resolved(check, tuple(answers))


class RecordResolver:
    """``submit(domains, numbers)`` -> a future :class:`Resolved`."""

    def __init__(self, source: RecordSource) -> None:
        self.source = source
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="icpscan-records")
            if source.blocking
            else None
        )

    def submit(self, domains: Sequence[str], numbers: Sequence[FoundNumber]) -> Future[Resolved]:
        if self._executor is not None:
            return self._executor.submit(self._safe, domains, numbers)
        future: Future[Resolved] = Future()
        future.set_result(self._safe(domains, numbers))
        return future

    def _safe(self, domains: Sequence[str], numbers: Sequence[FoundNumber]) -> Resolved:
        try:
            return resolve(self.source, domains, numbers)
        except Exception as exc:  # a bug in a source must not kill the scan
            log.exception("record lookup for %s failed", domains)
            return Resolved(
                RecordCheck(
                    source=self.source.name,
                    status="error",
                    domains=tuple(domains),
                    error=RecordError("unavailable", repr(exc)),
                )
            )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self.source.close()
