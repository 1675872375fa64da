"""CloudWatch's alarm notification, as SNS delivers it: the JSON message, its subject and StateReasonData.

The field names and formats follow the messages CloudWatch publishes (a metric alarm's `Trigger`, a composite's
`AlarmRule` and `TriggeringChildren`), so the notifier reads the same message locally as on AWS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alarms.engine.evaluation import ALARM, MetricAlarm, Verdict
from functions.common.contract import SNS_SUBJECT_MAX_CHARS


@dataclass(frozen=True)
class Transition:
    """One alarm changing state: what every notification says whatever the kind of alarm."""

    definition: Mapping[str, Any]
    arn: str
    region: str
    old: str
    new: str
    reason: str
    at: float


@dataclass(frozen=True)
class ChildState:
    """A composite's child as the composite's message names it."""

    arn: str
    value: str
    changed_at: float


def triggering_children(children: Sequence[ChildState], new: str) -> list[ChildState]:
    """The children that put the composite in its new state, as CloudWatch's TriggeringChildren names them: going to
    ALARM, those in ALARM; otherwise those whose change came last (what brought the rule down). The person reads the
    ALARM ones first, each in the order it changed (the first is where the incident began); CloudWatch documents
    no order, so this is ours."""
    if new == ALARM:
        chosen = [child for child in children if child.value == ALARM]
    else:
        latest = max((child.changed_at for child in children), default=0.0)
        chosen = [child for child in children if child.changed_at == latest]
    return sorted(chosen or children, key=lambda child: (child.value != ALARM, child.changed_at))


def composite_reason(triggering: Sequence[ChildState]) -> str:
    """A composite's NewStateReason as CloudWatch writes it: which child transitioned to what, and when
    ("arn:...:alarm:X transitioned to ALARM at Wednesday 10 November, 2021 02:45:55 UTC"), one per triggering child."""
    return "; ".join(
        f"{child.arn} transitioned to {child.value} at "
        f"{datetime.fromtimestamp(child.changed_at, UTC):%A %d %B, %Y %H:%M:%S} UTC"
        for child in triggering
    )


def subject(transition: Transition) -> str:
    text = f'{transition.new}: "{transition.definition["AlarmName"]}" in {transition.region}'
    return text if len(text) <= SNS_SUBJECT_MAX_CHARS else text[: SNS_SUBJECT_MAX_CHARS - 3] + "..."


def metric_alarm_message(transition: Transition, alarm: MetricAlarm) -> dict[str, Any]:
    return {**_common(transition), "Trigger": _trigger(alarm)}


def composite_message(transition: Transition, triggering: Sequence[ChildState]) -> dict[str, Any]:
    return {
        **_common(transition),
        "AlarmRule": transition.definition["AlarmRule"],
        "TriggeringChildren": [
            {"Arn": child.arn, "State": {"Value": child.value, "Timestamp": aws_time(child.changed_at)}}
            for child in triggering
        ],
    }


def reason_data(alarm: MetricAlarm, verdict: Verdict, now: float) -> dict[str, Any]:
    """SetAlarmState's StateReasonData: the datapoints the verdict was reached on."""
    evaluated = [
        {"timestamp": aws_time(point.timestamp), "value": point.value}
        for point in reversed(verdict.datapoints)
        if point.value is not None and not math.isnan(point.value)
    ]
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": aws_time(now),
        "period": alarm.period,
        "recentDatapoints": [point["value"] for point in reversed(evaluated)],
        "evaluatedDatapoints": evaluated,
    }
    if not alarm.threshold_id:
        data["threshold"] = float(alarm.definition["Threshold"])
    return data


def aws_time(epoch: float) -> str:
    """CloudWatch's notification timestamp format: 2024-05-01T12:00:00.000+0000."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _common(transition: Transition) -> dict[str, Any]:
    definition = transition.definition
    return {
        "AlarmName": definition["AlarmName"],
        "AlarmDescription": definition.get("AlarmDescription"),
        "AWSAccountId": transition.arn.split(":")[4],
        "AlarmConfigurationUpdatedTimestamp": aws_time(transition.at),
        "NewStateValue": transition.new,
        "NewStateReason": transition.reason,
        "StateChangeTime": aws_time(transition.at),
        "Region": transition.region,
        "AlarmArn": transition.arn,
        "OldStateValue": transition.old,
        "OKActions": list(definition.get("OKActions", [])),
        "AlarmActions": list(definition.get("AlarmActions", [])),
        "InsufficientDataActions": list(definition.get("InsufficientDataActions", [])),
    }


def _trigger(alarm: MetricAlarm) -> dict[str, Any]:
    definition = alarm.definition
    common = {
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "ComparisonOperator": definition["ComparisonOperator"],
        "TreatMissingData": alarm.treat_missing,
        "EvaluateLowSampleCountPercentile": "",
    }
    if alarm.threshold_id:
        return {**common, "ThresholdMetricId": alarm.threshold_id, "Metrics": list(definition["Metrics"])}
    if "Metrics" in definition:
        return {**common, "Threshold": float(definition["Threshold"]), "Metrics": list(definition["Metrics"])}
    extended = definition.get("ExtendedStatistic")
    statistic = (
        {"StatisticType": "ExtendedStatistic", "ExtendedStatistic": extended}
        if extended
        else {"StatisticType": "Statistic", "Statistic": definition["Statistic"].upper()}
    )
    return {
        **common,
        **statistic,
        "MetricName": definition["MetricName"],
        "Namespace": definition["Namespace"],
        "Unit": definition.get("Unit"),
        "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in definition.get("Dimensions", [])],
        "Threshold": float(definition["Threshold"]),
    }
