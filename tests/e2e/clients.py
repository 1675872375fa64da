"""What e2e modules drive the local stack with (the one place for traffic generators): a client posting batches
from a thread and keeping every answer, a paced background loop, and a client trickling events; and `drained`."""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from ops import local_output_keys
from tests.local_stack_harness import HarnessStack

RUN = uuid.uuid4().hex[:8]  # marks this test process's events


def traffic_event(label: str, **fields: Any) -> dict[str, Any]:
    """An event marked as this process's and `label`'s: `traffic_marker(label)` is in its stored text."""
    return {"run": RUN, "traffic": label, **fields}


def traffic_marker(label: str) -> str:
    """The text every `traffic_event(label, ...)` holds, as ingest stores it (the event's own JSON)."""
    return json.dumps({"run": RUN, "traffic": label})[1:-1]


def drained(status: dict, queues: tuple[str, ...] = ("ingest", "dead_letter")) -> bool:
    """The `queues` empty (nothing visible, nothing in flight) and nothing parked: whatever the stack accepted is
    stored or archived by now (events the store did not take wait in S3, not in the queue)."""
    depths = status["queues"]
    idle = all(depths[name]["visible"] == 0 and depths[name]["in_flight"] == 0 for name in queues)
    return idle and status["parked_objects"] == 0


class Background(threading.Thread):
    """Calls `step` every `interval` seconds until stopped or `limit` seconds have passed; `stop` re-raises
    what a step raised."""

    def __init__(self, step: Callable[[], None], interval: float, limit: float) -> None:
        super().__init__(daemon=True)
        self._step = step
        self._interval = interval
        self._deadline = time.monotonic() + limit
        self._stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        next_at = time.monotonic()
        try:
            while not self._stop_event.is_set() and time.monotonic() < self._deadline:
                self._step()
                # a steady pace; a late step delays the next one rather than crowding them
                next_at = max(next_at + self._interval, time.monotonic())
                self._stop_event.wait(next_at - time.monotonic())
        except BaseException as error:  # reported by stop()
            self.error = error

    def stop(self) -> None:
        self._stop_event.set()
        if self.ident is not None:  # started
            self.join(timeout=30)
        if self.error is not None:
            raise AssertionError(f"background step failed: {self.error!r}") from self.error


def stop_all(*threads: Background) -> None:
    """Stop every thread, then re-raise the first failure of a step."""
    failures = []
    for thread in threads:
        try:
            thread.stop()
        except AssertionError as failure:
            failures.append(failure)
    if failures:
        raise failures[0]


class Trickle:
    """Posts one small valid event per step and keeps what the API answered."""

    def __init__(self, stack: HarnessStack) -> None:
        self._stack = stack
        self.accepted: list[tuple[float, str]] = []  # (time posted, id)
        self.statuses: Counter[int] = Counter()

    def step(self) -> None:
        posted = time.time()
        response = self._stack.post_events({"kind": "alarms-e2e", "n": len(self.statuses)})
        self.statuses[response.status_code] += 1
        if response.status_code == 202:
            self.accepted += [(posted, event_id) for event_id in response.json()["ids"]]

    def ids(self, before: float = math.inf) -> list[str]:
        return [event_id for posted, event_id in self.accepted if posted < before]


@dataclass
class Exchange:
    events: list[dict[str, Any]]
    key: str | None
    status: int
    body: dict[str, Any]
    retry_after: str | None


@dataclass
class Traffic:
    """Posts batches of `batch` events from a background thread, `pause` apart: at most `max_requests`, for at
    most `max_seconds`; keeps every exchange (a broken one as status 0). Every other request (or each, with
    `keyed`) carries an Idempotency-Key. Each event is `traffic_event(label, ...)`: `traffic_marker(label)` finds
    them in the table."""

    stack: Any
    label: str
    batch: int = 5
    pause: float = 0.25
    max_requests: int = 120
    max_seconds: float = 25.0
    keyed: bool = False
    exchanges: list[Exchange] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, name=f"traffic-{self.label}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the traffic thread did not stop"

    def _run(self) -> None:
        session = requests.Session()
        deadline = time.monotonic() + self.max_seconds
        for number in range(self.max_requests):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            events = [traffic_event(self.label, request=number, i=i) for i in range(self.batch)]
            key = f"{RUN}-{self.label}-{number}" if self.keyed or number % 2 == 0 else None
            headers = {"x-api-key": self.stack.outputs[local_output_keys.API_KEY], "Content-Type": "application/json"}
            if key is not None:
                headers["Idempotency-Key"] = key
            try:
                response = session.post(
                    f"{self.stack.api_url}/events", data=json.dumps(events), headers=headers, timeout=30
                )
            except requests.RequestException as error:  # a broken exchange shows up as status 0
                self.exchanges.append(Exchange(events, key, 0, {"error": repr(error)}, None))
                continue
            body = response.json() if response.headers.get("Content-Type") == "application/json" else {}
            retry_after = response.headers.get("Retry-After")
            self.exchanges.append(Exchange(events, key, response.status_code, body, retry_after))
            self._stop.wait(self.pause)

    def statuses(self) -> Counter:
        return Counter(exchange.status for exchange in self.exchanges)

    def accepted(self) -> dict[str, dict[str, Any]]:
        """Event id → event, for every event a response said is in the queue (202, or 503 partially_accepted)."""
        accepted: dict[str, dict[str, Any]] = {}
        for exchange in self.exchanges:
            if exchange.status == 202:
                indexes = list(range(len(exchange.events)))
            elif exchange.status == 503 and exchange.body.get("error") == "partially_accepted":
                failed = {failure["index"] for failure in exchange.body["failed"]}
                indexes = [index for index in range(len(exchange.events)) if index not in failed]
            else:
                continue
            assert len(exchange.body["ids"]) == len(indexes), exchange
            accepted.update(
                {event_id: exchange.events[i] for event_id, i in zip(exchange.body["ids"], indexes, strict=True)}
            )
        return accepted

    def handed_out(self) -> list[str]:
        return [
            event_id
            for exchange in self.exchanges
            if exchange.status in (202, 503)
            for event_id in exchange.body.get("ids", [])
        ]
