"""Helpers for the local-stack tests (a module of its own: conftest is for fixtures)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

from local.services.lambdas import FunctionSettings, LocalFunction
from local.services.metrics import MetricSink

AWS_EVENTS = Path(__file__).resolve().parent.parent / "data" / "aws-events"


def queue_depth(sqs: BaseClient, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def aws_event(name: str) -> dict[str, Any]:
    """A real AWS event shape from tests/data/aws-events."""
    return json.loads((AWS_EVENTS / name).read_text(encoding="utf-8"))


def stub_function(
    handler: Callable[[Any, Any], Any], name: str = "stub", sink: MetricSink | None = None, **settings: Any
) -> LocalFunction:
    """A LocalFunction around a test's stub handler."""
    return LocalFunction(FunctionSettings(name=name, **settings), handler, sink)


def named(points: list[Any], name: str) -> list[float]:
    """The values of the datapoints called `name`."""
    return [point.value for point in points if point.name == name]
