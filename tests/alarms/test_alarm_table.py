"""The alarm table and the alarms it becomes in the template: routing, sources of thresholds, the runbook."""

from __future__ import annotations

import dataclasses
import re

import pytest

from alarms.engine.metric_math import referenced_ids
from alarms.stopped_consumer import stopped_consumer_bound
from alarms.table import (
    CANARY_FAILING_PERIODS,
    RUNBOOK,
    alarm_definitions,
    alarm_table,
    composite_definitions,
    delivered_at_once,
    incident_composite,
    notified_tiers,
)
from cloudformation.validate import scan
from core.config import Config, environment_names, load_config
from core.paths import PROJECT_ROOT
from dashboards.catalog import Expression, Metric, build_catalog
from synth.synthesize import full_template, synthesize

ROOT = PROJECT_ROOT


def provisioned(config: Config) -> Config:
    return dataclasses.replace(config, table=dataclasses.replace(config.table, billing="provisioned"))


def variants() -> list[Config]:
    """Every environment, and prod with a provisioned table (which adds the capacity alarm)."""
    return [*(load_config(env) for env in environment_names()), provisioned(load_config("prod"))]


def resources(config: Config, kind: str) -> dict[str, dict]:
    template = full_template(config).to_dict()
    return {name: body["Properties"] for name, body in template["Resources"].items() if body["Type"] == kind}


def runbook_sections() -> list[str]:
    text = (ROOT / RUNBOOK).read_text(encoding="utf-8")
    return re.findall(r"^## (\S+)\s*$", text, flags=re.MULTILINE)


def test_every_alarm_has_a_runbook_section_and_every_section_an_alarm():
    # GIVEN the alarm rows of every configuration variant, and the composites
    rows = {spec.name for config in variants() for spec in alarm_table(config, build_catalog(config))}
    rows |= {d.spec.name for config in variants() for d in composite_definitions(config)}
    # WHEN the runbook's sections are read
    sections = runbook_sections()
    # THEN they match one to one
    assert len(sections) == len(set(sections)), "a runbook section is duplicated"
    assert set(sections) == rows


@pytest.mark.parametrize("env", environment_names())
def test_tiers_route_alarm_and_ok_actions_to_their_topic(env):
    # GIVEN the template's alarms WHEN their actions are read
    config = load_config(env)
    alarms = {**resources(config, "AWS::CloudWatch::Alarm"), **resources(config, "AWS::CloudWatch::CompositeAlarm")}
    composed = {child for composite in composite_definitions(config) for child in composite.children}
    at_once = delivered_at_once(config, build_catalog(config))
    assert len(alarms) >= 20
    for props in alarms.values():
        tier = props["AlarmName"].rsplit("-", 1)[-1]
        # THEN ALARM and OK both notify the tier's topic (a composite's children: nobody, their composite
        # pages; a low alarm that must not wait: the low tier's people, the notify topic), and the description
        # links the runbook
        topic = "NotifyTopic" if props["AlarmName"] in at_once else {"high": "HighTopic", "low": "LowTopic"}[tier]
        topics = [] if props["AlarmName"] in composed else [{"Ref": topic}]
        assert props["AlarmActions"] == topics
        assert props["OKActions"] == topics
        assert props["AlarmDescription"].startswith(f"[{tier}]")
        assert f"Runbook: {RUNBOOK}#" in props["AlarmDescription"]


@pytest.mark.parametrize("env", environment_names())
def test_notified_tiers_say_which_topic_each_alarm_of_the_template_notifies(env):
    # GIVEN the template's alarms and composites
    config = load_config(env)
    alarms = {**resources(config, "AWS::CloudWatch::Alarm"), **resources(config, "AWS::CloudWatch::CompositeAlarm")}
    topic_tier = {"HighTopic": "high", "LowTopic": "low", "NotifyTopic": "low"}
    # WHEN the alarms' notified tiers are read from the table (as the local runtime does)
    notified = notified_tiers(config, build_catalog(config))
    # THEN they name exactly the template's alarms, with the tier of the topic each one's actions go to
    actual = {
        props["AlarmName"]: [topic_tier[action["Ref"]] for action in props["AlarmActions"]] for props in alarms.values()
    }
    assert notified.keys() == actual.keys()
    assert {name: [tier] if tier else [] for name, tier in notified.items()} == actual
    assert None in notified.values()  # the composite's children page nobody


# The notification path's own pages: they say pages may not arrive, so an open incident must not hide them.
NOTIFICATION_PATH_PAGES = ("notifier-errors-high", "failures-queue-visible-high", "notifications-undelivered-high")


