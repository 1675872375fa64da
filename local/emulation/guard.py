"""The guard in front of the local stack's moto server: only what local/emulation/local_only.py lets through reaches
moto.

moto answers any caller and sends `Access-Control-Allow-Origin: *`, so without it any web page the developer
opens could read the API keys, scan the table and plant dashboards through the emulator's port. Local tools —
botocore and the AWS CLI, the runtime's pollers and gateway, Locust — send `Host: 127.0.0.1:PORT` (or
localhost) and no Origin, and pass unchanged. A refusal is a 403 with a JSON error, before moto sees it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from local.emulation.local_only import refusal

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LocalOnly:
    """WSGI middleware: answers 403 to a request local_only's rule refuses, passes the rest to `app`."""

    def __init__(self, app: WsgiApp, port: int) -> None:
        self.app = app
        self.port = port

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        reason = refusal(
            self.port, environ.get("HTTP_HOST"), environ.get("HTTP_ORIGIN"), environ.get("HTTP_SEC_FETCH_SITE")
        )
        if reason is None:
            return self.app(environ, start_response)
        body = json.dumps({"error": "forbidden", "message": reason}).encode()
        start_response(
            "403 Forbidden",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")],
        )
        return [body]
