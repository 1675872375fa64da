"""The notifier handler with a mocked held table, destination topic and a controllable clock."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

import pytest

from tests.functions.support import BUSINESS_HOURS_ENVIRONMENT, create_table, drain, load_module, plain_client, scan

HELD_TABLE = "sluice-held-notifications"


@dataclass
class Notifier:
    app: ModuleType
    inbox_url: str
    clock: list[datetime]

    def at(self, moment: datetime) -> None:
        self.clock[0] = moment

    def published(self) -> list[dict[str, Any]]:
        """What reached the people's topic since the last look, in order (Subject, Message)."""
        return [json.loads(body) for body in drain(self.inbox_url)]

    def held(self) -> list[str]:
        return sorted(item["notification_id"]["S"] for item in scan(HELD_TABLE))


@pytest.fixture
def notifier(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Notifier]:
    create_table(HELD_TABLE, "notification_id")
    sns, sqs = plain_client("sns"), plain_client("sqs")
    topic = sns.create_topic(Name="sluice-people-low")["TopicArn"]
    inbox = sqs.create_queue(QueueName="people-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    for name, value in {
        "HELD_TABLE_NAME": HELD_TABLE,
        "DESTINATION_TOPIC_ARN": topic,
        **BUSINESS_HOURS_ENVIRONMENT,
    }.items():
        monkeypatch.setenv(name, value)
    app = load_module("functions.notifier.app")
    clock: list[datetime] = [datetime.now().astimezone()]
    monkeypatch.setattr(app, "now", lambda: clock[0])
    yield Notifier(app, inbox, clock)
