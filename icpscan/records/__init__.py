"""Filing records: what is filed for a domain, from a file or a lookup service.

::

    from icpscan.records import FileRecordSource
    source = FileRecordSource("records.csv")
    source.lookup("example.cn").records  # tuple of FilingRecord

See ``docs/records.md`` for the file format, the service configuration and the errors.
"""

from __future__ import annotations

from icpscan.records.errors import (
    BlockedError,
    RecordConfigError,
    RecordSourceError,
    SchemaChangedError,
    ServiceUnavailableError,
    ThrottledError,
)
from icpscan.records.file import FileRecordSource, read_records
from icpscan.records.service import HttpRecordSource, ServiceConfig
from icpscan.records.source import RecordAnswer, RecordSource

__all__ = [
    "BlockedError",
    "FileRecordSource",
    "HttpRecordSource",
    "RecordAnswer",
    "RecordConfigError",
    "RecordSource",
    "RecordSourceError",
    "SchemaChangedError",
    "ServiceConfig",
    "ServiceUnavailableError",
    "ThrottledError",
    "read_records",
]
