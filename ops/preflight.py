"""Read-only checks of what an AWS account must have before (and after) Sluice is deployed into it.

A brand-new account or region lacks things a template cannot create or assume. Each check is one line:
`ok`, `warn` (deploying works, but something will not reach anyone until it is done) or `FAIL` (the deploy
would fail or page nobody), with what to do. Nothing here changes the account.

- credentials and region (sts GetCallerIdentity);
- Lambda concurrency: the quota must leave 100 unreserved after our reservations (lambda GetAccountSettings);
- API Gateway's account-level CloudWatch Logs role, without which a REST stage with access logging is
  refused (apigateway GetAccount). `AWS::ApiGateway::Account` is a per-region singleton other stacks may
  own, so Sluice never sets it: preflight says how;
- the `Project` cost-allocation tag the budget filters on is active (ce ListCostAllocationTags). Activation
  is a billing setting of the payer account, possible only once billing has seen the tag (up to 24 hours
  after the first tagged resource), so deploy cannot do it on a first run: preflight says how, and warns;
- every tier reaches someone: no placeholder address, and after a deploy at least one confirmed subscription
  (sns ListSubscriptionsByTopic) on each person-facing topic — the high topic (pages) and the notify topic (the
  low tier, which the notifier forwards to: its own subscribers, or the high-tier people as its fallback).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from cloudformation import output_keys
from cloudformation.common import PROJECT_TAG
from cloudformation.notifications import tier_recipients
from core.config import Config
from ops.aws import aws_errors, error_code, error_message
from ops.changeset import stack_status
from ops.deploy import EMPTY_LEFTOVERS, stack_outputs

# Lambda keeps this much of the account's concurrency unreserved; reservations may not eat into it.
UNRESERVED_MINIMUM = 100
# RFC 2606 names: an address there reaches nobody.
PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net")
PENDING = "PendingConfirmation"  # SNS's SubscriptionArn of a subscription not yet confirmed
# Cost Explorer's API is served from us-east-1 only.
COST_EXPLORER_REGION = "us-east-1"

Status = Literal["ok", "warn", "FAIL"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    message: str  # what was found, and for warn/FAIL what to do

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.message}"


@dataclass(frozen=True)
class Clients:
    """The read-only clients preflight needs (tests hand in clients driven by botocore's Stubber)."""

    sts: Any
    awslambda: Any
    apigateway: Any
    ce: Any
    sns: Any

    @classmethod
    def of(cls, session: Any) -> Clients:
        return cls(
            sts=session.client("sts"),
            awslambda=session.client("lambda"),
            apigateway=session.client("apigateway"),
            ce=session.client("ce", region_name=COST_EXPLORER_REGION),
            sns=session.client("sns"),
        )


def run_preflight(
    config: Config, clients: Clients, outputs: Mapping[str, str] | None, *, subscriptions: bool = True
) -> list[Check]:
    """Every check, in order; `outputs` are the deployed stack's (None before the first deploy). Deploy
    asks with `subscriptions=False` and reports the subscriptions once the stack is up."""
    identity = credentials(clients.sts, config)
    if identity.status == "FAIL":
        return [identity]  # without credentials nothing else can be asked
    return [
        identity,
        concurrency(clients.awslambda, config, first_deploy=outputs is None),
        api_gateway_logging_role(clients.apigateway, config),
        cost_allocation_tag(clients.ce, config),
        *(tier_subscribers(clients.sns, config, outputs if subscriptions else None, tier) for tier in PERSON_TOPICS),
    ]


def deployed_outputs(cfn: Any, stack_name: str) -> dict[str, str] | None:
    """The stack's outputs, or None when it has not been deployed (or only its failed first create is left)."""
    with aws_errors(f"reading stack {stack_name}"):
        status = stack_status(cfn, stack_name)
    if status is None or status in EMPTY_LEFTOVERS:
        return None
    return stack_outputs(cfn, stack_name)


def failed(checks: list[Check]) -> list[Check]:
    return [check for check in checks if check.status == "FAIL"]


def credentials(sts: Any, config: Config) -> Check:
    region = sts.meta.region_name
    try:
        identity = sts.get_caller_identity()
    except NoCredentialsError:
        return Check("credentials", "FAIL", "no AWS credentials: use --profile, AWS_PROFILE or `aws sso login`")
    except (ClientError, BotoCoreError) as error:
        return Check("credentials", "FAIL", f"{_reason(error)}: refresh them (`aws sso login`) or pick --profile")
    where = f"account {identity['Account']} as {identity['Arn']}, region {region}"
    if region != config.region:
        return Check("credentials", "warn", f"{where}; sluice.toml says {config.region}: is --region right?")
    return Check("credentials", "ok", where)


def concurrency(awslambda: Any, config: Config, *, first_deploy: bool) -> Check:
    reserved = sum(function.reserved_concurrency for function in config.functions.values())
    needed = reserved + UNRESERVED_MINIMUM
    try:
        limit = awslambda.get_account_settings()["AccountLimit"]
    except (ClientError, BotoCoreError) as error:
        return Check("lambda concurrency", "FAIL", f"cannot read the account settings: {_reason(error)}")
    quota, unreserved = limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]

    def remedy(at_least: int) -> str:
        return (
            f"raise 'Concurrent executions' to at least {at_least} in Service Quotas (AWS Lambda), "
            "or lower functions.*.reserved_concurrency in sluice.toml"
        )

    if quota < needed:
        return Check(
            "lambda concurrency",
            "FAIL",
            f"quota {quota} < {needed} ({reserved} reserved by {config.stack_name} + {UNRESERVED_MINIMUM} Lambda "
            f"keeps unreserved): {remedy(needed)}",
        )
    # Before the first deploy none of ours is reserved yet: what other functions left must cover ours.
    if first_deploy and unreserved - reserved < UNRESERVED_MINIMUM:
        return Check(
            "lambda concurrency",
            "FAIL",
            f"only {unreserved} of {quota} unreserved (other functions reserve the rest); {config.stack_name} "
            f"reserves {reserved} and {UNRESERVED_MINIMUM} must stay free: {remedy(quota - unreserved + needed)}",
        )
    return Check(
        "lambda concurrency", "ok", f"quota {quota}, {unreserved} unreserved; {config.stack_name} reserves {reserved}"
    )


