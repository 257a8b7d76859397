"""Every exception a download can end with maps to one recorded error kind."""

from __future__ import annotations

import zlib

import pytest
from OpenSSL import SSL
from scrapy.exceptions import (
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from twisted.internet import error as tx_error
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure
from twisted.web._newclient import ParseError, ResponseFailed, ResponseNeverReceived

from icpscan.crawl.destination import EgressRefused
from icpscan.crawl.failures import classify_exception, is_transient
from icpscan.crawl.resolver import NameResolutionError
from icpscan.models import FetchError, FetchErrorKind


def _wrapped(inner: BaseException, wrapper=ResponseNeverReceived) -> DownloadFailedError:
    """What Scrapy's wrap_twisted_exceptions() makes of a Twisted ResponseFailed."""
    failed = wrapper([Failure(inner)])
    outer = DownloadFailedError(str(failed))
    outer.__cause__ = failed
    return outer


def _with_cause(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("exc", "kind", "detail"),
    [
        (
            EgressRefused("x -> 10.0.0.1: private address refused"),
            FetchErrorKind.EGRESS,
            "x -> 10.0.0.1: private address refused",
        ),
        (NameResolutionError("nx.test: NXDOMAIN"), FetchErrorKind.DNS, "nx.test: NXDOMAIN"),
        (
            _wrapped(SSL.Error([("SSL routines", "", "wrong version number")])),
            FetchErrorKind.TLS,
            "TLS handshake failed: wrong version number",
        ),
        (
            _wrapped(tx_error.ConnectionLost()),
            FetchErrorKind.RESET,
            "ConnectionLost: Connection to the other side was lost in a non-clean fashion.",
        ),
        (
            _wrapped(tx_error.ConnectionDone(), ResponseFailed),
            FetchErrorKind.RESET,
            "ConnectionDone: Connection was closed cleanly.",
        ),
        (
            DownloadConnectionRefusedError("Connection was refused by other side: 111"),
            FetchErrorKind.REFUSED,
            "DownloadConnectionRefusedError: Connection was refused by other side: 111",
        ),
        (
            DownloadTimeoutError("Getting http://a.test/ took longer than 2.0 seconds."),
            FetchErrorKind.TIMEOUT,
            "DownloadTimeoutError: Getting http://a.test/ took longer than 2.0 seconds.",
        ),
        (
            _with_cause(DownloadTimeoutError("slow"), _wrapped(CancelledError())),
            FetchErrorKind.TIMEOUT,
            "DownloadTimeoutError: slow",
        ),
        (
            _wrapped(ParseError("wrong number of parts", b"HTTP/1.1")),
            FetchErrorKind.HTTP,
            "ParseError: ('wrong number of parts', b'HTTP/1.1')",
        ),
        (
            IgnoreRequest("Forbidden by robots.txt"),
            FetchErrorKind.ROBOTS,
            "Forbidden by robots.txt",
        ),
        (
            IgnoreRequest(
                "Ignored response <200 http://a.test/> because its body (40 B "
                "compressed, 16777300 B decompressed so far) exceeded DOWNLOAD_MAXSIZE "
                "(16777216 B) during decompression."
            ),
            FetchErrorKind.SIZE,
            "Ignored response <200 http://a.test/> because its body (40 B compressed, 16777300 B "
            "decompressed so far) exceeded DOWNLOAD_MAXSIZE (16777216 B) during decompression.",
        ),
        (
            OSError("Not a gzipped file (b'ju')"),
            FetchErrorKind.HTTP,
            "OSError: Not a gzipped file (b'ju')",
        ),
        (
            zlib.error("Error -3 while decompressing data"),
            FetchErrorKind.HTTP,
            "error: Error -3 while decompressing data",
        ),
        (RuntimeError("boom"), FetchErrorKind.OTHER, "RuntimeError: boom"),
    ],
)
def test_classify_exception(exc, kind, detail):
    assert classify_exception(exc) == FetchError(kind, detail)


def test_data_loss_detail_says_how_much_arrived():
    error = classify_exception(ResponseDataLossError(), received=1000)
    assert error == FetchError(
        FetchErrorKind.RESET,
        "connection closed or reset after 1000 body bytes (ResponseDataLossError)",
    )


def test_only_timeouts_and_resets_are_retried():
    assert is_transient(DownloadTimeoutError("x"))
    assert is_transient(_wrapped(tx_error.ConnectionLost()))
    assert is_transient(ResponseDataLossError())
    assert not is_transient(DownloadConnectionRefusedError("x"))
    assert not is_transient(_wrapped(SSL.Error([("SSL routines", "", "bad")])))
    assert not is_transient(NameResolutionError("x"))
    assert not is_transient(EgressRefused("x"))


def test_cyclic_causes_terminate():
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__, second.__cause__ = second, first
    assert classify_exception(first).kind is FetchErrorKind.OTHER
