"""The ingest handler: POST /events → SQS, answered as the API contract says."""

import json
import re
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from functions.common.contract import PRODUCER_ACCEPTED_FIELD, PRODUCER_FIELD, PRODUCER_REJECTED_FIELD
from functions.common.envelope import parse_envelope
from functions.common.errors import ConfigError
from tests.functions.support import (
    API_KEY_ID,
    API_KEY_VALUE,
    TRACE_HEADER,
    FakeContext,
    api_request,
    count_calls,
    emf_blobs,
    fail_batch_entries,
    fail_calls,
    load_module,
    metric_values,
)

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
MILLIS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def call(ingest: Any, event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = ingest.app.handler(event, FakeContext())
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def test_single_event_is_queued_with_its_envelope(ingest: Any) -> None:
    # GIVEN one event, with the text exactly as a client might format it
    raw = '{ "type": "click",\n  "n": 1.50, "name": "Zoë \\u00e9" }'
    sends = count_calls(ingest.app.sqs, "SendMessage")

    # WHEN it is posted
    status, body, _ = call(ingest, api_request(raw))

    # THEN it is accepted with a ULID, sent with one SendMessage, and the envelope keeps the text as is
    assert status == 202
    assert body["accepted"] == 1 and ULID.match(body["ids"][0])
    assert len(sends) == 1
    [message] = ingest.queued()
    assert message == {
        "v": 1,
        "event_id": body["ids"][0],
        "raw": raw,
        "received_at": message["received_at"],
        "source_ip": "198.51.100.7",
        "user_agent": "sluice-tests/1.0",
        "api_key_id": API_KEY_ID,
        "request_id": "7f6a1c1e-request-id",
        "trace_id": TRACE_HEADER,
    }
    assert MILLIS_UTC.match(message["received_at"])
    assert parse_envelope(json.dumps(message)).raw == raw


def test_batch_elements_are_sliced_out_of_the_body_exactly(ingest: Any) -> None:
    # GIVEN an array of 23 objects whose texts use odd spacing, escapes and non-ASCII characters
    elements = [f'{{"i":{i}, "s" : "caf\\u00e9 \\"q\\" ü",\t"f":1e3}}' for i in range(23)]
    body_text = "[\n  " + " ,\r\n ".join(elements) + "\n]"
    batches = count_calls(ingest.app.sqs, "SendMessageBatch")

    # WHEN the batch is posted
    status, body, _ = call(ingest, api_request(body_text))

    # THEN all are accepted in order, sent 10 per SendMessageBatch, each raw text byte for byte
    assert status == 202 and body["accepted"] == 23 and len(set(body["ids"])) == 23
    assert [len(batch["Entries"]) for batch in batches] == [10, 10, 3]
    queued = {message["event_id"]: message["raw"] for message in ingest.queued()}
    assert [queued[event_id] for event_id in body["ids"]] == elements


def test_base64_body_and_charset_and_header_case_are_accepted(ingest: Any) -> None:
    # GIVEN a base64-encoded body with an upper-case content type carrying charset=UTF-8
    event = api_request('{"a": "ä"}', content_type=None, base64_body=True)
    event["headers"]["CONTENT-TYPE"] = "Application/JSON; Charset=UTF-8"

    # WHEN it is posted
    status, _, _ = call(ingest, event)

    # THEN the decoded text is what is stored
    assert status == 202
    assert [message["raw"] for message in ingest.queued()] == ['{"a": "ä"}']


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 202),
        ("application/json;charset=utf-8", 202),
        ("text/plain", 415),
        ("application/json; charset=latin-1", 415),
        ("application/jsonx", 415),
        (None, 415),
    ],
)
def test_content_type(ingest: Any, content_type: str | None, status: int) -> None:
    # GIVEN / WHEN a valid event is posted with this Content-Type
    got, body, _ = call(ingest, api_request('{"a":1}', content_type=content_type))

    # THEN only JSON in UTF-8 is accepted
    assert got == status
    if status == 415:
        assert body["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("", 400, "malformed_json"),
        (None, 400, "malformed_json"),
        ("{nope", 400, "malformed_json"),
        ('{"a":1} {"b":2}', 400, "malformed_json"),
        ('[{"a":1},]', 400, "malformed_json"),
        ('[{"a":1} {"b":2}]', 400, "malformed_json"),
        ('[{"a":1}}{"b":2}]', 400, "malformed_json"),
        ('{"a": NaN}', 400, "malformed_json"),
        ("[" * 100_00 + "]" * 100_00, 400, "malformed_json"),
        ("5", 400, "not_an_object"),
        ('"text"', 400, "not_an_object"),
        ('[{"a":1}, 2]', 400, "not_an_object"),
        ("[]", 400, "empty_batch"),
        (" [ ] ", 400, "empty_batch"),
        ("[" + ",".join(["{}"] * 31) + "]", 400, "batch_too_long"),
        ('{"pad":"' + "x" * 1000 + '"}', 413, "event_too_large"),
        ('[{}, {"pad":"' + "x" * 1000 + '"}]', 413, "event_too_large"),
        ("x" * 20001, 413, "body_too_large"),
    ],
)
def test_rejections(ingest: Any, capsys: pytest.CaptureFixture[str], body: str | None, status: int, code: str) -> None:
    # GIVEN a body that breaks one rule (limits: event 1000 B, body 20000 B, batch 30)
    # WHEN it is posted
    got, answer, _ = call(ingest, api_request(body))

    # THEN it is refused with the rule's code, nothing is queued and the reason is counted
    assert (got, answer["error"]) == (status, code)
    assert answer["message"]
    assert ingest.queued() == []
    blobs = emf_blobs(capsys.readouterr().out)
    [rejected] = [blob for blob in blobs if "EventsRejected" in blob]
    assert rejected["reason"] == code and rejected["EventsRejected"] == [1.0]
    # ... and the reason dimension stays on its own metric
    [main] = [blob for blob in blobs if "EventsAccepted" in blob]
    assert "reason" not in main and main["EventsAccepted"] == [0.0]


