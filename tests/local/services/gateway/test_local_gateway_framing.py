"""The local API gateway against careless and hostile HTTP clients: framing a request smuggler could use,
oversized headers, a client that goes away mid-body or never finishes its headers, bodies that are not UTF-8
and methods without an integration. Each answer is what a strict HTTP/1.1 server (or API Gateway) gives, and
nothing half-received ever reaches the function."""

from __future__ import annotations

import base64
import http.client
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.services.gateway.proxy import API_GATEWAY_MAX_HEADER_BYTES, ApiGateway, GatewaySettings
from local.services.gateway.server import LocalGateway
from tests.local.helpers import stub_function

API_KEY = "local-key-value"
ACCEPTED = {"statusCode": 202, "headers": {"Content-Type": "application/json"}, "body": '{"accepted": 1}'}
CLIENT_TIMEOUT = 10.0  # a bound on waiting for the server, never an expected duration


class Gateway:
    def __init__(self, **gateway_settings: Any) -> None:
        self.events: list[dict[str, Any]] = []

        def handler(event: Any, context: Any) -> Any:
            self.events.append(event)
            return ACCEPTED

        api = ApiGateway(GatewaySettings(**gateway_settings), stub_function(handler, name="ingest"), {API_KEY: "k1"})
        self.server = LocalGateway(api, port=0).start()

    def raw(self, data: bytes, *, finish: bool = True) -> bytes:
        """Send raw bytes, optionally close our sending side, and read until the server closes."""
        with socket.create_connection((self.server.host, self.server.port), timeout=CLIENT_TIMEOUT) as sock:
            sock.sendall(data)
            if finish:
                sock.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            return received


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    started = Gateway(read_timeout_seconds=1.0)
    yield started
    started.server.stop()


def head(*lines: str) -> bytes:
    base = ["POST /v1/events HTTP/1.1", "Host: local", f"x-api-key: {API_KEY}", "Content-Type: application/json"]
    return ("\r\n".join([*base, *lines]) + "\r\n\r\n").encode()


def statuses(received: bytes) -> list[int]:
    """Every status line received, the ones that follow a body on the same line too."""
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", received)]


SMUGGLED = head("Content-Length: 2") + b"{}"


def test_conflicting_content_lengths_are_a_400_and_nothing_is_smuggled(gateway: Gateway) -> None:
    # GIVEN a request with two different Content-Length headers and a second request hidden in its body
    hidden = SMUGGLED
    request = head("Content-Length: 2", f"Content-Length: {2 + len(hidden)}") + b"{}" + hidden
    # WHEN it is sent
    received = gateway.raw(request)
    # THEN the one answer is 400, the connection is closed, and the function saw nothing
    assert statuses(received) == [400]
    assert b"Connection: close" in received
    assert gateway.events == []


@pytest.mark.parametrize("value", ["-1", "abc", "+2", "2 2", "0x2", ""])
def test_an_invalid_content_length_is_a_400(gateway: Gateway, value: str) -> None:
    # GIVEN a request whose Content-Length is not a plain decimal number
    # WHEN it is sent (with a body the server might otherwise read to the end of the stream)
    received = gateway.raw(head(f"Content-Length: {value}") + b"{}" + SMUGGLED)
    # THEN 400, closed, and nothing reaches the function
    assert statuses(received) == [400]
    assert gateway.events == []


def test_content_length_beside_transfer_encoding_is_a_400(gateway: Gateway) -> None:
    received = gateway.raw(head("Content-Length: 2", "Transfer-Encoding: chunked") + b"2\r\n{}\r\n0\r\n\r\n")
    assert statuses(received) == [400]
    assert gateway.events == []


