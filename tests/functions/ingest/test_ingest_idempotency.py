"""Idempotency-Key as the IETF httpapi draft and the payment APIs that popularised it answer it: a true retry
gets the first 202 again, a key reused with other events is a 422, a key whose first request is still running
is a 409, and only a request that queued every event is remembered."""

import json
import re
import threading
import time
from typing import Any

from botocore.exceptions import EndpointConnectionError

from functions.common.envelope import derived_event_id, events_fingerprint
from tests.functions.ingest.conftest import IDEMPOTENCY_TABLE
from tests.functions.support import (
    API_KEY_ID,
    FakeContext,
    api_request,
    fail_batch_entries,
    fail_calls,
    forget_keys,
    metric_values,
    scan,
)

KEY = "order-7f3a"
FIRST = '[{"n": 1}, {"n": 2}]'


def key_ids(events: list[str]) -> list[str]:
    """The ids a request of these event texts gets under KEY."""
    return [derived_event_id(API_KEY_ID, KEY, events_fingerprint(events), i) for i in range(len(events))]


FIRST_IDS = key_ids(['{"n": 1}', '{"n": 2}'])


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
    assert first == retry == (202, {"accepted": 2, "ids": FIRST_IDS})
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
    assert resent == (202, {"accepted": 2, "ids": FIRST_IDS})
    assert len(ingest.queued()) == 2


def test_an_unreachable_idempotency_table_does_not_stop_ingestion(ingest: Any) -> None:
    # GIVEN the idempotency table cannot be reached
    keyed = ingest.app.keyed_requests()
    fail_calls(keyed.client, "PutItem", lambda: EndpointConnectionError(endpoint_url="http://dynamodb"))
    # WHEN a keyed request arrives
    status, body = post(ingest, FIRST)
    # THEN its events are accepted with the ids of the key and these events (a retry gets the same ones: the
    # consumer never stores an event twice)
    assert (status, body["ids"]) == (202, FIRST_IDS)
    assert len(ingest.queued()) == 2


def test_an_unreachable_idempotency_table_costs_a_keyed_request_two_attempts(ingest: Any) -> None:
    # GIVEN an idempotency table whose every connection fails (botocore's defaults would retry for a minute)
    attempts: list[str] = []

    def unreachable(request: Any, **_: Any) -> None:
        attempts.append(request.url)
        raise EndpointConnectionError(endpoint_url=request.url)

    ingest.app.keyed_requests().client.meta.events.register_first("before-send.dynamodb", unreachable)
    # WHEN a keyed request arrives
    status, _ = post(ingest, FIRST)
    # THEN it is accepted after one attempt and one retry of the idempotency call
    assert (status, len(attempts)) == (202, 2)


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


# --- an accepted event is stored, or the client is told it was not (issue 32) -------------------------------
# The consumer keeps the first write of a key-derived id (functions/consumer/first_write.py): an id queued with
# two different events would lose one of them silently. So whatever a client does with a key, no id may name two
# different events.

EVENTS = [json.dumps({"n": n}) for n in range(4)]


def batch(events: list[str]) -> str:
    return "[" + ", ".join(events) + "]"


def texts_by_id(envelopes: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Each queued event id with the event texts queued under it."""
    texts: dict[str, set[str]] = {}
    for envelope in envelopes:
        texts.setdefault(envelope["event_id"], set()).add(envelope["raw"])
    return texts


def assert_each_event_has_an_id_of_its_own(queued: list[dict[str, Any]], sent: list[str]) -> None:
    by_id = texts_by_id(queued)
    assert {event_id: texts for event_id, texts in by_id.items() if len(texts) > 1} == {}
    assert sorted(text for texts in by_id.values() for text in texts) == sorted(sent)


def test_resending_only_the_failed_events_under_the_same_key_loses_none(ingest: Any) -> None:
    # GIVEN a keyed batch of four whose last two the queue refuses (retries too): a partial 503
    fail_batch_entries(ingest.app.sqs, lambda _, entry_id: entry_id in {"2", "3"})
    partial = post(ingest, batch(EVENTS))
    # WHEN the client resends only those listed in `failed`, with the same key, as the 503 tells it to
    resent = post(ingest, batch(EVENTS[2:]))
    # THEN the resend is accepted under ids no accepted event has, and each of the four events is queued under
    # an id of its own: the consumer stores all four
    assert (partial[0], partial[1]["error"], [failure["index"] for failure in partial[1]["failed"]]) == (
        503,
        "partially_accepted",
        [2, 3],
    )
    assert resent[0] == 202 and set(resent[1]["ids"]).isdisjoint(partial[1]["ids"])
    assert_each_event_has_an_id_of_its_own(ingest.queued(), EVENTS)


def test_with_the_idempotency_table_unreachable_other_events_under_a_key_get_other_ids(ingest: Any) -> None:
    # GIVEN the idempotency table cannot be reached (so the key's first events are not remembered)
    keyed = ingest.app.keyed_requests()
    fail_calls(keyed.client, "PutItem", lambda: EndpointConnectionError(endpoint_url="http://dynamodb"))
    # WHEN two requests with one key bring different events, and the first is retried
    first, other, retry = (
        post(ingest, batch(EVENTS[:2])),
        post(ingest, batch(EVENTS[2:])),
        post(ingest, batch(EVENTS[:2])),
    )
    # THEN each is accepted; the retry gets the first's ids, and the other events ids of their own
    assert [status for status, _ in (first, other, retry)] == [202, 202, 202]
    assert retry[1]["ids"] == first[1]["ids"] and set(other[1]["ids"]).isdisjoint(first[1]["ids"])
    assert_each_event_has_an_id_of_its_own(ingest.queued(), EVENTS)  # the retry queued its ids again: harmless


def test_a_key_used_again_after_it_was_forgotten_gives_other_events_other_ids(ingest: Any) -> None:
    # GIVEN a keyed request that was accepted, and whose key the idempotency table then forgot (it expired)
    first = post(ingest, batch(EVENTS[:2]))
    forget_keys(IDEMPOTENCY_TABLE)
    # WHEN the key comes back with other events
    other = post(ingest, batch(EVENTS[2:]))
    # THEN they are accepted under ids of their own
    assert (first[0], other[0]) == (202, 202) and set(other[1]["ids"]).isdisjoint(first[1]["ids"])
    assert_each_event_has_an_id_of_its_own(ingest.queued(), EVENTS)
