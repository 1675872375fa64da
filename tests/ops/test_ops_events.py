"""`invoke events get|list` and the targets the operate tools resolve (local outputs, a deployed stack)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from cloudformation import output_keys
from ops.errors import OpsError
from ops.events import get_event, list_events
from ops.outputs import resolve_target
from tests.ops.helpers import create_table, envelope, first_layout_item_of, item_of


def test_get_returns_the_stored_event_as_plain_json_and_none_when_absent(aws: boto3.Session) -> None:
    dynamodb = aws.client("dynamodb")
    table = create_table(dynamodb)
    dynamodb.put_item(TableName=table, Item=item_of(envelope(event_id="evt-1", kind="signup")))
    event = get_event(dynamodb, table, "evt-1")
    assert event is not None and event["event_id"] == "evt-1"
    assert json.loads(event["raw"]) == {"kind": "signup"}
    assert get_event(dynamodb, table, "evt-absent") is None


def test_list_gives_the_newest_events_of_the_window_first_up_to_the_limit(aws: boto3.Session) -> None:
    dynamodb = aws.client("dynamodb")
    table = create_table(dynamodb)
    for minute in range(10):
        received = f"2026-11-25T10:{minute:02d}:00.000Z"
        dynamodb.put_item(TableName=table, Item=item_of(envelope(event_id=f"evt-{minute}", received_at=received)))
    since = datetime(2026, 11, 25, 10, 2, tzinfo=UTC)
    until = datetime(2026, 11, 25, 10, 8, tzinfo=UTC)
    # WHEN listing 10:02–10:08, at most 3
    events, truncated = list_events(dynamodb, table, since, until, limit=3)
    # THEN 10:07, 10:06, 10:05 — newest first, the window's end excluded
    assert [event["event_id"] for event in events] == ["evt-7", "evt-6", "evt-5"]
    assert not truncated
    # AND a scan cap is reported, not silently applied
    _, truncated = list_events(dynamodb, table, since, limit=3, max_scanned=1)
    assert truncated


def test_the_local_target_reads_the_local_stacks_outputs(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "ApiUrl": "http://127.0.0.1:3000/v1",
                "ApiKey": "local-key-value",
                "AwsEndpoint": "http://127.0.0.1:4566",
                "Region": "us-east-1",
                "TableName": "sluice-local-events",
                "Env": "local",
            }
        )
    )
    target = resolve_target("local", local_outputs=outputs)
    assert target.api_key() == "local-key-value"
    assert target.require(output_keys.TABLE_NAME) == "sluice-local-events"
    assert target.client("dynamodb").meta.endpoint_url == "http://127.0.0.1:4566"
    with pytest.raises(OpsError, match="ArchiveBucket is not in the local stack's outputs"):
        target.require(output_keys.ARCHIVE_BUCKET)
    with pytest.raises(OpsError, match=r"no local stack: .* not found \(start one with `invoke up`\)"):
        resolve_target("local", local_outputs=tmp_path / "absent.json")


def test_an_environment_target_reads_its_stack_outputs_and_the_api_key_value(fresh_moto: boto3.Session) -> None:
    # GIVEN a deployed sluice-dev stack (made with CreateStack: moto reports outputs for those) and an API key
    apigateway = fresh_moto.client("apigateway")
    key = apigateway.create_api_key(name="sluice-dev-default-key", enabled=True, value="k" * 30)
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "QueueUrl": {"Value": {"Ref": "Queue"}},
            "ApiKeyId": {"Value": key["id"]},
            "ApiUrl": {"Value": "https://example.execute-api.us-east-1.amazonaws.com/v1"},
        },
    }
    fresh_moto.client("cloudformation").create_stack(StackName="sluice-dev", TemplateBody=json.dumps(template))
    # WHEN the dev target is resolved
    target = resolve_target("dev")
    # THEN it carries the outputs, and the key's VALUE comes from API Gateway
    assert target.require(output_keys.API_URL).endswith("/v1")
    assert target.require(output_keys.QUEUE_URL).startswith("http")
    assert target.api_key() == "k" * 30
    assert target.config.metrics_namespace == "Sluice/dev"


def test_unknown_environments_and_missing_stacks_are_one_line(fresh_moto: boto3.Session) -> None:
    with pytest.raises(OpsError, match=r"no environment 'staging' \(known: dev, local, prod\)"):
        resolve_target("staging")
    with pytest.raises(OpsError, match=r"stack sluice-prod not found in us-east-1 \(deploy it with `invoke deploy"):
        resolve_target("prod")


def test_items_of_the_first_layout_are_read_and_listed_beside_compact_ones(aws: boto3.Session) -> None:
    # GIVEN one item written before the compact layout (long names, all strings) and one after it
    dynamodb = aws.client("dynamodb")
    table = create_table(dynamodb)
    old, new = (envelope(event_id=f"evt-{n}", received_at=f"2026-11-25T10:0{n}:00.000Z", n=n) for n in (1, 2))
    dynamodb.put_item(TableName=table, Item=first_layout_item_of(old))
    dynamodb.put_item(TableName=table, Item=item_of(new))
    # WHEN listing the window that holds both
    events, _ = list_events(dynamodb, table, datetime(2026, 11, 25, 10, tzinfo=UTC), limit=5)
    # THEN both come back with the same fields, newest first
    expected = [{k: v for k, v in json.loads(body).items() if k != "v" and v is not None} for body in (new, old)]
    assert events == expected
    assert get_event(dynamodb, table, "evt-1") == expected[1]
