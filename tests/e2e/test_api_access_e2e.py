"""Nobody is let in over real HTTP: no key or a wrong one is 403, a burst beyond the usage plan is 429, a body
over API Gateway's limit is 413 — each answered by API Gateway itself (its `{"message": ...}` body: ingest's own
refusals carry an `error`), and no event of a refused request is ever stored (each carries a marker of its own,
looked for in the table). The stack is shared: the canary and other tests call ingest meanwhile, so nothing here
counts the function's invocations."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from cloudformation import output_keys
from core.config import load_config
from local.services.gateway.proxy import API_GATEWAY_MAX_BODY_BYTES
from ops import local_output_keys
from tests.e2e.stack_helpers import assert_never_stored, created_value, keys_task

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-c")]

PARTNER = load_config("local").producers["partner"]
JSON = {"Content-Type": "application/json"}


def post(stack, data: bytes | str, headers: dict[str, str], path: str = "/events", **kwargs) -> requests.Response:
    return requests.post(f"{stack.api_url}{path}", data=data, headers={**JSON, **headers}, timeout=60, **kwargs)


def test_without_the_exact_key_nobody_gets_in_and_nothing_is_stored(local_stack):
    # GIVEN the valid key, and requests marked as this test's that carry everything but it in x-api-key
    key, key_id = local_stack.outputs[local_output_keys.API_KEY], local_stack.outputs[output_keys.API_KEY_ID]
    marker = f"intruder-{uuid.uuid4()}"
    body = json.dumps({"kind": "intruder", "marker": marker})
    # WHEN they are sent: no key, an empty one, the key's id, the key in another case, in another header, in the
    # query string
    answers = [
        post(local_stack, body, {}),
        post(local_stack, body, {"x-api-key": ""}),
        post(local_stack, body, {"x-api-key": key_id}),
        post(local_stack, body, {"x-api-key": key.swapcase()}),
        post(local_stack, body, {"Authorization": f"Bearer {key}"}),
        post(local_stack, body, {}, params={"x-api-key": key}),
    ]
    # AND with the key, routes that do not exist
    unknown = [
        requests.get(f"{local_stack.api_url}/events", headers={"x-api-key": key}, timeout=30),
        post(local_stack, body, {"x-api-key": key}, path="/admin"),
        requests.post(
            local_stack.api_url.rsplit("/", 1)[0] + "/v0/events", data=body, headers={"x-api-key": key}, timeout=30
        ),
    ]
    # THEN each is API Gateway's 403, and no event of theirs was ever stored
    assert [(answer.status_code, answer.json()) for answer in answers] == [(403, {"message": "Forbidden"})] * 6
    assert {(answer.status_code, answer.json()["message"]) for answer in unknown} == {
        (403, "Missing Authentication Token")
    }
    assert_never_stored(local_stack, marker)
    # AND the header name is case-insensitive, as HTTP says: the same request with the key gets in
    assert post(local_stack, body, {"X-API-KEY": key}).status_code == 202


def test_a_body_over_api_gateways_limit_is_refused_before_any_work(local_stack):
    # GIVEN events marked as this test's, in bodies just over API Gateway's 10 MB payload limit: declared by
    # Content-Length, and chunked
    key = {"x-api-key": local_stack.outputs[local_output_keys.API_KEY]}
    marker = f"oversized-body-{uuid.uuid4()}"
    head, tail = f'[{{"marker": "{marker}", "a": "'.encode(), b'"}]'
    oversized = head + b"x" * API_GATEWAY_MAX_BODY_BYTES + tail

    def chunks():
        yield head
        for _ in range(API_GATEWAY_MAX_BODY_BYTES // (1 << 20) + 1):
            yield b"x" * (1 << 20)
        yield tail

    # WHEN they are posted, with the key and without one
    answers = [post(local_stack, oversized, key), post(local_stack, oversized, {}), post(local_stack, chunks(), key)]
    # THEN each is API Gateway's 413 (the size is checked before the key, as API Gateway does), and never stored
    assert [(answer.status_code, answer.json()) for answer in answers] == [
        (413, {"message": "Request Entity Too Large"})
    ] * 3
    assert_never_stored(local_stack, marker)


def test_a_burst_beyond_the_usage_plan_is_throttled_with_429(local_stack):
    # GIVEN a key of the local partner class (5 requests/s, burst 5), seen by the gateway, and five bursts' worth
    # of requests, each cheap for the stack (a body the request validator refuses: throttling comes first, the
    # function never runs). With the default key's plan (100/s, burst 200) only a sender faster than 150
    # requests/s saw a 429, which a busy 2-core machine is not; 25 requests outrun this bucket at 6 a second.
    # Under the class's daily quota, with room for the refill check below: a 429 here is the rate's, not the quota's.
    count = 5 * PARTNER.burst_limit
    assert PARTNER.quota_limit is not None and count + 20 <= PARTNER.quota_limit
    value = created_value(keys_task(local_stack, "keys.create", f"burst-{uuid.uuid4().hex[:8]}", "--class", "partner"))
    key = {"x-api-key": value}
    local_stack.wait_until(
        lambda _: requests.get(f"{local_stack.api_url}/health", headers=key, timeout=10).status_code == 200,
        60,
        "the gateway to know the new key",
    )

    def one(_: int) -> tuple[int, str]:
        answer = post(local_stack, "[]", key)
        (message,) = answer.json().values()  # API Gateway's body holds its message only; ingest's has an `error`
        return answer.status_code, message

    # WHEN they are sent as fast as 16 clients can
    with ThreadPoolExecutor(16) as pool:
        answers = Counter(pool.map(one, range(count)))
    # THEN the burst beyond the plan got API Gateway's 429, the rest got as far as the validator (its 400, not
    # ingest's: the function never saw them)
    assert set(answers) == {(429, "Too Many Requests"), (400, "Invalid request body")}, answers
    assert answers[(400, "Invalid request body")] >= PARTNER.burst_limit // 2, answers  # the health check took one
    # AND the key's bucket refills (bounded wait)
    for _ in range(20):
        if post(local_stack, "[]", key).status_code != 429:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the key was still throttled 10 s after the burst")
