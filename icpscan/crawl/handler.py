"""Scrapy download handler that connects to the address icpscan chose, not to what DNS says now.

Registered for ``http`` and ``https`` (``DOWNLOAD_HANDLERS``) by the add-on
Per request it picks the :class:`~icpscan.crawl.destination.Destination` (pinned address or
icpscan's resolver, egress policy, ``--connect-to``) and then lets Scrapy's own HTTP/1.1 client
do everything else, connecting to that IP literal (no DNS at all) while the URL, Host header and
TLS SNI keep the original name. So the page judged is the page of the server that was located.

It also records, in ``request.meta`` (``response.meta`` for the spider):

* ``icpscan_address`` -- the address checked against the policy; ``icpscan_connect`` --
  ``ip:port`` the socket went to; ``icpscan_peer`` -- the peer the socket actually talked to;
* ``icpscan_status`` and ``icpscan_headers`` (the headers of interest, as received) -- as
  soon as headers arrive, so a body that then stalls or resets still tells that the server
  answered;
* ``icpscan_tls`` -- :class:`~icpscan.models.TlsFacts` for HTTPS responses.

and caps the body: past ``ICPSCAN_MAX_PAGE_BYTES`` the download stops and the partial body is
kept (flag ``download_stopped``); the spider records ``truncated``.

Scrapy internals used (versions are pinned; ``tests/test_crawl_handler.py`` checks they are
still there): ``HTTP11DownloadHandler`` attributes, ``_ScrapyAgent._get_agent`` and
``._cb_bodyready``, ``_BindAddressAgent._requestWithEndpoint`` (pool key), Twisted's
``Agent._getEndpoint``, and ``_LenientHTTP11ClientProtocol``/``Factory``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from time import monotonic
from typing import TYPE_CHECKING, Any

from cryptography.utils import CryptographyDeprecationWarning
from scrapy import signals
from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _BindAddressAgent,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _ScrapyAgent,
)
from scrapy.exceptions import DownloadTimeoutError, StopDownload
from scrapy.utils._deps_compat import TWISTED_TLS_NEW_IMPL
from scrapy.utils._download_handlers import normalize_bind_address, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet._sslverify import ClientTLSOptions
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, wrapClientTLS
from twisted.web.client import URI
from twisted.web.iweb import UNKNOWN_LENGTH, IPolicyForHTTPS
from zope.interface import implementer

from icpscan.crawl.connect_to import ConnectionOverrides
from icpscan.crawl.destination import Destination, Pin, choose_destination
from icpscan.crawl.facts import interesting_headers
from icpscan.crawl.resolver import NameResolutionError, ResolveHost, resolver_from_settings
from icpscan.crawl.tls import TrustStore, certificate_facts, load_trust_store
from icpscan.models import TlsFacts

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.internet.base import ReactorBase
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IAddress, IStreamClientEndpoint
    from twisted.web._newclient import Request as TxRequest
    from twisted.web.client import Response as TxResponse
    from twisted.web.iweb import IResponse

logger = logging.getLogger(__name__)

META_PIN = "icpscan_pin"
META_ADDRESS = "icpscan_address"
META_CONNECT = "icpscan_connect"
META_PEER = "icpscan_peer"
META_STATUS = "icpscan_status"
META_HEADERS = "icpscan_headers"
META_TLS = "icpscan_tls"
META_RECEIVED = "_icpscan_received"
META_STARTED = "_icpscan_started"  # monotonic time this request reached the handler
_META_TLS_RAW = "_icpscan_tls_raw"

DEFAULT_MAX_PAGE_BYTES = 2 * 1024 * 1024


class PinnedDownloadHandler(HTTP11DownloadHandler):
    """HTTP(S) handler connecting to icpscan's chosen address (see the module docstring)."""

    lazy = False

    def __init__(self, crawler: Crawler, resolve_host: ResolveHost | None = None) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        # Scrapy logs a warning per request whose certificate does not match its host; the
        # crawl records that as a fact (TlsFacts.hostname_match) instead.
        logging.getLogger("scrapy.core.downloader.tls").setLevel(logging.ERROR)
        # Our protocol also captures the TLS handshake (leaf, chain, version, cipher).
        self._pool._factory = _RecordingClientFactory
        if not settings.getbool("DOWNLOAD_VERIFY_CERTIFICATES"):
            self._contextFactory = _SharedContextPolicy.wrap(self._contextFactory)
        self._resolve_host = (
            resolve_host
            or getattr(crawler, "icpscan_resolve_host", None)
            or resolver_from_settings(settings)
        )
        self._overrides = ConnectionOverrides.parse(
            settings.getlist("ICPSCAN_CONNECT_TO"), settings.getlist("ICPSCAN_RESOLVE")
        )
        self._allow_private = settings.getbool("ICPSCAN_ALLOW_PRIVATE")
        self._timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        self._max_page_bytes = settings.getint("ICPSCAN_MAX_PAGE_BYTES", DEFAULT_MAX_PAGE_BYTES)
        self._trust_store: TrustStore = load_trust_store(
            settings.get("ICPSCAN_CA_BUNDLE") or None,
            include_system=settings.getbool("ICPSCAN_SYSTEM_CA_STORE", True),
        )
        # Scrapy builds one handler per scheme; only one of them may count body bytes.
        if not getattr(crawler, "_icpscan_body_cap", False):
            crawler._icpscan_body_cap = True  # type: ignore[attr-defined]
            crawler.signals.connect(self._cap_body, signal=signals.bytes_received)

    async def download_request(self, request: Request) -> Response:
        from twisted.internet import reactor as _reactor

        reactor: Any = _reactor

        started = monotonic()
        request.meta[META_STARTED] = started
        timeout = float(request.meta.get("download_timeout") or self._timeout)
        parsed = urlparse_cached(request)
        host = parsed.hostname or ""
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        request.meta[META_RECEIVED] = 0
        for key in (META_ADDRESS, META_CONNECT, META_PEER, META_STATUS, META_HEADERS, META_TLS):
            request.meta.pop(key, None)  # a retried request must not keep the last try's facts
        try:
            destination = await asyncio.wait_for(
                choose_destination(
                    host,
                    port,
                    pin=Pin.from_meta(request.meta.get(META_PIN)),
                    overrides=self._overrides,
                    resolve_host=self._resolve_host,
                    allow_private=self._allow_private,
                ),
                timeout,
            )
        except TimeoutError:  # the resolver's own lifetime is longer: it is still DNS
            raise NameResolutionError(
                f"{host}: DNS timeout (no answer within {timeout} s)"
            ) from None
        request.meta[META_ADDRESS] = destination.address
        request.meta[META_CONNECT] = destination.connect_text

        remaining = max(timeout - (monotonic() - started), 0.001)
        agent = _PinnedScrapyAgent(
            destination=destination,
            contextFactory=self._contextFactory,
            # The agent's own timer (this value) must not beat the deadline below.
            connectTimeout=remaining + 1,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=0,  # the page cap keeps a partial body instead of dropping it
            warnsize=0,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        deferred = agent.download_request(request)
        # One deadline for resolution + connect + TLS + transfer.
        timer = reactor.callLater(remaining, deferred.cancel)
        try:
            with wrap_twisted_exceptions():
                response = await maybe_deferred_to_future(deferred)
        except Exception as exc:
            if timer.active() or isinstance(exc, DownloadTimeoutError):
                raise
            # Our deadline cancelled it: whatever Twisted wrapped the cancellation in
            # (CancelledError, ResponseNeverReceived, ...), it is a timeout.
            raise DownloadTimeoutError(
                f"Getting {request.url} took longer than {timeout} seconds."
            ) from exc
        finally:
            if timer.active():
                timer.cancel()
            # Also on failure: a body that resets after a bad certificate still shows it.
            raw_tls = request.meta.pop(_META_TLS_RAW, None)
            if raw_tls is not None:
                request.meta[META_TLS] = self._tls_facts(raw_tls, destination)
        if response.ip_address is not None:
            request.meta[META_PEER] = str(response.ip_address)
        return response

    def _tls_facts(self, raw: dict[str, Any], destination: Destination) -> TlsFacts | None:
        try:
            return certificate_facts(
                raw["leaf"],
                raw["chain"],
                destination.host,
                self._trust_store,
                protocol=raw.get("protocol"),
                cipher=raw.get("cipher"),
            )
        except Exception:  # a certificate too broken to describe is still no reason to fail
            logger.exception("could not describe the certificate of %s", destination.host)
            return None

    def _cap_body(self, data: bytes, request: Request, spider: Any) -> None:
        received = request.meta.get(META_RECEIVED, 0) + len(data)
        request.meta[META_RECEIVED] = received
        if received > self._max_page_bytes:
            raise StopDownload(fail=False)


@implementer(IPolicyForHTTPS)
class _SharedContextPolicy:
    """One OpenSSL context for every HTTPS connection; SNI set, no verification callback.

    Scrapy's policy builds a fresh ``SSL.Context`` per connection (options, cipher list...) and
    runs service-identity's hostname check on every leaf, only to log a warning: together about
    0.9 ms of CPU per HTTPS fetch. The crawl never verifies (it records the certificate facts
    itself, :mod:`icpscan.crawl.tls`), so one shared context built with Scrapy's options and a
    connection creator that only sets SNI give the same handshake for a fraction of the cost.
    """

    def __init__(self, options: Any) -> None:
        self._options = options

    @classmethod
    def wrap(cls, policy: Any) -> Any:
        """Our policy built from Scrapy's, or Scrapy's unchanged if its internals moved."""
        make_options = getattr(policy, "_get_cert_options", None)
        if not TWISTED_TLS_NEW_IMPL or make_options is None:
            return policy
        options = make_options()
        if not hasattr(options, "_makeTLSConnection"):
            return policy
        _classic_key_shares(options.getContext())
        return cls(options)

    def creatorForNetloc(self, hostname: bytes, port: int) -> ClientTLSOptions:
        return _SniOnlyTLSOptions(self._options._makeTLSConnection, hostname.decode("ascii"))


# Key shares: the bundled OpenSSL offers a post-quantum hybrid (X25519MLKEM768) first, which
# costs ~50 us per ClientHello and 1.2 KB on the wire; an audit's handshake protects nothing
# secret. Every usual group stays offered (a server that wants P-384 asks for it).
CLIENT_TLS_GROUPS = b"X25519:P-256:P-384:P-521"


def _classic_key_shares(context: Any) -> None:
    try:
        from OpenSSL._util import lib

        lib.SSL_CTX_set1_curves_list(context._context, CLIENT_TLS_GROUPS)
    except (ImportError, AttributeError):  # pyOpenSSL internals moved: keep its defaults
        pass


class _SniOnlyTLSOptions(ClientTLSOptions):
    def clientConnectionForTLS(self, tlsProtocol: Any) -> Any:
        connection = self._createConnection(tlsProtocol)
        if self._sendServerName:
            connection.set_tlsext_host_name(self._hostnameBytes)
        return connection


class _PinnedScrapyAgent(_ScrapyAgent):
    """Scrapy's per-request agent, building a :class:`_PinnedAgent` (proxies are not used)."""

    def __init__(self, *, destination: Destination, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._destination = destination

    def _get_agent(self, request: Request, timeout: float) -> _PinnedAgent:
        from twisted.internet import reactor

        bind_address = normalize_bind_address(request.meta.get("bindaddress") or self._bindAddress)
        return _PinnedAgent(
            reactor,
            destination=self._destination,
            contextFactory=self._contextFactory,
            connectTimeout=timeout,
            bindAddress=bind_address,
            pool=self._pool,
        )

    def _cb_bodyready(self, txresponse: TxResponse, request: Request) -> Any:
        # Headers are in: record them now, so a body that then stalls or resets still tells
        # that (and how) the server answered.
        request.meta[META_STATUS] = int(txresponse.code)
        raw_headers = list(txresponse.headers.getAllRawHeaders())
        if txresponse.length != UNKNOWN_LENGTH:  # Twisted moves Content-Length to .length
            raw_headers.append((b"Content-Length", [str(txresponse.length).encode()]))
        request.meta[META_HEADERS] = interesting_headers(raw_headers)
        peer = getattr(txresponse, "_scrapy_ip_address", None)
        if peer is not None:
            request.meta[META_PEER] = str(peer)
        raw_tls = getattr(txresponse, "_icpscan_tls", None)
        if raw_tls is not None:
            request.meta[_META_TLS_RAW] = raw_tls
        return super()._cb_bodyready(txresponse, request)


class _PinnedAgent(_BindAddressAgent):
    """A Twisted Agent whose endpoint is the destination's IP literal (TCP4/6: no DNS)."""

    def __init__(
        self,
        reactor: ReactorBase,
        *,
        destination: Destination,
        contextFactory: IPolicyForHTTPS,
        connectTimeout: float | None,
        bindAddress: tuple[str, int] | None,
        pool: Any,
    ) -> None:
        super().__init__(reactor, contextFactory, connectTimeout, bindAddress, pool)
        self._destination = destination
        self._policy = contextFactory
        self._connect_timeout = connectTimeout
        self._bind = bindAddress

    def _getEndpoint(self, uri: URI) -> IStreamClientEndpoint:
        endpoint_class = (
            TCP6ClientEndpoint if ":" in self._destination.connect_host else TCP4ClientEndpoint
        )
        endpoint: Any = endpoint_class(
            self._reactor,
            self._destination.connect_host,
            self._destination.connect_port,
            timeout=self._connect_timeout or 30,
            bindAddress=self._bind,
        )
        if uri.scheme == b"https":
            # SNI and the certificate name check use the URL's host, not the address.
            creator = self._policy.creatorForNetloc(uri.host, uri.port)  # type: ignore[call-arg,misc]
            return wrapClientTLS(creator, endpoint)
        return endpoint

    def _requestWithEndpoint(
        self,
        key: tuple[Any, ...],
        endpoint: Any,
        method: bytes,
        parsedURI: URI,
        headers: Any,
        bodyProducer: Any,
        requestPath: bytes,
    ) -> Deferred[IResponse]:
        # Pooled connections are per destination: a pin or --connect-to change must never
        # reuse a socket to another server.
        key += (self._destination.connect_host, self._destination.connect_port)
        return super()._requestWithEndpoint(
            key, endpoint, method, parsedURI, headers, bodyProducer, requestPath
        )


class _RecordingClientProtocol(_LenientHTTP11ClientProtocol):
    """Attaches the TLS handshake facts to each response (read later by the agent)."""

    def request(self, request: TxRequest) -> Deferred[IResponse]:
        deferred = super().request(request)
        transport = self.transport

        def attach(response: IResponse) -> IResponse:
            handle = None
            with contextlib.suppress(AttributeError):
                handle = transport.getHandle()  # type: ignore[union-attr]
            if handle is not None and hasattr(handle, "get_peer_certificate"):
                with warnings.catch_warnings():
                    # A hostile certificate (negative serial...) makes cryptography warn; it
                    # is the server's problem, recorded in the facts, not ours.
                    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                    leaf = handle.get_peer_certificate(as_cryptography=True)
                    chain = handle.get_peer_cert_chain(as_cryptography=True) or []
                if leaf is not None:
                    response._icpscan_tls = {
                        "leaf": leaf,
                        "chain": chain,
                        "protocol": handle.get_protocol_version_name(),
                        "cipher": handle.get_cipher_name(),
                    }
            return response

        deferred.addCallback(attach)
        return deferred


class _RecordingClientFactory(_LenientHTTP11ClientFactory):
    def buildProtocol(self, addr: IAddress | None) -> _RecordingClientProtocol:
        return _RecordingClientProtocol(self._quiescentCallback)


__all__ = ["NameResolutionError", "PinnedDownloadHandler"]
