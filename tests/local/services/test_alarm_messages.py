"""CloudWatch's notification as the local stack publishes it: subject, timestamps, the reason's datapoints and a
composite's triggering children."""

from __future__ import annotations

import math

from alarms.engine.evaluation import ALARM, OK, Datapoint, MetricAlarm, Verdict
from functions.common.contract import SNS_SUBJECT_MAX_CHARS
from local.services.alarm_messages import (
    ChildState,
    Transition,
    aws_time,
    composite_message,
    composite_reason,
    reason_data,
    subject,
    triggering_children,
)

ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"


def transition(name: str, **definition: object) -> Transition:
    return Transition({"AlarmName": name, **definition}, ARN + name, "us-east-1", OK, ALARM, "because", 1714564800.25)


def test_timestamps_have_milliseconds_and_a_plus_zero_offset():
    # GIVEN an epoch with a fraction of a second
    # WHEN it is written as CloudWatch writes notification times
    # THEN it has milliseconds and +0000
    assert aws_time(1714564800.25) == "2024-05-01T12:00:00.250+0000"


def test_a_subject_longer_than_sns_allows_is_cut_with_an_ellipsis():
    # GIVEN an alarm whose name makes the subject longer than SNS's limit
    long_name = "x" * 120
    # WHEN the subject is written
    text = subject(transition(long_name))
    # THEN it fits, ends in "...", and a short one is left whole
    assert len(text) == SNS_SUBJECT_MAX_CHARS and text.endswith("...")
    assert subject(transition("short")) == 'ALARM: "short" in us-east-1'


def test_reason_data_lists_the_datapoints_with_values_oldest_first():
    # GIVEN a verdict over four periods (oldest first), two of them without a value
    alarm = MetricAlarm.from_definition(
        {
            "AlarmName": "errors",
            "Namespace": "N",
            "MetricName": "Errors",
            "Statistic": "Sum",
            "Period": 10,
            "EvaluationPeriods": 3,
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanThreshold",
        }
    )
    points = (
        Datapoint(1714564800, 2.0, True),
        Datapoint(1714564810, None, None),
        Datapoint(1714564820, math.nan, None),
        Datapoint(1714564830, 5.0, True),
    )
    verdict = Verdict(ALARM, "reason", points)
    # WHEN the reason data is written
    data = reason_data(alarm, verdict, 1714564840)
    # THEN only periods with a value appear: recent ones oldest first, evaluated ones newest first
    assert data["recentDatapoints"] == [2.0, 5.0]
    assert [point["timestamp"] for point in data["evaluatedDatapoints"]] == [
        "2024-05-01T12:00:30.000+0000",
        "2024-05-01T12:00:00.000+0000",
    ]
    assert data["threshold"] == 1.0 and data["period"] == 10


def test_a_composite_message_names_its_rule_and_the_children_that_decided_it():
    # GIVEN a composite whose rule went to ALARM because of one child
    composite = transition("at-risk", AlarmRule='ALARM("child")', AlarmActions=["arn:topic"])
    # WHEN its message is written
    message = composite_message(composite, [ChildState(ARN + "child", ALARM, 1714564800)])
    # THEN it carries the rule, the child's state and time, and the account from the ARN
    assert message["AlarmRule"] == 'ALARM("child")'
    assert message["TriggeringChildren"] == [
        {"Arn": ARN + "child", "State": {"Value": ALARM, "Timestamp": "2024-05-01T12:00:00.000+0000"}}
    ]
    assert (message["AWSAccountId"], message["OldStateValue"], message["NewStateValue"]) == ("123456789012", OK, ALARM)
    assert message["AlarmActions"] == ["arn:topic"] and message["OKActions"] == []


def test_triggering_children_put_the_ones_in_alarm_first_in_the_order_they_fired():
    # GIVEN an incident's children: two in ALARM (the second fired first), the rest OK, one of them changed last
    late, early = ChildState(ARN + "late", ALARM, 300.0), ChildState(ARN + "early", ALARM, 100.0)
    quiet, recovered = ChildState(ARN + "quiet", OK, 0.0), ChildState(ARN + "recovered", OK, 400.0)
    children = [quiet, late, recovered, early]
    # WHEN the composite goes to ALARM THEN only the ones in ALARM trigger it, the first to fire first
    assert triggering_children(children, ALARM) == [early, late]
    # WHEN it goes to OK THEN the child whose change came last brought it down
    assert triggering_children([quiet, recovered], OK) == [recovered]


def test_a_composite_reason_says_which_child_transitioned_and_when_as_cloudwatch_writes_it():
    # GIVEN the child that triggered a composite
    child = ChildState(ARN + "canary-failing-high", ALARM, 1636512355.64)
    # WHEN the composite's reason is written
    reason = composite_reason([child])
    # THEN it has CloudWatch's words: the child's ARN, its new state, and the time in words
    assert reason == f"{ARN}canary-failing-high transitioned to ALARM at Wednesday 10 November, 2021 02:45:55 UTC"
