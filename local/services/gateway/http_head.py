"""The head of an HTTP/1.1 request, read strictly: a line any two parsers could frame differently is refused.

Python's own parser is lenient where request smuggling lives: it ends a line at a bare LF, splits a field value
at a bare CR, ends the fields at a line without a colon (the rest becomes body) and joins a line that starts
with whitespace to the field before it. A proxy in front of such a server that reads the same bytes strictly
sees another set of headers, another body length, and so another request boundary. Here the request line and
every field line must match RFC 9112's grammar exactly, or the whole request is refused (the caller answers
400 and closes the connection, RFC 9112 section 2.2: "the server SHOULD respond with a 400 (Bad Request)
response and close the connection"):

- a line ends with CRLF only: a bare LF is not a line end (section 2.2 allows recognising one, "MAY"; a strict
  server does not) and a bare CR anywhere in the head is invalid (section 2.2: "A recipient of such a bare CR
  MUST consider that element to be invalid or replace each bare CR with SP");
- request-line = method SP request-target SP HTTP-version, each separated by one SP (section 3);
- field-line = field-name ":" OWS field-value OWS (section 5): a line without a colon, or with whitespace
  between the name and the colon, is invalid (section 5.1: "A server MUST reject, with a response status code
  of 400 (Bad Request), any received request message that contains whitespace between a header field name and
  colon");
- a field line that starts with SP or HTAB is an obs-fold (section 5.2: a server "MUST either reject the
  message by sending a 400 (Bad Request) ... or replace each received obs-fold with one or more SP octets"),
  and whitespace between the request line and the first field is invalid too (section 2.2);
- a field value holding NUL is refused (RFC 9110 section 5.5: CR, LF and NUL in a field value are "invalid and
  dangerous"; a recipient "MUST either reject the message or replace each of those characters with SP").
"""

from __future__ import annotations

import re
from typing import Protocol

# As http.client's parser bounds them: longest line, most field lines.
MAX_LINE_BYTES = 65_536
MAX_FIELD_LINES = 100

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # RFC 9110 section 5.6.2
_REQUEST_LINE = re.compile(_TOKEN + rb" [\x21-\x7e]+ HTTP/[0-9]\.[0-9]\r\n")
_FIELD_NAME = re.compile(_TOKEN)
_CRLF = b"\r\n"


class LineReader(Protocol):
    """A buffered binary stream: a socket's reader, or BytesIO in tests."""

    def readline(self, size: int = -1, /) -> bytes: ...


class MalformedHead(Exception):
    """The head breaks RFC 9112's grammar; the message says how, in a few words."""


class HeadTooLarge(Exception):
    """A field line longer than MAX_LINE_BYTES, or more than MAX_FIELD_LINES of them."""


class HeadCutShort(Exception):
    """The stream ended before the empty line that ends the head: the client went away."""


def read_field_lines(request_line: bytes, stream: LineReader) -> bytes:
    """Check `request_line`, then read the field lines that follow it from `stream` up to and including the
    empty line that ends them, checking each; returns those bytes, which any parser frames the same way."""
    check_request_line(request_line)
    lines: list[bytes] = []
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if len(line) > MAX_LINE_BYTES:
            raise HeadTooLarge("a header line over 65,536 bytes")
        if not line.endswith(b"\n"):
            raise HeadCutShort
        lines.append(line)
        if line == _CRLF:
            return b"".join(lines)
        if len(lines) > MAX_FIELD_LINES:
            raise HeadTooLarge(f"more than {MAX_FIELD_LINES} header lines")
        check_field_line(line)


def check_request_line(line: bytes) -> None:
    _check_line_end(line, "the request line")
    if not _REQUEST_LINE.fullmatch(line):
        raise MalformedHead("invalid request line")


def check_field_line(line: bytes) -> None:
    _check_line_end(line, "a header line")
    if line[:1] in (b" ", b"\t"):
        raise MalformedHead("obsolete line folding (a header line starting with whitespace)")
    name, colon, value = line[:-2].partition(b":")
    if not colon:
        raise MalformedHead("a header line without a colon")
    if not _FIELD_NAME.fullmatch(name):
        raise MalformedHead("invalid header name (or whitespace before its colon)")
    if b"\x00" in value:
        raise MalformedHead("NUL in a header value")


def _check_line_end(line: bytes, what: str) -> None:
    if not line.endswith(_CRLF):
        raise MalformedHead(f"{what} ends in a bare LF")
    if b"\r" in line[:-2]:
        raise MalformedHead(f"bare CR in {what}")
