"""Fakes for the load-test tests: an HTTP API that keeps the ingest contract, and an in-memory stack view."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from loadtest.stack import QueueDepth, Transition
from local.console.json_reply import reply_json
from ops.outputs import Target, local_target_from
from ops.reconcile import StoreCounts

API_KEY = "fake-key"
MAX_EVENT_BYTES = 262_144
MAX_BODY_BYTES = 1_048_576
MAX_BATCH_EVENTS = 500


def _error(status: int, code: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": code, "message": code.replace("_", " ")}


def ingest(headers: dict[str, str], body: bytes, table: set[str]) -> tuple[int, dict[str, Any]]:
    """What API Gateway and the ingest function answer, in miniature."""
    if headers.get("x-api-key") != API_KEY:
        return 403, {"message": "Forbidden"}
    if headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _error(415, "unsupported_media_type")
    if len(body) > MAX_BODY_BYTES:
        return _error(413, "body_too_large")
    try:
        value = json.loads(body)
    except ValueError:
        return _error(400, "malformed_json")
    events = value if isinstance(value, list) else [value]
    if not events:
        return _error(400, "empty_batch")
    if len(events) > MAX_BATCH_EVENTS:
        return _error(400, "batch_too_long")
    if not all(isinstance(event, dict) for event in events):
        return _error(400, "not_an_object")
    if any(len(json.dumps(event, separators=(",", ":")).encode()) > MAX_EVENT_BYTES for event in events):
        return _error(413, "event_too_large")
    key = headers.get("idempotency-key")
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key}:{i}")) if key else str(uuid.uuid4()) for i in range(len(events))]
    table.update(ids)
    return 202, {"accepted": len(ids), "ids": ids}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        if self.path.rstrip("/") != "/v1/events":
            status, payload = 403, {"message": "Missing Authentication Token"}
        else:
            with self.server.lock:
                status, payload = ingest(headers, body, self.server.table)
                self.server.requests += 1
        reply_json(self, status, payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    table: set[str]
    lock: threading.Lock
    requests: int


class FakeApi:
    """`with FakeApi() as api:` serves on a free port of 127.0.0.1; `api.table` holds the stored ids."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.table = set()
        self._server.lock = threading.Lock()
        self._server.requests = 0
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def table(self) -> set[str]:
        return self._server.table

    @property
    def requests(self) -> int:
        return self._server.requests

    def __enter__(self) -> FakeApi:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


def fake_target(api_url: str = "http://127.0.0.1:1/v1") -> Target:
    """A local stack's target whose outputs point at fakes (nothing listens on port 1 or 2)."""
    return local_target_from(
        {
            "Env": "local",
            "ApiUrl": api_url,
            "ApiKey": API_KEY,
            "Region": "us-east-1",
            "TableName": "events",
            "QueueUrl": "http://127.0.0.1:1/queue/ingest",
            "DeadLetterQueueUrl": "http://127.0.0.1:1/queue/dlq",
            "AwsEndpoint": "http://127.0.0.1:1",
            "ControlUrl": "http://127.0.0.1:2",
        }
    )


class FakeStackView:
    """A stack whose table is a set (and S3 copy a Counter); alarms and transitions as the test sets them."""

    def __init__(
        self, table: set[str], alarms: dict[str, str] | None = None, s3_lines: Counter[str] | None = None
    ) -> None:
        self.table = table
        self.s3_lines = s3_lines  # lines per event id in the S3 analytics store; None: no analytics store
        self.alarms = alarms or {}
        self.transition_list: list[Transition] = []
        self.injected: list[tuple[str, float]] = []
        self.replays: list[float] = []
        self.lookups: list[int] = []
        self.depths = [QueueDepth()]

    def depth(self) -> QueueDepth:
        return self.depths.pop(0) if len(self.depths) > 1 else self.depths[0]

    def alarm_states(self) -> dict[str, str]:
        return dict(self.alarms)

    def transitions(self, since: float) -> list[Transition]:
        return [item for item in self.transition_list if item.time >= since]

    def stored(self, ids: Sequence[str]) -> set[str]:
        self.lookups.append(len(ids))
        return {event_id for event_id in ids if event_id in self.table}

    def analytics_counts(self, since: float) -> StoreCounts | None:
        """The fake store's lines are rows of the view: a repeated id is a duplicate, never an identical copy."""
        return None if self.s3_lines is None else StoreCounts(self.s3_lines, Counter(self.s3_lines), objects=1)

    def faults(self) -> dict[str, float]:
        return {}

    def inject(self, fault: str, seconds: float) -> None:
        self.injected.append((fault, seconds))

    def replay(self, since: float) -> Any:
        self.replays.append(since)
        return {"replayed": 0}

    def announce_web(self, url: str, seconds: float) -> None:
        self.announced = (url, seconds)

    def metric_history(self, start: float, end: float) -> dict[str, Any]:
        """One series of one datapoint per 10 s over the window, as the local stack's control API answers."""
        first, last = int(start) // 10 * 10, int(end) // 10 * 10 + 10
        stat = {"Metric": {"Namespace": "AWS/ApiGateway", "MetricName": "Count", "Dimensions": []}, "Period": 10}
        values = [[moment, 1.0] for moment in range(first, last, 10)]
        return {
            "env": "local",
            "start": first,
            "end": last,
            "markers": [],
            "series": [{"metric_stat": {**stat, "Stat": "Sum"}, "values": values}],
        }
