"""Our metric math against CloudWatch's answers, period by period (alarms.verify), on the deployed table's own
alarm definitions."""

from __future__ import annotations

from functools import cache

from alarms.engine.evaluation import MetricAlarm
from alarms.verify import check_alarm, namespaced
from core.config import load_config
from ops.backtest import table_definitions
from ops.metric_history import QueryData

T0 = 1_796_083_200  # a minute boundary
TIMESTAMPS = [T0 + 60 * step for step in range(4)]


@cache
def alarm(name: str) -> MetricAlarm:
    definitions = table_definitions(load_config("dev")).alarms
    return MetricAlarm.from_definition(next(d for d in definitions if d["AlarmName"] == f"sluice-dev-{name}"))


def answer(query_id: str, values: dict[int, float], status: str = "Complete", *messages: str) -> QueryData:
    return QueryData(query_id, {query_id: values}, status, list(messages))


def rate_answers(rate: dict[int, float]) -> dict[str, QueryData]:
    count = {TIMESTAMPS[0]: 100.0, TIMESTAMPS[1]: 10.0, TIMESTAMPS[2]: 200.0}
    errors = {TIMESTAMPS[0]: 5.0, TIMESTAMPS[2]: 0.0}
    return {
        "api_5xx": answer("api_5xx", errors),
        "api_count": answer("api_count", count),
        "api_5xx_rate": answer("api_5xx_rate", rate),
    }


def test_namespaced_prefixes_every_id_and_every_reference_and_returns_all_data():
    # GIVEN the request-anomaly alarm: two metrics, an expression over both, and its band over the expression
    queries = namespaced(alarm("api-request-anomaly-low"), "a7_")
    # THEN every id carries the prefix, expressions name the prefixed ids, functions keep their names
    assert [query["Id"] for query in queries] == [
        "a7_api_count",
        "a7_canary_requests",
        "a7_client_requests",
        "a7_client_requests_band",
    ]
    assert queries[2]["Expression"].startswith("(a7_api_count - FILL(a7_canary_requests, 0)) * ")
    assert queries[3]["Expression"] == "ANOMALY_DETECTION_BAND(a7_client_requests, 3)"
    # AND every query returns its data: the raw inputs are what our evaluator reads
    assert all(query["ReturnData"] for query in queries)


def test_an_alarm_agrees_when_cloudwatch_computed_what_we_compute():
    # GIVEN CloudWatch's 5XX rate: 5 % at 100 requests, 0 below the 50-request minimum and at 0 errors, none where
    # there were no requests
    answers = rate_answers({TIMESTAMPS[0]: 5.0, TIMESTAMPS[1]: 0.0, TIMESTAMPS[2]: 0.0})
    # WHEN our evaluator computes the same expression on CloudWatch's raw inputs
    check = check_alarm(alarm("api-5xx-rate-high"), answers, TIMESTAMPS)
    # THEN they agree
    assert check.outcome == "agrees", check.line()


def test_a_disagreement_names_the_periods_and_both_values():
    # GIVEN CloudWatch's rate lacking the third period (ours: 0 errors of 200 requests is 0 %) and 6 % for the first
    answers = rate_answers({TIMESTAMPS[0]: 6.0, TIMESTAMPS[1]: 0.0})
    # WHEN checked
    check = check_alarm(alarm("api-5xx-rate-high"), answers, TIMESTAMPS)
    # THEN it differs in those two periods, each with CloudWatch's value and ours
    assert check.outcome == "differs"
    assert [(d.timestamp, d.cloudwatch, d.local) for d in check.differences] == [
        (TIMESTAMPS[0], 6.0, 5.0),
        (TIMESTAMPS[2], None, 0.0),
    ]
    assert "api_5xx_rate 00:00 CloudWatch 6, ours 5" in check.line()


