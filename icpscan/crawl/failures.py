"""Turn whatever Scrapy, Twisted or OpenSSL raised into a recorded :class:`FetchError`.

A failed fetch is a fact about the site, not a crash: every exception that can reach an errback
maps to one :class:`~icpscan.models.FetchErrorKind` and a one-line detail. Twisted wraps causes
(``ResponseNeverReceived([Failure(SSL.Error)])``, ``DownloadFailedError`` from
``ResponseFailed``...), so the whole cause graph is searched, most specific kind first.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterator

from OpenSSL import SSL
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from twisted.internet import error as tx_error
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure
from twisted.web import _newclient

from icpscan.crawl.destination import EgressRefused
from icpscan.crawl.resolver import NameResolutionError
from icpscan.models import FetchError, FetchErrorKind

_MAX_DETAIL = 300
_RESPONSE_FAILURES = (
    DownloadFailedError,
    _newclient.ResponseFailed,
    _newclient.ResponseNeverReceived,
)

# Checked in this order: the first kind with a matching cause wins.
_KINDS: tuple[tuple[FetchErrorKind, tuple[type[BaseException], ...]], ...] = (
    (FetchErrorKind.EGRESS, (EgressRefused,)),
    (FetchErrorKind.DNS, (NameResolutionError, CannotResolveHostError, tx_error.DNSLookupError)),
    (FetchErrorKind.TLS, (SSL.Error,)),
    (
        FetchErrorKind.TIMEOUT,
        (
            DownloadTimeoutError,
            tx_error.TimeoutError,
            tx_error.TCPTimedOutError,
            asyncio.TimeoutError,
            CancelledError,
        ),
    ),
    (
        FetchErrorKind.REFUSED,
        (DownloadConnectionRefusedError, tx_error.ConnectionRefusedError, ConnectionRefusedError),
    ),
    (
        FetchErrorKind.RESET,
        (
            ResponseDataLossError,
            _newclient._DataLoss,
            tx_error.ConnectionLost,
            tx_error.ConnectionDone,
            tx_error.ConnectionAborted,
            _newclient.ConnectionAborted,
            ConnectionResetError,
            BrokenPipeError,
        ),
    ),
    (FetchErrorKind.HTTP, (_newclient.ParseError, _newclient.BadHeaders, zlib.error, EOFError)),
)


def classify_exception(exc: BaseException, *, received: int | None = None) -> FetchError:
    """The recorded error for an exception from a download (``received``: body bytes so far)."""
    causes = list(_cause_graph(exc))
    for kind, types in _KINDS:
        match = next((c for c in causes if isinstance(c, types)), None)
        if match is not None:
            return FetchError(kind, _detail(kind, match, received))
    malformed = _malformed_response(causes)
    if malformed is not None:
        return malformed
    ignored = next((c for c in causes if isinstance(c, IgnoreRequest)), None)
    if ignored is not None:
        message = str(ignored)
        if "robots.txt" in message:
            return FetchError(FetchErrorKind.ROBOTS, _clip(message))
        if "DOWNLOAD_MAXSIZE" in message or "decompress" in message:
            return FetchError(FetchErrorKind.SIZE, _clip(message))
        return FetchError(FetchErrorKind.OTHER, _clip(message or "request ignored"))
    if any(isinstance(c, OSError) for c in causes):  # e.g. gzip: "Not a gzipped file"
        return FetchError(FetchErrorKind.HTTP, _describe(causes[0]))
    return FetchError(FetchErrorKind.OTHER, _describe(exc))


def _malformed_response(causes: list[BaseException]) -> FetchError | None:
    """Twisted's response parser raises ValueError (a Content-Length of "12abc", two different
    lengths...) inside the failure it reports: the server answered, with broken HTTP."""
    if not any(isinstance(c, _RESPONSE_FAILURES) for c in causes):
        return None
    parse_error = next((c for c in causes if isinstance(c, ValueError)), None)
    if parse_error is None:
        return None
    return FetchError(FetchErrorKind.HTTP, _clip(f"malformed response: {_describe(parse_error)}"))


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: timeouts and resets. Not refused, TLS, DNS, egress or HTTP errors."""
    return classify_exception(exc).kind in (FetchErrorKind.TIMEOUT, FetchErrorKind.RESET)


def _cause_graph(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    queue: list[BaseException] = [exc]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if current.__cause__ is not None:
            queue.append(current.__cause__)
        elif current.__context__ is not None and not current.__suppress_context__:
            queue.append(current.__context__)
        # Twisted's _WrapperException (ResponseFailed, ResponseNeverReceived...) keeps a list
        # of Failures; Scrapy re-raises some of them with that list as the message argument.
        reasons = getattr(current, "reasons", None)
        if not isinstance(reasons, list):
            reasons = [a for a in current.args if isinstance(a, list)]
            reasons = reasons[0] if reasons else []
        for reason in reasons:
            value = reason.value if isinstance(reason, Failure) else reason
            if isinstance(value, BaseException):
                queue.append(value)


def _detail(kind: FetchErrorKind, exc: BaseException, received: int | None) -> str:
    if kind is FetchErrorKind.RESET and received is not None:
        return _clip(f"connection closed or reset after {received} body bytes ({_describe(exc)})")
    if kind is FetchErrorKind.TIMEOUT and isinstance(exc, CancelledError):
        return "timed out"
    return _describe(exc)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, EgressRefused | NameResolutionError):
        return _clip(str(exc))  # our own messages say everything already
    if isinstance(exc, SSL.Error):
        parts = [item[-1] for item in exc.args[0] if isinstance(item, tuple)] if exc.args else []
        text = "; ".join(p for p in parts if p) or str(exc)
        return _clip(f"TLS handshake failed: {text}")
    message = " ".join(str(exc).split())
    name = type(exc).__name__
    return _clip(f"{name}: {message}" if message else name)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
