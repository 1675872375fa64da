"""The local API gateway's HTTP/1.1 server on 127.0.0.1: it reads and frames each request strictly and hands the
parsed request to `ApiGateway` (local/services/gateway/proxy.py), which answers as API Gateway's REST proxy would.
`LocalGateway` serves it with a threading server.

HTTP framing, as a strict HTTP/1.1 server answers it (each closes the connection, nothing is processed):
- a request line or header line off RFC 9112's grammar (a bare CR, a line ending in a bare LF, a header line
  without a colon or with whitespace before it, obsolete line folding, NUL in a value:
  local/services/gateway/http_head.py):
  400 Bad Request, and nothing that follows on the connection is read;
- conflicting or invalid Content-Length, Content-Length beside Transfer-Encoding, a transfer coding other
  than chunked: 400 Bad Request;
- request line and headers over API Gateway's 10,240 bytes ("Total combined size of request line and
  header values", REST API quotas): 431 Request Header Fields Too Large;
- a head or body cut short by the end of the stream (the client went away) is never passed on: no answer;
- a client that sends nothing for `read_timeout_seconds` (mid-headers or idle) is disconnected.
"""

from __future__ import annotations

import errno
import io
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from local.emulation.process import PortInUseError
from local.services.gateway.http_head import HeadCutShort, HeadTooLarge, MalformedHead, read_field_lines
from local.services.gateway.proxy import ApiGateway, GatewayResponse, HttpRequest, gateway_response

log = logging.getLogger(__name__)

_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
OVERSIZED_BODY_DRAIN_FACTOR = 4


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The listen backlog (socketserver's default is 5): a burst of new connections overflowed it and clients
    # got "connection reset by peer" instead of an answer, which API Gateway never does.
    request_queue_size = 128
    api: ApiGateway

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("local gateway: connection error from %s", client_address)


class _BadFraming(Exception):
    """The request's framing cannot be trusted: answer `status` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class _ClientGone(Exception):
    """The body ended before its Content-Length: the client went away mid-request."""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as load generators expect
    server: _Server

    def setup(self) -> None:
        super().setup()
        # A timeout on the socket: every read (headers, body, the idle wait for the next keep-alive request)
        # then gives up instead of holding this thread forever.
        self.connection.settimeout(self.server.api.settings.read_timeout_seconds)

    def parse_request(self) -> bool:
        """Check the head against RFC 9112 (local/services/gateway/http_head.py) before the standard library parses
        it: a head
        two parsers could frame differently is refused whole, and nothing after it on the connection is read."""
        self.requestline = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")  # for the access log
        try:
            field_lines = read_field_lines(self.raw_requestline, self.rfile)
        except MalformedHead as malformed:
            return self._refuse(400, f"Bad Request: {malformed}")
        except HeadTooLarge:
            return self._refuse(431, "Request Header Fields Too Large")
        except HeadCutShort:
            self.close_connection = True
            return False
        # The standard library then parses exactly the bytes checked (the stream is positioned at the body).
        stream, self.rfile = self.rfile, io.BytesIO(field_lines)
        try:
            return super().parse_request()
        finally:
            self.rfile = stream

    def _refuse(self, status: int, message: str) -> bool:
        """Answer a head that was not parsed, and close the connection; False, as parse_request's failure."""
        self.command, self.request_version, self.close_connection = "", "HTTP/1.1", True
        self._send(gateway_response(status, message))
        return False

    def __getattr__(self, name: str) -> Any:
        # Every method is routed (HEAD, TRACE, ...): API Gateway answers 403 for a method the resource lacks.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        received_at = time.monotonic()
        api = self.server.api
        try:
            self._check_header_size(api.settings.max_header_bytes)
            body, size = self._read_body(api.settings.max_body_bytes)
        except _BadFraming as bad:
            self.close_connection = True
            self._send(gateway_response(bad.status, bad.message))
            return
        except _ClientGone:
            self.close_connection = True
            return
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            body_size=size,
            source_ip=self.client_address[0],
            protocol=self.request_version,
            received_at=received_at,
        )
        self._send(api.handle(request))

    def _send(self, response: GatewayResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _check_header_size(self, limit: int) -> None:
        size = len(self.raw_requestline) + sum(len(f"{name}: {value}\r\n") for name, value in self.headers.items())
        if size > limit:
            raise _BadFraming(431, "Request Header Fields Too Large")

    def _content_length(self) -> int | None:
        """The one declared body length, or None; _BadFraming for anything a request smuggler could exploit."""
        values = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if len(values) > 1:
            raise _BadFraming(400, "Bad Request: conflicting Content-Length headers")
        if not values:
            return None
        (value,) = values
        if not (value.isascii() and value.isdigit()):  # digits only: no sign, no spaces, no "1_000"
            raise _BadFraming(400, "Bad Request: invalid Content-Length")
        return int(value)

    def _read_body(self, limit: int) -> tuple[bytes | None, int]:
        """The body and its size; past `limit` the body is discarded, not kept."""
        length = self._content_length()
        codings = self.headers.get_all("Transfer-Encoding")
        if codings:
            if length is not None:
                raise _BadFraming(400, "Bad Request: both Content-Length and Transfer-Encoding")
            if ",".join(codings).strip().lower() != "chunked":
                raise _BadFraming(400, "Bad Request: unsupported Transfer-Encoding")
            return self._read_chunked(limit)
        length = length or 0
        if length > limit:
            self._discard(length, limit)
            return None, length
        body = self.rfile.read(length) if length else None
        if body is not None and len(body) < length:
            raise _ClientGone
        return body, length

    def _discard(self, length: int, limit: int) -> None:
        # Reading an oversized body lets the client see the 413 instead of a reset connection;
        # a body beyond a few times the limit is not worth reading: close instead.
        if length > OVERSIZED_BODY_DRAIN_FACTOR * limit:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                break
            length -= len(chunk)

    def _read_chunked(self, limit: int) -> tuple[bytes | None, int]:
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise _ClientGone
            size_text = line.split(b";")[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_text):  # int(..., 16) would also take "-1" and "0x10"
                raise _BadFraming(400, "Bad Request: invalid chunk size")
            chunk_size = int(size_text, 16)
            if chunk_size == 0:
                self.rfile.readline()  # the empty line after the last chunk
                return (b"".join(chunks) or None), size
            size += chunk_size
            if size > limit:
                self.close_connection = True
                return None, size
            chunk = self.rfile.read(chunk_size)
            if len(chunk) < chunk_size:
                raise _ClientGone
            chunks.append(chunk)
            self.rfile.readline()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("local gateway: " + format, *args)


class LocalGateway:
    """Serves an ApiGateway on host:port (port 0: any free port) in a background thread."""

    def __init__(self, api: ApiGateway, host: str = "127.0.0.1", port: int = 3000) -> None:
        try:
            self._server = _Server((host, port), _RequestHandler)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUseError(host, port) from None
            raise
        self._server.api = api
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalGateway:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="local-gateway", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close the socket; requests in flight finish on their daemon threads."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LocalGateway:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
