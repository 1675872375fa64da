"""The running local stack's control API on 127.0.0.1, for `invoke status|chaos|down` and load tests.

GET /status; GET /alarm-transitions?since=EPOCH; GET /metric-history?start=EPOCH&end=EPOCH (the series the alarms
read, for `invoke load`'s recording); GET /usage (GetUsage, for `invoke keys.list`); GET /producers (the local
gateway's admitted and refused requests per key, for `invoke local.dashboard`); POST /chaos {"fault", "seconds"};
POST /clock {"at"} (the notifier's business-hours clock, local/services/clock.py); POST /canary {"paused": bool};
POST /shutdown.
Everything else is the console's (local/console): GET / is the page a person opens in a browser.

Only local tools and the console page it serves may use it, not another web page the developer happens to
open: every request must pass local/emulation/local_only.py's rule (Host names this server, no foreign Origin, no
cross-site Sec-Fetch-Site; the emulator's guard applies the same), and a POST must be `Content-Type:
application/json` with a JSON object body (a cross-site page can send text/plain or form bodies without
asking; JSON needs a CORS preflight, which this server never grants). Refusals are 403 or 415 with a JSON error.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from datetime import date, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.console.json_reply import reply_json
from local.console.producer_table import producer_table
from local.console.routes import serve_get, serve_post
from local.console.running_stack import RunningStack
from local.console.views import ConsoleViews
from local.emulation.local_only import refusal
from local.services.faults import UnknownFaultError

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 4096


class ControlServer:
    def __init__(self, runtime: RunningStack, port: int) -> None:
        self._runtime = runtime
        handler = type("Handler", (_Handler,), {"runtime": runtime, "console": ConsoleViews(runtime)})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="control", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)


class _Handler(BaseHTTPRequestHandler):
    runtime: RunningStack
    console: ConsoleViews
    timeout = 10  # a local tool sends its request at once; a silent connection is let go

    def _refused(self) -> bool:
        port = self.connection.getsockname()[1]  # the server's own port
        headers = self.headers
        reason = refusal(port, headers.get("Host"), headers.get("Origin"), headers.get("Sec-Fetch-Site"))
        if reason is not None:
            self._reply(403, {"error": "forbidden", "message": reason})
            self.close_connection = True
        return reason is not None

    def do_GET(self) -> None:
        if self._refused():
            return
        url = urlsplit(self.path)
        if url.path == "/status":
            self._reply(200, self.runtime.status())
        elif url.path == "/alarm-transitions":
            since = float(parse_qs(url.query).get("since", ["0"])[0] or 0)
            transitions = [asdict(item) for item in self.runtime.transitions if item.time >= since]
            self._reply(200, transitions)
        elif url.path == "/metric-history":
            query = parse_qs(url.query)
            try:
                start, end = float(query["start"][0]), float(query["end"][0])
            except (KeyError, ValueError):
                self._reply(400, {"error": "bad_request", "message": "expected ?start=EPOCH&end=EPOCH"})
                return
            self._reply(200, self.runtime.metric_history(start, end))
        elif url.path == "/usage":
            self._usage(parse_qs(url.query))
        elif url.path == "/producers":  # what the local gateway decided per key (`invoke local.dashboard` draws it)
            self._reply(200, producer_table(self.runtime.usage_plans))
        elif not serve_get(self, self.console, url.path, url.query):
            self._reply(404, {"error": "not_found", "message": f"no {url.path}"})

    def do_POST(self) -> None:
        if self._refused():
            return
        if _media_type(self.headers) != "application/json":
            self._reply(415, {"error": "unsupported_media_type", "message": "Content-Type must be application/json"})
            self.close_connection = True
            return
        path = urlsplit(self.path).path
        try:
            body = self._json_body()
        except ValueError as error:
            self._reply(400, {"error": "bad_request", "message": str(error)})
            return
        if path == "/chaos":
            self._chaos(body)
        elif path == "/clock":
            self._clock(body)
        elif path == "/canary":
            self._canary(body)
        elif path == "/shutdown":
            self._reply(202, {"stopping": True})
            self.runtime.request_stop()
        elif not serve_post(self, self.console, path, body):
            self._reply(404, {"error": "not_found", "message": f"no {path}"})

    def _usage(self, query: dict[str, list[str]]) -> None:
        """GetUsage's answer from the local gateway's counts (moto has no GetUsage): `invoke keys.list` reads it."""
        plans = self.runtime.usage_plans
        try:
            plan_id, key_id = query["usagePlanId"][0], query["keyId"][0]
            start, end = date.fromisoformat(query["startDate"][0]), date.fromisoformat(query["endDate"][0])
        except (KeyError, ValueError):
            message = "expected ?usagePlanId=ID&keyId=ID&startDate=YYYY-MM-DD&endDate=YYYY-MM-DD"
            self._reply(400, {"error": "bad_request", "message": message})
            return
        if plans is None:
            self._reply(503, {"error": "unavailable", "message": "the local gateway is not running yet"})
            return
        self._reply(200, plans.usage(plan_id, key_id, start, end))

    def _chaos(self, body: dict[str, Any]) -> None:
        fault, seconds = body.get("fault"), body.get("seconds")
        try:
            if seconds == 0:
                self.runtime.chaos.lift(str(fault))
            elif isinstance(seconds, int | float) and not isinstance(seconds, bool):
                self.runtime.chaos.inject(str(fault), float(seconds))
            else:
                raise ValueError(f"seconds must be a number, got {seconds!r}")
        except (UnknownFaultError, ValueError, TypeError) as error:
            self._reply(400, {"error": "bad_fault", "message": str(error)})
            return
        self.runtime.say(f"chaos: {fault} {'lifted' if seconds == 0 else f'for {seconds} s'}")
        self._reply(200, {"active": self.runtime.chaos.active()})

    def _clock(self, body: dict[str, Any]) -> None:
        """{"at": ISO 8601 with an offset} moves the business-hours clock there; {"at": null} back to real time."""
        at = body.get("at")
        try:
            moment = None if at is None else datetime.fromisoformat(str(at))
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{at!r} has no UTC offset")
        except ValueError as error:
            self._reply(400, {"error": "bad_time", "message": str(error)})
            return
        self.runtime.clock.set(moment)
        now = self.runtime.clock.now().isoformat()
        self.runtime.say(f"clock: business hours now read {now}" if moment else "clock: back to real time")
        self._reply(200, {"now": now, "shifted": self.runtime.clock.shifted})

    def _canary(self, body: dict[str, Any]) -> None:
        canary, paused = self.runtime.canary, body.get("paused")
        if canary is None or not isinstance(paused, bool):
            message = "the canary is off in this environment" if canary is None else 'expected {"paused": true|false}'
            self._reply(400, {"error": "bad_canary", "message": message})
            return
        if paused:
            canary.pause()  # returns once a run in progress has ended
        else:
            canary.resume()
        self._reply(200, {"canary": "paused" if paused else "running"})

    def _json_body(self) -> dict[str, Any]:
        text = self.headers.get("Content-Length") or "0"
        if not (text.isascii() and text.isdigit()):
            self.close_connection = True
            raise ValueError("invalid Content-Length")
        length = int(text)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise ValueError("body too large")
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except RecursionError:
            raise ValueError("body nested too deeply") from None
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        return body

    def _reply(self, status: int, payload: Any) -> None:
        reply_json(self, status, payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("control: " + format, *args)


def _media_type(headers: Message) -> str:
    return (headers.get("Content-Type") or "").split(";")[0].strip().lower()
