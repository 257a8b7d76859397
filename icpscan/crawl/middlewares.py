"""The one downloader middleware icpscan adds: retry only what is worth retrying."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.retry import RetryMiddleware

from icpscan.crawl.failures import is_transient

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.http import Response


class TransientRetryMiddleware(RetryMiddleware):
    """Scrapy's retry, but by *cause*: timeouts and resets are retried (``RETRY_TIMES``); a
    refused connection, a TLS failure, a DNS answer or an egress refusal would only fail the
    same way again, and Scrapy's exception types cannot tell a reset from a TLS error (both
    arrive as ``DownloadFailedError``)."""

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        if request.meta.get("dont_retry", False) or not is_transient(exception):
            return None
        return self._retry(request, exception)