def test_body_size_is_checked_before_parsing(ingest: Any) -> None:
    # GIVEN a body that is both too large and not JSON
    # WHEN it is posted
    status, body, _ = call(ingest, api_request("{" * 20001))

    # THEN the size answer wins: the body was never parsed
    assert (status, body["error"]) == (413, "body_too_large")


def test_event_size_counts_utf8_bytes(ingest: Any) -> None:
    # GIVEN an event of about 500 characters but more than 1000 UTF-8 bytes
    raw = '{"s":"' + "é" * 497 + '"}'
    assert len(raw) < 1000 < len(raw.encode())

    # WHEN / THEN it is too large
    assert call(ingest, api_request(raw))[0] == 413


def test_idempotency_key_gives_stable_ids_per_key_api_key_and_index(ingest: Any) -> None:
    # GIVEN a batch sent twice with the same Idempotency-Key, and once with another key
    body_text = '[{"a":1},{"a":2}]'
    first = call(ingest, api_request(body_text, headers={"Idempotency-Key": "order-42"}))[1]["ids"]
    again = call(ingest, api_request(body_text, headers={"idempotency-key": "order-42"}))[1]["ids"]
    other = call(ingest, api_request(body_text, headers={"Idempotency-Key": "order-43"}))[1]["ids"]
    # ... and once more from another API key
    event = api_request(body_text, headers={"Idempotency-Key": "order-42"})
    event["requestContext"]["identity"]["apiKeyId"] = "key-id-2"
    other_key = call(ingest, event)[1]["ids"]

    # THEN the retry has the same ids (one event each in the table), the others do not
    assert first == again and len(set(first)) == 2
    assert not set(first) & set(other) and not set(first) & set(other_key)


