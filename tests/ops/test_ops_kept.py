"""A kept table or bucket in the way of a deploy that adds it back (ops/kept.py), against moto server."""

from __future__ import annotations

import json

import boto3
import pytest

from core.config import load_config
from ops.changeset import Template, stack_status
from ops.deploy import StackSpec, deploy_stack
from ops.errors import OpsError
from ops.kept import KeptName, kept_names
from ops.recovery import DataClients
from synth.synthesize import full_template
from tests.aws_helpers import unique

ACCOUNT, REGION = "123456789012", "us-east-1"


def template(kept: dict[str, dict] | None = None) -> str:
    resources: dict = {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}}
    for logical_id, body in (kept or {}).items():
        resources[logical_id] = {**body, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})


def table(name: str) -> dict:
    return {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "event_id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "event_id", "KeyType": "HASH"}],
        },
    }


def bucket(name: str) -> dict:
    return {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name}}


def spec(name: str, body: str) -> StackSpec:
    kept = kept_names(json.loads(body), ACCOUNT, REGION)
    return StackSpec(name=name, template=Template(body=body), command="invoke deploy --env test", kept=kept)


def yes(_: object) -> bool:
    return True


def no_sleep(_: float) -> None:
    return None


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_kept_names_are_the_events_table_and_the_archive_with_the_names_they_take(env: str) -> None:
    # GIVEN an environment's template WHEN its kept names are read for an account and a region
    names = kept_names(full_template(load_config(env)).to_dict(), ACCOUNT, REGION)
    # THEN they are the retained table and bucket with their names resolved (the key has no fixed name)
    assert names == {
        "EventsTable": KeptName("EventsTable", "table", f"sluice-{env}-events"),
        "ArchiveBucket": KeptName("ArchiveBucket", "bucket", f"sluice-{env}-archive-{ACCOUNT}-{REGION}"),
    }


def test_the_local_stack_keeps_nothing() -> None:
    assert kept_names(full_template(load_config("local")).to_dict(), ACCOUNT, REGION) == {}


@pytest.mark.parametrize("kind", ["table", "bucket"])
def test_adding_back_a_kept_table_or_bucket_whose_name_is_taken_is_refused_in_one_line(
    aws: boto3.Session, kind: str
) -> None:
    cfn = aws.client("cloudformation")
    data = DataClients.of(aws)
    name = unique("stack")
    # GIVEN a stack without the table (or bucket): its sink was turned off, and the resource was kept
    assert deploy_stack(cfn, spec(name, template()), yes, print, data=data, sleep=no_sleep).ok
    kept = unique(f"kept-{kind}")
    if kind == "table":
        aws.client("dynamodb").create_table(**{k: v for k, v in table(kept)["Properties"].items()})
        resource = table(kept)
    else:
        aws.client("s3").create_bucket(Bucket=kept)
        resource = bucket(kept)
    before = cfn.get_template(StackName=name)["TemplateBody"]
    # WHEN a deploy turns the sink on again (adds the resource back)
    with pytest.raises(OpsError) as refused:
        deploy_stack(cfn, spec(name, template({"Kept": resource})), yes, print, data=data, sleep=no_sleep)
    # THEN it is refused in one line that names it and says what to do, and nothing was changed
    message = str(refused.value)
    assert "\n" not in message
    assert f"would add {kind} {kept} (Kept) to stack {name}, but it already exists" in message
    assert "import it into the stack, or delete it" in message and "ops/README.md: A kept table or bucket" in message
    assert cfn.get_template(StackName=name)["TemplateBody"] == before
    assert stack_status(cfn, name) == "CREATE_COMPLETE"
    summaries = [item for item in cfn.list_change_sets(StackName=name)["Summaries"] if item["StackName"] == name]
    assert [item["Status"] for item in summaries] == ["CREATE_COMPLETE"]  # the refused change set is deleted


def test_a_kept_name_that_is_free_deploys(aws: boto3.Session) -> None:
    # GIVEN a stack, and a retained table whose name nothing holds
    cfn = aws.client("cloudformation")
    name, free = unique("stack"), unique("kept-table")
    assert deploy_stack(cfn, spec(name, template()), yes, print, data=DataClients.of(aws), sleep=no_sleep).ok
    # WHEN a deploy adds it THEN it is created
    outcome = deploy_stack(
        cfn, spec(name, template({"Kept": table(free)})), yes, print, data=DataClients.of(aws), sleep=no_sleep
    )
    assert outcome.result == "deployed"
    assert aws.client("dynamodb").describe_table(TableName=free)["Table"]["TableName"] == free
