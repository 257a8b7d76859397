"""The sandbox web farm over real loopback sockets: every behaviour over HTTP and HTTPS.

HTTPS tests run TLS in memory BIOs over a plain TCP socket (see ``Client``), so what the TCP
connection did (a FIN or an RST, a timeout) is seen exactly as over plain HTTP. Certificate tests
use the standard ``ssl`` module with the farm's CA, as a scanner would.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import io
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import brotli
import pytest

from icpscan.sandbox.bodies import RepeatedBytes
from icpscan.sandbox.farm import Farm
from icpscan.sandbox.world import CertMode, ConnectionMode, Host, Response, World

SCHEMES = ["http", "https"]
PAGE = "<html><head><title>首页</title></head><body><p>新闻动态</p></body></html>\n".encode()
GBK_PAGE = '<meta charset="gb2312"><p>京ICP备12345678号 镕喆堃</p>'.encode("gbk")
BINARY = bytes(range(256)) * 40
BIG_PAGE = (b"<p>" + b"filler " * 20 + b"</p>\n") * 2000  # ~290 KB
BOMB_SIZE = 64 * 1024 * 1024
STATUSES = [200, 201, 204, 301, 302, 303, 307, 308, 403, 404, 410, 451, 500, 502, 503, 599]


def _failing_body() -> bytes:
    raise RuntimeError("scenario bug")


def site_routes() -> dict[str, Response]:
    html = [("Content-Type", "text/html; charset=utf-8")]
    routes = {
        "/": Response(
            headers=[*html, ("Server", "nginx"), ("X-Dup", "1"), ("X-Dup", "2")], body=PAGE
        ),
        "/gbk": Response(headers=[("Content-Type", "text/html; charset=gb2312")], body=GBK_PAGE),
        "/wrong-charset": Response(headers=html, body=GBK_PAGE),
        "/no-charset": Response(headers=[("Content-Type", "text/html")], body=GBK_PAGE),
        "/no-headers": Response(body=BINARY),
        "/moved": Response(
            status=301, headers=[("Location", "HTTPS://WWW.Other.test:8443/a%20b?q=中")]
        ),
        "/relative": Response(status=302, headers=[("Location", "next")]),
        "/callable": Response(headers=html, body=lambda: PAGE + b"<!-- built -->"),
        "/failing": Response(headers=html, body=_failing_body),
        "/delay": Response(body=b"late", delay=0.6),
        "/trickle": Response(body=bytes(range(100)) * 10, trickle=4000),
        "/stall": Response(headers=html, body=PAGE, stall_after_headers=True),
        "/reset": Response(body=b"r" * 5000, reset_after=1000),
        "/cl-short": Response(body=b"s" * 100, content_length=10),
        "/cl-long": Response(body=b"l" * 100, content_length=200),
        "/drop": Response(body=PAGE, drop_connection=True),
        "/drop-later": Response(body=PAGE, drop_connection=True, delay=0.3),
        "/bad-encoding": Response(body=PAGE, encoding="compress"),
        "/chunked": Response(headers=[("Transfer-Encoding", "chunked")], body=BIG_PAGE),
        "/huge": Response(body=RepeatedBytes(5 * 1024 * 1024 + 7, b"<p>x</p>\n")),
    }
    for status in STATUSES:
        routes[f"/status/{status}"] = Response(status=status, body=b"" if status == 204 else PAGE)
    for encoding in ("gzip", "deflate", "br"):
        routes[f"/{encoding}"] = Response(headers=html, body=BIG_PAGE, encoding=encoding)
        routes[f"/bomb-{encoding}"] = Response(
            headers=html, body=RepeatedBytes(BOMB_SIZE), encoding=encoding
        )
    return routes


def make_world() -> World:
    routes = site_routes()
    plain = {"/": Response(body=b"ok")}
    return World(
        hosts={
            "site.test": Host(http=routes, https=routes),
            "例子.测试": Host(
                http={"/": Response(body=b"idn")}, https={"/": Response(body=b"idn")}
            ),
            "expired.test": Host(http=plain, https=plain, cert=CertMode.EXPIRED),
            "selfsigned.test": Host(http=plain, https=plain, cert=CertMode.SELF_SIGNED),
            "wrongname.test": Host(http=plain, https=plain, cert=CertMode.WRONG_NAME),
            "stall.test": Host(http=plain, https=plain, cert=CertMode.HANDSHAKE_STALL),
            "refused.test": Host(http=plain, https=plain, connection=ConnectionMode.REFUSED),
            "tarpit.test": Host(http=plain, https=plain, connection=ConnectionMode.TARPIT),
            "httponly.test": Host(http=plain),
            "httpsonly.test": Host(https=plain),
        }
    )


@pytest.fixture(scope="module")
def farm():
    with Farm(make_world()) as running:
        yield running


# -- clients -----------------------------------------------------------------------------------


class _Raw(io.RawIOBase):
    def __init__(self, client: Client) -> None:
        self.client = client

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.client._recv_raw(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Reader(io.BufferedReader):
    """One buffer for the whole connection: http.client may close it after each response."""

    def close(self) -> None:
        pass


class Client:
    """A blocking HTTP client over a raw TCP socket; TLS (for https) runs in memory BIOs."""

    def __init__(
        self, farm: Farm, scheme: str, host: str, timeout: float = 5.0, verify: bool = True
    ) -> None:
        port = farm.https_port if scheme == "https" else farm.http_port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.tls: ssl.SSLObject | None = None
        self.reader = _Reader(_Raw(self), 65536)
        if scheme == "https":
            context = ssl.create_default_context(cafile=str(farm.ca_cert_path))
            if not verify:
                context.check_hostname = False
            self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
            self.tls = context.wrap_bio(self._in, self._out, server_hostname=host)
            while True:
                try:
                    self.tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    self._pump()
            self._flush()

    def _flush(self) -> None:
        if self.tls is not None and self._out.pending:
            self.sock.sendall(self._out.read())

    def _pump(self) -> bool:
        self._flush()
        data = self.sock.recv(65536)
        if not data:
            return False
        self._in.write(data)
        return True

    def settimeout(self, timeout: float) -> None:
        self.sock.settimeout(timeout)

    def send(self, data: bytes) -> None:
        if self.tls is None:
            self.sock.sendall(data)
        else:
            self.tls.write(data)
            self._flush()

    def _recv_raw(self, size: int) -> bytes:
        if self.tls is None:
            return self.sock.recv(size)
        while True:
            try:
                return self.tls.read(size)
            except ssl.SSLWantReadError:
                if not self._pump():
                    return b""
            except ssl.SSLZeroReturnError:
                return b""

    def recv(self) -> bytes:
        """Next plaintext bytes; b"" at the end; socket errors (reset, timeout) propagate."""
        return self.reader.read1(65536)

    def read_all(self) -> tuple[bytes, BaseException | None]:
        """Everything until EOF, and the error that ended it (None for a clean EOF)."""
        chunks = []
        try:
            while data := self.recv():
                chunks.append(data)
        except OSError as exc:
            return b"".join(chunks), exc
        return b"".join(chunks), None

    def response(self, method: str = "GET") -> http.client.HTTPResponse:
        """Parse the next response with http.client (handles chunked, Content-Length, HEAD)."""
        reader = self.reader

        class Sock:
            def makefile(self, mode: str) -> io.BufferedReader:
                return reader

        response = http.client.HTTPResponse(Sock(), method=method)  # type: ignore[arg-type]
        response.begin()
        return response

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def request(host: str, path: str = "/", method: str = "GET", close: bool = True) -> bytes:
    connection = "close" if close else "keep-alive"
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: {connection}\r\n\r\n".encode()


def get(farm: Farm, scheme: str, path: str, host: str = "site.test", verify: bool = True):
    """(response, body) of one request on a fresh connection (SNI = Host = ``host``)."""
    with Client(farm, scheme, host, verify=verify) as client:
        client.send(request(host, path))
        response = client.response()
        return response, response.read()


def raw(farm: Farm, scheme: str, path: str, host: str = "site.test", timeout: float = 5.0):
    """(head, body bytes as sent, error that ended the connection) without HTTP parsing."""
    with Client(farm, scheme, host, timeout) as client:
        client.send(request(host, path))
        data, error = client.read_all()
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body, error


# -- status, headers, bodies -------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_page_headers_are_sent_verbatim_in_order_plus_length_and_connection(farm, scheme):
    response, body = get(farm, scheme, "/")
    assert response.status == 200
    assert response.getheaders() == [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Server", "nginx"),
        ("X-Dup", "1"),
        ("X-Dup", "2"),
        ("Content-Length", str(len(PAGE))),
        ("Connection", "close"),
    ]
    assert body == PAGE


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/gbk", "text/html; charset=gb2312", GBK_PAGE),
        ("/wrong-charset", "text/html; charset=utf-8", GBK_PAGE),
        ("/no-charset", "text/html", GBK_PAGE),
        ("/no-headers", None, BINARY),
    ],
)
def test_charset_headers_and_body_bytes_pass_through(farm, scheme, path, content_type, body):
    response, received = get(farm, scheme, path)
    assert response.getheader("Content-Type") == content_type
    assert received == body


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("status", STATUSES)
def test_status_codes(farm, scheme, status):
    response, body = get(farm, scheme, f"/status/{status}")
    assert response.status == status
    assert body == (b"" if status == 204 else PAGE)
    if status == 204:
        assert response.getheader("Content-Length") is None


@pytest.mark.parametrize("scheme", SCHEMES)
def test_redirect_location_is_kept_exactly_as_given(farm, scheme):
    head, body, error = raw(farm, scheme, "/moved")
    assert error is None
    assert head.split(b"\r\n")[:2] == [
        b"HTTP/1.1 301 Moved Permanently",
        "Location: HTTPS://WWW.Other.test:8443/a%20b?q=中".encode(),
    ]
    assert body == b""
    response, _ = get(farm, scheme, "/relative")
    assert (response.status, response.getheader("Location")) == (302, "next")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_callable_body_is_built_on_request(farm, scheme):
    assert get(farm, scheme, "/callable")[1] == PAGE + b"<!-- built -->"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_body_callable_that_fails_gives_500_and_the_farm_goes_on(farm, scheme, caplog):
    response, _ = get(farm, scheme, "/failing")
    assert response.status == 500
    assert f"body of {scheme}://site.test/failing failed; answering 500" in caplog.text
    assert "RuntimeError: scenario bug" in caplog.text
    response, _ = get(farm, scheme, "/bad-encoding")
    assert response.status == 500
    assert "ValueError: unknown encoding 'compress'" in caplog.text
    assert get(farm, scheme, "/")[0].status == 200


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(
    ("path", "host"),
    [("/no-such-page", "site.test"), ("/", "unknown.test"), ("/?x=1", "nowhere.test")],
)
def test_unknown_host_or_path_gets_the_default_404_page(farm, scheme, path, host):
    # (an unknown name gets the default certificate, so hostname checks are off for it)
    response, body = get(farm, scheme, path, host=host, verify=host == "site.test")
    assert response.status == 404
    assert b"<h1>404 Not Found</h1>" in body


@pytest.mark.parametrize("scheme", SCHEMES)
def test_query_string_falls_back_to_the_path(farm, scheme):
    assert get(farm, scheme, "/gbk?from=test")[1] == GBK_PAGE


@pytest.mark.parametrize("scheme", SCHEMES)
def test_host_header_port_case_and_trailing_dot_are_ignored(farm, scheme):
    with Client(farm, scheme, "site.test") as client:
        client.send(b"GET /gbk HTTP/1.1\r\nHost: SITE.Test.:443\r\nConnection: close\r\n\r\n")
        assert client.response().read() == GBK_PAGE


@pytest.mark.parametrize("scheme", SCHEMES)
def test_idn_host_is_found_by_its_a_label(farm, scheme):
    a_label = "例子.测试".encode("idna").decode()
    assert get(farm, scheme, "/", host=a_label)[1] == b"idn"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_http_and_https_only_hosts(farm, scheme):
    only_other = "httpsonly.test" if scheme == "http" else "httponly.test"
    only_this = "httponly.test" if scheme == "http" else "httpsonly.test"
    assert get(farm, scheme, "/", host=only_this)[1] == b"ok"
    assert get(farm, scheme, "/", host=only_other)[0].status == 404


@pytest.mark.parametrize("scheme", SCHEMES)
def test_head_sends_length_but_no_body_and_keeps_the_connection(farm, scheme):
    with Client(farm, scheme, "site.test") as client:
        client.send(request("site.test", "/", "HEAD", close=False))
        head = client.response("HEAD")
        assert (head.status, head.getheader("Content-Length")) == (200, str(len(PAGE)))
        assert head.read() == b""
        client.send(request("site.test", "/gbk"))
        assert client.response().read() == GBK_PAGE


@pytest.mark.parametrize("scheme", SCHEMES)
def test_other_methods_get_405(farm, scheme):
    with Client(farm, scheme, "site.test") as client:
        client.send(b"POST / HTTP/1.1\r\nHost: site.test\r\nContent-Length: 0\r\n\r\n")
        response = client.response()
        assert (response.status, response.getheader("Allow")) == (405, "GET, HEAD")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_keep_alive_and_pipelining(farm, scheme):
    with Client(farm, scheme, "site.test") as client:
        client.send(request("site.test", "/", close=False) + request("site.test", "/gbk"))
        first = client.response()
        assert (first.getheader("Connection"), first.read()) == ("keep-alive", PAGE)
        second = client.response()
        assert (second.getheader("Connection"), second.read()) == ("close", GBK_PAGE)
        assert client.read_all() == (b"", None)  # the server closed after Connection: close


@pytest.mark.parametrize("scheme", SCHEMES)
def test_http_1_0_closes_unless_asked_to_keep_alive(farm, scheme):
    with Client(farm, scheme, "site.test") as client:
        client.send(b"GET /gbk HTTP/1.0\r\nHost: site.test\r\n\r\n")
        data, error = client.read_all()
    assert error is None
    assert b"\r\nConnection: close\r\n" in data
    assert data.endswith(GBK_PAGE)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_oversized_request_head_and_too_many_headers_get_431(farm, scheme):
    for extra in (
        f"X-Long: {'a' * 20000}\r\n",
        "".join(f"X-H{i}: v\r\n" for i in range(150)),
    ):
        with Client(farm, scheme, "site.test") as client:
            client.send(f"GET / HTTP/1.1\r\nHost: site.test\r\n{extra}\r\n".encode())
            data, _ = client.read_all()
        assert data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_malformed_request_gets_400(farm, scheme):
    with Client(farm, scheme, "site.test") as client:
        client.send(b"GARBAGE\r\n\r\n")
        data, _ = client.read_all()
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_chunked_transfer_encoding_is_framed_by_the_farm(farm, scheme):
    head, wire, _ = raw(farm, scheme, "/chunked")
    assert b"Content-Length" not in head
    assert wire.startswith(b"10000\r\n") and wire.endswith(b"\r\n0\r\n\r\n")
    response, body = get(farm, scheme, "/chunked")
    assert (response.chunked, body) == (True, BIG_PAGE)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_huge_repeated_body_is_streamed_exactly(farm, scheme):
    response, body = get(farm, scheme, "/huge")
    expected = RepeatedBytes(5 * 1024 * 1024 + 7, b"<p>x</p>\n")
    assert int(response.getheader("Content-Length")) == expected.size
    assert body == expected()


# -- content codings and bombs ------------------------------------------------------------------

DECODERS = {"gzip": gzip.decompress, "deflate": zlib.decompress, "br": brotli.decompress}


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_content_codings_decode_to_the_body(farm, scheme, encoding):
    response, wire = get(farm, scheme, f"/{encoding}")
    assert response.getheader("Content-Encoding") == encoding
    assert int(response.getheader("Content-Length")) == len(wire) < len(BIG_PAGE) // 10
    assert DECODERS[encoding](wire) == BIG_PAGE


def _inflate_all(encoding: str, data: bytes) -> tuple[int, bool]:
    """(decoded size, all bytes zero), decoding in bounded pieces; checksums are verified."""
    if encoding == "br":
        decoder = brotli.Decompressor()
        out = decoder.process(data)
        assert decoder.is_finished()
        return len(out), not out.strip(b"\x00")
    wbits = 31 if encoding == "gzip" else 15
    decoder = zlib.decompressobj(wbits)
    size, zero, pending = 0, True, data
    while pending:
        out = decoder.decompress(pending, 1 << 20)
        size += len(out)
        zero = zero and not out.strip(b"\x00")
        pending = decoder.unconsumed_tail
    out = decoder.flush()
    assert decoder.eof  # the trailer (CRC32 / Adler-32 and length) checked out
    return size + len(out), zero and not out.strip(b"\x00")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_bomb_is_small_on_the_wire_and_inflates_hugely(farm, scheme, encoding):
    response, wire = get(farm, scheme, f"/bomb-{encoding}")
    assert response.getheader("Content-Encoding") == encoding
    assert len(wire) < BOMB_SIZE // 900  # DEFLATE's best is ~1030:1; brotli does far better
    assert _inflate_all(encoding, wire) == (BOMB_SIZE, True)


# -- timing misbehaviour -----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_delay_sends_nothing_until_it_has_passed(farm, scheme):
    with Client(farm, scheme, "site.test") as client:
        client.send(request("site.test", "/delay"))
        client.settimeout(0.2)
        with pytest.raises(TimeoutError):
            client.recv()
        client.settimeout(5)
        assert client.response().read() == b"late"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_trickle_delivers_the_body_in_many_small_pieces(farm, scheme):
    with Client(farm, scheme, "site.test") as client:
        client.send(request("site.test", "/trickle"))
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv()
        body, reads = head.partition(b"\r\n\r\n")[2], 0
        while data := client.recv():
            body += data
            reads += 1
    assert body == bytes(range(100)) * 10
    assert reads >= 4  # 200-byte pieces 50 ms apart


@pytest.mark.parametrize("scheme", SCHEMES)
def test_stall_after_headers_sends_the_head_then_nothing(farm, scheme):
    with Client(farm, scheme, "site.test") as client:
        client.send(request("site.test", "/stall"))
        response = client.response()
        assert (response.status, response.getheader("Content-Length")) == (200, str(len(PAGE)))
        client.settimeout(0.3)
        with pytest.raises(TimeoutError):
            response.read(1)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_reset_mid_body_gives_exactly_n_bytes_then_a_tcp_reset(farm, scheme):
    head, body, error = raw(farm, scheme, "/reset")
    assert b"Content-Length: 5000" in head
    assert body == b"r" * 1000
    assert isinstance(error, ConnectionResetError)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_content_length_shorter_than_the_body(farm, scheme):
    head, body, error = raw(farm, scheme, "/cl-short")
    assert b"\r\nContent-Length: 10\r\nConnection: close" in head
    assert (body, error) == (b"s" * 100, None)
    assert get(farm, scheme, "/cl-short")[1] == b"s" * 10


@pytest.mark.parametrize("scheme", SCHEMES)
def test_content_length_longer_than_the_body(farm, scheme):
    head, body, error = raw(farm, scheme, "/cl-long")
    assert b"\r\nContent-Length: 200\r\nConnection: close" in head
    assert (body, error) == (b"l" * 100, None)
    with pytest.raises(http.client.IncompleteRead) as info:
        get(farm, scheme, "/cl-long")
    assert (len(info.value.partial), info.value.expected) == (100, 100)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_drop_connection_closes_without_a_response(farm, scheme):
    assert raw(farm, scheme, "/drop") == (b"", b"", None)
    assert raw(farm, scheme, "/drop-later") == (b"", b"", None)
    with pytest.raises(http.client.RemoteDisconnected):
        get(farm, scheme, "/drop")


# -- TLS and connection modes ------------------------------------------------------------------


def tls_connect(farm: Farm, server_name: str | None, port: int | None = None, timeout=5.0):
    context = ssl.create_default_context(cafile=str(farm.ca_cert_path))
    context.set_alpn_protocols(["h2", "http/1.1"])
    if server_name is None:
        context.check_hostname = False
    sock = socket.create_connection(("127.0.0.1", port or farm.https_port), timeout=timeout)
    try:
        return context.wrap_socket(sock, server_hostname=server_name)
    except BaseException:
        sock.close()
        raise


def test_valid_certificate_verifies_with_hostname_check(farm):
    with tls_connect(farm, "site.test") as tls:
        cert = tls.getpeercert()
        assert tls.selected_alpn_protocol() == "http/1.1"
    assert cert["subjectAltName"] == (("DNS", "site.test"), ("DNS", "www.site.test"))
    assert cert["issuer"][:1] == ((("organizationName", "icpscan sandbox"),),)


@pytest.mark.parametrize(
    ("host", "code", "message"),
    [
        ("expired.test", 10, "certificate has expired"),
        ("selfsigned.test", 18, "self-signed certificate"),
        ("wrongname.test", 62, "Hostname mismatch, certificate is not valid for 'wrongname.test'."),
        ("unknown.test", 62, "Hostname mismatch, certificate is not valid for 'unknown.test'."),
    ],
)
def test_bad_certificates_fail_verification_the_real_way(farm, host, code, message):
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        tls_connect(farm, host)
    assert (info.value.verify_code, info.value.verify_message) == (code, message)


def test_bad_certificates_still_serve_the_site_to_a_non_verifying_client(farm):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = socket.create_connection(("127.0.0.1", farm.https_port), timeout=5)
    with context.wrap_socket(sock, server_hostname="expired.test") as tls:
        der = tls.getpeercert(binary_form=True)
        tls.sendall(request("expired.test"))
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    assert data.endswith(b"\r\n\r\nok")
    assert b"expired.test" in der


def test_no_sni_gets_the_default_certificate(farm):
    with tls_connect(farm, None) as tls:
        cert = tls.getpeercert()
    assert cert["subjectAltName"] == (("DNS", "default.invalid"),)


def test_certificates_are_issued_lazily_and_cached():
    hosts = {f"site{i}.test": Host(https={"/": Response(body=b"x")}) for i in range(1000)}
    with Farm(World(hosts=hosts)) as farm:
        assert farm.certs.issued == 0  # (the listening socket has the default certificate)
        for _ in range(3):
            with tls_connect(farm, "site7.test"):
                pass
        assert farm.certs.issued == 1


def test_handshake_stall_and_tarpit_never_answer(farm):
    rules = farm.connect_to_rules()
    assert f"stall.test:443:127.0.0.1:{farm.tarpit_port}" in rules
    assert f"tarpit.test::127.0.0.1:{farm.tarpit_port}" in rules
    with pytest.raises(TimeoutError):
        tls_connect(farm, "stall.test", port=farm.tarpit_port, timeout=0.3)
    with socket.create_connection(("127.0.0.1", farm.tarpit_port), timeout=0.3) as sock:
        sock.sendall(request("tarpit.test"))
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_refused_hosts_and_missing_schemes_are_refused(farm):
    rules = farm.connect_to_rules()
    assert f"refused.test::127.0.0.1:{farm.closed_port}" in rules
    assert f"httponly.test:443:127.0.0.1:{farm.closed_port}" in rules
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", farm.closed_port), timeout=2)


def _wait_for(condition, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_tarpit_holds_a_bounded_number_of_connections():
    farm = Farm(World())
    farm.tarpit_max_held = 3
    with farm:
        sockets = [
            socket.create_connection(("127.0.0.1", farm.tarpit_port), timeout=0.3) for _ in range(5)
        ]
        try:
            assert _wait_for(lambda: len(farm._tarpit_held) == 3)
            # The two oldest were let go (the client sees the end); the newest are held silently.
            assert [sock.recv(1) for sock in sockets[:2]] == [b"", b""]
            for sock in sockets[2:]:
                with pytest.raises(TimeoutError):
                    sock.recv(1)
        finally:
            for sock in sockets:
                sock.close()
        assert _wait_for(lambda: not farm._tarpit_held)  # and lets go when clients give up


# -- rules, world swap, lifecycle --------------------------------------------------------------


def test_connect_to_rules_exact_output(tmp_path):
    plain = {"/": Response()}
    world = World(
        hosts={
            "a.test": Host(http=plain, https=plain),
            "refused.test": Host(http=plain, https=plain, connection=ConnectionMode.REFUSED),
            "tarpit.test": Host(http=plain, connection=ConnectionMode.TARPIT),
            "stall.test": Host(http=plain, https=plain, cert=CertMode.HANDSHAKE_STALL),
            "plain.test": Host(http=plain),
            "secure.test": Host(https=plain, cert=CertMode.EXPIRED),
            "例子.测试": Host(http=plain),
        }
    )
    with Farm(world, state_dir=tmp_path) as farm:
        closed, tarpit = f"127.0.0.1:{farm.closed_port}", f"127.0.0.1:{farm.tarpit_port}"
        expected = [
            f"refused.test::{closed}",
            f"tarpit.test::{tarpit}",
            f"stall.test:443:{tarpit}",
            f"plain.test:443:{closed}",
            f"secure.test:80:{closed}",
            f"xn--fsqu00a.xn--0zwm56d:443:{closed}",
            f":80:127.0.0.1:{farm.http_port}",
            f":443:127.0.0.1:{farm.https_port}",
        ]
        assert farm.connect_to_rules() == expected
        path = farm.write_connect_to_file(tmp_path / "connect-to.txt")
        assert path.read_text() == "".join(rule + "\n" for rule in expected)
        assert len({farm.http_port, farm.https_port, farm.tarpit_port, farm.closed_port}) == 4
        assert farm.ca_cert_path == tmp_path / "ca.pem"
        assert farm.ca_cert_path.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_world_can_be_swapped_while_running():
    before = World(hosts={"a.test": Host(http={"/": Response(body=b"one")})})
    after = World(
        hosts={
            "a.test": Host(http={"/": Response(body=b"two")}, https={"/": Response(body=b"2")}),
            "b.test": Host(https={"/": Response(body=b"b")}, cert=CertMode.EXPIRED),
        }
    )
    with Farm(before) as farm:
        assert get(farm, "http", "/", host="a.test")[1] == b"one"
        assert get(farm, "http", "/", host="b.test")[0].status == 404
        farm.world = after
        assert get(farm, "http", "/", host="a.test")[1] == b"two"
        assert get(farm, "https", "/", host="a.test")[1] == b"2"
        with pytest.raises(ssl.SSLCertVerificationError):
            tls_connect(farm, "b.test")
        assert farm.connect_to_rules() == [
            f"b.test:80:127.0.0.1:{farm.closed_port}",
            f":80:127.0.0.1:{farm.http_port}",
            f":443:127.0.0.1:{farm.https_port}",
        ]
        assert farm.requests == 4  # the failed handshake never got to a request


def test_stop_closes_everything_and_is_idempotent():
    farm = Farm(World(hosts={"a.test": Host(http={"/": Response(body=b"x")})})).start()
    port, state_dir = farm.http_port, farm.state_dir
    with Client(farm, "http", "a.test") as idle:
        idle.send(request("a.test", close=False))
        assert idle.response().read() == b"x"
        farm.stop()
        farm.stop()
        assert idle.read_all()[0] == b""  # the open keep-alive connection was closed
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert not farm.running
    del farm
    import gc

    gc.collect()
    assert not state_dir.exists()  # the temporary state dir goes with the farm


def test_a_port_in_use_is_a_clear_error():
    with Farm(World()) as first:
        second = Farm(World(), http_port=first.http_port)
        with pytest.raises(OSError, match="in use"):
            second.start()
        with contextlib.suppress(Exception):
            second.stop()


SERVE_SCRIPT = """
import sys
from pathlib import Path
from icpscan import egress
from icpscan.sandbox.farm import Farm
from icpscan.sandbox.world import Host, Response, World
egress.install_guard_from_environment()
world = World(hosts={"a.test": Host(http={"/": Response(body=b"served")})})
farm = Farm(world, state_dir=Path(sys.argv[1])).start()
print(farm.http_port, flush=True)
farm.serve_forever()
print("stopped", flush=True)
"""


def _catches_sigterm(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(
        next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16
    )
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_forever_serves_until_ctrl_c_or_sigterm_then_returns(tmp_path, signum):
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(process.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request("a.test"))
            assert sock.recv(1000).endswith(b"\r\n\r\nserved")
        # serve_forever has taken over the signals once SIGTERM shows as caught
        assert _wait_for(lambda: _catches_sigterm(process.pid), timeout=10)
        process.send_signal(signum)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert (process.returncode, out, err) == (0, "stopped\n", "")
    assert (tmp_path / "ca.pem").exists()


def test_serve_forever_returns_when_stopped_from_another_thread():
    farm = Farm(World())
    thread = threading.Thread(target=farm.serve_forever)
    thread.start()
    assert _wait_for(lambda: farm.running)
    farm.stop()
    thread.join(5)
    assert not thread.is_alive()


def test_a_client_flooding_requests_behind_a_slow_response_is_cut_off(farm):
    with Client(farm, "http", "site.test") as client:
        client.send(request("site.test", "/delay", close=False))
        with contextlib.suppress(ConnectionError):
            for _ in range(40):
                client.send(request("site.test", "/", close=False) * 1000)  # ~70 KB each
        data, error = client.read_all()
    assert data == b""  # cut off before the delayed response was due
    assert error is None or isinstance(error, ConnectionResetError)


def test_a_half_closed_client_still_gets_a_slow_response(farm):
    with socket.create_connection(("127.0.0.1", farm.http_port), timeout=5) as sock:
        sock.sendall(request("site.test", "/delay"))
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\nlate")


def test_ipv6_loopback_farm():
    world = World(hosts={"a.test": Host(http={"/": Response(body=b"v6")})})
    with Farm(world, host="::1") as farm:
        assert farm.connect_to_rules() == [
            f"a.test:443:[::1]:{farm.closed_port}",
            f":80:[::1]:{farm.http_port}",
            f":443:[::1]:{farm.https_port}",
        ]
        with socket.create_connection(("::1", farm.http_port), timeout=5) as sock:
            sock.sendall(request("a.test"))
            assert sock.recv(1000).endswith(b"\r\n\r\nv6")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("::1", farm.closed_port), timeout=2)
