"""The record-source interface: given a registrable domain, return its filing records.

Two sources ship: :class:`~icpscan.records.file.FileRecordSource` (a CSV/JSON-lines export the
user holds) and :class:`~icpscan.records.service.HttpRecordSource` (a user-configured JSON
lookup service). Nothing online is consulted unless the user configures a service; the
official MIIT site is never scraped.
"""

from __future__ import annotations

import datetime
import ipaddress
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cache

from icpscan.models import FilingRecord


@dataclass(frozen=True)
class RecordAnswer:
    """A source's answer for one query: the records (empty = the source has none)."""

    query: str
    records: tuple[FilingRecord, ...]
    fetched_at: str  # ISO 8601, when the source answered (the cache keeps the first time)
    cached: bool = False


def utcnow() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


class RecordSource(ABC):
    """Where filing records come from. Lookups raise :mod:`icpscan.records.errors` types."""

    name: str
    blocking: bool = False  # True when a lookup does network I/O (run it off the crawl thread)
    number_lookups: bool = False  # True when :meth:`lookup_number` is supported

    @abstractmethod
    def lookup(self, domain: str) -> RecordAnswer:
        """Records filed for the registrable ``domain`` (ASCII, lower-case)."""

    def lookup_number(self, number: str) -> RecordAnswer:
        """Records whose entity number is the entity part of ``number`` (whose number is it?)."""
        return RecordAnswer(number, (), utcnow())

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files."""


@cache
def _registrable() -> object:
    from icpscan.crawl.facts import registrable_domain

    return registrable_domain


def registrable_domain(host: str) -> str:
    """The registrable domain (offline public-suffix list) a filing is made for."""
    host = host.strip().rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    func = _registrable()
    return func(host) or host  # type: ignore[operator]
