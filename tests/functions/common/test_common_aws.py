"""The handlers' AWS clients: botocore's, configured from the environment, with nothing slow imported."""

import json
import os
import subprocess
import sys

import pytest

from functions.common import aws
from tests.functions.support import BUSINESS_HOURS_ENVIRONMENT

# What each handler needs to import (the template sets these on AWS).
HANDLER_ENVIRONMENT = {
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/sluice-ingest",
    "IDEMPOTENCY_TABLE_NAME": "sluice-idempotency",
    "TABLE_NAME": "sluice-events",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/sluice-dead-letter",
    "PARKING_BUCKET": "sluice-archive",
    "ARCHIVE_BUCKET": "sluice-archive",
    "HELD_TABLE_NAME": "sluice-held",
    "DESTINATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:sluice-people-low",
    "RETRY_AFTER_SECONDS": "5",
    **BUSINESS_HOURS_ENVIRONMENT,
}
# Modules that only slow a cold start: boto3's resource layer and s3transfer, and asyncio (wrapt 2 imported it).
# Powertools' batch utility imports asyncio for its async processor, so the SQS handlers may have it.
NOT_IMPORTED_BY = {
    "functions.ingest.app": ("boto3", "s3transfer", "asyncio"),
    "functions.notifier.app": ("boto3", "s3transfer", "asyncio"),
    "functions.consumer.app": ("boto3", "s3transfer"),
    "functions.archiver.app": ("boto3", "s3transfer"),
}


def test_client_follows_the_environment_like_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a region and a local endpoint in the environment, as the local runtime sets them
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")

    # WHEN a handler makes its client
    sqs = aws.client("sqs")

    # THEN it talks to that endpoint in that region
    assert sqs.meta.endpoint_url == "http://127.0.0.1:4566"
    assert sqs.meta.region_name == "eu-west-1"


@pytest.mark.parametrize(("handler", "unwanted"), NOT_IMPORTED_BY.items())
def test_handler_imports_nothing_that_only_slows_its_cold_start(handler: str, unwanted: tuple[str, ...]) -> None:
    # GIVEN a fresh interpreter running "in Lambda" with tracing on, as in production
    code = f"import json, sys, {handler}; print(json.dumps(sorted(m for m in {unwanted!r} if m in sys.modules)))"
    environment = {name: value for name, value in os.environ.items() if not name.startswith("POWERTOOLS_")}
    environment |= HANDLER_ENVIRONMENT | {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "sluice"}
    environment["POWERTOOLS_SERVICE_NAME"] = handler.split(".")[1]  # as the template sets it

    # WHEN the handler's module is imported
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=False, timeout=120
    )

    # THEN it imports, and none of those modules was loaded on the way
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []
