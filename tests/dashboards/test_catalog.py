"""The metric catalog: every signal the issue asks for, named once, with the stack's literal names."""

from __future__ import annotations

import re

import pytest

from alarms.engine.metric_math import evaluate, referenced_ids
from core.config import FUNCTION_NAMES, environment_names, load_config
from core.paths import PROJECT_ROOT
from dashboards.catalog import Expression, Metric, build_catalog
from functions.ingest.reasons import REJECTION_REASONS
from synth.synthesize import full_template

ROOT = PROJECT_ROOT


def metric_keys(env: str) -> set[tuple[str, str, str]]:
    return {(m.namespace, m.name, m.stat) for m in build_catalog(load_config(env)).metrics()}


def test_required_metrics_are_in_the_catalog():
    # GIVEN the prod catalog
    config = load_config("prod")
    keys = metric_keys("prod")
    ours = config.metrics_namespace
    # THEN every signal the issue lists is there, with its statistic
    required = {
        ("AWS/ApiGateway", "Count", "Sum"),
        ("AWS/ApiGateway", "4XXError", "Sum"),
        ("AWS/ApiGateway", "5XXError", "Sum"),
        *(("AWS/ApiGateway", name, f"p{p}") for name in ("Latency", "IntegrationLatency") for p in (50, 90, 99)),
        ("AWS/Lambda", "Invocations", "Sum"),
        ("AWS/Lambda", "Errors", "Sum"),
        ("AWS/Lambda", "Throttles", "Sum"),
        ("AWS/Lambda", "Duration", "p99"),
        ("AWS/Lambda", "ConcurrentExecutions", "Maximum"),
        ("AWS/SQS", "NumberOfMessagesSent", "Sum"),
        ("AWS/SQS", "NumberOfMessagesDeleted", "Sum"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum"),
        ("AWS/DynamoDB", "UserErrors", "Sum"),
        ("AWS/DynamoDB", "SystemErrors", "Sum"),
        ("AWS/DynamoDB", "ThrottledRequests", "Sum"),
        ("AWS/DynamoDB", "WriteThrottleEvents", "Sum"),
        ("AWS/DynamoDB", "ConsumedWriteCapacityUnits", "Sum"),
        ("AWS/DynamoDB", "SuccessfulRequestLatency", "Average"),
        *((ours, name, "Sum") for name in ("EventsAccepted", "EventsRejected", "BytesAccepted", "EventsStored")),
        (ours, "WriteRetries", "Sum"),
        (ours, "IngestLag", "p99"),
        (ours, "EventsArchived", "Sum"),
    }
    assert required <= keys, required - keys
    catalog = build_catalog(config)
    expressions = {s.id for s in catalog if isinstance(s, Expression)}
    assert {"api_4xx_rate", "api_5xx_rate", "queue_drain_seconds", "enqueue_gap", "pipeline_gap"} <= expressions
    # AND every function, every queue has its series
    functions = {dict(m.dimensions).get("FunctionName") for m in catalog.metrics() if m.namespace == "AWS/Lambda"}
    assert functions == {config.resource_name(name) for name in FUNCTION_NAMES}
    queues = {dict(m.dimensions)["QueueName"] for m in catalog.metrics() if m.namespace == "AWS/SQS"}
    assert queues == {config.resource_name(name) for name in ("ingest", "dead-letter", "failures")}


@pytest.mark.parametrize("env", environment_names())
def test_dimension_values_are_the_names_the_template_sets(env):
    # GIVEN the template's explicit names
    config = load_config(env)
    resources = full_template(config).to_dict()["Resources"]
    kinds = {"AWS::Lambda::Function": "FunctionName", "AWS::SQS::Queue": "QueueName", "AWS::SNS::Topic": "TopicName"}
    named = {
        (kinds[body["Type"]], body["Properties"][kinds[body["Type"]]])
        for body in resources.values()
        if body["Type"] in kinds
    }
    named |= {("TableName", resources["EventsTable"]["Properties"]["TableName"])}
    named |= {("ApiName", resources["Api"]["Properties"]["Name"]), ("Stage", config.api.stage_name)}
    # THEN every AWS dimension value of the catalog is one of them, and literal
    for metric in build_catalog(config).metrics():
        for name, value in metric.dimensions:
            if metric.namespace.startswith("AWS/") and name != "Operation":
                assert (name, value) in named, (metric.id, name, value)


def test_user_errors_has_no_dimensions_and_per_request_metrics_name_the_operation():
    catalog = build_catalog(load_config("prod"))
    by_name = {m.name: m for m in catalog.metrics() if m.namespace == "AWS/DynamoDB"}
    # AWS publishes UserErrors per account and region, without TableName
    assert by_name["UserErrors"].dimensions == ()
    for name in ("SystemErrors", "ThrottledRequests", "SuccessfulRequestLatency"):
        assert dict(by_name[name].dimensions)["Operation"] == "BatchWriteItem"
    for name in ("WriteThrottleEvents", "ConsumedWriteCapacityUnits"):
        assert set(dict(by_name[name].dimensions)) == {"TableName"}


def test_our_metrics_use_the_functions_namespace_and_service_dimension():
    config = load_config("prod")
    template = full_template(config).to_dict()["Resources"]
    namespace = template["IngestFunction"]["Properties"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert config.metrics_namespace == namespace == "Sluice/prod"
    ours = [m for m in build_catalog(config).metrics() if m.namespace == namespace]
    assert {dict(m.dimensions)["service"] for m in ours} == {"ingest", "consumer", "archiver", "canary", "retrier"}
    rejected = [m for m in ours if m.name == "EventsRejected"]
    assert {dict(m.dimensions)["reason"] for m in rejected} == set(REJECTION_REASONS)


def test_rejection_reasons_match_the_ingest_handler():
    # GIVEN every reason the ingest handler can give (RequestRejected codes and the reasons it counts)
    source = "\n".join(
        (ROOT / "functions" / "ingest" / name).read_text(encoding="utf-8")
        for name in ("request.py", "app.py", "keyed.py")
    )
    codes = set(re.findall(r'RequestRejected\(\s*\d+,\s*"(\w+)"', source))
    codes |= set(re.findall(r'reason="(\w+)"', source))
    # THEN the catalog has a series for each, and nothing else
    assert codes == set(REJECTION_REASONS)


@pytest.mark.parametrize("env", environment_names())
def test_ids_are_unique_valid_metric_math_ids_and_expressions_read_their_inputs(env):
    catalog = build_catalog(load_config(env))
    for signal in catalog:
        assert re.fullmatch(r"[a-z][a-zA-Z0-9_]*", signal.id)
        if isinstance(signal, Expression):
            assert referenced_ids(signal.expression) == {m.id for m in signal.inputs}
            assert len({m.period for m in signal.inputs}) == 1
    metrics = catalog.metrics()
    assert len({m.id for m in metrics}) == len(metrics)
    assert all(isinstance(m, Metric) for m in metrics)


def test_capacities_come_from_the_configuration():
    config = load_config("prod")
    catalog = build_catalog(config)
    assert catalog["ingest_duration_p99"].capacity == config.functions["ingest"].timeout_seconds * 1000
    assert catalog["consumer_concurrency"].capacity == config.functions["consumer"].reserved_concurrency
    assert catalog["queue_age"].capacity == config.queue.retention_seconds
    assert catalog["api_count"].capacity == config.api.rate_limit * config.monitoring.period_seconds
    assert catalog["table_wcu_per_second"].capacity is None  # on-demand


@pytest.mark.parametrize("env", environment_names())
def test_an_aws_metric_without_dimensions_is_labelled_account_wide_and_so_is_its_alarm(env):
    from alarms.table import alarm_definitions

    # GIVEN the signals read only from AWS metrics that carry no dimension (DynamoDB's UserErrors: AWS
    # counts it for every table of the account and region)
    config = load_config(env)
    catalog = build_catalog(config)
    account_wide = {
        signal.id
        for signal in catalog
        if all(metric.namespace.startswith("AWS/") and not metric.dimensions for metric in signal.inputs)
    }
    assert "table_user_errors" in account_wide
    # THEN the dashboards and the alarm say so, so nobody hunts for the fault in this stack alone
    for signal_id in account_wide:
        assert "account-wide" in catalog[signal_id].label, signal_id
    for definition in alarm_definitions(config, catalog):
        if definition.spec.signal in account_wide:
            assert "account-wide" in definition.spec.summary, definition.name


def test_client_requests_leave_out_the_canarys_and_have_no_value_without_any():
    # GIVEN periods with client traffic and the canary's requests, with the canary's only, and with none at all
    config = load_config("local")
    signal = build_catalog(config)["client_requests"]
    api_count = {0: 12.0, 10: 2.0, 20: 7.0}
    canary_requests = {0: 2.0, 10: 2.0}
    # WHEN the expression is evaluated as CloudWatch would
    values = evaluate(
        signal.expression, {"api_count": api_count, "canary_requests": canary_requests}, [0, 10, 20, 30], 10
    )
    # THEN it counts the clients' requests, and a period with only the canary's (or none) has no value, so an idle
    # night does not teach the request anomaly band that silence is normal
    assert values == {0: 10.0, 20: 7.0}
