"""A mock filing-record lookup service on loopback, with the failures real services have.

It answers the way MIIT-backed lookup APIs commonly do —
``GET /api/icp?domain=example.cn`` -> ``{"code": 200, "data": {"list": [ {unitName, natureName,
mainLicence, serviceLicence, domain, contentTypeName, updateRecordTime}, ... ]}}`` and
``GET /api/icp?licence=京ICP备…号`` for whose number it is — and can be told to misbehave:

* ``throttle_first`` / ``throttle_every``: 429 Too Many Requests with ``Retry-After``;
* ``block_after``: 403 from the N+1-th request on (a key revoked, an IP blocked);
* ``schema_after``: from the N+1-th request on, the reply format changes (the list moves to
  ``data.records`` and the fields are renamed), as services do without notice;
* ``token``: requests without ``Authorization: Bearer <token>`` get 401.

It counts what it was asked (``requests``, ``statuses``, ``queries``) so tests can assert the
client's rate limit, cache and back-off. Used by the tests; product code never needs it.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from icpscan.sandbox.records import RecordRow, entity
from icpscan.sandbox.runner import loopback_host

CONFIG_TEMPLATE = """name = "sandbox-records"
url = "{base}/api/icp?domain={{domain}}"
number_url = "{base}/api/icp?licence={{number}}"
records = "data.list"
timeout = 5
retries = {retries}
max_wait = {max_wait}
{headers}
[rate_limit]
requests = {requests}
per_seconds = {per_seconds}
"""


class RecordService:
    """Serve ``rows`` until :meth:`stop`; every knob can be changed while it runs."""

    def __init__(self, rows: Iterable[RecordRow], host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = loopback_host(host)
        self._port = port
        self.by_domain: dict[str, list[RecordRow]] = defaultdict(list)
        self.by_entity: dict[str, list[RecordRow]] = defaultdict(list)
        for row in rows:
            self.by_domain[row.domain].append(row)
            self.by_entity[entity(row.main_licence)].append(row)
        self.token: str | None = None
        self.throttle_first = 0
        self.throttle_every = 0
        self.retry_after: str = "1"
        self.block_after: int | None = None
        self.schema_after: int | None = None
        self.requests = 0
        self.statuses: Counter[int] = Counter()
        self.queries: list[tuple[str, str]] = []  # (kind, value) of answered requests
        self.times: list[float] = []  # monotonic arrival time of every request
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> RecordService:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, headers, body = service.answer(self.path, dict(self.headers))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> RecordService:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def config_text(
        self,
        *,
        requests: int = 50,
        per_seconds: float = 1.0,
        retries: int = 3,
        max_wait: float = 30.0,
    ) -> str:
        """A ``--record-service`` TOML configuration pointing at this service (the token, when
        one is required, is read from the environment variable ICPSCAN_SANDBOX_RECORDS_TOKEN)."""
        headers = (
            '\n[headers]\nAuthorization = "Bearer ${ICPSCAN_SANDBOX_RECORDS_TOKEN}"\n'
            if self.token is not None
            else ""
        )
        return CONFIG_TEMPLATE.format(
            headers=headers,
            base=self.base_url,
            requests=requests,
            per_seconds=per_seconds,
            retries=retries,
            max_wait=max_wait,
        )

    def reset_counters(self) -> None:
        with self._lock:
            self.requests = 0
            self.statuses.clear()
            self.queries.clear()
            self.times.clear()

    # -- answering ---------------------------------------------------------------------------
    def answer(
        self, path: str, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        with self._lock:
            self.requests += 1
            number = self.requests
            self.times.append(time.monotonic())
        status, extra, body = self._answer(number, path, headers)
        with self._lock:
            self.statuses[status] += 1
        return status, [("Content-Type", "application/json; charset=utf-8"), *extra], body

    def _answer(
        self, number: int, path: str, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        def error(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
            return status, [], json.dumps({"code": status, "msg": message}).encode()

        if self.token is not None and headers.get("Authorization") != f"Bearer {self.token}":
            return error(401, "token required")
        if self.block_after is not None and number > self.block_after:
            return error(403, "forbidden: too many queries from this key")
        if number <= self.throttle_first or (
            self.throttle_every and number % self.throttle_every == 0
        ):
            status, _, body = error(429, "slow down")
            return status, [("Retry-After", self.retry_after)], body
        url = urllib.parse.urlsplit(path)
        if url.path != "/api/icp":
            return error(404, "no such endpoint")
        params = urllib.parse.parse_qs(url.query)
        if "domain" in params:
            kind, value = "domain", params["domain"][0]
            rows = self.by_domain.get(value, [])
        elif "licence" in params:
            kind, value = "number", params["licence"][0]
            rows = self.by_entity.get(entity(value), [])
        else:
            return error(400, "domain or licence required")
        with self._lock:
            self.queries.append((kind, value))
        changed = self.schema_after is not None and number > self.schema_after
        if changed:
            items: list[dict[str, Any]] = [
                {
                    "site_domain": r.domain,
                    "unit_name": r.unit_name,
                    "licence": r.main_licence,
                    "site_licence": r.service_licence,
                }
                for r in rows
            ]
            reply: dict[str, Any] = {"code": 0, "data": {"records": items, "total": len(items)}}
        else:
            reply = {"code": 200, "data": {"list": [r.miit() for r in rows], "total": len(rows)}}
        return 200, [], json.dumps(reply, ensure_ascii=False).encode("utf-8")
