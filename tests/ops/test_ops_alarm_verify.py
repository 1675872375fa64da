"""`invoke alarms.verify` against botocore's Stubber: ListStackResources, DescribeAlarms and GetMetricData answered in
the cloudwatch model's real shapes (Messages, StatusCode, Label, Timestamps/Values, NextToken), the stubber checking
every request and response against the model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.stub import Stubber

from alarms.engine.evaluation import MetricAlarm
from alarms.verify import namespaced
from core.config import load_config
from ops.alarm_verify import after_deploy, local_line, verify_alarms
from ops.backtest import table_definitions
from ops.metric_history import batched

CONFIG = load_config("dev")
NOW = 1_796_083_200 + 240 + 17  # 4 minutes and 17 s past a minute boundary
END = 1_796_083_200 + 240  # the last complete minute ends here
HOURS = 4 / 60  # four one-minute periods
NAMES = ("api-5xx-rate-high", "api-request-anomaly-low", "api-4xx-rate-low")


def client(service: str) -> Any:
    return boto3.client(service, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")


def at(offset: int) -> datetime:
    return datetime.fromtimestamp(END - 240 + offset, UTC)


def definitions(*names: str) -> list[dict[str, Any]]:
    wanted = {f"sluice-dev-{name}" for name in names}
    found = [dict(d) for d in table_definitions(CONFIG).alarms if d["AlarmName"] in wanted]
    for definition in found:  # DescribeAlarms returns no tags
        definition.pop("Tags", None)
    return sorted(found, key=lambda definition: definition["AlarmName"])


def stub_stack(cfn_stub: Stubber, cw_stub: Stubber, alarms: list[dict[str, Any]]) -> None:
    summaries = [
        {
            "LogicalResourceId": f"Alarm{index}",
            "PhysicalResourceId": alarm["AlarmName"],
            "ResourceType": "AWS::CloudWatch::Alarm",
            "LastUpdatedTimestamp": at(0),
            "ResourceStatus": "CREATE_COMPLETE",
        }
        for index, alarm in enumerate(alarms)
    ]
    summaries.append(
        {
            "LogicalResourceId": "HighTopic",
            "PhysicalResourceId": "arn:aws:sns:eu-west-1:123456789012:high",
            "ResourceType": "AWS::SNS::Topic",
            "LastUpdatedTimestamp": at(0),
            "ResourceStatus": "CREATE_COMPLETE",
        }
    )
    cfn_stub.add_response("list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": "sluice-dev"})
    cw_stub.add_response(
        "describe_alarms",
        {"MetricAlarms": alarms},
        {"AlarmNames": sorted(alarm["AlarmName"] for alarm in alarms), "AlarmTypes": ["MetricAlarm"]},
    )


def result(query_id: str, label: str, points: dict[int, float], status: str = "Complete", **extra: Any) -> dict:
    ordered = sorted(points.items())
    return {
        "Id": query_id,
        "Label": label,
        "Timestamps": [at(offset) for offset, _ in ordered],
        "Values": [value for _, value in ordered],
        "StatusCode": status,
        **extra,
    }


def request(alarms: list[dict[str, Any]], prefixes: list[str], next_token: str | None = None) -> dict[str, Any]:
    queries = [
        query
        for alarm, prefix in zip(alarms, prefixes, strict=True)
        for query in namespaced(MetricAlarm.from_definition(alarm), prefix)
    ]
    params = {"MetricDataQueries": queries, "StartTime": at(0), "EndTime": at(240), "ScanBy": "TimestampAscending"}
    return {**params, "NextToken": next_token} if next_token else params


def test_verify_reports_agreement_disagreement_and_an_expression_error_across_pages():
    # GIVEN a stack with three metric alarms (and a topic), all read in one GetMetricData request of two pages:
    # the 4XX rate (a0_) agrees with ours; the 5XX rate (a1_) has an expression error CloudWatch reports; the request
    # anomaly (a2_) comes back with 0 client requests where ours drops the period (x * x / x at x = 0)
    cfn, cloudwatch = client("cloudformation"), client("cloudwatch")
    alarms = definitions(*NAMES)
    assert [a["AlarmName"] for a in alarms] == [f"sluice-dev-{name}" for name in sorted(NAMES)]
    with Stubber(cfn) as cfn_stub, Stubber(cloudwatch) as cw_stub:
        stub_stack(cfn_stub, cw_stub, alarms)
        first_page = [
            result("a0_api_4xx", "4XX responses", {0: 5.0}, "PartialData"),
            result("a0_api_count", "Requests", {0: 100.0}, "PartialData"),
            result("a0_api_4xx_rate", "4XX rate", {0: 5.0}, "PartialData"),
            result("a2_api_count", "Requests", {0: 100.0, 60: 12.0}, "PartialData"),
            result("a2_canary_requests", "Canary requests", {0: 12.0, 60: 12.0}, "PartialData"),
            result("a2_client_requests", "Client requests", {0: 88.0, 60: 0.0}),
            result("a2_client_requests_band", "upper", {0: 120.0}),
            result("a2_client_requests_band", "lower", {0: 60.0}),
            result("a1_api_5xx", "5XX responses", {}),
            result("a1_api_count", "Requests", {}),
            result(
                "a1_api_5xx_rate",
                "5XX rate",
                {},
                "InternalError",
                Messages=[{"Code": "InternalError", "Value": "The expression could not be evaluated"}],
            ),
        ]
        cw_stub.add_response(
            "get_metric_data",
            {"MetricDataResults": first_page, "NextToken": "page-2", "Messages": []},
            request(alarms, ["a0_", "a1_", "a2_"]),
        )
        second_page = [
            result("a0_api_4xx", "4XX responses", {60: 0.0}),
            result("a0_api_count", "Requests", {60: 80.0}),
            result("a0_api_4xx_rate", "4XX rate", {60: 0.0}),
            result("a2_api_count", "Requests", {}),
            result("a2_canary_requests", "Canary requests", {}),
        ]
        cw_stub.add_response(
            "get_metric_data",
            {"MetricDataResults": second_page, "Messages": []},
            request(alarms, ["a0_", "a1_", "a2_"], next_token="page-2"),
        )
        # WHEN the deployed alarms are verified over the last four minutes
        verification = verify_alarms(cloudwatch, cfn, CONFIG, HOURS, now=NOW)
        cw_stub.assert_no_pending_responses()
    # THEN one line per alarm says what was found, and a summary counts them
    lines = verification.lines()
    assert lines[0] == "api-4xx-rate-low: agrees (1 expression(s) × 4 period(s))"
    assert lines[1] == (
        "api-5xx-rate-high: error (CloudWatch: api_5xx_rate: InternalError: The expression could not be evaluated)"
    )
    assert lines[2].startswith("api-request-anomaly-low: differs (1 period(s): client_requests ")
    assert "CloudWatch 0, ours none" in lines[2]
    assert lines[2].endswith("band: CloudWatch's model returned 2 series, 1 period(s))")
    assert lines[3] == "alarms.verify sluice-dev (last 0.0667 h): 1 agree, 1 differ, 1 CloudWatch error, 0 no data"
    assert not verification.ok


def test_a_request_cloudwatch_refuses_is_asked_again_alarm_by_alarm():
    # GIVEN two alarms, and CloudWatch refusing the request that holds both
    cfn, cloudwatch = client("cloudformation"), client("cloudwatch")
    alarms = definitions("api-4xx-rate-low", "api-5xx-rate-high")
    with Stubber(cfn) as cfn_stub, Stubber(cloudwatch) as cw_stub:
        stub_stack(cfn_stub, cw_stub, alarms)
        cw_stub.add_client_error(
            "get_metric_data",
            "ValidationError",
            "Error in expression 'a1_api_5xx_rate'",
            400,
            expected_params=request(alarms, ["a0_", "a1_"]),
        )
        # AND alone, the first is answered with nothing and the second refused again
        empty = [result(query["Id"], "", {}) for query in request(alarms[:1], ["a0_"])["MetricDataQueries"]]
        cw_stub.add_response("get_metric_data", {"MetricDataResults": empty}, request(alarms[:1], ["a0_"]))
        cw_stub.add_client_error(
            "get_metric_data",
            "ValidationError",
            "Error in expression",
            400,
            expected_params=request(alarms[1:], ["a0_"]),
        )
        # WHEN verified
        verification = verify_alarms(cloudwatch, cfn, CONFIG, HOURS, now=NOW)
        cw_stub.assert_no_pending_responses()
    # THEN the refusal lands on the alarm that caused it
    assert [check.outcome for check in verification.checks] == ["no data", "error"]
    assert verification.checks[1].detail == "CloudWatch: ValidationError: Error in expression"


def test_calls_hold_at_most_500_queries_and_never_split_an_alarm():
    # GIVEN 300 alarms of 3 queries each (an expression and its two inputs)
    groups = [[{"Id": f"a{alarm}_{query}"} for query in range(3)] for alarm in range(300)]
    # WHEN packed into GetMetricData calls
    calls = batched(groups)
    # THEN no call exceeds 500 queries and each alarm's queries share a call
    assert [sum(len(group) for group in call) for call in calls] == [498, 402]
    assert [len(call) for call in calls] == [166, 134]


def test_deploy_gets_one_line_when_verify_cannot_run():
    # GIVEN a stack CloudFormation cannot list
    cfn, cloudwatch = client("cloudformation"), client("cloudwatch")
    with Stubber(cfn) as cfn_stub:
        cfn_stub.add_client_error("list_stack_resources", "ValidationError", "Stack with id sluice-dev does not exist")
        # WHEN deploy asks for the check's line
        line = after_deploy({"cloudformation": cfn, "cloudwatch": cloudwatch}.__getitem__, CONFIG, 3.0)
    # THEN it is one line saying the check could not run and that the deploy stands
    assert line == (
        "alarms.verify sluice-dev: could not run (listing the stack's resources: ValidationError: Stack "
        "with id sluice-dev does not exist); the deploy is not affected (`invoke alarms.verify --env dev` to try again)"
    )


def test_moto_evaluates_no_metric_math_as_the_local_line_says():
    # GIVEN moto's CloudWatch with a datapoint
    from moto import mock_aws

    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        cloudwatch.put_metric_data(Namespace="N", MetricData=[{"MetricName": "M", "Value": 3.0, "Timestamp": at(0)}])
        stat = {"Metric": {"Namespace": "N", "MetricName": "M"}, "Period": 60, "Stat": "Sum"}
        # WHEN an expression over it and the bare id are asked for
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {"Id": "m", "MetricStat": stat},
                {"Id": "doubled", "Expression": "m * 2"},
                {"Id": "bare", "Expression": "m"},
            ],
            StartTime=at(0),
            EndTime=at(240),
        )
    values = {result["Id"]: result["Values"] for result in answer["MetricDataResults"]}
    # THEN the metric and the bare id have values, the expression none: nothing to check ours against locally
    assert values == {"m": [3.0], "doubled": [], "bare": [3.0]}
    assert "evaluates no metric math" in local_line()