def api_gateway_logging_role(apigateway: Any, config: Config) -> Check:
    region = apigateway.meta.region_name
    try:
        role = apigateway.get_account().get("cloudwatchRoleArn")
    except (ClientError, BotoCoreError) as error:
        return Check("api gateway logging role", "FAIL", f"cannot read API Gateway's account: {_reason(error)}")
    if role:
        return Check("api gateway logging role", "ok", f"{role} (account-wide in {region})")
    return Check(
        "api gateway logging role",
        "FAIL",
        f"API Gateway in {region} has no CloudWatch Logs role, so the stage's access logging is refused: create a "
        "role apigateway.amazonaws.com may assume with the managed policy AmazonAPIGatewayPushToCloudWatchLogs, "
        "then `aws apigateway update-account --patch-operations "
        f"op=replace,path=/cloudwatchRoleArn,value=ROLE_ARN --region {region}` "
        "(ops/README.md: First deploy into a new account)",
    )


def cost_allocation_tag(ce: Any, config: Config) -> Check:
    activate = (
        "aws ce update-cost-allocation-tags-status --cost-allocation-tags-status "
        f"TagKey={PROJECT_TAG},Status=Active (in the payer account)"
    )
    try:
        tags = ce.list_cost_allocation_tags(TagKeys=[PROJECT_TAG], Type="UserDefined")["CostAllocationTags"]
    except (ClientError, BotoCoreError) as error:
        return Check(
            "budget cost tag",
            "warn",
            f"cannot read cost allocation tags ({_reason(error)}): the budget sees no cost until "
            f"{PROJECT_TAG} is active; run {activate}",
        )
    statuses = {tag["TagKey"]: tag["Status"] for tag in tags}
    if statuses.get(PROJECT_TAG) == "Active":
        return Check("budget cost tag", "ok", f"{PROJECT_TAG} is an active cost allocation tag")
    if PROJECT_TAG in statuses:
        return Check(
            "budget cost tag", "warn", f"{PROJECT_TAG} is inactive, so the budget sees no cost: run {activate}"
        )
    return Check(
        "budget cost tag",
        "warn",
        f"billing has not seen the {PROJECT_TAG} tag yet (up to 24 h after the first tagged resource); the budget "
        f"sees no cost until it is active: then run {activate}",
    )


# Each person-facing topic: the stack output that names it, and what reaches nobody when nobody confirmed.
PERSON_TOPICS = {
    "high": (output_keys.HIGH_TOPIC_ARN, "a page"),
    "low": (output_keys.NOTIFY_TOPIC_ARN, "a low-tier notification"),
}


def tier_subscribers(sns: Any, config: Config, outputs: Mapping[str, str] | None, tier: str) -> Check:
    """The tier's people (the low tier's own, or the high tier's as its fallback): no placeholder address; with a
    deployed stack's `outputs`, at least one confirmed subscription on the tier's person-facing topic."""
    name = f"{tier}-tier subscribers"
    recipients = tier_recipients(config)[tier]
    source = "high_emails" if tier == "high" or recipients.fallback else "low_emails"
    placeholders = [address for address in recipients.emails if _is_placeholder(address)]
    if placeholders:
        return Check(
            name,
            "FAIL",
            f"{', '.join(placeholders)} is a placeholder that reaches nobody: set notifications.{source} "
            f"(or {source.replace('emails', 'https_endpoints')}) of [{config.env}] in sluice.toml",
        )
    output, what = PERSON_TOPICS[tier]
    fallback = "no low-tier subscriber, so the high-tier people (fallback): " if recipients.fallback else ""
    if outputs is None or not outputs.get(output):
        count = len(recipients.endpoints)
        return Check(name, "ok", f"{fallback}{count} configured; each must confirm after the deploy")
    check = subscription_check(sns, outputs[output], name, what)
    return Check(check.name, check.status, f"{fallback}{check.message}")


def subscription_check(sns: Any, topic_arn: str, name: str = "high-tier subscribers", what: str = "a page") -> Check:
    """At least one confirmed subscriber on a person-facing topic; the pending ones named."""
    try:
        subscriptions = [
            subscription
            for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
            for subscription in page["Subscriptions"]
        ]
    except (ClientError, BotoCoreError) as error:
        return Check(name, "FAIL", f"cannot list the subscriptions of {topic_arn}: {_reason(error)}")
    pending = [f"{item['Protocol']}:{item['Endpoint']}" for item in subscriptions if item["SubscriptionArn"] == PENDING]
    confirmed = [item for item in subscriptions if item["SubscriptionArn"] != PENDING]
    waiting = f"; pending confirmation: {', '.join(pending)} (open the confirmation message)" if pending else ""
    if not confirmed:
        return Check(name, "FAIL", f"nobody confirmed, so {what} reaches nobody{waiting}")
    return Check(name, "warn" if pending else "ok", f"{len(confirmed)} confirmed{waiting}")


def _is_placeholder(address: str) -> bool:
    domain = address.rsplit("@", 1)[-1].lower()
    return domain in PLACEHOLDER_DOMAINS or domain.endswith(tuple(f".{name}" for name in PLACEHOLDER_DOMAINS))


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        return error_message(error) or error_code(error)
    return " ".join(str(error).split())
