"""Deploy the `local` template into moto server, then create what moto's CloudFormation skips.

The same template as AWS gets (see local/deploying/moto_compat.py for the JSON-level rewrites moto needs). The
resources moto skips are created through the service APIs from their own template definitions, with
every reference resolved against the deployed stack: there is no second hand-written copy.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.client import BaseClient

from cloudformation.functions import ARTIFACTS_BUCKET_PARAMETER, code_key_parameter, logical_id
from core.config import FUNCTION_NAMES, Config
from core.paths import PROJECT_ROOT
from local.deploying.moto_compat import moto_compatible
from local.deploying.resolver import StackValues
from ops.local_credentials import LOCAL_CREDENTIALS
from ops.waiting import WaitTimedOut, wait_until
from synth.synthesize import full_template

STACK_WAIT_SECONDS = 120


class DeployError(RuntimeError):
    """The local stack could not be deployed; the message says what moto answered."""


@dataclass
class LocalStack:
    """What the local runtime needs to know about the deployed stack."""

    config: Config
    template: dict[str, Any]
    values: StackValues
    outputs: dict[str, str]
    alarms: list[dict[str, Any]] = field(default_factory=list)  # PutMetricAlarm arguments
    composite_alarms: list[dict[str, Any]] = field(default_factory=list)  # PutCompositeAlarm arguments
    api_keys: dict[str, str] = field(default_factory=dict)  # key value → key id

    def function_environment(self, name: str) -> dict[str, str]:
        function = self.template["Resources"][logical_id(name)]
        return self.values.resolve(function["Properties"]["Environment"]["Variables"])


def clients(endpoint: str, region: str) -> Callable[[str], BaseClient]:
    session = boto3.session.Session(region_name=region, **LOCAL_CREDENTIALS)
    return lambda service: session.client(service, endpoint_url=endpoint)


def function_bundle() -> bytes:
    """A zip of functions/ for moto's Lambda: moto stores it but never runs it (the handlers run
    in-process), so no dependencies are bundled. Entries are sorted and dated for the same bytes each time."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((PROJECT_ROOT / "functions").rglob("*.py")):
            info = zipfile.ZipInfo(str(path.relative_to(PROJECT_ROOT)), date_time=(2020, 1, 1, 0, 0, 0))
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def deploy(config: Config, client: Callable[[str], BaseClient]) -> LocalStack:
    template = full_template(config).to_dict()
    parameters = _upload_artifacts(config, client("s3"))
    cloudformation = client("cloudformation")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto warns about every resource type it skips
        try:
            cloudformation.create_stack(
                StackName=config.stack_name,
                TemplateBody=json.dumps(moto_compatible(template)),
                Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
                Tags=[{"Key": "Project", "Value": config.stack_name}],
            )
        except cloudformation.exceptions.ClientError as error:
            raise DeployError(f"moto rejected the {config.env} template: {error}") from None
    stack = _wait_for_stack(cloudformation, config.stack_name)
    described = cloudformation.describe_stack_resources(StackName=config.stack_name)["StackResources"]
    values = StackValues(
        region=config.region,
        parameters=parameters,
        physical_ids={
            item["LogicalResourceId"]: item["PhysicalResourceId"]
            for item in described
            if "PhysicalResourceId" in item  # moto lists the resources it skipped without ids
        },
        types={name: body["Type"] for name, body in template["Resources"].items()},
        extra={},
    )
    local = LocalStack(config=config, template=template, values=values, outputs={})
    _create_skipped(local, client)
    local.outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    return local


def _upload_artifacts(config: Config, s3: BaseClient) -> dict[str, str]:
    bucket = config.resource_name("artifacts")
    bundle = function_bundle()
    key = f"functions/{hashlib.sha256(bundle).hexdigest()}.zip"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=bundle)
    return {ARTIFACTS_BUCKET_PARAMETER: bucket, **{code_key_parameter(name): key for name in FUNCTION_NAMES}}


def _wait_for_stack(cloudformation: BaseClient, name: str) -> dict[str, Any]:
    try:
        stack: dict[str, Any] = wait_until(
            lambda: cloudformation.describe_stacks(StackName=name)["Stacks"][0],
            lambda found: not found["StackStatus"].endswith("IN_PROGRESS"),
            timeout=STACK_WAIT_SECONDS,
            interval=0.5,
            what=f"stack {name}",
        )
    except WaitTimedOut:
        raise DeployError(f"stack {name} was not created within {STACK_WAIT_SECONDS} s") from None
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise DeployError(
            f"stack {name} ended in {stack['StackStatus']}: {stack.get('StackStatusReason', 'no reason given')}"
        )
    return stack


# --- what moto's CloudFormation skips, created from the template's own definitions ---------------------

Creator = Callable[[LocalStack, Callable[[str], BaseClient], str, dict[str, Any]], str | None]


def _create_skipped(local: LocalStack, client: Callable[[str], BaseClient]) -> None:
    ordered = moto_compatible(local.template)["Resources"]
    for resource_id, body in ordered.items():
        creator = SKIPPED_BY_MOTO.get(body["Type"])
        if creator is None or resource_id in local.values.physical_ids:
            continue
        physical_id = creator(local, client, resource_id, body.get("Properties", {}))
        if physical_id is not None:
            local.values = StackValues(
                region=local.values.region,
                parameters=local.values.parameters,
                physical_ids=local.values.physical_ids,
                types=local.values.types,
                extra={**local.values.extra, resource_id: physical_id},
            )


