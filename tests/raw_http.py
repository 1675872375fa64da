"""One HTTP request with exactly the headers a test gives (Host too, when given): what a browser page or a
rebinding attack would send, which `requests` would rewrite."""

from __future__ import annotations

import http.client


def exact_request(
    host: str, port: int, method: str, path: str, headers: dict[str, str], body: bytes = b"", timeout: float = 30
) -> tuple[int, str]:
    """(status, body text) of one request with these headers and a Content-Length; nothing else is added."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()
