"""Deeply nested and huge-number JSON through every parser in the path: ingest, the local gateway's request
validator, the consumer, the archiver, replay and `invoke send`. A documented 400 (or a clear refusal of
that one record or line), never a 500, a crash or a traceback; integers of any length are valid JSON.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from cloudformation.api import events_request_schema
from functions.common.archive import read_archive_lines
from functions.common.contract import DEAD_LETTER_REASON_ATTRIBUTE
from functions.common.jsontext import MAX_NESTING_DEPTH
from local.services.gateway.validation import body_validator
from ops.errors import OpsError
from ops.send import read_events
from tests.functions.support import (
    FakeContext,
    api_request,
    create_table,
    drain,
    envelope_body,
    load_module,
    plain_client,
    sqs_event,
)

TABLE = "sluice-events-untrusted"
BUCKET = "sluice-archive-untrusted"
HUGE = "9" * 4301  # one digit past Python's default int-string limit
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def nested(depth: int, openers: list[str]) -> str:
    """An object whose one value nests `depth - 1` more arrays/objects: `depth` levels in all."""
    inner = "1"
    for level in range(depth - 1):
        opener = openers[level % len(openers)]
        inner = f"[{inner}]" if opener == "[" else f'{{"k":{inner}}}'
    return f'{{"e":{inner}}}'


@pytest.fixture(scope="module")
def apps() -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        queue = plain_client("sqs").create_queue(QueueName="sluice-ingest-untrusted")["QueueUrl"]
        dead_letters = plain_client("sqs").create_queue(QueueName="sluice-dead-letter-untrusted")["QueueUrl"]
        create_table(TABLE, "event_id")
        create_table("sluice-idempotency-untrusted", "id")
        plain_client("s3").create_bucket(Bucket=BUCKET)
        for name, value in {
            "QUEUE_URL": queue,
            "DEAD_LETTER_QUEUE_URL": dead_letters,
            "PARKING_BUCKET": "sluice-archive",
            "IDEMPOTENCY_TABLE_NAME": "sluice-idempotency-untrusted",
            "MAX_EVENT_BYTES": str(64 * 1024),
            "MAX_BODY_BYTES": str(64 * 1024),
            "TABLE_NAME": TABLE,
            "ARCHIVE_BUCKET": BUCKET,
            "RETRY_AFTER_SECONDS": "5",
        }.items():
            patch.setenv(name, value)
        yield {
            "ingest": load_module("functions.ingest.app"),
            "consumer": load_module("functions.consumer.app"),
            "archiver": load_module("functions.archiver.app"),
            "queue": queue,
            "dead_letters": dead_letters,
        }


def post(apps: dict[str, Any], body: str) -> tuple[int, dict[str, Any]]:
    response = apps["ingest"].handler(api_request(body), FakeContext())
    drain(apps["queue"])
    return response["statusCode"], json.loads(response["body"])


@PROPERTY
@given(depth=st.integers(min_value=1, max_value=3000), openers=st.lists(st.sampled_from("[{"), min_size=1, max_size=4))
def test_ingest_accepts_up_to_the_documented_depth_and_answers_400_beyond(
    apps: dict[str, Any], depth: int, openers: list[str]
) -> None:
    # GIVEN an event nested `depth` levels deep
    body = nested(depth, openers)
    # WHEN it is posted
    status, answer = post(apps, body)
    # THEN up to the documented limit it is accepted; past it, a 400 that says why — never a 500
    if depth <= MAX_NESTING_DEPTH:
        assert status == 202, answer
    else:
        assert (status, answer["error"]) == (400, "malformed_json")
        assert f"nested deeper than {MAX_NESTING_DEPTH} levels" in answer["message"]


@PROPERTY
@given(depth=st.integers(min_value=1, max_value=3000), openers=st.lists(st.sampled_from("[{"), min_size=1, max_size=4))
def test_the_local_request_validator_never_raises_on_nesting(depth: int, openers: list[str]) -> None:
    # GIVEN the local gateway's request validator and a body nested `depth` levels deep
    valid = body_validator(events_request_schema())
    # WHEN it checks the body
    verdict = valid(nested(depth, openers))
    # THEN it answers (a 400 'Invalid request body' at worst), and passes every depth ingest accepts
    assert verdict is True or depth > MAX_NESTING_DEPTH


def test_a_4301_digit_integer_is_valid_json_and_is_stored_as_sent(apps: dict[str, Any]) -> None:
    # GIVEN an event holding an integer longer than Python's int-string limit
    body = f'{{"n": {HUGE}}}'
    # WHEN it goes through the local validator and ingest
    response = apps["ingest"].handler(api_request(body), FakeContext())
    [queued] = [json.loads(message) for message in drain(apps["queue"])]
    # THEN both accept it, and its text is kept byte for byte
    assert body_validator(events_request_schema())(body) is True
    assert response["statusCode"] == 202
    assert queued["raw"] == body


def test_the_consumer_fails_only_a_deeply_nested_record(apps: dict[str, Any]) -> None:
    # GIVEN a batch of a good envelope and a body nested 5,000 levels deep
    event = sqs_event([envelope_body("deep-1"), "[" * 5000 + "]" * 5000], ["good", "deep"])
    # WHEN the consumer handles it
    result = apps["consumer"].handler(event, FakeContext())
    # THEN the good one is stored and the nested one is poison: moved to the DLQ at once, with its reason
    assert result == {"batchItemFailures": []}
    [dead] = plain_client("sqs").receive_message(QueueUrl=apps["dead_letters"], MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert dead["MessageAttributes"][DEAD_LETTER_REASON_ATTRIBUTE]["StringValue"].startswith("not a Sluice envelope")


def test_the_archiver_archives_a_deeply_nested_body(apps: dict[str, Any]) -> None:
    # GIVEN a DLQ batch with a body nested 5,000 levels deep
    deep = "[" * 5000 + "]" * 5000
    # WHEN the archiver handles it
    result = apps["archiver"].handler(sqs_event([deep], ["deep"]), FakeContext())
    # THEN it is archived as it came, with no event id
    assert result == {"batchItemFailures": []}
    [summary] = plain_client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]
    data = plain_client("s3").get_object(Bucket=BUCKET, Key=summary["Key"])["Body"].read()
    [line] = read_archive_lines(data)
    assert (line["body"], line["event_id"]) == (deep, None)


def test_an_archive_line_nested_too_deeply_is_a_value_error_for_replay() -> None:
    # GIVEN an archive object whose line nests 5,000 levels deep (a hand-made or damaged object)
    data = gzip.compress(("[" * 5000 + "]" * 5000 + "\n").encode())
    # WHEN replay reads it
    # THEN it is refused as "not gzip JSON Lines" (a ValueError), not a RecursionError traceback
    with pytest.raises(ValueError, match="nested deeper"):
        read_archive_lines(data)


def test_send_refuses_a_deeply_nested_line_with_one_clear_error(tmp_path: Path) -> None:
    # GIVEN a JSON Lines file whose second line nests 5,000 levels deep
    path = tmp_path / "events.jsonl"
    path.write_text('{"a": 1}\n' + "[" * 5000 + "]" * 5000 + "\n")
    # WHEN `invoke send` reads it
    # THEN it stops with the line number and the reason
    with pytest.raises(OpsError, match=r"events.jsonl:2: not valid JSON \(nested deeper than 512 levels\)"):
        read_events(str(path))
