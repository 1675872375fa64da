"""One canary run: in through the API with its own key, out of the table, metrics either way."""

from dataclasses import replace
from typing import Any

import pytest

from tests.functions.support import FakeContext, metric_values

SCHEDULED = {"source": "sluice.canary", "action": "probe"}  # the schedule's Input (cloudformation/canary.py)


def test_an_event_that_goes_in_and_comes_out_is_a_success(
    canary: Any, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an API that accepts the event and a pipeline that stores it
    def accepted_and_stored(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        canary.store("canary-01ABC")
        return 202, {"accepted": 1, "ids": ["canary-01ABC"]}

    canary.answer(accepted_and_stored)
    # WHEN the schedule runs the canary
    result = canary.app.handler(SCHEDULED, context)
    # THEN the run succeeded, sending its own key's value, and every metric says so
    assert (result["success"], result["reason"], result["event_id"]) == (True, "stored", "canary-01ABC")
    [(headers, body)] = canary.api.received
    assert headers["x-api-key"] == canary.key_value and body["canary"] is True
    output = capsys.readouterr().out
    assert metric_values(output, "CanarySuccess") == [1.0]
    assert metric_values(output, "CanaryAccepted") == [1.0]
    assert metric_values(output, "CanaryRequests") == [1.0]
    assert len(metric_values(output, "CanaryEndToEnd")) == 1 and len(metric_values(output, "CanaryApiLatency")) == 1
    # AND the key's value is in no log line
    assert canary.key_value not in output


def test_an_event_never_stored_fails_when_the_deadline_passes(
    canary: Any, context: FakeContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an API that accepts but a pipeline that stores nothing
    canary.answer(lambda body: (202, {"accepted": 1, "ids": ["canary-01LOST"]}))
    # WHEN the canary runs
    result = canary.app.handler(SCHEDULED, context)
    # THEN it fails, saying so, with no end-to-end time
    assert (result["success"], result["reason"]) == (False, "not stored within 1 s")
    output = capsys.readouterr().out
    assert metric_values(output, "CanarySuccess") == [0.0]
    assert metric_values(output, "CanaryAccepted") == [1.0]
    assert metric_values(output, "CanaryEndToEnd") == []


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ((503, {"error": "queue_unavailable"}), "not accepted (HTTP 503)"),
        ((403, {"message": "Forbidden"}), "not accepted (HTTP 403)"),
        ((202, {"accepted": 1, "ids": ["01NOTACANARY"]}), "accepted without a canary id"),
    ],
)
def test_a_refused_or_unmarked_event_is_a_failure_not_an_error(
    canary: Any, context: FakeContext, capsys: pytest.CaptureFixture[str], answer: tuple, reason: str
) -> None:
    # GIVEN an API that refuses the event, or accepts it without the canary's id
    canary.answer(lambda body: answer)
    # WHEN the canary runs
    result = canary.app.handler(SCHEDULED, context)
    # THEN the run is a failure with its reason, and the API's latency is still measured
    assert (result["success"], result["reason"]) == (False, reason)
    output = capsys.readouterr().out
    assert metric_values(output, "CanarySuccess") == [0.0]
    assert len(metric_values(output, "CanaryApiLatency")) == 1


def test_an_api_that_does_not_answer_is_a_failure(
    canary: Any, context: FakeContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an API URL where nothing listens
    monkeypatch.setattr(canary.app, "settings", replace(canary.app.settings, api_url="http://127.0.0.1:9/v1"))
    # WHEN the canary runs
    result = canary.app.handler(SCHEDULED, context)
    # THEN it fails with no answer and no API latency
    assert (result["success"], result["reason"]) == (False, "not accepted (HTTP no answer)")
    assert metric_values(capsys.readouterr().out, "CanaryApiLatency") == []


def test_a_canary_that_cannot_read_its_key_raises(
    canary: Any, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a key id that API Gateway does not know (the key was deleted)
    monkeypatch.setattr(canary.app, "settings", replace(canary.app.settings, api_key_id="nokey1"))
    monkeypatch.setattr(canary.app, "_api_key", [])
    # WHEN the canary runs THEN it raises: Lambda counts an error, and canary-errors pages
    with pytest.raises(canary.app.CanaryKeyError, match="cannot read API key nokey1"):
        canary.app.handler(SCHEDULED, context)


def test_without_the_table_the_canary_reads_its_event_back_from_the_analytics_bucket(
    s3_canary: Any, context: FakeContext
) -> None:
    # GIVEN an S3-only environment's canary, an API that accepts and a consumer that writes the canary's object
    def accepted_and_written(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        s3_canary.store_object("canary-01S3")
        return 202, {"accepted": 1, "ids": ["canary-01S3"]}

    s3_canary.answer(accepted_and_written)
    # WHEN the schedule runs it
    # THEN the run succeeds
    assert s3_canary.app.handler(SCHEDULED, context)["success"] is True
    # AND an event whose object never appears fails at the deadline
    s3_canary.answer(lambda body: (202, {"accepted": 1, "ids": ["canary-01NONE"]}))
    assert s3_canary.app.handler(SCHEDULED, context)["reason"] == "not stored within 1 s"