# Each head below is framed differently by a strict parser and by Python's lenient one (which reads a bare LF
# as a line end, splits header values at a bare CR, ends the headers at a line without a colon and joins an
# obs-fold line to the header before it); behind each, a second request a lenient server would answer too.
MALFORMED_HEADS = {
    "bare LF ending a header line": b"POST /v1/events HTTP/1.1\r\nHost: local\nx-api-key: " + API_KEY.encode(),
    "bare LF ending the request line": b"POST /v1/events HTTP/1.1\nHost: local\r\nx-api-key: " + API_KEY.encode(),
    "bare CR inside a header value": b"POST /v1/events HTTP/1.1\r\nHost: local\rX-Note: 1\r\nx-api-key: "
    + API_KEY.encode(),
    "bare CR inside the request line": b"POST\r/v1/events HTTP/1.1\r\nHost: local\r\nx-api-key: " + API_KEY.encode(),
    "a header line without a colon": b"POST /v1/events HTTP/1.1\r\nHost: local\r\nX-Note just text\r\nx-api-key: "
    + API_KEY.encode(),
    "whitespace between a field name and its colon": b"POST /v1/events HTTP/1.1\r\nHost : local\r\nx-api-key: "
    + API_KEY.encode(),
    "an obs-fold line": b"POST /v1/events HTTP/1.1\r\nHost: local\r\nX-Note: a\r\n Content-Length: 40\r\nx-api-key: "
    + API_KEY.encode(),
    "an obs-fold right after the request line": b"POST /v1/events HTTP/1.1\r\n Host: local\r\nx-api-key: "
    + API_KEY.encode(),
    "a NUL inside a header value": b"POST /v1/events HTTP/1.1\r\nHost: local\x00\r\nx-api-key: " + API_KEY.encode(),
}


@pytest.mark.parametrize("malformed", MALFORMED_HEADS.values(), ids=MALFORMED_HEADS.keys())
def test_a_malformed_head_is_rejected_whole_and_nothing_behind_it_is_read(gateway: Gateway, malformed: bytes) -> None:
    # GIVEN a request head with one malformed line (RFC 9112 sections 2.2, 5.1, 5.2), a body, and a well-formed
    # request behind it on the same connection
    request = malformed + b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" + SMUGGLED
    # WHEN it is sent
    received = gateway.raw(request)
    # THEN one 400 answers the whole connection, which is closed: neither request reaches the function
    assert statuses(received) == [400]
    assert b"Connection: close" in received
    assert gateway.events == []


def test_well_formed_requests_on_one_connection_are_each_answered(gateway: Gateway) -> None:
    # GIVEN two well-formed requests back to back on one keep-alive connection (the strict parser's control)
    # WHEN they are sent
    received = gateway.raw(SMUGGLED + SMUGGLED)
    # THEN both are answered and both reach the function
    assert statuses(received) == [202, 202]
    assert len(gateway.events) == 2


def test_a_body_cut_short_by_a_client_that_went_away_is_never_processed(gateway: Gateway) -> None:
    # GIVEN a client that declares 40 bytes, sends 10 and closes
    request = head("Content-Length: 40") + b'{"a": 1, '
    # WHEN the server reads it
    received = gateway.raw(request)
    # THEN there is no answer to give, and the function never saw the partial body
    assert received == b""
    assert gateway.events == []


def test_a_chunked_body_cut_short_is_never_processed(gateway: Gateway) -> None:
    received = gateway.raw(head("Transfer-Encoding: chunked") + b'20\r\n{"a": 1')
    assert received == b""
    assert gateway.events == []


def test_headers_over_api_gateways_10240_bytes_are_a_431(gateway: Gateway) -> None:
    # GIVEN a 60 KB User-Agent (it would otherwise be stored with every event of the request)
    request = head("Content-Length: 2", "User-Agent: " + "u" * 60_000) + b"{}"
    # WHEN it is sent
    received = gateway.raw(request)
    # THEN 431, closed, and the function saw nothing
    assert statuses(received) == [431]
    assert gateway.events == []


def test_a_head_cut_short_by_a_client_that_went_away_is_never_processed(gateway: Gateway) -> None:
    # GIVEN a client that sends a request line and headers but closes before the empty line ending them
    received = gateway.raw(head("Content-Length: 0")[:-2])
    # THEN there is no answer to give, and the function never saw it
    assert received == b""
    assert gateway.events == []


