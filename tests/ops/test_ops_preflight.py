"""Preflight against an account driven by botocore's Stubber: the requests and responses are checked against
botocore's service models (sts, lambda, apigateway, ce, sns), so the shapes are AWS's, not ours."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from invoke import Context, Exit

import ops.deploy
import ops.stack
import tasks.deployment
from core.config import Config, load_config
from core.paths import PROJECT_ROOT
from ops.preflight import Check, Clients, run_preflight

REAL_CONFIG = PROJECT_ROOT / "sluice.toml"
REGION = "us-east-1"
HIGH_TOPIC = "arn:aws:sns:us-east-1:123456789012:sluice-prod-high"
NOTIFY_TOPIC = "arn:aws:sns:us-east-1:123456789012:sluice-prod-notify"
OUTPUTS = {"HighTopicArn": HIGH_TOPIC, "NotifyTopicArn": NOTIFY_TOPIC}
ROLE = "arn:aws:iam::123456789012:role/apigateway-cloudwatch-logs"


@dataclass
class Account:
    clients: Clients
    stubs: dict[str, Stubber]

    def identity(self) -> None:
        self.stubs["sts"].add_response(
            "get_caller_identity",
            {"UserId": "AIDAEXAMPLE", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/ops"},
        )

    def lambda_limits(self, quota: int, unreserved: int) -> None:
        limits = {
            "TotalCodeSize": 80_530_636_800,
            "CodeSizeUnzipped": 262_144_000,
            "CodeSizeZipped": 52_428_800,
            "ConcurrentExecutions": quota,
            "UnreservedConcurrentExecutions": unreserved,
        }
        self.stubs["awslambda"].add_response(
            "get_account_settings", {"AccountLimit": limits, "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0}}
        )

    def api_gateway(self, role: str | None) -> None:
        account = {"throttleSettings": {"burstLimit": 5000, "rateLimit": 10000.0}, "features": ["UsagePlans"]}
        self.stubs["apigateway"].add_response(
            "get_account", {**account, **({"cloudwatchRoleArn": role} if role else {})}
        )

    def cost_tags(self, status: str | None) -> None:
        tags = [{"TagKey": "Project", "Type": "UserDefined", "Status": status}] if status else []
        self.stubs["ce"].add_response(
            "list_cost_allocation_tags",
            {"CostAllocationTags": tags},
            expected_params={"TagKeys": ["Project"], "Type": "UserDefined"},
        )

    def subscriptions(self, *arns: str, topic: str = HIGH_TOPIC) -> None:
        self.stubs["sns"].add_response(
            "list_subscriptions_by_topic",
            {
                "Subscriptions": [
                    {
                        "SubscriptionArn": arn,
                        "Owner": "123456789012",
                        "Protocol": "email",
                        "Endpoint": f"person{index}@corp.test",
                        "TopicArn": topic,
                    }
                    for index, arn in enumerate(arns)
                ]
            },
            expected_params={"TopicArn": topic},
        )

    def ready(self, subscribed: bool = True, quota: int = 1000, unreserved: int = 1000) -> None:
        """Everything a deploy needs is there (with this much Lambda concurrency)."""
        self.identity()
        self.lambda_limits(quota, unreserved)
        self.api_gateway(ROLE)
        self.cost_tags("Active")
        if subscribed:
            self.subscriptions(f"{HIGH_TOPIC}:0b4d3a7c-1111-4c6e-9f00-3c2f1d0e9a01")
            self.subscriptions(f"{NOTIFY_TOPIC}:5e6f7a8b-2222-4c6e-9f00-3c2f1d0e9a02", topic=NOTIFY_TOPIC)


@pytest.fixture
def account() -> Iterator[Account]:
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
    clients = Clients(
        sts=boto3.client("sts", **credentials),
        awslambda=boto3.client("lambda", **credentials),
        apigateway=boto3.client("apigateway", **credentials),
        ce=boto3.client("ce", **credentials),
        sns=boto3.client("sns", **credentials),
    )
    stubs = {name: Stubber(getattr(clients, name)) for name in ("sts", "awslambda", "apigateway", "ce", "sns")}
    for stub in stubs.values():
        stub.activate()
    yield Account(clients, stubs)
    for stub in stubs.values():
        stub.assert_no_pending_responses()  # every stubbed call was made
        stub.deactivate()


@pytest.fixture
def prod(tmp_path: Path) -> Config:
    """prod with a real on-call address instead of the shipped placeholder."""
    path = tmp_path / "sluice.toml"
    path.write_text(REAL_CONFIG.read_text() + "\n[prod.notifications]\nhigh_emails = ['oncall@corp.test']\n")
    return load_config("prod", path)


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def test_a_ready_account_passes_every_check_one_line_each(account: Account, prod: Config) -> None:
    # GIVEN an account with quota, logging role, active cost tag and a confirmed on-call subscription
    account.ready()
    # WHEN preflight runs against the deployed stack
    checks = run_preflight(prod, account.clients, OUTPUTS)
    # THEN every check is there, ok, on one line
    assert [check.name for check in checks] == [
        "credentials",
        "lambda concurrency",
        "api gateway logging role",
        "budget cost tag",
        "high-tier subscribers",
        "low-tier subscribers",
    ]
    assert {check.status for check in checks} == {"ok"}, [check.line() for check in checks]
    assert all("\n" not in check.line() for check in checks)
    assert "account 123456789012" in checks[0].message


def test_without_credentials_only_that_is_reported(account: Account, prod: Config) -> None:
    account.stubs["sts"].add_client_error("get_caller_identity", "ExpiredToken", "The security token has expired.")
    (check,) = run_preflight(prod, account.clients, None)
    assert check.status == "FAIL" and "ExpiredToken" in check.message and "aws sso login" in check.message


@pytest.mark.parametrize(
    ("quota", "unreserved", "outputs", "status", "says"),
    [
        pytest.param(50, 50, None, "FAIL", "quota 50 < 165", id="a new account's small quota"),
        pytest.param(1000, 150, None, "FAIL", "only 150 of 1000 unreserved", id="others reserve, first deploy"),
        pytest.param(1000, 150, OUTPUTS, "ok", "quota 1000", id="ours already reserved, an update"),
    ],
)
def test_concurrency_quota_must_leave_100_unreserved(
    account: Account, prod: Config, quota: int, unreserved: int, outputs: Any, status: str, says: str
) -> None:
    # GIVEN prod reserving 65 (50 + 10 + 2 + 1, 1 for the canary and 1 for the retrier) and an account with `quota`,
    # `unreserved` left
    assert sum(function.reserved_concurrency for function in prod.functions.values()) == 65
    account.ready(subscribed=outputs is not None, quota=quota, unreserved=unreserved)
    # WHEN preflight runs THEN the concurrency line says whether Lambda would refuse the reservations
    check = by_name(run_preflight(prod, account.clients, outputs))["lambda concurrency"]
    assert check.status == status and says in check.message
    if status == "FAIL":
        assert "Service Quotas" in check.message and "reserved_concurrency" in check.message


@pytest.mark.parametrize(("role", "status"), [(ROLE, "ok"), (None, "FAIL")])
def test_the_api_gateway_logging_role_is_found_or_we_say_how_to_set_it(
    account: Account, prod: Config, role: str | None, status: str
) -> None:
    # GIVEN a region whose API Gateway account has (or lacks) a CloudWatch Logs role
    account.identity()
    account.lambda_limits(1000, 1000)
    account.api_gateway(role)
    account.cost_tags("Active")
    # WHEN preflight runs
    check = by_name(run_preflight(prod, account.clients, None))["api gateway logging role"]
    # THEN it is ok, or it says exactly what to run
    assert check.status == status
    if role:
        assert ROLE in check.message
    else:
        assert "AmazonAPIGatewayPushToCloudWatchLogs" in check.message
        assert "aws apigateway update-account --patch-operations op=replace,path=/cloudwatchRoleArn" in check.message


@pytest.mark.parametrize(
    ("status", "says"),
    [(None, "billing has not seen the Project tag yet"), ("Inactive", "Project is inactive")],
)
def test_an_inactive_or_unseen_cost_tag_warns_with_the_command(
    account: Account, prod: Config, status: str | None, says: str
) -> None:
    account.identity()
    account.lambda_limits(1000, 1000)
    account.api_gateway(ROLE)
    account.cost_tags(status)
    check = by_name(run_preflight(prod, account.clients, None))["budget cost tag"]
    assert check.status == "warn" and says in check.message
    assert "aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey=Project,Status=Active" in (
        check.message
    )


def test_a_member_account_that_cannot_read_cost_tags_is_told_where_to_activate(account: Account, prod: Config) -> None:
    account.identity()
    account.lambda_limits(1000, 1000)
    account.api_gateway(ROLE)
    account.stubs["ce"].add_client_error("list_cost_allocation_tags", "AccessDeniedException", "not authorized")
    check = by_name(run_preflight(prod, account.clients, None))["budget cost tag"]
    assert check.status == "warn" and "AccessDeniedException" in check.message and "payer account" in check.message


@pytest.mark.parametrize(
    ("arns", "status", "says"),
    [
        (("PendingConfirmation",), "FAIL", "nobody confirmed"),
        ((f"{HIGH_TOPIC}:0b4d3a7c-1111-4c6e-9f00-3c2f1d0e9a01", "PendingConfirmation"), "warn", "1 confirmed"),
    ],
)
def test_pending_subscriptions_are_named(
    account: Account, prod: Config, arns: tuple[str, ...], status: str, says: str
) -> None:
    # GIVEN a deployed stack whose high topic has these subscriptions
    account.ready(subscribed=False)
    account.subscriptions(*arns)
    account.subscriptions(f"{NOTIFY_TOPIC}:5e6f7a8b-2222-4c6e-9f00-3c2f1d0e9a02", topic=NOTIFY_TOPIC)
    # WHEN preflight runs THEN a page reaching nobody fails, and every pending subscription is named
    check = by_name(run_preflight(prod, account.clients, OUTPUTS))["high-tier subscribers"]
    assert check.status == status and says in check.message
    assert "pending confirmation: email:person" in check.message


def test_the_shipped_placeholder_address_fails(account: Account) -> None:
    # GIVEN the committed prod configuration, whose on-call address is the example.com placeholder
    account.ready(subscribed=False)
    # WHEN preflight runs THEN it names the placeholder and the key to set
    checks = by_name(run_preflight(load_config("prod"), account.clients, OUTPUTS))
    for tier in ("high", "low"):  # the low tier has no subscriber of its own: the high tier's people are its fallback
        check = checks[f"{tier}-tier subscribers"]
        assert check.status == "FAIL"
        assert "oncall@example.com is a placeholder" in check.message and "notifications.high_emails" in check.message


def test_the_low_tier_falls_back_to_the_high_tier_people_and_needs_a_confirmed_subscription_too(
    account: Account, prod: Config
) -> None:
    # GIVEN prod with an on-call address and no low-tier subscriber, deployed: the on-call address confirmed its
    # page subscription, not yet the one on the notify topic (where the notifier forwards the low tier)
    account.ready(subscribed=False)
    account.subscriptions(f"{HIGH_TOPIC}:0b4d3a7c-1111-4c6e-9f00-3c2f1d0e9a01")
    account.subscriptions("PendingConfirmation", topic=NOTIFY_TOPIC)
    # WHEN preflight runs
    check = by_name(run_preflight(prod, account.clients, OUTPUTS))["low-tier subscribers"]
    # THEN the low tier fails: its notifications would reach nobody; it says whose fallback it is, and who must confirm
    assert check.status == "FAIL"
    assert check.message == (
        "no low-tier subscriber, so the high-tier people (fallback): nobody confirmed, so a low-tier notification "
        "reaches nobody; pending confirmation: email:person0@corp.test (open the confirmation message)"
    )


def test_low_tier_subscribers_of_their_own_are_checked_for_placeholders(account: Account, tmp_path: Path) -> None:
    # GIVEN prod with a low-tier subscriber of its own, a placeholder
    path = tmp_path / "sluice.toml"
    path.write_text(
        REAL_CONFIG.read_text()
        + "\n[prod.notifications]\nhigh_emails = ['oncall@corp.test']\nlow_emails = ['team@example.org']\n"
    )
    account.ready(subscribed=False)
    account.subscriptions(f"{HIGH_TOPIC}:0b4d3a7c-1111-4c6e-9f00-3c2f1d0e9a01")
    # WHEN preflight runs THEN the low tier names the placeholder and its own key
    check = by_name(run_preflight(load_config("prod", path), account.clients, OUTPUTS))["low-tier subscribers"]
    assert check.status == "FAIL"
    assert "team@example.org is a placeholder" in check.message and "notifications.low_emails" in check.message


class StubbedSession:
    """What the deploy tasks get instead of a boto3 session: the account's stubbed clients, and CloudFormation
    answering that the stack is deployed."""

    region_name = REGION

    def __init__(self, account: Account) -> None:
        self._account = account
        self.cloudformation = boto3.client(
            "cloudformation", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        self.cfn_stub = Stubber(self.cloudformation)
        stack = {
            "StackName": "sluice-prod",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/sluice-prod/1",
            "CreationTime": "2026-11-30T08:00:00Z",
            "StackStatus": "UPDATE_COMPLETE",
            "Outputs": [{"OutputKey": "HighTopicArn", "OutputValue": HIGH_TOPIC}],
        }
        for _ in range(2):  # the status, then the outputs
            self.cfn_stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "sluice-prod"})
        self.cfn_stub.activate()

    def client(self, service: str, **options: Any) -> Any:
        if service == "cloudformation":
            return self.cloudformation
        if service in ("dynamodb", "s3"):  # what deploy's recovery of a failed rollback would use: unused here
            return boto3.client(
                service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
            )
        return getattr(self._account.clients, {"lambda": "awslambda"}.get(service, service))


def test_invoke_preflight_prints_every_check_and_fails_on_the_placeholder(
    account: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a ready, deployed account and the committed prod configuration (its on-call address a placeholder)
    account.ready(subscribed=False)
    session = StubbedSession(account)
    monkeypatch.setattr(tasks.deployment, "session_of", lambda config, profile, region: session)
    # WHEN `invoke preflight --env prod` runs
    with pytest.raises(Exit) as raised:
        tasks.deployment.preflight(Context(), env="prod")
    # THEN each check printed one line, and the placeholder fails it in one line
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "preflight of sluice-prod:"
    assert [line.split()[0] for line in lines[1:]] == ["ok", "ok", "ok", "ok", "FAIL", "FAIL"]
    assert raised.value.code == 1 and "\n" not in str(raised.value.message)


def test_deploy_runs_preflight_before_any_change_set(
    account: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an account whose API Gateway has no logging role
    account.identity()
    account.lambda_limits(1000, 1000)
    account.api_gateway(None)
    account.cost_tags("Active")
    session = StubbedSession(account)
    monkeypatch.setattr(tasks.deployment, "session_of", lambda config, profile, region: session)
    # WHEN `invoke deploy --env prod --yes` runs
    with pytest.raises(Exit) as raised:
        tasks.deployment.deploy(Context(), env="prod", yes=True)
    # THEN it stops at preflight: no change set was asked for (the Stubber refuses any unplanned call)
    assert "preflight" in str(raised.value.message)
    session.cfn_stub.assert_no_pending_responses()
    assert "FAIL  api gateway logging role" in capsys.readouterr().out


def test_deploy_names_the_subscriptions_still_pending_once_the_stack_is_up(
    account: Account, prod: Config, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a ready account, prod with a real on-call address, and a deploy that succeeds (the change set itself
    # is tested in test_ops_deploy.py)
    account.ready(subscribed=False)
    account.subscriptions("PendingConfirmation")  # what the high topic has right after the deploy
    account.subscriptions("PendingConfirmation", topic=NOTIFY_TOPIC)  # and the notify topic (the low tier's fallback)
    session = StubbedSession(account)
    monkeypatch.setattr(tasks.deployment, "aws_config", lambda env: prod)
    monkeypatch.setattr(tasks.deployment, "session_of", lambda config, profile, region: session)
    monkeypatch.setattr(ops.stack, "environment_stack", lambda config, session: None)
    deployed = ops.deploy.DeployOutcome("deployed", "UPDATE_COMPLETE", OUTPUTS)
    monkeypatch.setattr(ops.deploy, "deploy_stack", lambda *args, **kwargs: deployed)
    # WHEN `invoke deploy --env prod --yes` runs
    tasks.deployment.deploy(Context(), env="prod", yes=True)
    # THEN after the preflight lines it says that nobody is paged yet, and who must confirm
    out = capsys.readouterr().out
    assert "ok    lambda concurrency" in out
    assert "FAIL  high-tier subscribers: nobody confirmed, so a page reaches nobody" in out
    fallback = "FAIL  low-tier subscribers: no low-tier subscriber, so the high-tier people (fallback): nobody"
    assert fallback in out
    assert "pending confirmation: email:person0@corp.test" in out
