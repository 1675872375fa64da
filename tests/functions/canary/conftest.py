"""The canary handler against a fake public API (a real HTTP server on 127.0.0.1) and a mocked table and key."""

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest

from tests.functions.support import create_table, load_module, plain_client

TABLE = "sluice-events"
ANALYTICS_BUCKET = "sluice-analytics"

# What the fake API does with one request: (status, JSON body); it may store the event as the pipeline would.
Behaviour = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


@dataclass
class FakeApi:
    behaviour: Behaviour
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)


@dataclass
class Canary:
    app: ModuleType
    api: FakeApi
    key_value: str

    def answer(self, behaviour: Behaviour) -> None:
        self.api.behaviour = behaviour

    @staticmethod
    def store(event_id: str) -> None:
        """The pipeline's part: the consumer stores the item."""
        plain_client("dynamodb").put_item(
            TableName=TABLE, Item={"event_id": {"S": event_id}, "canary": {"BOOL": True}, "expires_at": {"N": "1"}}
        )

    @staticmethod
    def store_object(event_id: str) -> None:
        """The pipeline's part without the table: the consumer writes the canary event's own object."""
        plain_client("s3").put_object(Bucket=ANALYTICS_BUCKET, Key=f"canary/{event_id}.json", Body=b"{}")


def _server(api: FakeApi) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            api.received.append(({name.lower(): value for name, value in self.headers.items()}, body))
            status, answer = api.behaviour(body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def canary(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Canary]:
    create_table(TABLE, "event_id")
    key = plain_client("apigateway").create_api_key(name="sluice-test-canary-key", enabled=True)
    api = FakeApi(lambda body: (500, {}))
    server = _server(api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name, value in {
        "API_URL": f"http://127.0.0.1:{server.server_address[1]}/v1",
        "CANARY_API_KEY_ID": key["id"],
        "TABLE_NAME": TABLE,
        "DEADLINE_SECONDS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        yield Canary(load_module("functions.canary.app"), api, key["value"])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def s3_canary(canary: Canary, monkeypatch: pytest.MonkeyPatch) -> Canary:
    """The canary of an S3-only environment: no TABLE_NAME, it reads the consumer's canary object instead."""
    plain_client("s3").create_bucket(Bucket=ANALYTICS_BUCKET)
    monkeypatch.delenv("TABLE_NAME")
    monkeypatch.setenv("ANALYTICS_BUCKET", ANALYTICS_BUCKET)
    canary.app = load_module("functions.canary.app")
    return canary
