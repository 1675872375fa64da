"""Careless and hostile clients against the local stack over real HTTP (issue 13's findings, end to end):
a reused Idempotency-Key destroys nothing, deep nesting pages nobody, oversized headers never reach an item,
bytes that are not UTF-8 are refused by ingest's own 400, and a 4,301-digit integer is stored as sent."""

from __future__ import annotations

import json
import socket

import pytest

from functions.common.item import decode

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-b")]


def drained(status: dict) -> bool:
    ingest = status["queues"]["ingest"]
    return ingest["visible"] == 0 and ingest["in_flight"] == 0


def stored_item(local_stack, event_id: str) -> dict:
    """The stored event's fields as the operators' tools read them (the item codec decoded)."""
    table = local_stack.client("dynamodb")
    item = table.get_item(TableName=local_stack.outputs["TableName"], Key={"event_id": {"S": event_id}})["Item"]
    return decode(item)


def test_a_reused_idempotency_key_is_a_422_and_the_stored_events_are_untouched(local_stack):
    # GIVEN two events accepted and stored under one Idempotency-Key
    headers = {"Idempotency-Key": "e2e-reuse-1"}
    first = local_stack.post_events([{"order": 1}, {"order": 2}], headers=headers)
    assert first.status_code == 202
    ids = first.json()["ids"]
    local_stack.wait_until(lambda status: drained(status) and local_stack.stored_ids(ids) == set(ids), 60, "storage")
    before = {event_id: stored_item(local_stack, event_id) for event_id in ids}
    # WHEN the key comes back with other events, fewer, and more; then as a true retry
    reused = [
        local_stack.post_events(body, headers=headers)
        for body in ([{"order": 9}, {"order": 8}], {"order": 1}, [{"order": 1}, {"order": 2}, {"order": 3}])
    ]
    retry = local_stack.post_events([{"order": 1}, {"order": 2}], headers=headers)
    local_stack.wait_until(drained, 60, "the ingest queue to drain")
    # THEN each reuse is a 422 with a JSON error, the retry gets the first answer, and the items are unchanged
    assert [(r.status_code, r.json()["error"]) for r in reused] == [(422, "idempotency_key_reused")] * 3
    assert (retry.status_code, retry.json()) == (202, first.json())
    assert {event_id: stored_item(local_stack, event_id) for event_id in ids} == before


def test_deep_nesting_is_a_400_never_a_5xx(local_stack):
    # GIVEN bodies nested 600 levels (past ingest's limit) and 1,000 levels (past the parser's recursion)
    for depth in (600, 1000):
        body = '{"e":' + "[" * depth + "]" * depth + "}"
        # WHEN posted
        response = local_stack.post_events(body)
        # THEN a documented 400
        assert response.status_code == 400, (depth, response.text)


def test_a_4301_digit_integer_is_stored_as_sent(local_stack):
    body = '{"n": ' + "9" * 4301 + "}"
    response = local_stack.post_events(body)
    assert response.status_code == 202
    [event_id] = response.json()["ids"]
    local_stack.wait_until(lambda status: local_stack.stored_ids([event_id]) == {event_id}, 60, "storage")
    assert stored_item(local_stack, event_id)["raw"] == body


def test_a_body_that_is_not_utf8_gets_ingests_own_400(local_stack):
    response = local_stack.post_events(b'{"name": "caf\xe9"}')
    assert (response.status_code, response.json()["error"]) == (400, "malformed_json")
    assert "not UTF-8" in response.json()["message"]


def ingest_invocations(local_stack) -> int:
    return local_stack.status()["functions"]["ingest"]["invocations"]


def test_a_60_kb_header_is_a_431_and_never_stored(local_stack):
    before = ingest_invocations(local_stack)
    response = local_stack.post_events({"a": 1}, headers={"User-Agent": "u" * 60_000})
    assert response.status_code == 431
    assert ingest_invocations(local_stack) == before  # the function never saw it: nothing to store


def test_a_smuggled_request_is_never_stored(local_stack):
    # GIVEN a request whose second Content-Length hides another request in its body
    host, port = local_stack.api_url.removeprefix("http://").split("/")[0].split(":")
    stage = local_stack.api_url.rstrip("/").rsplit("/", 1)[1]
    hidden = json.dumps({"smuggled": True})
    inner = (
        f"POST /{stage}/events HTTP/1.1\r\nHost: {host}\r\nx-api-key: {local_stack.outputs['ApiKey']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(hidden)}\r\n\r\n{hidden}"
    )
    outer = (
        f"POST /{stage}/events HTTP/1.1\r\nHost: {host}\r\nx-api-key: {local_stack.outputs['ApiKey']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: {2 + len(inner)}\r\n\r\n{{}}{inner}"
    )
    before = ingest_invocations(local_stack)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(outer.encode())
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    # THEN one 400 answers it, and the connection is closed before the hidden request is read
    assert received.startswith(b"HTTP/1.1 400") and received.count(b"HTTP/1.1 ") == 1
    assert ingest_invocations(local_stack) == before