def _api_key(local: LocalStack, client: Callable[[str], BaseClient], resource_id: str, props: dict) -> str:
    created = client("apigateway").create_api_key(name=props["Name"], enabled=props.get("Enabled", True))
    local.api_keys[created["value"]] = created["id"]
    return created["id"]


def _stage(local: LocalStack, client: Callable[[str], BaseClient], resource_id: str, props: dict) -> str:
    apigateway = client("apigateway")
    resolved = local.values.resolve({key: value for key, value in props.items() if key != "DeploymentId"})
    # moto creates the deployment but does not report its id among the stack's resources: take the newest.
    deployments = apigateway.get_deployments(restApiId=resolved["RestApiId"])["items"]
    newest = max(deployments, key=lambda deployment: deployment["createdDate"])
    apigateway.create_stage(
        restApiId=resolved["RestApiId"],
        stageName=resolved["StageName"],
        deploymentId=newest["id"],
        tracingEnabled=resolved.get("TracingEnabled", False),
    )
    return resolved["StageName"]


def _usage_plan(local: LocalStack, client: Callable[[str], BaseClient], resource_id: str, props: dict) -> str:
    resolved = local.values.resolve(props)
    quota = resolved.get("Quota")
    plan = client("apigateway").create_usage_plan(
        name=resolved["UsagePlanName"],
        apiStages=[{"apiId": stage["ApiId"], "stage": stage["Stage"]} for stage in resolved["ApiStages"]],
        throttle={
            "rateLimit": float(resolved["Throttle"]["RateLimit"]),
            "burstLimit": int(resolved["Throttle"]["BurstLimit"]),
        },
        **({"quota": {"limit": int(quota["Limit"]), "period": quota["Period"]}} if quota else {}),
    )
    return plan["id"]


def _usage_plan_key(local: LocalStack, client: Callable[[str], BaseClient], resource_id: str, props: dict) -> str:
    resolved = local.values.resolve(props)
    client("apigateway").create_usage_plan_key(
        usagePlanId=resolved["UsagePlanId"], keyId=resolved["KeyId"], keyType=resolved["KeyType"]
    )
    return f"{resolved['UsagePlanId']}:{resolved['KeyId']}"


def _queue_policy(local: LocalStack, client: Callable[[str], BaseClient], resource_id: str, props: dict) -> str:
    resolved = local.values.resolve(props)
    for queue_url in resolved["Queues"]:
        client("sqs").set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(resolved["PolicyDocument"])}
        )
    return resource_id


def _bucket_policy(local: LocalStack, client: Callable[[str], BaseClient], resource_id: str, props: dict) -> str:
    # moto enforces bucket policies, and the local endpoint is plain HTTP on 127.0.0.1: the TLS-only deny
    # would refuse every request, so locally the bucket gets the policy's other statements only.
    resolved = local.values.resolve(props)
    document = resolved["PolicyDocument"]
    statements = [item for item in document["Statement"] if "aws:SecureTransport" not in json.dumps(item)]
    if statements:
        policy = json.dumps({**document, "Statement": statements})
        client("s3").put_bucket_policy(Bucket=resolved["Bucket"], Policy=policy)
    return resource_id


def _topic_policy(local: LocalStack, client: Callable[[str], BaseClient], resource_id: str, props: dict) -> str:
    resolved = local.values.resolve(props)
    for topic_arn in resolved["Topics"]:
        client("sns").set_topic_attributes(
            TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(resolved["PolicyDocument"])
        )
    return resource_id


def _alarm(local: LocalStack, client: Callable[[str], BaseClient], resource_id: str, props: dict) -> str:
    arguments = _without_tags(local.values.resolve(props))
    client("cloudwatch").put_metric_alarm(**arguments)
    local.alarms.append(arguments)
    return arguments["AlarmName"]


def _composite_alarm(local: LocalStack, client: Callable[[str], BaseClient], resource_id: str, props: dict) -> str:
    # moto's PutCompositeAlarm raises NotImplementedError: the local alarm evaluator keeps these itself.
    arguments = _without_tags(local.values.resolve(props))
    local.composite_alarms.append(arguments)
    return arguments["AlarmName"]


def _budget(local: LocalStack, client: Callable[[str], BaseClient], resource_id: str, props: dict) -> str:
    resolved = local.values.resolve(props)
    budget = resolved["Budget"]
    limit = budget.get("BudgetLimit")
    if limit:  # the template's number is the API's string
        budget = {**budget, "BudgetLimit": {**limit, "Amount": str(limit["Amount"])}}
    client("budgets").create_budget(
        AccountId="123456789012",
        Budget=budget,
        NotificationsWithSubscribers=resolved.get("NotificationsWithSubscribers", []),
    )
    return budget["BudgetName"]


def _without_tags(arguments: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in arguments.items() if key != "Tags"}


SKIPPED_BY_MOTO: dict[str, Creator] = {
    "AWS::ApiGateway::ApiKey": _api_key,
    "AWS::ApiGateway::Stage": _stage,
    "AWS::ApiGateway::UsagePlan": _usage_plan,
    "AWS::ApiGateway::UsagePlanKey": _usage_plan_key,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SNS::TopicPolicy": _topic_policy,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::CompositeAlarm": _composite_alarm,
    "AWS::Budgets::Budget": _budget,
}
