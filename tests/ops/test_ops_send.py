"""`invoke send` against a stand-in for the API that answers with the ingest function's documented contract
(202 {"accepted", "ids"}, 4xx/5xx {"error": CODE, ...}, API Gateway's own 403 {"message"})."""

from __future__ import annotations

import io
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from local.console.json_reply import reply_json
from ops.errors import OpsError
from ops.send import Sender, read_events, send_events, write_ids

API_KEY = "test-api-key-value"


class FakeApi(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict] = []
        self.unavailable = 0  # answer this many requests with 503 first

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    server: FakeApi

    def log_message(self, *args: object) -> None:
        return None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        events = json.loads(body)
        key = self.headers.get("Idempotency-Key")
        self.server.requests.append(
            {"path": self.path, "events": len(events), "key": key, "type": self.headers.get("Content-Type")}
        )
        if self.headers.get("x-api-key") != API_KEY:
            return self._answer(403, {"message": "Forbidden"})
        if self.server.unavailable:
            self.server.unavailable -= 1
            return self._answer(503, {"error": "queue_unavailable", "message": "retry later"}, {"Retry-After": "0"})
        if any(event.get("bad") for event in events):
            return self._answer(400, {"error": "not_an_object", "message": "event 1 is not an object"})
        ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key}:{index}")) for index in range(len(events))]
        return self._answer(202, {"accepted": len(ids), "ids": ids})

    def _answer(self, status: int, body: dict, headers: dict | None = None) -> None:
        reply_json(self, status, body, headers)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    server = FakeApi()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def write_jsonl(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(event) + "\n" for event in events))
    return path


def send(api: FakeApi, path: Path, **limits: int):
    options = {"max_events": 500, "max_body_bytes": 1_048_576, "max_event_bytes": 262_144, **limits}
    sender = Sender(api.url, API_KEY, sleep=lambda _: None)
    return send_events(read_events(str(path)), sender, **options)


def test_events_go_in_batches_and_every_accepted_id_comes_back(api: FakeApi, tmp_path: Path) -> None:
    # GIVEN 1,203 events in a JSON Lines file
    path = write_jsonl(tmp_path / "events.jsonl", [{"n": n} for n in range(1203)])
    # WHEN sent with batches of at most 500
    result = send(api, path)
    # THEN three requests to /v1/events carry 500, 500 and 203, as JSON with the API key
    assert [request["events"] for request in api.requests] == [500, 500, 203]
    assert {request["path"] for request in api.requests} == {"/v1/events"}
    assert {request["type"] for request in api.requests} == {"application/json"}
    # AND all 1,203 ids come back, distinct, nothing rejected
    assert result.accepted == 1203 and len(set(result.accepted_ids)) == 1203
    assert not result.rejected
    assert result.summary() == ["accepted 1203 of 1203 events in 3 requests"]


def test_rejections_are_counted_with_status_and_error_code(api: FakeApi, tmp_path: Path) -> None:
    # GIVEN 6 events: a batch of 2 the API refuses, and one event over the size limit
    events = [{"n": 0}, {"n": 1}, {"bad": True, "n": 2}, {"n": 3}, {"big": "x" * 300}, {"n": 5}]
    path = write_jsonl(tmp_path / "events.jsonl", events)
    # WHEN sent in batches of 2 with a 100-byte event limit
    result = send(api, path, max_events=2, max_event_bytes=100)
    # THEN the too-large event never left (it would sink its whole batch), the refused batch is
    # reported with "400 not_an_object" and its lines, and the rest is accepted
    assert result.accepted == 3
    assert dict(result.rejected) == {"400 not_an_object": 2, "event_too_large (over 100 bytes; not sent)": 1}
    summary = "\n".join(result.summary())
    assert "400 not_an_object: 2 (lines 3, 4)" in summary and "(lines 5)" in summary


def test_a_503_is_retried_with_the_same_idempotency_key(api: FakeApi, tmp_path: Path) -> None:
    api.unavailable = 2
    path = write_jsonl(tmp_path / "events.jsonl", [{"n": n} for n in range(3)])
    result = send(api, path)
    assert result.accepted == 3 and result.requests == 3
    assert len({request["key"] for request in api.requests}) == 1  # a retry can never store an event twice


