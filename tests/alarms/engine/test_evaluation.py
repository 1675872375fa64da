"""The pure alarm evaluation: a window of datapoints decides a state as CloudWatch does."""

from __future__ import annotations

import pytest

from alarms.definitions import definitions_from_template
from alarms.engine.evaluation import ALARM, INSUFFICIENT_DATA, OK, Datapoint, MetricAlarm, decide, evaluate_alarm
from core.config import load_config
from synth.synthesize import full_template

PERIOD = 60


def points(*marks: str) -> list[Datapoint]:
    """'X' breaching, 'O' not breaching, '-' missing."""
    mapping = {"X": (1.0, True), "O": (0.0, False), "-": (None, None)}
    return [Datapoint(index, *mapping[mark]) for index, mark in enumerate(marks)]


@pytest.mark.parametrize(
    ("marks", "missing", "expected"),
    [
        # CloudWatch's documented table for 3 of 3 datapoints
        ("OXX", "missing", OK),
        ("O--", "missing", OK),
        ("---", "missing", INSUFFICIENT_DATA),
        ("---", "ignore", None),
        ("---", "breaching", ALARM),
        ("---", "notBreaching", OK),
        ("--X", "missing", ALARM),
        ("--X", "ignore", None),
        ("--X", "breaching", ALARM),
        ("--X", "notBreaching", OK),
        ("XXX", "notBreaching", ALARM),
    ],
)
def test_decide_follows_cloudwatch_missing_data_table(marks, missing, expected):
    # GIVEN a 3-of-3 alarm WHEN its window holds these datapoints THEN the state is CloudWatch's
    alarm = MetricAlarm.from_definition(
        {
            "AlarmName": "t",
            "Namespace": "n",
            "MetricName": "m",
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 3,
            "Threshold": 0.5,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": missing,
        }
    )
    assert decide(alarm, points(*marks)).state == expected


def rate_alarm(expression: str, threshold: float) -> MetricAlarm:
    def stat(name: str) -> dict:
        metric = {"Namespace": "n", "MetricName": name, "Dimensions": []}
        return {"Metric": metric, "Period": PERIOD, "Stat": "Sum"}

    return MetricAlarm.from_definition(
        {
            "AlarmName": "rate",
            "Metrics": [
                {"Id": "errors", "MetricStat": stat("Errors"), "ReturnData": False},
                {"Id": "requests", "MetricStat": stat("Requests"), "ReturnData": False},
                {"Id": "rate", "Expression": expression, "ReturnData": True},
            ],
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        }
    )


def test_evaluate_alarm_computes_the_metric_math_over_the_window_only():
    # GIVEN a 2-of-3 error-rate alarm and series that breached long ago and in the last two periods
    alarm = rate_alarm("100 * errors / requests", 5.0)
    series = {
        "errors": {0: 50.0, 60: 0.0, 120: 0.0, 180: 1.0, 240: 10.0, 300: 10.0},
        "requests": {0: 100.0, 60: 100.0, 120: 100.0, 180: 100.0, 240: 100.0, 300: 100.0},
    }
    # WHEN the window ends after period 180 THEN one breaching datapoint of three is not enough
    assert evaluate_alarm(alarm, series, 240).state == OK
    # WHEN it ends after period 300 THEN two of three breach
    verdict = evaluate_alarm(alarm, series, 360)
    assert verdict.state == ALARM
    assert [point.value for point in verdict.datapoints] == [1.0, 10.0, 10.0]


def local_rate_alarm(row: str) -> tuple[MetricAlarm, int]:
    """The local template's alarm for `row`, and its period."""
    config = load_config("local")
    template = full_template(config).to_dict()
    definitions = definitions_from_template(template, lambda node: str(node))
    (definition,) = [d for d in definitions.alarms if d["AlarmName"] == config.resource_name(row)]
    return MetricAlarm.from_definition(definition), config.monitoring.period_seconds


def api_series(alarm: MetricAlarm, errors: float, requests: float, periods: int, period: int) -> dict:
    """Every period with `errors` of `requests`, keyed by the alarm's query ids."""
    by_metric = {"5XXError": errors, "4XXError": errors, "Count": requests}
    return {
        query_id: {step * period: by_metric[stat["Metric"]["MetricName"]] for step in range(periods)}
        for query_id, stat in alarm.metric_stats().items()
    }


@pytest.mark.parametrize("row", ["api-5xx-rate-high", "api-4xx-rate-low"])
def test_a_handful_of_requests_never_counts_for_a_rate_alarm(row):
    # GIVEN the local template's rate alarm and its minimum of requests per period
    alarm, period = local_rate_alarm(row)
    minimum = load_config("local").monitoring.min_requests_per_period
    assert minimum > 3
    # WHEN every period has 1 error in 3 requests (33 %, far above any threshold)
    quiet = api_series(alarm, 1.0, 3.0, 20, period)
    # THEN the alarm stays OK at every point of the history
    assert {evaluate_alarm(alarm, quiet, end * period).state for end in range(3, 21)} == {OK}
    # WHEN the same share of errors comes at normal traffic THEN it alarms
    busy = api_series(alarm, float(minimum), 3.0 * minimum, 20, period)
    assert evaluate_alarm(alarm, busy, 20 * period).state == ALARM
