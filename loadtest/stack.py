"""What a run observes and does to the stack: queue depth, alarms, stored ids (the table and the S3 analytics
store), faults, replay.

`LocalStackView` uses the local stack's control API (and DynamoDB at its endpoint); `AwsStackView`
the AWS APIs. Both answer the same questions, so the run does not care which it has.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import requests

from functions.common.parked import PARKED_PREFIX
from loadtest.errors import LoadTestError
from loadtest.reconcile import analytics_counts_since, dynamodb_lookup
from local.console.control_client import ControlClient, ControlError, NotOffered
from ops.local_credentials import LOCAL_CREDENTIALS
from ops.reconcile import StoreCounts

if TYPE_CHECKING:
    from ops.outputs import Target

CONTROL_TIMEOUT_SECONDS = 10.0
REPLAY_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class QueueDepth:
    visible: int = 0
    in_flight: int = 0
    dlq_visible: int = 0
    dlq_in_flight: int = 0
    parked: int = 0  # objects of events parked in S3 for retry (they come back through the queue)

    @property
    def empty(self) -> bool:
        return not (self.visible or self.in_flight or self.dlq_visible or self.dlq_in_flight or self.parked)

    def describe(self) -> str:
        return (
            f"queue {self.visible}+{self.in_flight} in flight, DLQ {self.dlq_visible}+{self.dlq_in_flight}, "
            f"{self.parked} parked objects"
        )


@dataclass(frozen=True)
class Transition:
    alarm: str
    old: str
    new: str
    time: float  # epoch seconds
    tier: str = ""
    reason: str = ""


class StackView(Protocol):
    """What a load run observes of the stack it loads and does to it; LocalStackView or AwsStackView."""

    def depth(self) -> QueueDepth: ...
    def alarm_states(self) -> dict[str, str]: ...
    def transitions(self, since: float) -> list[Transition]: ...
    def stored(self, ids: Sequence[str]) -> set[str]: ...
    def analytics_counts(self, since: float) -> StoreCounts | None: ...
    def faults(self) -> dict[str, float]: ...
    def inject(self, fault: str, seconds: float) -> None: ...
    def replay(self, since: float) -> Any: ...
    def announce_web(self, url: str, seconds: float) -> None: ...
    def metric_history(self, start: float, end: float) -> dict[str, Any]: ...


def transition_from_json(item: dict[str, Any]) -> Transition:
    return Transition(
        alarm=str(item.get("alarm", "")),
        old=str(item.get("old", "")),
        new=str(item.get("new", "")),
        time=float(item.get("time", 0.0)),
        tier=str(item.get("tier", "") or ""),
        reason=str(item.get("reason", "") or ""),
    )


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class LocalStackView:
    """The local stack: its control API (HTTP JSON on 127.0.0.1) for alarms and faults, SQS and DynamoDB
    at its endpoint for queue depth and stored ids (the control API's /status scans the whole table:
    too heavy to poll every second under load)."""

    def __init__(self, target: Target, http: requests.Session | None = None) -> None:
        if target.control_url is None:
            raise LoadTestError(f"{target.name}: not a local stack (no control API)")
        self.target = target
        self._control = ControlClient(target.control_url, http or requests.Session())
        self._clients: dict[str, Any] = {}
        self._lookup: Callable[[Sequence[str]], set[str]] | None = None

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(
                service, endpoint_url=self.target.endpoint_url, region_name=self.target.region, **LOCAL_CREDENTIALS
            )
        return self._clients[service]

    def _call(self, method: str, path: str, body: Any = None, timeout: float = CONTROL_TIMEOUT_SECONDS) -> Any:
        try:
            return self._control.call(method, path, body, timeout=timeout)
        except ControlError as error:
            raise LoadTestError(f"control API: {error}; is the stack up?") from None

    def status(self) -> dict[str, Any]:
        status = self._call("GET", "/status")
        return status if isinstance(status, dict) else {}

    def depth(self) -> QueueDepth:
        return sqs_depth(self._client("sqs"), self.target, self._client("s3"))

    def alarm_states(self) -> dict[str, str]:
        alarms = self.status().get("alarms")
        return {str(name): str(state) for name, state in alarms.items()} if isinstance(alarms, dict) else {}

    def transitions(self, since: float) -> list[Transition]:
        items = self._call("GET", f"/alarm-transitions?since={since:.3f}")
        return [transition_from_json(item) for item in items or [] if isinstance(item, dict)]

    def faults(self) -> dict[str, float]:
        chaos = self.status().get("chaos")
        return {str(name): float(left) for name, left in chaos.items()} if isinstance(chaos, dict) else {}

    def inject(self, fault: str, seconds: float) -> None:
        self._call("POST", "/chaos", {"fault": fault, "seconds": seconds})

    def announce_web(self, url: str, seconds: float) -> None:
        """Put a link to Locust's web UI on the stack's console for `seconds` (the run's longest)."""
        self._call("POST", "/console/api/locust", {"url": url, "seconds": seconds})

    def replay(self, since: float) -> Any:
        """The control API's replay if the stack offers one, else the operator's tool (`invoke replay`)."""
        try:
            return self._control.call("POST", "/replay", {"since": iso(since)}, timeout=REPLAY_TIMEOUT_SECONDS)
        except NotOffered:
            pass
        except ControlError as error:
            raise LoadTestError(f"control API: {error}") from None
        if not self.target.archive_bucket:
            raise LoadTestError("the stack's outputs name no ArchiveBucket: nothing to replay from")
        from ops.replay import replay

        result = replay(
            self._client("s3"),
            self._client("sqs"),
            self.target.archive_bucket,
            self.target.queue_url,
            datetime.fromtimestamp(since, UTC),
            datetime.now(UTC) + timedelta(minutes=1),
        )
        if result.failed:
            raise LoadTestError(f"replay could not send {len(result.failed)} events; run it again (it is safe)")
        return {"replayed": result.sent, "archived": result.replayable, "objects": result.objects}

    def metric_history(self, start: float, end: float) -> dict[str, Any]:
        """The series the alarms read over [start, end), as the stack's own evaluator reads them."""
        return self._call("GET", f"/metric-history?start={start:.0f}&end={end:.0f}", timeout=REPLAY_TIMEOUT_SECONDS)

    def stored(self, ids: Sequence[str]) -> set[str]:
        if self._lookup is None:
            self._lookup = dynamodb_lookup(self._client("dynamodb"), self.target.table_name)
        return self._lookup(ids)

    def analytics_counts(self, since: float) -> StoreCounts | None:
        """The S3 analytics store's lines per event id since `since`; None without the analytics store."""
        if not self.target.analytics_bucket:
            return None
        return analytics_counts_since(self._client("s3"), self.target.analytics_bucket, since)


def sqs_depth(sqs: Any, target: Target, s3: Any = None) -> QueueDepth:
    """The queues' counts, and the objects parked for retry (events not yet back in the queue: a drain that
    ignored them let a run reconcile while the retrier still held some of its events)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

    def counts(url: str) -> tuple[int, int]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return int(attributes.get(names[0], 0)), int(attributes.get(names[1], 0))

    parked = 0
    if s3 is not None and target.archive_bucket:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=target.archive_bucket, Prefix=PARKED_PREFIX)
        parked = sum(page.get("KeyCount", 0) for page in pages)
    return QueueDepth(*counts(target.queue_url), *counts(target.dead_letter_queue_url), parked)


class AwsStackView:
    """A deployed environment through the AWS APIs; faults and replay are refused."""

    def __init__(self, target: Target, session: Any) -> None:
        self.target = target
        self._sqs = session.client("sqs")
        self._cloudwatch = session.client("cloudwatch")
        self._s3 = session.client("s3")
        self._lookup = dynamodb_lookup(session.client("dynamodb"), target.table_name)

    def depth(self) -> QueueDepth:
        return sqs_depth(self._sqs, self.target, self._s3)

    def alarm_states(self) -> dict[str, str]:
        states: dict[str, str] = {}
        pages = self._cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix=self.target.stack_name, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
        for page in pages:
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                states[alarm["AlarmName"]] = alarm["StateValue"]
        return states

    def transitions(self, since: float) -> list[Transition]:
        pages = self._cloudwatch.get_paginator("describe_alarm_history").paginate(
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
            HistoryItemType="StateUpdate",
            StartDate=datetime.fromtimestamp(since, UTC),
            EndDate=datetime.now(UTC),
            ScanBy="TimestampAscending",
        )
        found = []
        for page in pages:
            for item in page.get("AlarmHistoryItems", []):
                if item["AlarmName"].startswith(self.target.stack_name):
                    found.append(_history_transition(item))
        return found

    def stored(self, ids: Sequence[str]) -> set[str]:
        return self._lookup(ids)

    def analytics_counts(self, since: float) -> StoreCounts | None:
        if not self.target.analytics_bucket:
            return None
        return analytics_counts_since(self._s3, self.target.analytics_bucket, since)

    def faults(self) -> dict[str, float]:
        return {}

    def inject(self, fault: str, seconds: float) -> None:
        raise LoadTestError(f"fault {fault!r}: fault injection runs only against the local stack (--target local)")

    def announce_web(self, url: str, seconds: float) -> None:
        pass  # no local console on AWS: the URL is printed

    def replay(self, since: float) -> Any:
        raise LoadTestError("replay from a load test runs only against the local stack; use the ops tools on AWS")

    def metric_history(self, start: float, end: float) -> dict[str, Any]:
        """The series the environment's alarms read over [start, end), from GetMetricData."""
        from alarms.backtest import History
        from alarms.definitions import definitions_from_template
        from alarms.history import aligned_window, lead_in_seconds, metric_stats, recording
        from core.config import load_config
        from ops.metric_history import fetch_history
        from synth.synthesize import full_template

        config = load_config(self.target.env)
        definitions = definitions_from_template(full_template(config).to_dict(), str)
        stats = metric_stats(definitions)
        first, last = aligned_window(start, end, config.monitoring.period_seconds, lead_in_seconds(definitions))
        series = fetch_history(self._cloudwatch, stats, first, last)
        return recording(config.env, History(first, last, series), stats)


def _history_transition(item: dict[str, Any]) -> Transition:
    """One `describe_alarm_history` StateUpdate item; HistoryData holds the old and new states."""
    try:
        data = json.loads(item.get("HistoryData") or "{}")
    except ValueError:
        data = {}
    name = item["AlarmName"]
    tier = next((tier for tier in ("high", "low") if tier in name.lower()), "")
    timestamp = item.get("Timestamp")
    return Transition(
        alarm=name,
        old=str(data.get("oldState", {}).get("stateValue", "")),
        new=str(data.get("newState", {}).get("stateValue", "")),
        time=timestamp.timestamp() if isinstance(timestamp, datetime) else time.time(),
        tier=tier,
        reason=str(item.get("HistorySummary", "")),
    )
