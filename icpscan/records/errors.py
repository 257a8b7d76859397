"""What can go wrong when asking a record source, as types a caller can tell apart.

A scan turns each into a value (``RecordCheck.error``) and goes on: a lookup service that
throttles, blocks or changes its reply format must never stop an audit, and must never be
mistaken for "this domain has no filing".
"""

from __future__ import annotations


class RecordSourceError(Exception):
    """A record source could not answer."""

    kind = "unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ThrottledError(RecordSourceError):
    """The service kept answering 429 Too Many Requests (after honouring Retry-After)."""

    kind = "throttled"

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class BlockedError(RecordSourceError):
    """The service refuses us (401/403): credentials wrong or expired, or we are blocked."""

    kind = "blocked"


class SchemaChangedError(RecordSourceError):
    """The reply is not in the configured shape (not JSON, records path or fields missing)."""

    kind = "schema_changed"


class ServiceUnavailableError(RecordSourceError):
    """Connection failed, timed out, or the service answered 5xx."""

    kind = "unavailable"


class RecordConfigError(ValueError):
    """A records file or a service configuration is unusable (one clear line for the user)."""
