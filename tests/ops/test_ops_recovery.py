"""Failed rollbacks, driven by botocore's Stubber (moto never rolls back): every request and response is checked
against botocore's CloudFormation and DynamoDB models, and a call the script does not expect fails the test.

The path the issue asks for: a first deploy fails and its rollback cannot delete the events table (a stack
created with the table's deletion protection on from the start, as every deploy did before deletion protection
became a parameter) → ROLLBACK_FAILED → the same command again → the empty table and the stack are deleted, the
stack is created afresh without protection, and protection is switched on right after CREATE_COMPLETE.
ResourceStatusReason texts below are ours, not AWS's wording: nothing here reads them but the printout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ops.changeset import Template
from ops.deploy import StackSpec, deploy_stack
from ops.errors import OpsError
from ops.recovery import DataClients, Leftover
from tests.ops.helpers import Console, no_sleep, yes

REGION = "us-east-1"
NAME = "sluice-prod"
TABLE = "sluice-prod-events"
COMMAND = "invoke deploy --env prod"
PROTECTION = "EventsTableDeletionProtection"
FIRST_ID = f"arn:aws:cloudformation:{REGION}:123456789012:stack/{NAME}/11111111-1111-4111-8111-111111111111"
SECOND_ID = f"arn:aws:cloudformation:{REGION}:123456789012:stack/{NAME}/22222222-2222-4222-8222-222222222222"
WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TEMPLATE = {
    "Resources": {
        "EventsTable": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "RetainExceptOnCreate"},
        "ArchiveBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "RetainExceptOnCreate"},
        "StackKey": {"Type": "AWS::KMS::Key", "DeletionPolicy": "RetainExceptOnCreate"},
        "IngestQueue": {"Type": "AWS::SQS::Queue"},
    }
}
ADDS = [
    ("EventsTable", "AWS::DynamoDB::Table"),
    ("ArchiveBucket", "AWS::S3::Bucket"),
    ("IngestQueue", "AWS::SQS::Queue"),
]


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


def spec(first_create_parameters: dict[str, str] | None = None) -> StackSpec:
    return StackSpec(
        name=NAME,
        template=Template(body=json.dumps(TEMPLATE)),
        parameters={"ArtifactsBucket": "artifacts", PROTECTION: "true"},
        tags={"Project": NAME},
        description=COMMAND,
        first_create_parameters={PROTECTION: "false"} if first_create_parameters is None else first_create_parameters,
        command=COMMAND,
    )


def stack(stack_id: str, status: str, outputs: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"StackId": stack_id, "StackName": NAME, "CreationTime": WHEN, "StackStatus": status}
    if outputs:
        body["Outputs"] = [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()]
    return {"Stacks": [body]}


def event(stack_id: str, number: int, logical_id: str, kind: str, status: str, reason: str = "") -> dict[str, Any]:
    body = {
        "StackId": stack_id,
        "EventId": f"{stack_id[-4:]}-{number}",
        "StackName": NAME,
        "LogicalResourceId": logical_id,
        "ResourceType": kind,
        "Timestamp": WHEN,
        "ResourceStatus": status,
    }
    return body | ({"ResourceStatusReason": reason} if reason else {})


def stack_event(stack_id: str, number: int, status: str) -> dict[str, Any]:
    return event(stack_id, number, NAME, "AWS::CloudFormation::Stack", status)


def summary(logical_id: str, kind: str, physical_id: str, status: str) -> dict[str, Any]:
    return {
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical_id,
        "ResourceType": kind,
        "LastUpdatedTimestamp": WHEN,
        "ResourceStatus": status,
    }


def parameters(protection: str) -> list[dict[str, str]]:
    return [
        {"ParameterKey": "ArtifactsBucket", "ParameterValue": "artifacts"},
        {"ParameterKey": PROTECTION, "ParameterValue": protection},
    ]


class Account:
    """The scripted conversation: each method queues the responses of one step, in the order deploy asks."""

    def __init__(self) -> None:
        self.cfn, self.dynamodb, self.s3 = client("cloudformation"), client("dynamodb"), client("s3")
        self.stubs = {"cfn": Stubber(self.cfn), "dynamodb": Stubber(self.dynamodb), "s3": Stubber(self.s3)}
        self.data = DataClients(dynamodb=self.dynamodb, s3=self.s3)
        self.change_sets = 0

    def cfn_says(self, method: str, response: dict[str, Any], expected: dict[str, Any] | None = None) -> None:
        self.stubs["cfn"].add_response(method, response, expected)

    def no_stack(self) -> None:
        self.stubs["cfn"].add_client_error(
            "describe_stacks", "ValidationError", f"Stack with id {NAME} does not exist", 400, {"StackName": NAME}
        )

    def change_set(self, kind: str, protection: str, stack_id: str, changes: list[tuple[str, str, str]]) -> None:
        """CreateChangeSet with these parameters, then DescribeChangeSet: ready, with these changes."""
        self.change_sets += 1
        change_set_id = f"{stack_id.replace(':stack/', ':changeSet/')}-cs{self.change_sets}"
        expected = {
            "StackName": NAME,
            "ChangeSetName": ANY,
            "ChangeSetType": kind,
            "Parameters": parameters(protection),
            "Capabilities": ANY,
            "Tags": ANY,
            "TemplateBody": ANY,
            "Description": COMMAND,
        }
        self.cfn_says("create_change_set", {"Id": change_set_id, "StackId": stack_id}, expected)
        resource_changes = [
            {
                "Type": "Resource",
                "ResourceChange": {"Action": action, "LogicalResourceId": logical, "ResourceType": kind},
            }
            for action, logical, kind in changes
        ]
        self.cfn_says(
            "describe_change_set",
            {"Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE", "Changes": resource_changes},
            {"ChangeSetName": change_set_id, "StackName": stack_id},
        )
        self.executed_change_set = change_set_id

    def execution(self, stack_id: str, before: list[dict], during: list[dict], final: str) -> None:
        """Events before (primed), ExecuteChangeSet, the events it brings (newest first), the final status."""
        self.cfn_says("describe_stack_events", {"StackEvents": before}, {"StackName": stack_id})
        self.cfn_says("execute_change_set", {}, {"ChangeSetName": self.executed_change_set, "StackName": stack_id})
        self.settles(stack_id, before, during, final)

    def settles(self, stack_id: str, before: list[dict], during: list[dict], final: str) -> None:
        self.cfn_says("describe_stack_events", {"StackEvents": during + before}, {"StackName": stack_id})
        self.cfn_says("describe_stacks", stack(stack_id, final), {"StackName": stack_id})
        self.cfn_says("describe_stack_events", {"StackEvents": during + before}, {"StackName": stack_id})

    def done(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


@pytest.fixture
def account() -> Iterator[Account]:
    account = Account()
    for stub in account.stubs.values():
        stub.activate()
    yield account
    for stub in account.stubs.values():
        stub.deactivate()


def first_create_fails_and_its_rollback_cannot_delete_the_table(account: Account) -> None:
    """The CloudFormation side of a first deploy whose API stage fails and whose rollback leaves the table."""
    account.no_stack()
    account.change_set("CREATE", "true", FIRST_ID, [("Add", logical, kind) for logical, kind in ADDS])
    review = [stack_event(FIRST_ID, 0, "REVIEW_IN_PROGRESS")]
    during = [
        stack_event(FIRST_ID, 7, "ROLLBACK_FAILED"),
        event(FIRST_ID, 6, "EventsTable", "AWS::DynamoDB::Table", "DELETE_FAILED", "table is deletion-protected"),
        event(FIRST_ID, 5, "ArchiveBucket", "AWS::S3::Bucket", "DELETE_COMPLETE"),
        stack_event(FIRST_ID, 4, "ROLLBACK_IN_PROGRESS"),
        event(FIRST_ID, 3, "IngestQueue", "AWS::SQS::Queue", "CREATE_FAILED", "quota exceeded"),
        event(FIRST_ID, 2, "EventsTable", "AWS::DynamoDB::Table", "CREATE_COMPLETE"),
        stack_event(FIRST_ID, 1, "CREATE_IN_PROGRESS"),
    ]
    account.execution(FIRST_ID, review, during, "ROLLBACK_FAILED")
    # the failure report reads the last events and the status once more
    account.cfn_says("describe_stack_events", {"StackEvents": during + review}, {"StackName": FIRST_ID})
    account.cfn_says("describe_stacks", stack(FIRST_ID, "ROLLBACK_FAILED"), {"StackName": FIRST_ID})


def what_the_failed_create_left(account: Account, table_items: int = 0) -> None:
    account.cfn_says("describe_stacks", stack(FIRST_ID, "ROLLBACK_FAILED"), {"StackName": NAME})
    account.cfn_says(
        "get_template", {"TemplateBody": json.dumps(TEMPLATE)}, {"StackName": FIRST_ID, "TemplateStage": "Original"}
    )
    account.cfn_says(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                summary("EventsTable", "AWS::DynamoDB::Table", TABLE, "DELETE_FAILED"),
                summary(
                    "ArchiveBucket", "AWS::S3::Bucket", "sluice-prod-archive-123456789012-us-east-1", "DELETE_COMPLETE"
                ),
                summary("StackKey", "AWS::KMS::Key", "1234abcd-12ab-34cd-56ef-1234567890ab", "DELETE_COMPLETE"),
                summary("IngestQueue", "AWS::SQS::Queue", "", "CREATE_FAILED"),
            ]
        },
        {"StackName": FIRST_ID},
    )
    account.stubs["dynamodb"].add_response(
        "scan", {"Count": table_items, "ScannedCount": table_items}, {"TableName": TABLE, "Select": "COUNT", "Limit": 1}
    )


def test_a_first_deploy_that_ends_rollback_failed_is_retried_with_the_same_command_and_ends_created(
    account: Account,
) -> None:
    # GIVEN a first deploy whose rollback cannot delete the deletion-protected events table
    first_create_fails_and_its_rollback_cannot_delete_the_table(account)
    out = Console()
    failed = deploy_stack(account.cfn, spec(first_create_parameters={}), yes, out, data=account.data, sleep=no_sleep)
    # THEN it fails ROLLBACK_FAILED, says in one line what that means and which command to run again
    assert failed.result == "failed" and failed.stack_status == "ROLLBACK_FAILED"
    assert "EventsTable (AWS::DynamoDB::Table): table is deletion-protected" in out.text
    assert (
        f"stack {NAME} is ROLLBACK_FAILED: the first create failed and CloudFormation could not delete everything"
        in out.text
    )
    assert f"run `{COMMAND}` again: it lists what the failed create left" in out.text

    # WHEN the same command runs again: the leftover table is empty, the operator agrees
    what_the_failed_create_left(account)
    dynamodb = account.stubs["dynamodb"]
    dynamodb.add_response(
        "describe_table",
        {"Table": {"TableName": TABLE, "TableStatus": "ACTIVE", "DeletionProtectionEnabled": True}},
        {"TableName": TABLE},
    )
    dynamodb.add_response(
        "update_table",
        {"TableDescription": {"TableName": TABLE}},
        {"TableName": TABLE, "DeletionProtectionEnabled": False},
    )
    dynamodb.add_response("delete_table", {"TableDescription": {"TableStatus": "DELETING"}}, {"TableName": TABLE})
    dynamodb.add_response(
        "describe_table", {"Table": {"TableName": TABLE, "TableStatus": "DELETING"}}, {"TableName": TABLE}
    )
    dynamodb.add_client_error("describe_table", "ResourceNotFoundException", "Requested resource not found", 400)
    failed_events = [stack_event(FIRST_ID, 7, "ROLLBACK_FAILED")]
    account.cfn_says("describe_stack_events", {"StackEvents": failed_events}, {"StackName": FIRST_ID})
    account.cfn_says("delete_stack", {}, {"StackName": FIRST_ID})
    account.settles(FIRST_ID, failed_events, [stack_event(FIRST_ID, 9, "DELETE_COMPLETE")], "DELETE_COMPLETE")
    # ... then the stack is created afresh, without the table's deletion protection
    account.change_set("CREATE", "false", SECOND_ID, [("Add", logical, kind) for logical, kind in ADDS])
    review = [stack_event(SECOND_ID, 0, "REVIEW_IN_PROGRESS")]
    created = [stack_event(SECOND_ID, 2, "CREATE_COMPLETE"), stack_event(SECOND_ID, 1, "CREATE_IN_PROGRESS")]
    account.execution(SECOND_ID, review, created, "CREATE_COMPLETE")
    # ... and at once updated to switch the protection on
    account.change_set("UPDATE", "true", SECOND_ID, [("Modify", "EventsTable", "AWS::DynamoDB::Table")])
    updated = [stack_event(SECOND_ID, 4, "UPDATE_COMPLETE"), stack_event(SECOND_ID, 3, "UPDATE_IN_PROGRESS")]
    account.execution(SECOND_ID, created + review, updated, "UPDATE_COMPLETE")
    account.cfn_says(
        "describe_stacks", stack(SECOND_ID, "UPDATE_COMPLETE", {"ApiUrl": "https://api"}), {"StackName": NAME}
    )
    account.cfn_says("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": SECOND_ID})
    asked: list[list[Leftover]] = []
    out = Console()
    retried = deploy_stack(
        account.cfn,
        spec(),
        yes,
        out,
        data=account.data,
        confirm_recovery=lambda leftovers: asked.append(leftovers) or True,
        sleep=no_sleep,
    )
    # THEN the operator was shown the empty table (not the key, which blocks nothing) before anything was deleted
    assert [str(leftover) for leftover in asked[0]] == [f"EventsTable (AWS::DynamoDB::Table) {TABLE}"]
    assert f"switched off the deletion protection of table {TABLE}" in out.text
    assert f"deleted table {TABLE}" in out.text and f"stack {NAME} deleted: creating it afresh" in out.text
    # AND the stack ends created, with the table protected by the update that followed the create
    assert f"now updating stack {NAME} to what a first create leaves off: {PROTECTION}=true" in out.text
    assert retried.result == "deployed" and retried.stack_status == "UPDATE_COMPLETE"
    assert retried.outputs == {"ApiUrl": "https://api"}
    account.done()


def test_a_leftover_table_that_holds_items_is_never_deleted(account: Account) -> None:
    # GIVEN a ROLLBACK_FAILED stack whose leftover table holds an item
    what_the_failed_create_left(account, table_items=1)
    # WHEN deployed again
    with pytest.raises(OpsError) as refused:
        deploy_stack(account.cfn, spec(), yes, Console(), data=account.data, confirm_recovery=yes, sleep=no_sleep)
    # THEN it refuses in one line that says what to do, and deleted nothing (the Stubber allows no other call)
    message = str(refused.value)
    assert "\n" not in message
    assert f"EventsTable (AWS::DynamoDB::Table) {TABLE} holds data although stack {NAME} never finished" in message
    assert "delete it yourself if it is not needed (or keep it and import it" in message
    account.done()


def test_declining_the_recovery_deletes_nothing(account: Account) -> None:
    # GIVEN a ROLLBACK_FAILED stack with an empty leftover table WHEN the operator does not type yes
    what_the_failed_create_left(account)
    with pytest.raises(OpsError, match=f"cancelled: stack {NAME} stays ROLLBACK_FAILED; nothing was deleted"):
        deploy_stack(account.cfn, spec(), yes, Console(), data=account.data, confirm_recovery=lambda _: False)
    account.done()


def update_rollback_failed(account: Account) -> list[dict[str, Any]]:
    account.cfn_says("describe_stacks", stack(FIRST_ID, "UPDATE_ROLLBACK_FAILED"), {"StackName": NAME})
    before = [stack_event(FIRST_ID, 20, "UPDATE_ROLLBACK_FAILED")]
    account.cfn_says("describe_stack_events", {"StackEvents": before}, {"StackName": FIRST_ID})
    account.cfn_says("continue_update_rollback", {}, {"StackName": FIRST_ID})
    return before


def test_update_rollback_failed_is_continued_and_then_the_update_runs(account: Account) -> None:
    # GIVEN a stack whose last update could not be rolled back; ContinueUpdateRollback succeeds
    before = update_rollback_failed(account)
    rolled_back = [
        stack_event(FIRST_ID, 22, "UPDATE_ROLLBACK_COMPLETE"),
        event(FIRST_ID, 21, "ConsumerFunction", "AWS::Lambda::Function", "UPDATE_COMPLETE"),
    ]
    account.settles(FIRST_ID, before, rolled_back, "UPDATE_ROLLBACK_COMPLETE")
    account.change_set("UPDATE", "true", FIRST_ID, [("Modify", "ConsumerFunction", "AWS::Lambda::Function")])
    updated = [stack_event(FIRST_ID, 24, "UPDATE_COMPLETE")]
    account.execution(FIRST_ID, rolled_back + before, updated, "UPDATE_COMPLETE")
    account.cfn_says("describe_stacks", stack(FIRST_ID, "UPDATE_COMPLETE"), {"StackName": NAME})
    account.cfn_says("list_stack_resources", {"StackResourceSummaries": []}, {"StackName": FIRST_ID})
    # WHEN deployed
    out = Console()
    outcome = deploy_stack(account.cfn, spec(), yes, out, data=account.data, sleep=no_sleep)
    # THEN it explained the state in one line, continued the rollback, and then updated the stack
    assert (
        f"stack {NAME} is UPDATE_ROLLBACK_FAILED: an update failed and CloudFormation could not put every resource "
        "back as it was; continuing the rollback (ContinueUpdateRollback)"
    ) in out.lines
    assert f"stack {NAME} is back on its previous version (UPDATE_ROLLBACK_COMPLETE): updating it" in out.lines
    assert outcome.result == "deployed" and outcome.stack_status == "UPDATE_COMPLETE"
    account.done()


def test_a_rollback_that_fails_again_names_the_resource_and_the_two_ways_on(account: Account) -> None:
    # GIVEN ContinueUpdateRollback fails again on the same resource
    before = update_rollback_failed(account)
    again = [
        stack_event(FIRST_ID, 22, "UPDATE_ROLLBACK_FAILED"),
        event(FIRST_ID, 21, "ConsumerFunction", "AWS::Lambda::Function", "UPDATE_FAILED", "role not found"),
    ]
    account.settles(FIRST_ID, before, again, "UPDATE_ROLLBACK_FAILED")
    # WHEN deployed, THEN it stops with one line: fix it, or skip it with the exact command
    with pytest.raises(OpsError) as stopped:
        deploy_stack(account.cfn, spec(), yes, Console(), data=account.data, sleep=no_sleep)
    message = str(stopped.value)
    assert "\n" not in message
    assert "ConsumerFunction (AWS::Lambda::Function): role not found" in message
    assert f"continue-update-rollback --stack-name {NAME} --resources-to-skip ConsumerFunction" in message
    account.done()