def test_sending_the_same_file_twice_gets_the_same_ids(api: FakeApi, tmp_path: Path) -> None:
    # GIVEN a file of 7 events, two of its batches of 3 identical on purpose (the same event repeated)
    path = write_jsonl(tmp_path / "events.jsonl", [{"ping": 1}] * 6 + [{"n": 6}])
    # WHEN it is sent, and then sent again (an operator re-running after a crash or a timeout)
    first = send(api, path, max_events=3)
    second = send(api, path, max_events=3)
    # THEN the second run carries the same Idempotency-Keys, so the API gives the same ids: nothing stored twice
    assert second.accepted_ids == first.accepted_ids
    # AND identical batches at different places of the file are still different events
    assert len(set(first.accepted_ids)) == 7
    assert [request["key"] for request in api.requests[:3]] == [request["key"] for request in api.requests[3:]]


def test_a_wrong_api_key_is_reported_with_api_gateways_message(api: FakeApi, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "events.jsonl", [{"n": 1}])
    sender = Sender(api.url, "wrong-key", sleep=lambda _: None)
    result = send_events(read_events(str(path)), sender, max_events=500, max_body_bytes=10**6, max_event_bytes=10**5)
    assert dict(result.rejected) == {"403 Forbidden": 1}


def test_accepted_ids_can_be_written_for_reconcile(api: FakeApi, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "events.jsonl", [{"n": n} for n in range(4)])
    result = send(api, path)
    write_ids(str(tmp_path / "ids.txt"), result.accepted_ids)
    assert (tmp_path / "ids.txt").read_text().split() == result.accepted_ids


def test_events_can_come_from_stdin() -> None:
    events = read_events("-", stdin=io.StringIO('{"a": 1}\n\n{"b": 2}\n'))
    assert [(event.line, event.text) for event in events] == [(1, '{"a": 1}'), (3, '{"b": 2}')]


def test_an_event_holding_unicode_line_breaks_is_one_event() -> None:
    # GIVEN a JSON Lines file whose first event holds NEL, U+2028 and U+2029 unescaped in a string
    odd = json.dumps({"text": "a\x85b\u2028c\u2029d"}, ensure_ascii=False)
    # WHEN it is read
    events = read_events("-", stdin=io.StringIO(odd + '\n{"b": 2}\n'))
    # THEN one event per "\n"-ended line, its text as written
    assert [(event.line, event.text) for event in events] == [(1, odd), (2, '{"b": 2}')]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"a": 1}\n{"b": \n', r"events.jsonl:2: not valid JSON"),
        ('{"a": 1}\n[1, 2]\n', r"events.jsonl:2: expected a JSON object, got list"),
        ("\n\n", r"events.jsonl: no events"),
    ],
)
def test_a_bad_file_stops_before_anything_is_sent(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(content)
    with pytest.raises(OpsError, match=message):
        read_events(str(path))
    with pytest.raises(OpsError, match=r"absent\.jsonl: file not found"):
        read_events(str(tmp_path / "absent.jsonl"))


def test_an_api_that_does_not_answer_stops_the_run_instead_of_hanging(tmp_path: Path) -> None:
    # GIVEN an address where nothing listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = write_jsonl(tmp_path / "events.jsonl", [{"n": n} for n in range(50)])
    sender = Sender(f"http://127.0.0.1:{port}/v1", API_KEY, sleep=lambda _: None, max_attempts=2)
    # WHEN 50 events are sent in batches of 10
    result = send_events(read_events(str(path)), sender, max_events=10, max_body_bytes=10**6, max_event_bytes=10**5)
    # THEN two batches were tried (with their retries) and the other three not sent at all
    assert result.requests == 4
    assert dict(result.rejected) == {"no response (ConnectionError)": 20, "not sent: the API stopped answering": 30}


def test_one_request_is_one_request_in_the_summary(api: FakeApi, tmp_path: Path) -> None:
    # GIVEN a file of one event WHEN it is sent
    result = send(api, write_jsonl(tmp_path / "one.jsonl", [{"ping": 1}]))
    # THEN the summary counts in the right number ("in 1 requests" before)
    assert result.summary() == ["accepted 1 of 1 event in 1 request"]