@pytest.mark.parametrize("env", environment_names())
def test_the_event_path_pages_only_through_the_incident_composite(env):
    # GIVEN the template's alarms and composites
    config = load_config(env)
    alarms = {**resources(config, "AWS::CloudWatch::Alarm"), **resources(config, "AWS::CloudWatch::CompositeAlarm")}
    # WHEN the alarms that page (actions on the high topic) are read
    paging = {props["AlarmName"] for props in alarms.values() if {"Ref": "HighTopic"} in props["AlarmActions"]}
    # THEN one incident is one page: only the incident composite and the notification path's alarms page
    expected = {config.resource_name(name) for name in ("ingestion-at-risk-high", *NOTIFICATION_PATH_PAGES)}
    assert paging == expected
    # AND every other high alarm is the incident's child (directly, or through a burn-rate pair), canary-failing
    # and consumer-stopped among them (each used to page beside the composite for the same fault)
    (incident,) = [c for c in composite_definitions(config) if c.spec.name == "ingestion-at-risk"]
    highs = {props["AlarmName"] for props in alarms.values() if props["AlarmName"].endswith("-high")}
    composed = {child for composite in composite_definitions(config) for child in composite.children}
    assert highs - expected <= composed
    assert config.resource_name("consumer-stopped-high") in incident.children
    assert (config.resource_name("canary-failing-high") in incident.children) == config.canary.enabled
    # AND the rule is an OR of ALARM() over names CloudWatch accepts (AlarmRule: at most 10,240 characters)
    assert incident.rule.count(" OR ") == len(incident.children) - 1 and len(incident.rule) <= 10240


def test_the_incident_leaves_out_children_a_configuration_does_not_have():
    # GIVEN prod without the canary and with the S3 analytics store as its only sink
    config = load_config("prod")
    bare = dataclasses.replace(config, canary=dataclasses.replace(config.canary, enabled=False), sinks=("s3",))
    # WHEN its incident composite is built
    children = {row for row, _ in incident_composite(bare).any_of}
    # THEN it names neither the canary's alarms nor the events table's, which that configuration has no alarm for
    assert not children & {"canary-failing", "canary-errors", "table-system-errors"}
    assert {"api-5xx-rate", "consumer-stopped"} <= children


def test_required_alarms_exist_with_their_tiers():
    config = load_config("prod")
    names = {alarm.name for alarm in alarm_definitions(config, build_catalog(config))}
    names |= {composite.name for composite in composite_definitions(config)}
    required = [
        "api-5xx-rate-high",
        "api-4xx-rate-low",
        "api-latency-p99-low",
        "api-request-anomaly-low",
        "ingest-errors-high",
        "ingest-throttles-low",
        "consumer-errors-low",
        "consumer-throttles-low",
        "queue-age-low",
        "queue-age-high",
        "enqueue-gap-high",
        "dlq-visible-high",
        "archiver-errors-high",
        "table-system-errors-high",
        "table-user-errors-low",
        "table-throttles-low",
        "ingestion-at-risk-high",
    ]
    assert {config.resource_name(name) for name in required} <= names


@pytest.mark.parametrize("config", variants(), ids=lambda c: f"{c.env}-{c.table.billing}")
def test_every_alarm_reads_catalog_metrics(config):
    # GIVEN the catalog's raw metrics, as (namespace, name, dimensions, stat, period)
    catalog = build_catalog(config)
    known = {(m.namespace, m.name, m.dimensions, m.stat, m.period) for m in catalog.metrics()}
    expressions = {s.expression for s in catalog if isinstance(s, Expression)}
    # WHEN each alarm's metrics are read from the template
    for props in resources(config, "AWS::CloudWatch::Alarm").values():
        if "Metrics" in props:
            for query in props["Metrics"]:
                if "MetricStat" in query:
                    stat = query["MetricStat"]
                    metric = stat["Metric"]
                    dims = tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
                    key = (metric["Namespace"], metric["MetricName"], dims, stat["Stat"], stat["Period"])
                    # THEN every metric is in the catalog, every expression is a catalog one or a band over one
                    assert key in known, props["AlarmName"]
                else:
                    band = re.fullmatch(r"ANOMALY_DETECTION_BAND\((\w+), [\d.]+\)", query["Expression"])
                    assert query["Expression"] in expressions or (band and band.group(1) in catalog.signals)
        else:
            dims = tuple((d["Name"], d["Value"]) for d in props.get("Dimensions", []))
            stat = props.get("Statistic") or props["ExtendedStatistic"]
            assert (props["Namespace"], props["MetricName"], dims, stat, props["Period"]) in known


