"""The local alarm evaluator: every alarm kind reaches ALARM and back to OK against metrics in moto's
CloudWatch, on a fake clock, and each transition reaches the topic (read through a subscribed queue)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from alarms.definitions import Definitions, definitions_from_template
from alarms.engine.evaluation import ALARM, INSUFFICIENT_DATA, OK
from alarms.table import alarm_definitions, composite_definitions
from core.config import Config, load_config
from dashboards.catalog import build_catalog
from local.services.alarm_evaluator import AlarmEvaluator
from synth.synthesize import full_template

PERIOD = 10
REGION = "us-east-1"
NAMESPACE = "Test/Evaluator"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Aws:
    cloudwatch: Any
    sns: Any
    sqs: Any
    high: str
    low: str
    notify: str  # the low tier's people (the notifier forwards there; undelivered pages go there straight)
    inbox: dict[str, str]  # topic arn -> subscribed queue url
    clock: Clock
    log: Path

    def put(self, name: str, values: Mapping[int, float], dimensions: Mapping[str, str] | None = None) -> None:
        """One datapoint per period index (seconds after the base time, in periods)."""
        self.cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in (dimensions or {"Function": "f"}).items()],
                    "Timestamp": datetime.fromtimestamp(self.at(index), UTC),
                    "Value": value,
                    "StorageResolution": 1,
                }
                for index, value in values.items()
            ],
        )

    def at(self, index: int) -> int:
        return BASE + index * PERIOD

    def after(self, index: int) -> None:
        """Move the clock to just after period `index` ends."""
        self.clock.now = self.at(index + 1) + 1

    def received(self, topic: str) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.inbox[topic], MaxNumberOfMessages=10)["Messages"]
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.inbox[topic], ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(json.loads(message["Body"])["Message"]) for message in messages]

    def nothing_received(self, topic: str) -> bool:
        return "Messages" not in self.sqs.receive_message(QueueUrl=self.inbox[topic], MaxNumberOfMessages=10)


# A period boundary an hour ago: moto keeps any timestamp, the clock is ours.
BASE = (int(datetime.now(UTC).timestamp()) // 3600 - 1) * 3600


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[Aws]:
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        inbox = {}
        topics = []
        for tier in ("high", "low", "notify"):
            topic = sns.create_topic(Name=f"alarms-{tier}")["TopicArn"]
            url = sqs.create_queue(QueueName=f"inbox-{tier}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
            inbox[topic] = url
            topics.append(topic)
        yield Aws(
            boto3.client("cloudwatch", region_name=REGION),
            sns,
            sqs,
            topics[0],
            topics[1],
            topics[2],
            inbox,
            Clock(BASE),
            tmp_path / "notifications.log",
        )


def metric_alarm(aws: Aws, name: str, topic: str, **overrides: Any) -> dict[str, Any]:
    definition = {
        "AlarmName": name,
        "AlarmDescription": f"{name} test alarm",
        "ActionsEnabled": True,
        "AlarmActions": [topic],
        "OKActions": [topic],
        "Namespace": NAMESPACE,
        "MetricName": "Errors",
        "Dimensions": [{"Name": "Function", "Value": "f"}],
        "Statistic": "Sum",
        "Period": PERIOD,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        **overrides,
    }
    if "Metrics" in definition:
        for key in ("Namespace", "MetricName", "Dimensions", "Statistic", "Period"):
            definition.pop(key)
    aws.cloudwatch.put_metric_alarm(**definition)
    return definition


def stat(name: str, statistic: str = "Sum", dimensions: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "Metric": {
            "Namespace": NAMESPACE,
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in (dimensions or {"Function": "f"}).items()],
        },
        "Period": PERIOD,
        "Stat": statistic,
    }


def evaluator(aws: Aws, alarms: list[dict[str, Any]], composites: list[dict[str, Any]] = ()) -> AlarmEvaluator:
    return AlarmEvaluator(aws.cloudwatch, aws.sns, alarms, list(composites), aws.log, clock=aws.clock)


def moto_state(aws: Aws, name: str) -> str:
    return aws.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


def test_threshold_alarm_on_a_raw_metric_goes_to_alarm_and_back_with_notifications(aws, capsys):
    # GIVEN an alarm on Errors > 0 in 2 of 3 periods, routed to the high topic
    alarm = metric_alarm(aws, "errors-high", aws.high)
    watcher = evaluator(aws, [alarm])
    # WHEN two of the last three periods have errors
    aws.put("Errors", {0: 0, 1: 2, 2: 1})
    aws.after(2)
    watcher.evaluate_once()
    # THEN the alarm is in ALARM in moto and CloudWatch's notification reached the high topic
    assert moto_state(aws, "errors-high") == ALARM
    (message,) = aws.received(aws.high)
    assert message["AlarmName"] == "errors-high"
    assert message["NewStateValue"] == ALARM and message["OldStateValue"] == OK
    assert message["AlarmDescription"] == "errors-high test alarm"
    assert message["Trigger"]["MetricName"] == "Errors" and message["Trigger"]["Statistic"] == "SUM"
    assert message["Trigger"]["Dimensions"] == [{"value": "f", "name": "Function"}]
    assert "2 out of the last 3 datapoints" in message["NewStateReason"]
    # AND the evaluator keeps why (the runtime's transitions, and a load report's reason column, read it)
    assert watcher.reason_of("errors-high") == message["NewStateReason"]
    assert message["StateChangeTime"].endswith("+0000")
    assert aws.nothing_received(aws.low)
    # WHEN the errors stop (missing data is not breaching)
    aws.after(5)
    watcher.evaluate_once()
    # THEN it returns to OK and the OK action fires too
    assert moto_state(aws, "errors-high") == OK
    (message,) = aws.received(aws.high)
    assert (message["OldStateValue"], message["NewStateValue"]) == (ALARM, OK)
    # AND each transition is one line of the notifications log, and nothing on stdout (under the runtime that is
    # the handlers' log; the runtime tells its console itself)
    logged = [line for line in aws.log.read_text().splitlines() if "errors-high" in line]
    assert len(logged) == 2 and "OK -> ALARM" in logged[0] and "ALARM -> OK" in logged[1]
    assert "errors-high" not in capsys.readouterr().out


def test_no_transition_publishes_nothing(aws):
    # GIVEN an alarm already OK WHEN nothing breaches
    watcher = evaluator(aws, [metric_alarm(aws, "quiet", aws.low)])
    aws.put("Errors", {0: 0, 1: 0, 2: 0})
    aws.after(2)
    # THEN evaluating changes nothing and sends nothing
    assert watcher.evaluate_once() == []
    assert aws.nothing_received(aws.low)


def test_metric_math_rate_alarm(aws):
    # GIVEN a 5XX-rate alarm (100 * errors / count > 1 %) on the low topic
    rate = [
        {"Id": "errors", "MetricStat": stat("5XXError"), "ReturnData": False},
        {"Id": "count", "MetricStat": stat("Count"), "ReturnData": False},
        {"Id": "rate", "Expression": "100 * errors / count", "Label": "5XX rate", "ReturnData": True},
    ]
    watcher = evaluator(aws, [metric_alarm(aws, "rate-low", aws.low, Metrics=rate, Threshold=1.0)])
    # WHEN 5 % of requests fail in the last three periods
    aws.put("Count", {0: 100, 1: 100, 2: 100, 3: 100, 4: 100, 5: 100})
    aws.put("5XXError", {0: 5, 1: 5, 2: 5, 3: 0, 4: 0, 5: 0})
    aws.after(2)
    watcher.evaluate_once()
    # THEN ALARM with a metric-math trigger
    (message,) = aws.received(aws.low)
    assert message["NewStateValue"] == ALARM
    assert [query["Id"] for query in message["Trigger"]["Metrics"]] == ["errors", "count", "rate"]
    # WHEN the errors stop THEN OK
    aws.after(5)
    watcher.evaluate_once()
    assert moto_state(aws, "rate-low") == OK


def test_mismatch_expression_needs_every_period(aws):
    # GIVEN accepted − sent > 0 in 3 of 3 periods (the enqueue-gap alarm's shape)
    gap = [
        {"Id": "accepted", "MetricStat": stat("EventsAccepted"), "ReturnData": False},
        {"Id": "sent", "MetricStat": stat("NumberOfMessagesSent"), "ReturnData": False},
        {"Id": "gap", "Expression": "FILL(accepted, 0) - FILL(sent, 0)", "ReturnData": True},
    ]
    alarm = metric_alarm(aws, "gap-high", aws.high, Metrics=gap, DatapointsToAlarm=3)
    watcher = evaluator(aws, [alarm])
    # WHEN one period's boundary noise shows a gap, the next the opposite
    aws.put("EventsAccepted", {0: 10, 1: 10, 2: 10})
    aws.put("NumberOfMessagesSent", {0: 8, 1: 12, 2: 10})
    aws.after(2)
    watcher.evaluate_once()
    # THEN no alarm
    assert moto_state(aws, "gap-high") == OK
    # WHEN events are accepted but never sent, period after period (nothing sent at all: FILL makes it 0)
    aws.put("EventsAccepted", {3: 5, 4: 5, 5: 5})
    aws.after(5)
    watcher.evaluate_once()
    # THEN ALARM; and once sends match again, OK
    assert moto_state(aws, "gap-high") == ALARM
    aws.put("EventsAccepted", {6: 5, 7: 5, 8: 5})
    aws.put("NumberOfMessagesSent", {6: 5, 7: 5, 8: 5})
    aws.after(8)
    watcher.evaluate_once()
    assert moto_state(aws, "gap-high") == OK
    assert [m["NewStateValue"] for m in aws.received(aws.high)] == [ALARM, OK]


def anomaly_alarm(aws: Aws, name: str, metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """A low-tier alarm outside the band of query `band` (an anomaly alarm has no static Threshold)."""
    alarm = metric_alarm(
        aws,
        name,
        aws.low,
        Metrics=metrics,
        ThresholdMetricId="band",
        ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold",
    )
    alarm.pop("Threshold")
    return alarm


def test_anomaly_band_alarm_fires_above_and_below_history(aws):
    # GIVEN a request-count anomaly alarm (band of width 2 around the recent history)
    band = [
        {"Id": "count", "MetricStat": stat("Count"), "ReturnData": True},
        {"Id": "band", "Expression": "ANOMALY_DETECTION_BAND(count, 2)", "ReturnData": True},
    ]
    watcher = evaluator(aws, [anomaly_alarm(aws, "anomaly-low", band)])
    # WHEN 20 periods of steady traffic (100 ± 3) are followed by a surge
    steady = {index: 100 + (index % 3 - 1) * 3 for index in range(20)}
    aws.put("Count", {**steady, 20: 1000, 21: 1000, 22: 1000})
    aws.after(22)
    watcher.evaluate_once()
    # THEN ALARM (too high)
    assert moto_state(aws, "anomaly-low") == ALARM
    assert aws.received(aws.low)[0]["Trigger"]["ThresholdMetricId"] == "band"
    # WHEN traffic stays normal long enough for the surge to leave the history THEN OK
    aws.put("Count", {index: 100 for index in range(23, 46)})
    aws.after(45)
    watcher.evaluate_once()
    assert moto_state(aws, "anomaly-low") == OK
    # WHEN traffic collapses far below the band THEN ALARM again (too low)
    aws.put("Count", {46: 2, 47: 2, 48: 2})
    aws.after(48)
    watcher.evaluate_once()
    assert moto_state(aws, "anomaly-low") == ALARM


def test_anomaly_band_over_metric_math_reads_the_expressions_history(aws):
    # GIVEN an anomaly alarm on client requests: all requests less the canary's, no value in a period without any
    clients = "(count - FILL(canary, 0))"
    band = [
        {"Id": "count", "MetricStat": stat("Count"), "ReturnData": False},
        {"Id": "canary", "MetricStat": stat("CanaryRequests"), "ReturnData": False},
        {"Id": "clients", "Expression": f"{clients} * {clients} / {clients}", "ReturnData": True},
        {"Id": "band", "Expression": "ANOMALY_DETECTION_BAND(clients, 2)", "ReturnData": True},
    ]
    watcher = evaluator(aws, [anomaly_alarm(aws, "client-anomaly", band)])
    # WHEN 20 periods carry only the canary's 2 requests each, then clients start sending 100 a period
    aws.put("CanaryRequests", {index: 2 for index in range(23)})
    aws.put("Count", {**{index: 2 for index in range(20)}, 20: 102, 21: 102, 22: 102})
    aws.after(22)
    watcher.evaluate_once()
    # THEN no band yet (the canary's periods are no client history), so no alarm
    assert moto_state(aws, "client-anomaly") == OK
    # WHEN the clients' 100 a period become the history and then surge
    aws.put("CanaryRequests", {index: 2 for index in range(23, 46)})
    aws.put("Count", {**{index: 102 for index in range(23, 43)}, 43: 1002, 44: 1002, 45: 1002})
    aws.after(45)
    watcher.evaluate_once()
    # THEN the band, computed from the expression's history, catches the surge
    assert moto_state(aws, "client-anomaly") == ALARM


def test_percentile_alarm_reads_the_maximum_locally(aws):
    # GIVEN a p99 latency alarm (moto computes no percentiles)
    alarm = metric_alarm(aws, "latency-low", aws.low, MetricName="Latency", ExtendedStatistic="p99", Threshold=500.0)
    alarm.pop("Statistic")
    watcher = evaluator(aws, [alarm])
    # WHEN the slowest requests of two periods exceed the threshold
    for index in (1, 2):
        aws.put("Latency", {index: 900.0})
        aws.put("Latency", {index: 50.0})
    aws.after(2)
    watcher.evaluate_once()
    # THEN ALARM, and the notification names the extended statistic
    assert moto_state(aws, "latency-low") == ALARM
    assert aws.received(aws.low)[0]["Trigger"]["ExtendedStatistic"] == "p99"


def test_composite_alarm_follows_its_children(aws):
    # GIVEN two metric alarms and a composite "either of them", all on the high topic
    first = metric_alarm(aws, "child-a", aws.high, MetricName="A")
    second = metric_alarm(aws, "child-b", aws.high, MetricName="B")
    composite = {
        "AlarmName": "at-risk",
        "AlarmDescription": "either child",
        "AlarmRule": 'ALARM("child-a") OR ALARM(child-b)',
        "AlarmActions": [aws.high],
        "OKActions": [aws.high],
    }
    watcher = evaluator(aws, [first, second], [composite])
    # WHEN only B breaches
    aws.put("B", {1: 1, 2: 1})
    aws.after(2)
    watcher.evaluate_once()
    # THEN the composite is in ALARM, and its notification names the triggering child
    assert watcher.states()["at-risk"] == ALARM
    messages = {m["AlarmName"]: m for m in aws.received(aws.high)}
    assert set(messages) == {"child-b", "at-risk"}
    assert messages["at-risk"]["AlarmRule"] == composite["AlarmRule"]
    assert [child["Arn"].rsplit(":", 1)[-1] for child in messages["at-risk"]["TriggeringChildren"]] == ["child-b"]
    assert watcher.reason_of("at-risk") == messages["at-risk"]["NewStateReason"]
    assert "child-b transitioned to ALARM" in watcher.reason_of("at-risk")
    # WHEN B recovers THEN the composite returns to OK
    aws.after(5)
    watcher.evaluate_once()
    assert watcher.states()["at-risk"] == OK
    assert {m["AlarmName"]: m["NewStateValue"] for m in aws.received(aws.high)} == {"child-b": OK, "at-risk": OK}


def test_missing_data_breaching_alarms_without_data_and_recovers_with_it(aws):
    # GIVEN a heartbeat-style alarm: Invocations < 1, missing data breaching
    alarm = metric_alarm(
        aws, "heartbeat", aws.high, MetricName="Beat", Threshold=1.0, ComparisonOperator="LessThanThreshold",
        TreatMissingData="breaching",
    )  # fmt: skip
    watcher = evaluator(aws, [alarm])
    # WHEN nothing is reported THEN ALARM
    aws.after(2)
    watcher.evaluate_once()
    assert moto_state(aws, "heartbeat") == ALARM
    # WHEN beats arrive THEN OK
    aws.put("Beat", {3: 1, 4: 1, 5: 1})
    aws.after(5)
    watcher.evaluate_once()
    assert moto_state(aws, "heartbeat") == OK


@pytest.mark.parametrize(
    ("treatment", "expected"),
    [("missing", INSUFFICIENT_DATA), ("notBreaching", OK), ("ignore", ALARM), ("breaching", ALARM)],
)
def test_missing_data_after_an_alarm(aws, treatment, expected):
    # GIVEN an alarm in ALARM
    alarm = metric_alarm(aws, f"gone-{treatment}", aws.high, MetricName="Gone", TreatMissingData=treatment)
    watcher = evaluator(aws, [alarm])
    aws.put("Gone", {0: 1, 1: 1, 2: 1})
    aws.after(2)
    watcher.evaluate_once()
    assert moto_state(aws, f"gone-{treatment}") == ALARM
    # WHEN the metric stops being reported for a whole window
    aws.after(8)
    watcher.evaluate_once()
    # THEN the treatment decides
    assert moto_state(aws, f"gone-{treatment}") == expected


def local_definitions(aws: Aws, config: Config) -> Definitions:
    """The template's alarms, its topics resolved to the fixture's."""
    topics = {"HighTopic": aws.high, "LowTopic": aws.low, "NotifyTopic": aws.notify}
    return definitions_from_template(full_template(config).to_dict(), lambda node: topics[node["Ref"]])


def test_undelivered_pages_reach_the_low_tiers_people_at_once_not_the_notifier(aws):
    # GIVEN the local template's alarms, pages-undelivered among them
    config = load_config("local")
    definitions = local_definitions(aws, config)
    for definition in definitions.alarms:
        aws.cloudwatch.put_metric_alarm(**{k: v for k, v in definition.items() if k != "Tags"})
    watcher = evaluator(aws, definitions.alarms, definitions.composites)
    # WHEN SNS could not deliver a page of the high topic
    aws.cloudwatch.put_metric_data(
        Namespace="AWS/SNS",
        MetricData=[
            {
                "MetricName": "NumberOfNotificationsFailed",
                "Dimensions": [{"Name": "TopicName", "Value": config.resource_name("high")}],
                "Timestamp": datetime.fromtimestamp(aws.at(1), UTC),
                "Value": 1.0,
            }
        ],
    )
    aws.after(1)
    watcher.evaluate_once()
    # THEN it is published to the low tier's people (the notify topic) at once, whatever the hour: not to the
    # low topic, whose notifier would hold it for the morning digest, nor to the high topic that fails
    undelivered = config.resource_name("pages-undelivered-low")
    assert [m["AlarmName"] for m in aws.received(aws.notify)] == [undelivered]
    assert aws.nothing_received(aws.low) and aws.nothing_received(aws.high)


def test_every_alarm_of_the_local_template_is_evaluable(aws, tmp_path):
    # GIVEN the local template's alarms, extracted with a resolver that maps topics to ours
    config = load_config("local")
    definitions = local_definitions(aws, config)
    catalog = build_catalog(config)
    assert {d["AlarmName"] for d in definitions.alarms} == {d.name for d in alarm_definitions(config, catalog)}
    assert {d["AlarmName"] for d in definitions.composites} == {d.name for d in composite_definitions(config)}
    for definition in definitions.alarms:
        aws.cloudwatch.put_metric_alarm(**{k: v for k, v in definition.items() if k != "Tags"})
    watcher = evaluator(aws, definitions.alarms, definitions.composites)
    # WHEN the DLQ holds a message for three periods (its alarm reads ApproximateNumberOfMessagesVisible)
    dlq = {"QueueName": config.resource_name("dead-letter")}
    aws.cloudwatch.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": dlq["QueueName"]}],
                "Timestamp": datetime.fromtimestamp(aws.at(index), UTC),
                "Value": 1.0,
            }
            for index in range(3)
        ],
    )
    aws.after(2)
    watcher.evaluate_once()
    # THEN every alarm evaluated, the DLQ alarm and the composite fired ...
    states = watcher.states()
    assert states[config.resource_name("dlq-visible-high")] == ALARM
    assert states[config.resource_name("ingestion-at-risk-high")] == ALARM
    # (the canary's streak alarm treats missing data as missing: no run at all is INSUFFICIENT_DATA, not OK)
    canary_failing = config.resource_name("canary-failing-high")
    assert states.pop(canary_failing) == "INSUFFICIENT_DATA"
    assert {state for name, state in states.items() if "dlq" not in name and "at-risk" not in name} == {OK}
    # ... and the one incident paged once, through the composite
    pages = [m["AlarmName"] for m in aws.received(aws.high)]
    assert pages == [config.resource_name("ingestion-at-risk-high")]


def test_a_composite_of_many_children_names_the_ones_in_alarm_first_as_cloudwatch_does(aws):
    # GIVEN an incident composite over five children, three of them already in ALARM at different times
    names = [f"part-{n}" for n in range(5)]
    children = [metric_alarm(aws, name, aws.high, MetricName=name) for name in names]
    incident = {
        "AlarmName": "incident",
        "AlarmRule": " OR ".join(f'ALARM("{name}")' for name in names),
        "AlarmActions": [aws.high],
        "OKActions": [aws.high],
    }
    watcher = evaluator(aws, children, [incident])
    # WHEN part-3 breaches first, part-1 a period later (part-0, 2 and 4 stay OK)
    aws.put("part-3", {1: 1, 2: 1, 3: 1})
    aws.put("part-1", {2: 1, 3: 1})
    aws.after(2)
    watcher.evaluate_once()
    aws.after(3)
    watcher.evaluate_once()
    # THEN the incident paged once, naming only the children in ALARM, the first to fire first, in CloudWatch's
    # shape: {"Arn", "State": {"Value", "Timestamp"}}; its reason says which transitioned to ALARM and when
    (page,) = [m for m in aws.received(aws.high) if m["AlarmName"] == "incident"]
    (child,) = page["TriggeringChildren"]
    assert child["Arn"].endswith(":alarm:part-3") and set(child) == {"Arn", "State"}
    assert child["State"]["Value"] == ALARM and child["State"]["Timestamp"].endswith("+0000")
    assert page["NewStateReason"].startswith(f"{child['Arn']} transitioned to ALARM at ")
    assert page["NewStateReason"].endswith(" UTC") and "part-0" not in page["NewStateReason"]


def test_a_period_is_evaluated_only_once_it_has_settled(aws):
    # GIVEN an evaluator that waits one period for late datapoints (the metrics publisher's delay)
    alarm = metric_alarm(aws, "settling", aws.high, MetricName="Late")
    watcher = AlarmEvaluator(aws.cloudwatch, aws.sns, [alarm], [], aws.log, clock=aws.clock, settle_seconds=PERIOD)
    aws.put("Late", {1: 1, 2: 1})
    # WHEN period 2 has just ended THEN it is not read yet, so one breaching datapoint is not enough
    aws.after(2)
    watcher.evaluate_once()
    assert moto_state(aws, "settling") == OK
    # WHEN it has settled THEN both breaching periods count
    aws.clock.now += PERIOD
    watcher.evaluate_once()
    assert moto_state(aws, "settling") == ALARM


def test_a_window_longer_than_the_step_slides_and_an_and_composite_needs_both(aws):
    # GIVEN a burn-rate pair as the table builds it: errors over a 6-period window (one datapoint as long as the
    # window) and over the 1-period step, a composite needing both, and the step's own alarm setting the pace
    def window(periods: int) -> list[dict[str, Any]]:
        long = {**stat("5XXError"), "Period": periods * PERIOD}
        return [{"Id": "errors", "MetricStat": long, "ReturnData": True}]

    long = metric_alarm(aws, "burn-long", aws.high, Metrics=window(6), EvaluationPeriods=1, DatapointsToAlarm=1)
    short = metric_alarm(aws, "burn-short", aws.high, Metrics=window(1), EvaluationPeriods=1, DatapointsToAlarm=1)
    for alarm in (long, short):
        alarm.update(Threshold=2.0, AlarmActions=[], OKActions=[])
        aws.cloudwatch.put_metric_alarm(**alarm)
    pair = {
        "AlarmName": "burn-pair",
        "AlarmRule": 'ALARM("burn-long") AND ALARM("burn-short")',
        "AlarmActions": [aws.high],
        "OKActions": [aws.high],
    }
    watcher = evaluator(aws, [long, short], [pair])
    # WHEN 3 errors land in period 3 — not at a multiple of the long window's length
    aws.put("5XXError", {3: 3.0})
    aws.after(3)
    watcher.evaluate_once()
    # THEN the long window ending right after it already holds them (it slides at every step), and with the short
    # window both burn: the pair pages once
    assert watcher.states()["burn-long"] == ALARM and watcher.states()["burn-short"] == ALARM
    (message,) = aws.received(aws.high)
    assert message["AlarmName"] == "burn-pair" and message["NewStateValue"] == ALARM
    assert [child["Arn"].rsplit(":", 1)[-1] for child in message["TriggeringChildren"]] == ["burn-long", "burn-short"]
    assert message["NewStateReason"].count("transitioned to ALARM at") == 2
    # WHEN the next period is clean THEN the long window still remembers, the short one does not: the pair is OK
    aws.after(4)
    watcher.evaluate_once()
    assert watcher.states() == {"burn-long": ALARM, "burn-short": OK, "burn-pair": OK}
    # AND once the errors leave the long window it is OK too
    aws.after(9)
    watcher.evaluate_once()
    assert watcher.states()["burn-long"] == OK
