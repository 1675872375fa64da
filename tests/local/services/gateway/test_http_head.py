"""The strict request-head reader: well-formed heads pass byte for byte, every line off RFC 9112's grammar is
named, and the reader is bounded (line length, line count) and notices a client that went away."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from local.services.gateway.http_head import (
    MAX_FIELD_LINES,
    MAX_LINE_BYTES,
    HeadCutShort,
    HeadTooLarge,
    MalformedHead,
    read_field_lines,
)

REQUEST_LINE = b"POST /v1/events?a=1 HTTP/1.1\r\n"
TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Field values as RFC 9110 section 5.5 allows them: visible ASCII, obs-text, SP and HTAB inside.
VALUE_BYTES = st.binary().map(lambda raw: bytes(b for b in raw if b in b" \t" or 0x21 <= b <= 0x7E or b >= 0x80))


@given(
    fields=st.lists(st.tuples(st.text(TOKEN_CHARS, min_size=1, max_size=20), VALUE_BYTES), max_size=20),
    body=st.binary(max_size=20),
)
def test_a_well_formed_head_is_returned_byte_for_byte_and_the_body_left_unread(
    fields: list[tuple[str, bytes]], body: bytes
) -> None:
    # GIVEN a head of well-formed field lines followed by a body
    field_lines = b"".join(name.encode() + b": " + value + b"\r\n" for name, value in fields) + b"\r\n"
    stream = io.BytesIO(field_lines + body)
    # WHEN it is read
    # THEN the field lines come back exactly, and the stream is left at the body
    assert read_field_lines(REQUEST_LINE, stream) == field_lines
    assert stream.read() == body


@pytest.mark.parametrize(
    ("request_line", "reason"),
    [
        (b"POST /v1/events HTTP/1.1\n", "the request line ends in a bare LF"),
        (b"POST\r/v1/events HTTP/1.1\r\n", "bare CR in the request line"),
        (b"POST /v1/events HTTP/1.1\r\r\n", "bare CR in the request line"),
        (b"POST  /v1/events HTTP/1.1\r\n", "invalid request line"),
        (b"POST\t/v1/events HTTP/1.1\r\n", "invalid request line"),
        (b"GET /\r\n", "invalid request line"),
        (b"\r\n", "invalid request line"),
    ],
)
def test_a_malformed_request_line_is_named(request_line: bytes, reason: str) -> None:
    # GIVEN a request line off RFC 9112 section 3's grammar, with good field lines after it
    # WHEN it is read
    # THEN the reader refuses it and says why
    with pytest.raises(MalformedHead, match=f"^{re.escape(reason)}$"):
        read_field_lines(request_line, io.BytesIO(b"Host: a\r\n\r\n"))


@pytest.mark.parametrize(
    ("field_line", "reason"),
    [
        (b"Host: a\n", "a header line ends in a bare LF"),
        (b"Host: a\rX-B: 1\r\n", "bare CR in a header line"),
        (b"\rHost: a\r\n", "bare CR in a header line"),
        (b" X-Fold: a\r\n", "obsolete line folding (a header line starting with whitespace)"),
        (b"\tX-Fold: a\r\n", "obsolete line folding (a header line starting with whitespace)"),
        (b"Host a\r\n", "a header line without a colon"),
        (b"Host : a\r\n", "invalid header name (or whitespace before its colon)"),
        (b": a\r\n", "invalid header name (or whitespace before its colon)"),
        (b"X(y): a\r\n", "invalid header name (or whitespace before its colon)"),
        (b"Host: a\x00b\r\n", "NUL in a header value"),
    ],
)
def test_a_malformed_field_line_is_named(field_line: bytes, reason: str) -> None:
    # GIVEN a good first field line, then one off RFC 9112 section 5's grammar
    stream = io.BytesIO(b"Host: a\r\n" + field_line + b"\r\n")
    # WHEN the head is read
    # THEN the reader refuses it and says why
    with pytest.raises(MalformedHead, match=f"^{re.escape(reason)}$"):
        read_field_lines(REQUEST_LINE, stream)


@pytest.mark.parametrize("received", [b"", b"Host: a\r\n", b"Host: a\r\nX-B: partial"])
def test_a_head_cut_short_by_the_end_of_the_stream_is_not_a_request(received: bytes) -> None:
    # GIVEN a client that closed its side before the empty line ending the head
    # WHEN the head is read
    # THEN the reader says so (the caller answers nothing)
    with pytest.raises(HeadCutShort):
        read_field_lines(REQUEST_LINE, io.BytesIO(received))


def test_the_reader_is_bounded_in_line_length_and_line_count() -> None:
    # GIVEN a field line one byte over the limit, and one field line too many
    too_long = b"X-Long: " + b"a" * MAX_LINE_BYTES + b"\r\n\r\n"
    too_many = b"X-A: 1\r\n" * (MAX_FIELD_LINES + 1) + b"\r\n"
    # WHEN each is read
    # THEN both are refused as too large, and the most allowed still passes
    with pytest.raises(HeadTooLarge):
        read_field_lines(REQUEST_LINE, io.BytesIO(too_long))
    with pytest.raises(HeadTooLarge):
        read_field_lines(REQUEST_LINE, io.BytesIO(too_many))
    most = b"X-A: 1\r\n" * MAX_FIELD_LINES + b"\r\n"
    assert read_field_lines(REQUEST_LINE, io.BytesIO(most)) == most