def test_the_dlq_alarm_watches_visible_and_in_flight_messages_never_messages_sent():
    # GIVEN the DLQ alarm of every environment
    for env in environment_names():
        config = load_config(env)
        (props,) = [
            p
            for p in resources(config, "AWS::CloudWatch::Alarm").values()
            if p["AlarmName"] == config.resource_name("dlq-visible-high")
        ]
        # THEN it reads the DLQ's visible and in-flight messages (a failing archiver holds them in flight),
        # Maximum, and fires when their sum is above zero
        stats = {q["Id"]: q["MetricStat"] for q in props["Metrics"] if "MetricStat" in q}
        assert {stat["Metric"]["MetricName"] for stat in stats.values()} == {
            "ApproximateNumberOfMessagesVisible",
            "ApproximateNumberOfMessagesNotVisible",
        }
        for stat in stats.values():
            assert stat["Stat"] == "Maximum"
            assert stat["Metric"]["Dimensions"] == [{"Name": "QueueName", "Value": config.resource_name("dead-letter")}]
        (returned,) = [q for q in props["Metrics"] if q["ReturnData"]]
        assert referenced_ids(returned["Expression"]) == set(stats)
        assert sorted(returned["Expression"].split(" + ")) == sorted(f"FILL({query_id}, 0)" for query_id in stats)
        assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0.0)
    # AND no alarm anywhere reads NumberOfMessagesSent of the DLQ
    for props in resources(load_config("prod"), "AWS::CloudWatch::Alarm").values():
        assert "dead-letter" not in str(props) or "NumberOfMessagesSent" not in str(props)


@pytest.mark.parametrize("env", environment_names())
def test_periods_and_datapoints_come_from_the_configuration(env):
    config = load_config(env)
    monitoring = config.monitoring
    for props in resources(config, "AWS::CloudWatch::Alarm").values():
        if "-error-budget-" in props["AlarmName"]:
            continue  # one period as long as its window (tests/alarms/test_burn_rate_alarms.py)
        periods = [q["MetricStat"]["Period"] for q in props.get("Metrics", []) if "MetricStat" in q]
        # (the window-sum gap reads one period as long as the evaluated window, once)
        if "enqueue-gap-window" in props["AlarmName"]:
            assert set(periods) == {monitoring.period_seconds * monitoring.evaluation_periods}
            assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (1, 1)
            continue
        assert set(periods or [props["Period"]]) == {monitoring.period_seconds}
        # (the canary pages after a fixed streak of failing periods: a few runs on AWS, not five minutes)
        periods = CANARY_FAILING_PERIODS if "canary-failing" in props["AlarmName"] else monitoring.evaluation_periods
        # (a stopped consumer pages within a bound derived from the batching window: alarms/stopped_consumer.py)
        if "consumer-stopped" in props["AlarmName"]:
            periods = stopped_consumer_bound(config).periods
        assert props["EvaluationPeriods"] == periods
        # the enqueue gap must show in every period (boundary noise); dead letters matter the first time
        # they show (a fast archiver may leave them visible for one period), and so does an archiver error
        # (a failed batch is retried only after the DLQ's visibility timeout); every other alarm is M of N
        name = props["AlarmName"]
        if any(every in name for every in ("enqueue-gap", "canary-failing", "consumer-stopped")):
            expected = periods
        elif any(
            signal in name
            for signal in (
                "dlq-visible",
                "events-archived",
                "failures-queue-visible",
                "archiver-errors",
                "retries",
                "retry-window",
                "retrier-errors",  # parked events wait for it: the first failed run matters
                "queue-in-flight",  # the queue stalls at the cap: the first period near it matters
                "analytics-sink-errors",  # its events wait on retries, like `retries`
                "pages-undelivered",  # a failed delivery matters the first time
                "notifications-undelivered",
            )
        ):
            expected = 1
        else:
            expected = monitoring.datapoints_to_alarm
        assert props["DatapointsToAlarm"] == expected


