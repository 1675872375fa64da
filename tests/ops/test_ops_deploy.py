"""Deploy against moto server: create → update → no change → destroy with a small purpose-built template
(a queue and a retained table), failures with their reasons, and the real template where moto allows.

moto 5.2 cannot create the real template (it resolves Fn::GetAtt only against resources created before, in
template order, and fails on `StackKey`); that failure itself is a test below.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import boto3
import pytest

from core.config import load_config
from core.paths import PROJECT_ROOT
from ops.changeset import Template, stack_status
from ops.deploy import StackSpec, deploy_stack, destroy_stack, preview_stack
from ops.errors import OpsError
from ops.package import upload_template
from ops.stack import environment_stack
from tests.aws_helpers import unique
from tests.ops.helpers import Console, no_sleep, yes
from tests.ops.test_ops_package import FakeInstaller

PROJECT = PROJECT_ROOT


def small_template(
    visibility_timeout: int = 30, queue_name: str | None = None, extra_queue: bool = False, extra_name: str = ""
) -> str:
    queue_properties: dict = {"VisibilityTimeout": visibility_timeout}
    if queue_name:
        queue_properties["QueueName"] = queue_name
    resources: dict = {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": queue_properties},
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "event_id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "event_id", "KeyType": "HASH"}],
            },
        },
    }
    resources["Board"] = {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {"DashboardName": "ops-test-board", "DashboardBody": '{"widgets": []}'},
    }
    if extra_queue:
        resources["SecondQueue"] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": extra_name} if extra_name else {},
        }
    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": {"Stage": {"Type": "String"}},
            "Resources": resources,
            "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}, "TableName": {"Value": {"Ref": "Table"}}},
        },
        indent=1,
    )


def spec(name: str, body: str, stage: str = "one", url: str | None = None) -> StackSpec:
    return StackSpec(
        name=name,
        template=Template(url=url) if url else Template(body=body),
        parameters={"Stage": stage},
        tags={"Project": name},
    )


def test_deploy_update_no_change_and_destroy_keeping_the_retained_table(aws: boto3.Session) -> None:
    cfn, dynamodb = aws.client("cloudformation"), aws.client("dynamodb")
    name = unique("stack")
    # GIVEN no stack; WHEN deployed
    out = Console()
    created = deploy_stack(cfn, spec(name, small_template()), yes, out, sleep=no_sleep)
    # THEN it is created, and the change table and the stack events were shown
    assert created.result == "deployed" and created.stack_status == "CREATE_COMPLETE"
    assert "add     Queue" in out.text and "AWS::DynamoDB::Table" in out.text
    assert "3 to add, 0 to modify (0 replaced), 0 to remove" in out.text
    assert "CREATE_COMPLETE" in out.text and "outputs:" in out.text
    assert (
        "dashboard  https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/" in out.text
    )

    # WHEN a property changes and a resource is added
    out = Console()
    updated = deploy_stack(cfn, spec(name, small_template(60, extra_queue=True)), yes, out, sleep=no_sleep)
    # THEN the change set lists them (add, modify) and the stack is updated
    assert updated.result == "deployed" and updated.stack_status == "UPDATE_COMPLETE"
    assert "add     SecondQueue" in out.text and "modify  Queue" in out.text

    # WHEN the same template and parameters are deployed again (inline body: moto's ValidationError path)
    out = Console()
    same = deploy_stack(cfn, spec(name, small_template(60, extra_queue=True)), yes, out, sleep=no_sleep)
    # THEN it says there is nothing to change, and nothing is executed
    assert same.result == "no-changes" and same.ok
    assert "no changes" in out.text
    assert not any("executing" in line for line in out.lines)

    # WHEN destroyed
    table = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Table")["StackResourceDetail"]
    out = Console()
    destroyed = destroy_stack(cfn, name, yes, out, sleep=no_sleep)
    # THEN the stack is gone, and the retained table is named in the report and still exists with its data
    assert destroyed.result == "destroyed"
    assert [kept.logical_id for kept in destroyed.retained] == ["Table"]
    assert "kept (DeletionPolicy Retain)" in out.text and table["PhysicalResourceId"] in out.text
    assert stack_status(cfn, name) is None
    assert dynamodb.describe_table(TableName=table["PhysicalResourceId"])["Table"]["TableStatus"] == "ACTIVE"
    # and destroying it again is harmless
    assert destroy_stack(cfn, name, yes, Console(), sleep=no_sleep).result == "absent"


def test_no_change_through_a_template_url_is_a_failed_change_set_that_means_no_changes(aws: boto3.Session) -> None:
    # GIVEN a stack deployed from a template in S3 (how the real 58 KB template travels)
    cfn, s3 = aws.client("cloudformation"), aws.client("s3")
    name, bucket = unique("stack"), unique("templates")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="t.json", Body=small_template().encode())
    url = f"https://{bucket}.s3.us-east-1.amazonaws.com/t.json"
    assert deploy_stack(cfn, spec(name, "", url=url), yes, Console(), sleep=no_sleep).result == "deployed"
    # WHEN it is deployed again unchanged
    out = Console()
    again = deploy_stack(cfn, spec(name, "", url=url), yes, out, sleep=no_sleep)
    # THEN moto (like AWS) fails the change set with "didn't contain changes": reported as no changes
    assert again.result == "no-changes"
    summaries = [item for item in cfn.list_change_sets(StackName=name)["Summaries"] if item["StackName"] == name]
    assert [item["Status"] for item in summaries] == ["CREATE_COMPLETE"]  # the FAILED change set is deleted
    # AND a parameter change alone is a change
    assert deploy_stack(cfn, spec(name, "", stage="two", url=url), yes, Console(), sleep=no_sleep).ok


def test_a_failed_update_prints_the_reason_and_keeps_the_previous_stack(aws: boto3.Session) -> None:
    cfn = aws.client("cloudformation")
    name = unique("stack")
    assert deploy_stack(cfn, spec(name, small_template()), yes, Console(), sleep=no_sleep).ok
    before = cfn.get_template(StackName=name)["TemplateBody"]
    # WHEN an update adds a queue whose name SQS refuses
    out = Console()
    bad = small_template(extra_queue=True, extra_name="not a valid name!")
    failed = deploy_stack(cfn, spec(name, bad), yes, out, sleep=no_sleep)
    # THEN the deploy fails with SQS's reason on screen
    assert failed.result == "failed" and not failed.ok
    assert "FAILED" in out.text
    assert "Can only include alphanumeric characters, hyphens, or underscores" in out.text
    # AND the stack still runs the previous template, settled (AWS: UPDATE_ROLLBACK_COMPLETE; moto leaves
    # the status and the template as they were, as it never applies a failing change set's template)
    assert cfn.get_template(StackName=name)["TemplateBody"] == before
    assert not stack_status(cfn, name).endswith("_IN_PROGRESS")
    assert "the previous version stays in service" in out.text


def test_a_failed_first_deploy_is_reported_and_the_next_one_starts_afresh(aws: boto3.Session) -> None:
    cfn = aws.client("cloudformation")
    name = unique("stack")
    # WHEN the first deploy of a stack fails
    out = Console()
    failed = deploy_stack(cfn, spec(name, small_template(queue_name="bad name!")), yes, out, sleep=no_sleep)
    # THEN the reason is printed and the stack was never created
    assert failed.result == "failed"
    assert "alphanumeric" in out.text
    assert failed.stack_status in ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE")
    # WHEN the template is fixed and deployed again, THEN the leftover is cleared and the stack created
    out = Console()
    fixed = deploy_stack(cfn, spec(name, small_template()), yes, out, sleep=no_sleep)
    assert fixed.result == "deployed" and fixed.stack_status == "CREATE_COMPLETE"
    assert "deleting it before creating it again" in out.text


def test_declining_the_confirmation_changes_nothing(aws: boto3.Session) -> None:
    cfn = aws.client("cloudformation")
    name = unique("stack")
    out = Console()
    outcome = deploy_stack(cfn, spec(name, small_template()), lambda change_set: False, out, sleep=no_sleep)
    assert outcome.result == "cancelled"
    assert stack_status(cfn, name) is None  # the empty stack of the CREATE change set is gone too
    assert "cancelled" in out.text


def test_destroy_asks_and_a_no_keeps_the_stack(aws: boto3.Session) -> None:
    cfn = aws.client("cloudformation")
    name = unique("stack")
    deploy_stack(cfn, spec(name, small_template()), yes, Console(), sleep=no_sleep)
    asked: list = []
    outcome = destroy_stack(cfn, name, lambda retained: asked.append(retained) or False, Console(), sleep=no_sleep)
    assert outcome.result == "cancelled"
    assert [kept.logical_id for kept in asked[0]] == ["Table"]  # shown what would be kept before asking
    assert stack_status(cfn, name) == "CREATE_COMPLETE"


def test_waiting_is_bounded(aws: boto3.Session) -> None:
    from ops.deploy import EventStream, wait_for_stack

    class Busy:
        def describe_stack_events(self, **_: object) -> dict:
            return {"StackEvents": []}

        def describe_stacks(self, **_: object) -> dict:
            return {"Stacks": [{"StackStatus": "UPDATE_IN_PROGRESS"}]}

    ticks = iter(range(0, 10_000, 30))
    with pytest.raises(OpsError, match="gave up waiting after 1 min: the stack is still UPDATE_IN_PROGRESS"):
        wait_for_stack(
            Busy(), "id", EventStream(Busy(), "id", Console()), timeout_seconds=60, sleep=no_sleep,
            clock=lambda: next(ticks),
        )  # fmt: skip


def test_the_real_template_diff_lists_every_resource_and_leaves_nothing_behind(
    fresh_moto: boto3.Session, tmp_path: Path
) -> None:
    # GIVEN the dev environment's real template, packaged with fake dependencies
    config = load_config("dev")
    cfn = fresh_moto.client("cloudformation")
    stack = environment_stack(config, fresh_moto, Console(), installer=FakeInstaller(), build_dir=tmp_path)
    assert stack.template.url  # 58 KB: over the inline limit, so it travels through the artifacts bucket
    # WHEN diffed against an account without the stack
    out = Console()
    change_set = preview_stack(cfn, stack, out, sleep=no_sleep)
    # THEN every resource is an add, and neither a change set nor an empty stack is left behind
    template = json.loads(
        fresh_moto.client("s3")
        .get_object(Bucket=stack.parameters["ArtifactsBucket"], Key=stack.template.url.split(".amazonaws.com/")[1])[
            "Body"
        ]
        .read()
    )
    assert len(change_set.changes) == len(template["Resources"])
    assert {change.action for change in change_set.changes} == {"Add"}
    assert "AWS::Lambda::Function" in out.text and "nothing executed" in out.text
    assert stack_status(cfn, config.stack_name) is None


def test_the_real_template_fails_on_moto_and_the_reason_is_shown(fresh_moto: boto3.Session, tmp_path: Path) -> None:
    # GIVEN the real template (moto 5.2 resolves Fn::GetAtt in template order only)
    config = load_config("dev")
    cfn = fresh_moto.client("cloudformation")
    stack = environment_stack(config, fresh_moto, Console(), installer=FakeInstaller(), build_dir=tmp_path)
    # WHEN deployed
    out = Console()
    outcome = deploy_stack(cfn, stack, yes, out, sleep=no_sleep)
    # THEN the deploy fails with moto's reason on screen, and the stack never came to exist
    assert outcome.result == "failed"
    assert "Fn::GetAtt references undefined resource" in out.text
    assert outcome.stack_status in (None, "REVIEW_IN_PROGRESS")


def test_the_real_template_made_moto_compatible_deploys_updates_and_is_destroyed_keeping_its_data(
    fresh_moto: boto3.Session, tmp_path: Path
) -> None:
    # GIVEN the dev template with only local's moto-compat rewrite (resource order, KMS tag spelling, MOCK
    # integration fields — AWS reads it identically), uploaded like the real one
    from local.deploying import moto_compat

    config = load_config("dev")
    cfn, s3 = fresh_moto.client("cloudformation"), fresh_moto.client("s3")
    real = environment_stack(config, fresh_moto, Console(), installer=FakeInstaller(), build_dir=tmp_path)
    bucket = real.parameters["ArtifactsBucket"]
    body = s3.get_object(Bucket=bucket, Key=real.template.url.split(".amazonaws.com/")[1])["Body"].read()
    compatible = json.dumps(moto_compat.moto_compatible(json.loads(body)))
    url = upload_template(s3, bucket, "us-east-1", config.stack_name, compatible)
    stack = dataclasses.replace(real, template=Template(url=url))
    # WHEN deployed
    out = Console()
    created = deploy_stack(cfn, stack, yes, out, sleep=no_sleep)
    # THEN the whole stack is created and its dashboards are linked
    assert created.result == "deployed", out.text
    assert "#dashboards/dashboard/sluice-dev-" in out.text
    # AND it was created without the events table's deletion protection and updated at once to switch it on
    assert "now updating stack sluice-dev to what a first create leaves off: EventsTableDeletionProtection=true" in (
        out.text
    )
    parameters = cfn.describe_stacks(StackName=config.stack_name)["Stacks"][0]["Parameters"]
    assert {"ParameterKey": "EventsTableDeletionProtection", "ParameterValue": "true"} in parameters
    # WHEN deployed again unchanged, THEN no resource changes (moto executes the change set all the same: after
    # the parameter change above its no-change check no longer holds, as for the one below)
    again = Console()
    deploy_stack(cfn, stack, yes, again, sleep=no_sleep)
    assert "no resource changes" in again.text
    # WHEN the ingest code changes (a new content-hashed key), THEN that deploys (a no-op check after a
    # parameter change cannot run on moto: its ExecuteChangeSet keeps the stack's old parameters)
    changed = dataclasses.replace(stack, parameters={**stack.parameters, "IngestCodeKey": "ingest/0000.zip"})
    assert deploy_stack(cfn, changed, yes, Console(), sleep=no_sleep).result == "deployed"
    # WHEN destroyed, THEN the events table, the archive bucket and the key that encrypts them
    # (DeletionPolicy RetainExceptOnCreate outside local) are reported kept, and the table is still there
    out = Console()
    destroyed = destroy_stack(cfn, config.stack_name, yes, out, sleep=no_sleep)
    assert destroyed.result == "destroyed"
    assert {kept.logical_id for kept in destroyed.retained} == {"EventsTable", "ArchiveBucket", "StackKey"}
    assert "sluice-dev-events" in out.text
    assert fresh_moto.client("dynamodb").describe_table(TableName="sluice-dev-events")["Table"]
