"""What the ingest users send (payloads, profile) and how they judge the answers (verdicts)."""

from __future__ import annotations

import json
import random

import pytest

from loadtest.errors import LoadTestError
from loadtest.payloads import batch_body, event_json
from loadtest.profiles import PROFILES_PATH, load_profile
from loadtest.verdicts import judge_ingest


@pytest.mark.parametrize("size", [300, 1200, 8000, 64000])
def test_an_event_has_exactly_the_size_asked_for(size: int) -> None:
    text = event_json(random.Random(size), size)
    assert len(text.encode()) == size
    assert isinstance(json.loads(text), dict)


def test_an_event_smaller_than_its_skeleton_is_the_skeleton() -> None:
    text = event_json(random.Random(1), 10)
    assert json.loads(text)["notes"] == ""


def test_a_batch_is_a_json_array_and_a_single_event_is_the_object() -> None:
    events = [event_json(random.Random(n), 300) for n in range(3)]
    assert json.loads(batch_body(events)) == [json.loads(event) for event in events]
    assert batch_body(events[:1]) == events[0]


def test_the_local_profile_overrides_the_default() -> None:
    default, local = load_profile("prod"), load_profile("local")
    assert default.slo.p99_ms == 500 and local.slo.p99_ms == 1000
    assert max(item.value for item in local.batch_sizes) < max(item.value for item in default.batch_sizes)
    assert local.idempotency_share == default.idempotency_share  # not overridden: inherited


def test_profile_choices_follow_the_weights() -> None:
    profile = load_profile("local")
    rng = random.Random(7)
    sizes = [profile.batch_size(rng) for _ in range(2000)]
    assert set(sizes) <= {item.value for item in profile.batch_sizes}
    assert 0.8 < sizes.count(1) / len(sizes) < 0.9  # weight 85 of 100


def test_a_broken_profile_file_names_the_key(tmp_path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(PROFILES_PATH.read_text().replace("idempotency_share = 0.3", "idempotency_share = 2"))
    with pytest.raises(LoadTestError, match="idempotency_share"):
        load_profile("local", path)
    path.write_text("not toml [")
    with pytest.raises(LoadTestError, match="not valid TOML"):
        load_profile("local", path)


def test_202_with_one_id_per_event_is_a_success() -> None:
    verdict = judge_ingest(202, '{"accepted": 2, "ids": ["a", "b"]}', {}, events_sent=2)
    assert verdict.ok and verdict.ids == ("a", "b")


def test_202_with_the_wrong_number_of_ids_is_a_failure() -> None:
    assert not judge_ingest(202, '{"accepted": 1, "ids": ["a"]}', {}, events_sent=2).ok
    assert not judge_ingest(202, "not json", {}, events_sent=1).ok


def test_a_partial_503_fails_but_keeps_the_ids_that_were_accepted() -> None:
    body = '{"error": "partially_accepted", "accepted": 1, "ids": ["a"], "failed": [{"index": 1}]}'
    verdict = judge_ingest(503, body, {"Retry-After": "5"}, events_sent=2)
    assert not verdict.ok and verdict.ids == ("a",)
    assert verdict.reason == "503 partially_accepted (Retry-After 5)"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (503, '{"error": "queue_unavailable"}', "503 queue_unavailable without Retry-After"),
        (429, '{"message": "Too Many Requests"}', "429 throttled"),
        (0, "", "connection failed"),
        (500, '{"message": "Internal server error"}', 'unexpected 500: {"message": "Internal server error"}'),
    ],
)
def test_documented_and_undocumented_errors_are_failures_with_a_reason(status: int, body: str, reason: str) -> None:
    verdict = judge_ingest(status, body, {}, events_sent=1)
    assert (verdict.ok, verdict.reason, verdict.ids) == (False, reason, ())
