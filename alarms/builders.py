"""Turn the alarm table into `AWS::CloudWatch::Alarm` and `AWS::CloudWatch::CompositeAlarm` resources.

Each tier routes to its topic: ALARM and OK transitions of a high alarm go to the high topic, of a low
alarm to the low topic (the notifier's, which holds them outside business hours) — or, for a low alarm that
must not wait (`AlarmSpec.at_once`: undelivered pages), to the notify topic, its people at once. The children
of a composite notify nobody: one incident trips several of them, and pages once, through the composite. Alarm
names are literal (derived from the configuration), so composite rules, dashboards and the local runtime name them
without resolving anything.
"""

from __future__ import annotations

from typing import Any

from troposphere import AWSObject, Ref, cloudwatch, sns

from alarms.table import (
    AlarmDefinition,
    CompositeDefinition,
    Tier,
    alarm_definitions,
    composite_definitions,
    notified_tiers,
)
from cloudformation.template import Stack
from core.config import Config
from dashboards.catalog import Catalog, Expression, Metric, Signal, build_catalog


def build_alarms(stack: Stack) -> list[AWSObject]:
    config = stack.config
    catalog = build_catalog(config)
    topics: dict[Tier, sns.Topic] = {"high": stack.notifications.high, "low": stack.notifications.low}
    at_once: dict[Tier, sns.Topic] = {"low": stack.notifications.notify}  # the low tier's people, not the notifier
    notified = notified_tiers(config, catalog)  # a composite's children notify nobody (their states still show)
    alarms = {
        definition.name: metric_alarm(
            config,
            catalog,
            definition,
            (at_once if definition.spec.at_once else topics) if notified[definition.name] else {},
        )
        for definition in alarm_definitions(config, catalog)
    }
    # a composite may name composites (the error budget's pairs in ingestion-at-risk): build those first
    built: dict[str, AWSObject] = dict(alarms)
    for definition in composite_definitions(config):
        built[definition.name] = composite_alarm(definition, built, topics if notified[definition.name] else {})
    return list(built.values())


def logical_id(name: str, tier: Tier, kind: str = "Alarm") -> str:
    """`queue-age`, `high` → `QueueAgeHighAlarm`."""
    words = [*name.split("-"), tier]
    return "".join(word[:1].upper() + word[1:] for word in words) + kind


def _description(summary: str, tier: Tier, runbook: str) -> str:
    return f"[{tier}] {summary} Runbook: {runbook}"


def metric_alarm(
    config: Config, catalog: Catalog, definition: AlarmDefinition, topics: dict[Tier, sns.Topic]
) -> cloudwatch.Alarm:
    """The alarm of one table row and tier; it notifies its tier's topic, or nobody when `topics` has none."""
    spec = definition.spec
    monitoring = config.monitoring
    actions = [Ref(topics[definition.tier])] if definition.tier in topics else []
    periods = spec.periods or monitoring.evaluation_periods
    evaluation = {
        "EvaluationPeriods": periods,
        "DatapointsToAlarm": {
            "every": periods,
            "any": 1,
            "m_of_n": min(monitoring.datapoints_to_alarm, periods),
        }[spec.breach],
    }
    return cloudwatch.Alarm(
        logical_id(spec.name, definition.tier),
        AlarmName=definition.name,
        AlarmDescription=_description(spec.summary, definition.tier, definition.runbook),
        ActionsEnabled=True,
        AlarmActions=actions,
        OKActions=actions,
        ComparisonOperator=spec.comparison,
        TreatMissingData=spec.missing,
        **evaluation,
        **_watched(catalog[spec.signal], definition),
    )


def _watched(signal: Signal, definition: AlarmDefinition) -> dict[str, Any]:
    """What the alarm reads: one metric and a threshold, metric math, or a metric and its anomaly band."""
    if definition.spec.is_band:
        band_id = f"{signal.id}_band"
        band = {
            "Id": band_id,
            "Expression": f"ANOMALY_DETECTION_BAND({signal.id}, {definition.threshold:g})",
            "Label": f"{signal.label} expected band",
            "ReturnData": True,
        }
        return {"Metrics": [_query(query) for query in [*signal.queries(), band]], "ThresholdMetricId": band_id}
    if isinstance(signal, Expression):
        return {"Metrics": [_query(query) for query in signal.queries()], "Threshold": definition.threshold}
    return {**_single_metric(signal), "Threshold": definition.threshold}


def _single_metric(metric: Metric) -> dict[str, Any]:
    statistic = {"ExtendedStatistic": metric.stat} if metric.stat.startswith("p") else {"Statistic": metric.stat}
    dimensions = [cloudwatch.MetricDimension(Name=name, Value=value) for name, value in metric.dimensions]
    return {
        "Namespace": metric.namespace,
        "MetricName": metric.name,
        "Period": metric.period,
        **({"Dimensions": dimensions} if dimensions else {}),
        **statistic,
    }


def _query(query: dict[str, Any]) -> cloudwatch.MetricDataQuery:
    if "Expression" in query:
        return cloudwatch.MetricDataQuery(
            Id=query["Id"], Expression=query["Expression"], Label=query["Label"], ReturnData=query["ReturnData"]
        )
    stat = query["MetricStat"]
    metric = stat["Metric"]
    dimensions = [cloudwatch.MetricDimension(Name=d["Name"], Value=d["Value"]) for d in metric["Dimensions"]]
    return cloudwatch.MetricDataQuery(
        Id=query["Id"],
        Label=query["Label"],
        ReturnData=query["ReturnData"],
        MetricStat=cloudwatch.MetricStat(
            Metric=cloudwatch.Metric(
                Namespace=metric["Namespace"],
                MetricName=metric["MetricName"],
                **({"Dimensions": dimensions} if dimensions else {}),
            ),
            Period=stat["Period"],
            Stat=stat["Stat"],
        ),
    )


def composite_alarm(
    definition: CompositeDefinition, alarms: dict[str, AWSObject], topics: dict[Tier, sns.Topic]
) -> cloudwatch.CompositeAlarm:
    """The composite; it notifies its tier's topic, or nobody when `topics` has none (a composite's child)."""
    actions = [Ref(topics[definition.tier])] if definition.tier in topics else []
    return cloudwatch.CompositeAlarm(
        logical_id(definition.spec.name, definition.tier, kind="CompositeAlarm"),
        AlarmName=definition.name,
        AlarmDescription=_description(definition.spec.summary, definition.tier, definition.runbook),
        AlarmRule=definition.rule,
        ActionsEnabled=True,
        AlarmActions=actions,
        OKActions=actions,
        # The rule names its children literally: CloudFormation must create them first.
        DependsOn=[alarms[child].title for child in definition.children],
    )
