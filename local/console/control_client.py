"""The one client of the local stack's control API (local/console/control.py): JSON over HTTP on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT_SECONDS = 30.0


class ControlError(RuntimeError):
    """The control API did not answer or refused the call; the message is one line."""


class Unreachable(ControlError):
    """Nothing answers at the control URL: the stack is down or crashed."""


class NotOffered(ControlError):
    """The running stack has no such endpoint (an older runtime)."""


class ControlClient:
    """A client of one running local stack's control API, found by its URL (the outputs' ControlUrl): status,
    faults, alarms. It owns no process: it talks to whichever stack answers there, started by anyone."""

    def __init__(self, url: str, http: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        # Without a session each call opens its own connection: safe from any thread.
        self._http: Any = http or requests

    def call(self, method: str, path: str, body: Any = None, timeout: float = TIMEOUT_SECONDS) -> Any:
        """The endpoint's JSON answer (None for an empty one)."""
        url = f"{self.url}{path}"
        try:
            response = self._http.request(method, url, json=body, timeout=timeout)
        except requests.RequestException as error:
            raise Unreachable(f"the local stack does not answer on {url} ({type(error).__name__})") from None
        if response.status_code == 404:
            raise NotOffered(f"the local stack offers no {method} {path}")
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400:
            message = payload.get("message") if isinstance(payload, dict) else None
            raise ControlError(f"{method} {path}: {message or f'{response.status_code} {response.text[:200]}'}")
        return payload

    def status(self) -> dict[str, Any]:
        status = self.call("GET", "/status")
        return status if isinstance(status, dict) else {}

    def inject(self, fault: str, seconds: float) -> Any:
        return self.call("POST", "/chaos", {"fault": fault, "seconds": seconds})

    def lift(self, fault: str) -> Any:
        return self.call("POST", "/chaos", {"fault": fault, "seconds": 0})