def test_cloudwatch_errors_are_reported_with_their_messages_not_compared():
    # GIVEN a result CloudWatch marked InternalError with a message, and one marked Forbidden without any
    answers = rate_answers({})
    answers["api_5xx_rate"] = answer("api_5xx_rate", {}, "InternalError", "InternalError: expression failed")
    answers["api_count"] = answer("api_count", {}, "Forbidden")
    # WHEN checked
    check = check_alarm(alarm("api-5xx-rate-high"), answers, TIMESTAMPS, ["Maximum number of allowed metrics exceeded"])
    # THEN the outcome is CloudWatch's error, every message named
    assert check.outcome == "error"
    assert check.detail == (
        "CloudWatch: Maximum number of allowed metrics exceeded; api_count: StatusCode Forbidden; "
        "api_5xx_rate: InternalError: expression failed"
    )


def test_a_window_without_any_datapoint_is_no_data():
    # GIVEN nothing in the window (a datapoint outside it does not count)
    answers = {query_id: answer(query_id, {}) for query_id in ("api_5xx", "api_count", "api_5xx_rate")}
    answers["api_count"] = answer("api_count", {T0 - 60: 5.0})
    # WHEN checked
    check = check_alarm(alarm("api-5xx-rate-high"), answers, TIMESTAMPS)
    # THEN no data
    assert check.outcome == "no data"


def test_the_band_is_not_compared_but_whether_cloudwatch_had_a_model_is_said():
    # GIVEN the request-anomaly alarm: CloudWatch's client requests as ours (none where the clients sent none: the
    # division by zero drops the datapoint) and its band as two labelled series under the band's id
    counts = {TIMESTAMPS[0]: 30.0, TIMESTAMPS[1]: 12.0, TIMESTAMPS[2]: 40.0}
    canary = {TIMESTAMPS[0]: 12.0, TIMESTAMPS[1]: 12.0, TIMESTAMPS[2]: 12.0}
    band = QueryData(
        "client_requests_band",
        {"upper": {TIMESTAMPS[0]: 40.0, TIMESTAMPS[2]: 41.0}, "lower": {TIMESTAMPS[0]: 2.0, TIMESTAMPS[2]: 3.0}},
    )
    answers = {
        "api_count": answer("api_count", counts),
        "canary_requests": answer("canary_requests", canary),
        "client_requests": answer("client_requests", {TIMESTAMPS[0]: 18.0, TIMESTAMPS[2]: 28.0}),
        "client_requests_band": band,
    }
    # WHEN checked
    check = check_alarm(alarm("api-request-anomaly-low"), answers, TIMESTAMPS)
    # THEN the expression agrees, and the line says CloudWatch's model answered
    assert check.outcome == "agrees", check.line()
    assert check.band == "band: CloudWatch's model returned 2 series, 2 period(s)"
    # AND if CloudWatch gave 0 where the clients sent nothing, that period would differ
    answers["client_requests"] = answer(
        "client_requests", {TIMESTAMPS[0]: 18.0, TIMESTAMPS[1]: 0.0, TIMESTAMPS[2]: 28.0}
    )
    assert check_alarm(alarm("api-request-anomaly-low"), answers, TIMESTAMPS).outcome == "differs"


def test_an_expression_beyond_our_evaluator_is_reported_as_such():
    # GIVEN an alarm whose expression uses a function alarms.engine.metric_math does not have
    definition = {
        "AlarmName": "x",
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 1.0,
        "Metrics": [
            {"Id": "m", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"}, "Period": 60, "Stat": "Sum"}},
            {"Id": "e", "Expression": "RATE(m)", "ReturnData": True},
        ],
    }
    answers = {"m": answer("m", {TIMESTAMPS[0]: 1.0}), "e": answer("e", {})}
    # WHEN checked
    check = check_alarm(MetricAlarm.from_definition(definition), answers, TIMESTAMPS)
    # THEN it says our evaluator cannot, and why
    assert check.outcome == "unsupported"
    assert "RATE" in check.detail
