"""The bad-input cases: each maps to a documented status of the API contract (cloudformation/openapi.json),
and each body really is what its name says, as the ingest function judges it."""

from __future__ import annotations

import json

import pytest

from core.config import load_config
from core.paths import PROJECT_ROOT
from functions.ingest.config import IngestSettings
from functions.ingest.request import RequestRejected, lower_headers, parse_events
from loadtest.badinput import CASES, FORBIDDEN_MESSAGE, ApiLimits, BadCase
from loadtest.verdicts import judge_bad

OPENAPI = PROJECT_ROOT / "cloudformation" / "openapi.json"
API = load_config("local").api
LIMITS = ApiLimits(API.max_event_bytes, API.max_body_bytes, API.max_batch_events)


def case_named(name: str) -> BadCase:
    (case,) = (case for case in CASES if case.name == name)
    return case


def responses() -> dict[str, dict]:
    return json.loads(OPENAPI.read_text())["paths"]["/events"]["post"]["responses"]


def required_fields_of(status: int) -> list[set[str]]:
    """The required fields of each body the contract documents for `status` (one, or several with anyOf)."""
    document = json.loads(OPENAPI.read_text())
    schema = responses()[str(status)]["content"]["application/json"]["schema"]
    schemas = document["components"]["schemas"]
    return [set(schemas[option["$ref"].rsplit("/", 1)[1]]["required"]) for option in schema.get("anyOf", [schema])]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_case_expects_a_documented_error_status(case: BadCase) -> None:
    # GIVEN the contract's responses of POST /events
    documented = responses()
    # THEN the case's status is one of them, and an error (4XX)
    assert str(case.status) in documented
    assert 400 <= case.status < 500


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_expected_bodies_fit_the_documented_schema(case: BadCase) -> None:
    # GIVEN the bodies the contract documents for the case's status
    required = required_fields_of(case.status)
    # THEN the function's answers carry `error` only where the contract documents Error, and API Gateway's
    # answers (its validator's 400 included) carry `message` only where it documents GatewayMessage
    if case.codes:
        assert {"error"} in required
    if case.gateway_messages:
        assert {"message"} in required
    assert case.codes or case.gateway_messages


def test_the_cases_cover_every_documented_client_error_but_throttling() -> None:
    statuses = {case.status for case in CASES}
    client_errors = {int(status) for status in responses() if status.startswith("4")}
    # 429 is throttling: the ingest users meet it, not a bad input. 409 and 422 answer a second request with an
    # Idempotency-Key (in progress, or with other events): no single request is one; tests of
    # functions/ingest/keyed.py and tests/e2e/test_hostile_clients_e2e.py cover them.
    assert statuses == client_errors - {429, 409, 422}


@pytest.mark.parametrize("case", [case for case in CASES if case.api_key == "valid"], ids=lambda case: case.name)
def test_the_ingest_function_rejects_each_body_with_the_expected_status_and_code(case: BadCase) -> None:
    # GIVEN the case's body and content type as API Gateway hands them to the function
    event = {"body": case.body(LIMITS).decode(), "isBase64Encoded": False}
    headers = lower_headers({"Content-Type": case.content_type})
    settings = IngestSettings(
        "unused", LIMITS.max_event_bytes, LIMITS.max_body_bytes, LIMITS.max_batch_events, 5, "unused", 86_400
    )
    # WHEN the function parses it
    with pytest.raises(RequestRejected) as rejected:
        parse_events(event, headers, settings)
    # THEN it answers the case's status and one of its codes
    assert (rejected.value.status, rejected.value.code) == (case.status, *case.codes)


def test_api_key_cases_expect_api_gateways_forbidden() -> None:
    for name in ("missing_api_key", "wrong_api_key"):
        assert case_named(name).status == 403
        assert case_named(name).gateway_messages == {FORBIDDEN_MESSAGE}


def test_judge_bad_accepts_the_function_or_the_validator_for_a_400() -> None:
    case = case_named("malformed_json")
    assert judge_bad(case, 400, '{"error": "malformed_json", "message": "..."}').ok
    assert judge_bad(case, 400, '{"message": "Invalid request body"}').ok


def test_judge_bad_fails_the_wrong_status_or_an_undocumented_body() -> None:
    case = case_named("event_too_large")
    accepted = judge_bad(case, 202, '{"accepted": 1, "ids": ["x"]}')
    assert not accepted.ok and accepted.ids == ("x",)  # accepted by mistake: tracked for reconciliation
    assert "expected 413, got 202" in accepted.reason
    assert not judge_bad(case, 413, '{"error": "body_too_large"}').ok
    assert not judge_bad(case, 413, "<html>").ok


def test_oversized_bodies_are_just_over_their_limit() -> None:
    assert len(case_named("event_too_large").body(LIMITS)) == LIMITS.max_event_bytes + 1
    body = case_named("body_too_large").body(LIMITS)
    assert LIMITS.max_body_bytes < len(body) < LIMITS.max_body_bytes * 1.1
    assert all(len(json.dumps(event, separators=(",", ":"))) <= LIMITS.max_event_bytes for event in json.loads(body))
    assert len(json.loads(case_named("batch_too_long").body(LIMITS))) == LIMITS.max_batch_events + 1
