"""SNS → Lambda for the local stack: moto's SNS cannot invoke a function, but it delivers to SQS.

`SnsToFunctionBridge` subscribes a queue of its own to the topic (raw delivery off, so each message is
the SNS notification JSON), polls it, and invokes the function once per notification with the event
SNS would send — asynchronously, as SNS invokes Lambda: a failed invocation is retried (the message
comes back after the bridge queue's visibility timeout) and dropped after `max_attempts`, like
Lambda's two retries of an asynchronous invocation. Throttled invocations are retried until they run.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

from local.services.lambdas import Invoker, TooManyRequestsException
from local.services.pollers import WorkerGroup, receive

log = logging.getLogger(__name__)


def sns_event(notification: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The Lambda event for one SNS notification (note the Lambda spelling `SigningCertUrl`)."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": notification.get("Type", "Notification"),
                    "MessageId": notification["MessageId"],
                    "TopicArn": notification["TopicArn"],
                    "Subject": notification.get("Subject"),
                    "Message": notification["Message"],
                    "Timestamp": notification["Timestamp"],
                    "SignatureVersion": notification.get("SignatureVersion", "1"),
                    "Signature": notification.get("Signature", ""),
                    "SigningCertUrl": notification.get("SigningCertURL", ""),
                    "UnsubscribeUrl": notification.get("UnsubscribeURL", ""),
                    "MessageAttributes": notification.get("MessageAttributes", {}),
                },
            }
        ]
    }


@dataclass(frozen=True)
class BridgeSubscription:
    queue_url: str
    subscription_arn: str


@dataclass(frozen=True)
class BridgeSettings:
    visibility_timeout_seconds: int = 5  # the pause before a failed notification is retried
    max_attempts: int = 3  # Lambda's asynchronous invocation: the first attempt and two retries
    poll_wait_seconds: int = 1
    workers: int = 1


class SnsToFunctionBridge:
    """Delivers a topic's notifications to a function, as an SNS subscription of protocol `lambda`."""

    def __init__(
        self,
        topic_arn: str,
        function: Invoker,
        sqs: BaseClient,
        sns: BaseClient,
        settings: BridgeSettings | None = None,
    ) -> None:
        self.topic_arn = topic_arn
        self._function = function
        self._sqs = sqs
        self._sns = sns
        self.settings = settings or BridgeSettings()
        self._subscription: BridgeSubscription | None = None
        self._setup_lock = threading.Lock()
        self._workers = WorkerGroup(f"sns-bridge-{function.name}", self.settings.workers, self.poll_once)

    def setup(self) -> BridgeSubscription:
        """Create the bridge queue and subscribe it to the topic (once)."""
        with self._setup_lock:
            if self._subscription is None:
                self._subscription = self._subscribe()
            return self._subscription

    def _subscribe(self) -> BridgeSubscription:
        topic_name = self.topic_arn.rsplit(":", 1)[-1]
        queue_url = self._sqs.create_queue(
            QueueName=f"{topic_name}-to-{self._function.name}"[:80],
            Attributes={"VisibilityTimeout": str(self.settings.visibility_timeout_seconds)},
        )["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        subscription_arn = self._sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "false"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return BridgeSubscription(queue_url, subscription_arn)

    def start(self) -> None:
        self.setup()
        self._workers.start()

    def stop(self, timeout: float = 10.0) -> bool:
        return self._workers.stop(timeout)

    def poll_once(self, stop: threading.Event | None = None) -> int:
        """Deliver what one receive returns; returns the number of notifications handled."""
        subscription = self.setup()
        messages = receive(self._sqs, subscription.queue_url, 10, self.settings.poll_wait_seconds)
        for message in messages:
            if stop is not None and stop.is_set():
                break  # the rest comes back after the visibility timeout
            self._deliver(subscription, message)
        return len(messages)

    def _deliver(self, subscription: BridgeSubscription, message: dict[str, Any]) -> None:
        try:
            notification = json.loads(message["Body"])
            self._function.invoke(sns_event(notification, subscription.subscription_arn))
        except TooManyRequestsException:
            return  # retried after the visibility timeout, however often
        except Exception as error:
            attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            if attempt < self.settings.max_attempts:
                log.warning("%s failed on attempt %d: %s", self._function.name, attempt, error)
                return
            log.error("%s failed %d times, notification dropped: %s", self._function.name, attempt, error)
        self._sqs.delete_message(QueueUrl=subscription.queue_url, ReceiptHandle=message["ReceiptHandle"])


@dataclass(frozen=True)
class SentDigest:
    at: datetime  # the local clock's time (local/services/clock.py): business hours, as the notifier saw them
    real_time: float  # epoch seconds, to match the alarm transitions it carried
    notifications: int


class DigestLog:
    """The notifier, as the bridge and the business-hours schedule invoke it, recording each digest it sends: one
    line in the notifications log (beside the alarm transitions) and `sent` for the console. The notifier says
    how many held notifications its digests carried (`digested` in its result)."""

    def __init__(self, notifier: Invoker, log_path: Path, clock: Callable[[], datetime], topic: str) -> None:
        self._notifier = notifier
        self._log_path = log_path
        self._clock = clock
        self._topic = topic.rsplit(":", 1)[-1]
        self._lock = threading.Lock()
        self.sent: list[SentDigest] = []

    @property
    def name(self) -> str:
        return self._notifier.name

    def invoke(self, event: Any) -> Any:
        result = self._notifier.invoke(event)
        digested = result.get("digested", 0) if isinstance(result, dict) else 0
        if isinstance(digested, int) and digested > 0:
            self._record(SentDigest(self._clock(), time.time(), digested))
        return result

    def _record(self, digest: SentDigest) -> None:
        line = (
            f"{digest.at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}  digest sent  [{self._topic}]  "
            f"{digest.notifications} held low-tier notification(s) (the local clock's time)"
        )
        with self._lock:
            self.sent.append(digest)
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            with self._log_path.open("a", encoding="utf-8") as log_file:
                log_file.write(line + "\n")
