"""Properties of ingest over generated requests: never a 5xx (but 503 for a broken queue), never a
202 for an event that is not in the queue, no exception for mutated real API Gateway events."""

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from tests.functions.support import (
    FakeContext,
    api_request,
    create_table,
    drain,
    fail_batch_entries,
    fail_calls,
    forget_keys,
    load_module,
    mutated,
    plain_client,
)

IDEMPOTENCY_TABLE = "sluice-idempotency-properties"
PROPERTY = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(st.text(max_size=6), json_values, max_size=5)
documents = (
    objects.map(json.dumps)
    | st.lists(objects, max_size=7).map(lambda items: json.dumps(items, indent=1))
    | st.lists(json_values, max_size=3).map(json.dumps)
    | json_values.map(json.dumps)
)
bodies = (
    documents
    | st.tuples(documents, st.integers(min_value=0, max_value=400)).map(lambda pair: pair[0][: pair[1]])
    | st.text(max_size=200)
    | st.none()
)
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON;CHARSET=UTF8", "text/plain", ""]
) | st.text(max_size=30)


small_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=3)
valid_bodies = small_objects.map(json.dumps) | st.lists(small_objects, min_size=1, max_size=5).map(json.dumps)
valid_content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "Application/JSON"])


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """Half of them well-formed (so the queue is really exercised), half anything at all."""
    well_formed = draw(st.booleans())
    body = draw(valid_bodies if well_formed else bodies)
    content_type = draw(valid_content_types if well_formed else content_types)
    headers = {draw(st.sampled_from(["Content-Type", "content-type", "CONTENT-TYPE"])): content_type}
    if draw(st.booleans()):
        headers["Idempotency-Key"] = draw(st.text(max_size=20))
    event = api_request(None, content_type=None, headers=headers)
    encoded = draw(st.booleans())
    if encoded and body is not None:
        encoded_body = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
        body = encoded_body if well_formed else draw(st.sampled_from([encoded_body, body]))
    return event | {"body": body, "isBase64Encoded": encoded}


class QueueFaults:
    """Switchable faults on the handler's SQS client, set per generated example."""

    def __init__(self) -> None:
        self.whole_call = False
        self.failing_entries: frozenset[str] = frozenset()

    def install(self, client: Any) -> None:
        fail_calls(client, "SendMessage", "ServiceUnavailable", when=lambda _: self.whole_call)
        fail_calls(client, "SendMessageBatch", "ServiceUnavailable", when=lambda _: self.whole_call)
        fail_batch_entries(client, lambda _, entry_id: entry_id in self.failing_entries)


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[Any, str, QueueFaults]]:
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        url = plain_client("sqs").create_queue(QueueName="sluice-ingest-properties")["QueueUrl"]
        patch.setenv("QUEUE_URL", url)
        create_table(IDEMPOTENCY_TABLE, "id")
        patch.setenv("IDEMPOTENCY_TABLE_NAME", IDEMPOTENCY_TABLE)
        patch.setenv("MAX_EVENT_BYTES", "300")
        patch.setenv("MAX_BODY_BYTES", "2000")
        patch.setenv("MAX_BATCH_EVENTS", "5")
        patch.setenv("RETRY_AFTER_SECONDS", "5")
        app = load_module("functions.ingest.app")
        faults = QueueFaults()
        faults.install(app.sqs)
        yield app, url, faults


def sent_text(event: dict[str, Any]) -> str:
    body = event["body"]
    return base64.b64decode(body).decode() if event.get("isBase64Encoded") is True else body


def check(app: Any, url: str, event: dict[str, Any], allowed: set[int]) -> None:
    # Each example is a first request: keys drawn again by later examples are not retries of earlier ones
    # (tests/functions/ingest/test_ingest_idempotency.py covers retries and reuse).
    forget_keys(IDEMPOTENCY_TABLE)
    response = app.handler(event, FakeContext())
    status, body = response["statusCode"], json.loads(response["body"])
    queued = {envelope["event_id"]: envelope["raw"] for envelope in map(json.loads, drain(url))}
    assert status in allowed, body
    if status == 202 or body.get("error") == "partially_accepted":
        # Every id the client is given is in the queue, and nothing else is.
        assert sorted(queued) == sorted(body["ids"]) and body["accepted"] == len(body["ids"])
    else:
        assert queued == {}
        assert body["error"] and (status == 500 or body["message"])
    if status == 202:
        # The standard library agrees the body is JSON, and each stored text is its element.
        document = json.loads(sent_text(event))
        elements = document if isinstance(document, list) else [document]
        assert [json.loads(queued[event_id]) for event_id in body["ids"]] == elements


@PROPERTY
@given(event=requests())
def test_generated_requests_get_no_5xx_and_202_only_when_queued(stack: Any, event: dict[str, Any]) -> None:
    # GIVEN a healthy queue and any body and headers
    app, url, faults = stack
    faults.whole_call, faults.failing_entries = False, frozenset()
    # WHEN the request is handled
    # THEN the answer is a 2xx or 4xx, and a 202 lists exactly the events in the queue
    check(app, url, event, {202, 400, 413, 415})


@PROPERTY
@given(
    event=requests(),
    whole_call=st.booleans(),
    failing=st.frozensets(st.sampled_from([str(index) for index in range(5)])),
)
def test_broken_queue_gives_503_never_a_false_202(
    stack: Any, event: dict[str, Any], whole_call: bool, failing: frozenset[str]
) -> None:
    # GIVEN a queue that refuses whole calls or some batch entries
    app, url, faults = stack
    faults.whole_call, faults.failing_entries = whole_call, failing
    # WHEN the request is handled
    # THEN 503 is the only 5xx, and accepted ids are exactly the queued events
    check(app, url, event, {202, 400, 413, 415, 503})


@PROPERTY
@given(event=mutated(api_request('[{"a": 1}, {"b": [true, null]}]', headers={"Idempotency-Key": "k"})))
def test_mutated_api_gateway_events_are_answered(stack: Any, event: dict[str, Any]) -> None:
    # GIVEN the real API Gateway event shape with fields removed or mistyped
    app, url, faults = stack
    faults.whole_call, faults.failing_entries = False, frozenset()
    # WHEN it is handled
    # THEN there is an HTTP answer, never an exception, and never a 5xx
    check(app, url, event, {202, 400, 413, 415})
