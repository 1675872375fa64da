"""Answering an HTTP request with a JSON body: the control API's one way to reply (and the test fakes')."""

import json
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any


def reply_json(
    handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> None:
    """Send `payload` as the JSON body of a `status` response, with its length (keep-alive needs it)."""
    data = json.dumps(payload, default=str).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)
