"""Robustness of the archiver on mutated real SQS events: every record it acknowledges is archived."""

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from moto import mock_aws

from functions.common.archive import read_archive_lines
from functions.common.errors import InvalidEventError
from tests.functions.support import FakeContext, envelope_body, load_event, load_module, mutated, plain_client

BUCKET = "sluice-archive-properties"
BASE = load_event("sqs-receive.json")
BASE["Records"][0]["body"] = envelope_body("evt-1")

# Refused events publish no metric, and Powertools warns about that; expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@pytest.fixture(scope="module")
def app() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        plain_client("s3").create_bucket(Bucket=BUCKET)
        patch.setenv("ARCHIVE_BUCKET", BUCKET)
        yield load_module("functions.archiver.app")


def take_archived() -> list[dict[str, Any]]:
    s3 = plain_client("s3")
    lines = []
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        lines += read_archive_lines(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    return lines


@settings(max_examples=60, deadline=None)
@given(event=mutated(BASE))
def test_mutated_sqs_events(app: Any, event: dict[str, Any]) -> None:
    # GIVEN the real SQS event shape with fields removed or mistyped
    # WHEN the archiver handles it
    try:
        response = app.handler(event, FakeContext())
    except InvalidEventError:
        assert take_archived() == []
        return

    # THEN nothing fails (the bucket works) and each record is one line of the archive
    assert response == {"batchItemFailures": []}
    lines = take_archived()
    assert [line["message_id"] for line in lines] == [record["messageId"] for record in event["Records"]]
