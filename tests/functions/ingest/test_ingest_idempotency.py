"""Idempotency-Key as the IETF httpapi draft and the payment APIs that popularised it answer it: a true retry
gets the first 202 again, a key reused with other events is a 422, a key whose first request is still running
is a 409, and only a request that queued every event is remembered."""

import json
import re
import threading
import time
from typing import Any

from botocore.exceptions import EndpointConnectionError

from functions.common.envelope import derived_event_id
from tests.functions.ingest.conftest import IDEMPOTENCY_TABLE
from tests.functions.support import (
    API_KEY_ID,
    FakeContext,
    api_request,
    fail_calls,
    metric_values,
    scan,
)

KEY = "order-7f3a"
FIRST = '[{"n": 1}, {"n": 2}]'


def post(ingest: Any, body: str, key: str = KEY) -> tuple[int, dict[str, Any]]:
    response = ingest.app.handler(api_request(body, headers={"Idempotency-Key": key}), FakeContext())
    return response["statusCode"], json.loads(response["body"])


def test_a_true_retry_gets_the_first_answer_and_queues_nothing(ingest: Any, capsys: Any) -> None:
    # GIVEN a keyed request that was accepted
    first = post(ingest, FIRST)
    queued_first = ingest.queued()
    capsys.readouterr()
    # WHEN the client retries it (same key, same events)
    retry = post(ingest, FIRST)
    # THEN it gets the same 202 body, and nothing is queued a second time (nor counted as accepted)
    assert first == retry == (202, {"accepted": 2, "ids": [derived_event_id(API_KEY_ID, KEY, i) for i in range(2)]})
    assert len(queued_first) == 2 and ingest.queued() == []
    assert metric_values(capsys.readouterr().out, "EventsAccepted") == [0.0]


def test_a_key_reused_with_other_events_is_a_422_and_queues_nothing(ingest: Any) -> None:
    # GIVEN a keyed request that was accepted
    post(ingest, FIRST)
    ingest.queued()
    # WHEN the same key comes with other events, with fewer, or with more
    answers = [post(ingest, body) for body in ('[{"n": 1}, {"n": 999}]', '{"n": 1}', FIRST[:-1] + ', {"n": 3}]')]
    # THEN each is a 422 with a JSON error, and none of their events reaches the queue
    for status, body in answers:
        assert (status, body["error"]) == (422, "idempotency_key_reused")
        assert "Idempotency-Key" in body["message"]
    assert ingest.queued() == []


def test_the_same_events_under_another_api_key_are_another_request(ingest: Any) -> None:
    # GIVEN the key was used by one API key
    post(ingest, FIRST)
    # WHEN another client (API key) uses the same Idempotency-Key with other events
    event = api_request('{"other": true}', headers={"Idempotency-Key": KEY})
    event["requestContext"]["identity"]["apiKeyId"] = "another-key-id"
    response = ingest.app.handler(event, FakeContext())
    # THEN it is accepted: keys belong to the API key that sent them
    assert response["statusCode"] == 202


def test_concurrent_identical_requests_yield_one_set_of_ids(ingest: Any) -> None:
    # GIVEN a keyed request held inside its SendMessageBatch call
    inside, release = threading.Event(), threading.Event()

    def hold(**_: Any) -> None:
        inside.set()
        release.wait(30)

    ingest.app.sqs.meta.events.register("before-call.sqs.SendMessageBatch", hold)
    answers: list[tuple[int, dict[str, Any]]] = []
    first = threading.Thread(target=lambda: answers.append(post(ingest, FIRST)))
    first.start()
    assert inside.wait(30)
    # WHEN an identical request arrives meanwhile, then the first finishes, then the second is retried
    meanwhile = post(ingest, FIRST)
    release.set()
    first.join(30)
    ingest.app.sqs.meta.events.unregister("before-call.sqs.SendMessageBatch", hold)
    retried = post(ingest, FIRST)
    # THEN the second was told to retry (409), its retry got the first answer, and the events are queued once
    assert (meanwhile[0], meanwhile[1]["error"]) == (409, "request_in_progress")
    assert answers == [retried] and retried[0] == 202
    assert len(ingest.queued()) == 2


def test_a_failed_send_is_forgotten_so_the_whole_body_can_be_resent(ingest: Any) -> None:
    # GIVEN a keyed request the queue refused
    fail_calls(ingest.app.sqs, "SendMessageBatch", "ServiceUnavailable", when=lambda n: n == 1)
    refused = post(ingest, FIRST)
    # WHEN the client resends it with the same key
    resent = post(ingest, FIRST)
    # THEN the first was a 503, the resend is accepted with the key's ids, and both events are queued
    assert (refused[0], refused[1]["error"]) == (503, "queue_unavailable")
    assert resent == (202, {"accepted": 2, "ids": [derived_event_id(API_KEY_ID, KEY, i) for i in range(2)]})
    assert len(ingest.queued()) == 2


def test_an_unreachable_idempotency_table_does_not_stop_ingestion(ingest: Any) -> None:
    # GIVEN the idempotency table cannot be reached
    keyed = ingest.app._keyed()
    fail_calls(keyed.client, "PutItem", lambda: EndpointConnectionError(endpoint_url="http://dynamodb"))
    # WHEN a keyed request arrives
    status, body = post(ingest, FIRST)
    # THEN its events are accepted with the key's ids (the consumer still never stores an event twice)
    assert (status, body["ids"]) == (202, [derived_event_id(API_KEY_ID, KEY, i) for i in range(2)])
    assert len(ingest.queued()) == 2


def test_the_key_is_remembered_with_a_fingerprint_not_the_events(ingest: Any) -> None:
    # GIVEN an accepted keyed request
    before = time.time()
    status, body = post(ingest, FIRST)
    # THEN its one record holds hashes of the key and of the events, the 202 body, and expires in a day
    [record] = scan(IDEMPOTENCY_TABLE)
    assert record.keys() == {"id", "status", "expiration", "in_progress_expiration", "validation", "data"}
    assert re.fullmatch(r"ingest-events#[0-9a-f]{64}", record["id"]["S"])
    assert re.fullmatch(r"[0-9a-f]{64}", record["validation"]["S"])
    assert (status, json.loads(json.loads(record["data"]["S"]))) == (202, body)
    assert int(before) + 86_400 <= int(record["expiration"]["N"]) <= time.time() + 86_400 + 1