def test_capacity_and_age_thresholds_derive_from_the_configuration():
    # GIVEN a provisioned prod configuration
    config = provisioned(load_config("prod"))
    share = config.monitoring.capacity_share
    thresholds = {(d.spec.name, d.tier): d.threshold for d in alarm_definitions(config, build_catalog(config))}
    period = config.monitoring.period_seconds
    # THEN capacity alarms sit at capacity_share of the configured capacity
    assert thresholds["ingest-concurrency", "low"] == share * config.functions["ingest"].reserved_concurrency
    assert thresholds["consumer-duration", "low"] == share * config.functions["consumer"].timeout_seconds * 1000
    assert thresholds["api-request-rate", "low"] == share * config.api.rate_limit * period
    assert thresholds["table-write-capacity", "low"] == share * config.table.max_write_capacity
    # AND queue age warns after one visibility timeout and pages when an event is older than the longest retries
    # can last (derived from the retry window), well before retention deletes it
    assert thresholds["queue-age", "low"] == config.visibility_timeout_seconds
    assert thresholds["queue-age", "high"] == config.retry_budget_seconds
    assert config.queue.retry_window_seconds < thresholds["queue-age", "high"] < config.queue.retention_seconds / 2
    # AND retries warn at once, and page when the oldest retried event has waited its share of the window
    window = config.queue.retry_window_seconds
    assert thresholds["retries", "low"] == 0.0
    assert thresholds["retry-window", "high"] == config.monitoring.retry_window_alarm_share * window
    # AND an on-demand table has no provisioned-capacity alarm
    on_demand = load_config("prod")
    assert "table-write-capacity" not in {s.name for s in alarm_table(on_demand, build_catalog(on_demand))}


def test_service_objectives_and_runbook_links_come_from_the_configuration():
    # GIVEN prod with its own objectives and an https runbook
    prod = load_config("prod")
    monitoring = dataclasses.replace(
        prod.monitoring,
        api_5xx_rate_percent=0.5,
        api_4xx_rate_percent=12.0,
        api_latency_p99_ms=750.0,
        runbook_url="https://git.example.com/sluice/docs/runbook.md",
    )
    config = dataclasses.replace(prod, monitoring=monitoring)
    # WHEN its alarms are defined and generated
    thresholds = {(d.spec.name, d.tier): d.threshold for d in alarm_definitions(config, build_catalog(config))}
    alarms = {**resources(config, "AWS::CloudWatch::Alarm"), **resources(config, "AWS::CloudWatch::CompositeAlarm")}
    dashboards = resources(config, "AWS::CloudWatch::Dashboard")
    # THEN the thresholds are the objectives, and every description and dashboard links the https runbook
    assert thresholds["api-5xx-rate", "high"] == 0.5
    assert thresholds["api-4xx-rate", "low"] == 12.0
    assert thresholds["api-latency-p99", "low"] == 750.0
    for props in alarms.values():
        row = props["AlarmName"].removeprefix(f"{config.resource_name('')}").rsplit("-", 1)[0]
        assert props["AlarmDescription"].endswith(f"Runbook: https://git.example.com/sluice/docs/runbook.md#{row}")
    assert any("https://git.example.com/sluice/docs/runbook.md#" in str(body) for body in dashboards.values())


def test_anomaly_alarm_uses_a_band_threshold():
    config = load_config("prod")
    (props,) = [
        p
        for p in resources(config, "AWS::CloudWatch::Alarm").values()
        if p["AlarmName"] == config.resource_name("api-request-anomaly-low")
    ]
    assert props["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"
    assert "Threshold" not in props
    band = next(q for q in props["Metrics"] if q["Id"] == props["ThresholdMetricId"])
    # (over the clients' requests: the canary's own, every minute, are not traffic)
    assert band["Expression"].startswith("ANOMALY_DETECTION_BAND(client_requests,")
    returned = {q["Id"] for q in props["Metrics"] if q["ReturnData"]}
    assert returned == {"client_requests", props["ThresholdMetricId"]}


def test_composite_rule_names_existing_alarms_and_depends_on_them():
    config = load_config("prod")
    template = full_template(config).to_dict()["Resources"]
    names = {body["Properties"]["AlarmName"]: logical for logical, body in template.items() if "Alarm" in body["Type"]}
    for composite in composite_definitions(config):
        body = template[names[composite.name]]
        for child in composite.children:
            assert f'ALARM("{child}")' in body["Properties"]["AlarmRule"]
            assert names[child] in body["DependsOn"]


def test_every_alarm_signal_is_in_the_catalog():
    for config in variants():
        catalog = build_catalog(config)
        for spec in alarm_table(config, catalog):
            assert isinstance(catalog[spec.signal], Metric | Expression)


def test_provisioned_template_with_monitoring_passes_validate(tmp_path):
    # GIVEN prod with a provisioned table (every environment's own template is scanned in tests/cloudformation)
    report = scan(synthesize(provisioned(load_config("prod")), build_dir=tmp_path).path)
    # THEN nothing beyond the justified exceptions
    assert report.failures == [], report.summary()