def test_more_header_lines_than_the_parser_keeps_are_a_431(gateway: Gateway) -> None:
    received = gateway.raw(head(*[f"X-N{number}: 1" for number in range(100)], "Content-Length: 2") + b"{}")
    assert statuses(received) == [431]
    assert gateway.events == []


def test_a_client_that_never_finishes_its_headers_is_let_go(gateway: Gateway) -> None:
    # GIVEN a connection that sends half a request head and then nothing (a slowloris client)
    # WHEN the server's read timeout passes
    received = gateway.raw(b"POST /v1/events HTTP/1.1\r\nHost: local\r\n", finish=False)
    # THEN the server closes the connection (recv returns b"") instead of holding a thread forever
    assert received == b""
    assert gateway.events == []


@pytest.mark.parametrize("method", ["HEAD", "TRACE", "PROPFIND"])
def test_a_method_without_an_integration_is_a_403_as_on_api_gateway(gateway: Gateway, method: str) -> None:
    # GIVEN a method the /events resource does not have
    connection = http.client.HTTPConnection(gateway.server.host, gateway.server.port, timeout=CLIENT_TIMEOUT)
    connection.request(method, "/v1/events", headers={"x-api-key": API_KEY})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    # THEN API Gateway's 403 Missing Authentication Token (no body for HEAD)
    assert response.status == 403
    assert response.getheader("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    assert body == (b"" if method == "HEAD" else b'{"message": "Missing Authentication Token"}')


@pytest.fixture(scope="module")
def shared() -> Iterator[Gateway]:
    started = Gateway()
    yield started
    started.server.stop()


def post(gateway: Gateway, body: bytes, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection(gateway.server.host, gateway.server.port, timeout=CLIENT_TIMEOUT)
    connection.request(
        "POST", "/v1/events", body=body, headers={"x-api-key": API_KEY, "Content-Type": "application/json", **headers}
    )
    status = connection.getresponse().status
    connection.close()
    return status


PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(body=st.binary(min_size=1, max_size=64))
def test_any_body_bytes_reach_the_function_exactly(shared: Gateway, body: bytes) -> None:
    # GIVEN any body bytes, UTF-8 or not
    shared.events.clear()
    # WHEN they are posted
    assert post(shared, body, {}) == 202
    # THEN the function gets them exactly: as text when they are UTF-8, else base64 with isBase64Encoded
    [event] = shared.events
    if event["isBase64Encoded"]:
        assert base64.b64decode(event["body"]) == body
        with pytest.raises(UnicodeDecodeError):
            body.decode("utf-8")
    else:
        assert event["body"].encode("utf-8") == body


@PROPERTY
@given(size=st.integers(min_value=0, max_value=2 * API_GATEWAY_MAX_HEADER_BYTES))
def test_headers_pass_exactly_up_to_the_documented_size(shared: Gateway, size: int) -> None:
    # GIVEN a request whose headers (with one padded X-Pad header) add up to a known size
    shared.events.clear()
    request_line = len("POST /v1/events HTTP/1.1\r\n")
    fixed = {
        "Host": f"{shared.server.host}:{shared.server.port}",
        "Accept-Encoding": "identity",
        "x-api-key": API_KEY,
        "Content-Type": "application/json",
        "Content-Length": "2",
    }
    fixed_bytes = request_line + sum(len(f"{name}: {value}\r\n") for name, value in fixed.items())
    pad = max(size - fixed_bytes - len("X-Pad: \r\n"), 0)
    total = fixed_bytes + len("X-Pad: \r\n") + pad
    # WHEN it is posted
    status = post(shared, b"{}", {"X-Pad": "p" * pad})
    # THEN it passes up to 10,240 bytes and is a 431 beyond, never reaching the function
    assert status == (202 if total <= API_GATEWAY_MAX_HEADER_BYTES else 431)
    assert len(shared.events) == (1 if status == 202 else 0)
    if status == 202:
        assert shared.events[0]["headers"]["X-Pad"] == "p" * pad