def test_api_key_value_is_never_stored_or_logged(ingest: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a request carrying the API key value in its header and request context
    # WHEN it is accepted and when it is rejected
    call(ingest, api_request('{"a":1}'))
    call(ingest, api_request("{broken"))

    # THEN only the key's id is stored, and the value appears neither in the queue nor in any output
    messages = ingest.queued()
    assert messages[0]["api_key_id"] == API_KEY_ID
    assert API_KEY_VALUE not in json.dumps(messages)
    assert API_KEY_VALUE not in capsys.readouterr().out


def test_trace_id_falls_back_to_the_lambda_environment(ingest: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no X-Amzn-Trace-Id header but the runtime's trace variable
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-abc;Parent=def;Sampled=1")
    event = api_request('{"a":1}')
    del event["headers"]["X-Amzn-Trace-Id"]

    # WHEN it is posted
    call(ingest, api_request('{"a":1}', headers={}) | {"headers": event["headers"]})

    # THEN the envelope carries the runtime's trace id
    assert ingest.queued()[0]["trace_id"] == "Root=1-abc;Parent=def;Sampled=1"


def test_unreachable_queue_is_a_503_with_retry_after(ingest: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the queue endpoint cannot be reached
    fail_calls(ingest.app.sqs, "SendMessage", lambda: EndpointConnectionError(endpoint_url="https://sqs"))

    # WHEN an event is posted
    status, body, headers = call(ingest, api_request('{"a":1}'))

    # THEN the client is told to retry later, and the rejection is counted by reason
    assert (status, body["error"], headers["Retry-After"]) == (503, "queue_unavailable", "7")
    assert ingest.queued() == []
    [rejected] = [blob for blob in emf_blobs(capsys.readouterr().out) if "EventsRejected" in blob]
    assert rejected["reason"] == "queue_unavailable"


def test_missing_queue_fails_the_whole_batch_with_503(ingest: Any) -> None:
    # GIVEN SendMessageBatch is refused for the whole call
    fail_calls(ingest.app.sqs, "SendMessageBatch", "AWS.SimpleQueueService.NonExistentQueue")

    # WHEN a batch is posted
    status, body, _ = call(ingest, api_request('[{"a":1},{"a":2}]'))

    # THEN nothing was accepted
    assert (status, body["error"]) == (503, "queue_unavailable")


def test_failed_entries_are_retried(ingest: Any) -> None:
    # GIVEN SendMessageBatch fails entry 3 on its first attempt only
    fail_batch_entries(ingest.app.sqs, lambda call_number, entry_id: call_number == 1 and entry_id == "3")

    # WHEN a batch of 12 is posted
    status, body, _ = call(ingest, api_request("[" + ",".join(f'{{"i":{i}}}' for i in range(12)) + "]"))

    # THEN the retry queued it: all 12 accepted, all 12 in the queue
    assert status == 202
    assert sorted(message["event_id"] for message in ingest.queued()) == sorted(body["ids"])


def test_partial_acceptance_lists_exactly_what_is_in_the_queue(ingest: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN SendMessageBatch always fails entries 3 and 11
    fail_batch_entries(ingest.app.sqs, lambda _, entry_id: entry_id in {"3", "11"})

    # WHEN a batch of 12 is posted
    status, body, headers = call(ingest, api_request("[" + ",".join(f'{{"i":{i}}}' for i in range(12)) + "]"))

    # THEN a 503 names the 10 accepted ids and the 2 failed indexes, matching the queue exactly
    assert (status, body["error"], headers["Retry-After"]) == (503, "partially_accepted", "7")
    assert body["accepted"] == 10 and len(body["ids"]) == 10
    assert body["failed"] == [{"index": 3, "error": "queue_unavailable"}, {"index": 11, "error": "queue_unavailable"}]
    queued = ingest.queued()
    assert sorted(message["event_id"] for message in queued) == sorted(body["ids"])
    assert {json.loads(message["raw"])["i"] for message in queued} == set(range(12)) - {3, 11}
    output = capsys.readouterr().out
    assert metric_values(output, "EventsAccepted") == [10.0]
    [rejected] = [blob for blob in emf_blobs(output) if "EventsRejected" in blob]
    assert (rejected["reason"], rejected["EventsRejected"]) == ("partially_accepted", [2.0])


def test_large_events_are_split_by_batch_bytes(ingest: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN events so large that ten of them exceed SendMessageBatch's 1 MiB total
    monkeypatch.setenv("MAX_EVENT_BYTES", str(300 * 1024))
    monkeypatch.setenv("MAX_BODY_BYTES", str(6 * 1024 * 1024))
    ingest.app = load_module("functions.ingest.app")
    batches = count_calls(ingest.app.sqs, "SendMessageBatch")
    event_text = '{"pad":"' + "x" * (250 * 1024) + '"}'

    # WHEN 10 of them are posted
    status, body, _ = call(ingest, api_request("[" + ",".join([event_text] * 10) + "]"))

    # THEN each call stays under 1 MiB and all are queued
    assert status == 202 and body["accepted"] == 10
    assert all(sum(len(entry["MessageBody"]) for entry in batch["Entries"]) <= 1024 * 1024 for batch in batches)
    assert len(ingest.queued()) == 10


def test_metrics(ingest: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN / WHEN two events are accepted
    call(ingest, api_request('[{"a":1},{"bb":2}]'))

    # THEN EventsAccepted and BytesAccepted are published with only the service dimension
    [blob] = emf_blobs(capsys.readouterr().out)
    assert blob["EventsAccepted"] == [2.0] and blob["BytesAccepted"] == [float(len('{"a":1}{"bb":2}'))]
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Sluice"
    assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]] and blob["service"] == "ingest"
    assert "EventsRejected" not in blob


def test_each_count_names_its_producer_without_a_metric_per_producer(
    ingest: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN / WHEN one request is accepted and one rejected, both with the same API key
    call(ingest, api_request('{"a":1}'))
    call(ingest, api_request("[]"))

    # THEN every EMF record carries the key id as a property, never as a dimension (no metric per producer)
    blobs = emf_blobs(capsys.readouterr().out)
    assert len(blobs) == 3 and all(blob[PRODUCER_FIELD] == API_KEY_ID for blob in blobs)
    # ... with the counts as plain numbers, which the "Who is sending?" query sums
    assert sum(blob.get(PRODUCER_ACCEPTED_FIELD, 0) for blob in blobs) == 1
    assert sum(blob.get(PRODUCER_REJECTED_FIELD, 0) for blob in blobs) == 1
    dimensions = [
        name for blob in blobs for names in blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for name in names
    ]
    assert PRODUCER_FIELD not in dimensions


def test_unexpected_error_is_a_bare_500(ingest: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a fault nobody planned for
    def explode(bodies: list[str]) -> set[int]:
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(ingest.app.sender, "send", explode)

    # WHEN an event is posted
    status, body, _ = call(ingest, api_request('{"a":1}'))

    # THEN the client gets no detail
    assert (status, body) == (500, {"error": "internal_error"})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("QUEUE_URL", "", "QUEUE_URL is not set"),
        ("IDEMPOTENCY_TABLE_NAME", "", "IDEMPOTENCY_TABLE_NAME is not set"),
        ("IDEMPOTENCY_SECONDS", "10", "IDEMPOTENCY_SECONDS must be between"),
        ("MAX_EVENT_BYTES", "big", "MAX_EVENT_BYTES must be an integer"),
        ("MAX_EVENT_BYTES", str(400 * 1024), "MAX_EVENT_BYTES must be between"),
        ("MAX_BATCH_EVENTS", "0", "MAX_BATCH_EVENTS must be between"),
    ],
)
def test_configuration_fails_fast(
    ingest: Any, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    # GIVEN a missing or invalid variable
    monkeypatch.setenv(variable, value)

    # WHEN the module is imported
    # THEN one ConfigError names the variable
    with pytest.raises(ConfigError, match=message):
        load_module("functions.ingest.app")


def test_only_the_canarys_own_key_gets_canary_ids(ingest: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN ingest configured with the canary's key id
    monkeypatch.setenv("CANARY_API_KEY_ID", "canary-key-id")
    ingest.app = load_module("functions.ingest.app")
    canary_request = api_request('{"canary":true}', headers={"Idempotency-Key": "no-effect"})
    canary_request["requestContext"]["identity"]["apiKeyId"] = "canary-key-id"
    # WHEN the canary posts with its key, and a client posts a body that says "canary" with its own key
    canary_ids = call(ingest, canary_request)[1]["ids"]
    client_ids = call(ingest, api_request('{"canary":true}'))[1]["ids"]
    # THEN only the canary's event gets a canary id (a fresh one: it is marked, and expires, in the table)
    [canary_id] = canary_ids
    assert canary_id.startswith("canary-") and ULID.match(canary_id.removeprefix("canary-"))
    [client_id] = client_ids
    assert ULID.match(client_id)
    assert [message["event_id"] for message in ingest.queued()] == [canary_id, client_id]
