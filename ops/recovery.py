"""Bring a stack out of a failed rollback, so that the next `invoke deploy` is one command that goes on.

- **ROLLBACK_FAILED**: a first create failed and its rollback could not delete everything it had made.
  CloudFormation's DeleteStack would keep the resources whose DeletionPolicy retains them (Retain, and
  RetainExceptOnCreate, which deletes only in the rollback of the create that made them: AWS CloudFormation,
  DeletionPolicy attribute), and their fixed names (the events table, the archive and analytics buckets) block the
  next create with "already exists". The stack never reached CREATE_COMPLETE, so nothing in it was ever in
  service: `recover_failed_create` lists what is left of those resources, refuses when one of them holds data,
  and once confirmed deletes them — a table's deletion protection switched off first (UpdateTable
  DeletionProtectionEnabled, botocore dynamodb model) — and then the stack. Other retained resources (the KMS key:
  no fixed name, so it blocks nothing) are kept and named.
- **UPDATE_ROLLBACK_FAILED**: an update failed and its rollback could not put every resource back.
  `continue_update_rollback` calls ContinueUpdateRollback (which "continues rolling back a stack from
  UPDATE_ROLLBACK_FAILED to UPDATE_ROLLBACK_COMPLETE", botocore cloudformation model) without skipping anything;
  when the rollback fails again it names the resources and the choice AWS leaves: fix them, or skip them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ops.aws import aws_errors, error_code
from ops.errors import OpsError
from ops.stack_events import Output, delete_and_follow, deployed_template, resource_summaries, start_and_follow
from ops.waiting import WaitTimedOut, wait_until

# What each failed rollback means, in one line.
FAILED_ROLLBACKS: Mapping[str, str] = {
    "ROLLBACK_FAILED": (
        "the first create failed and CloudFormation could not delete everything it had made "
        "(a table with deletion protection, a bucket holding objects)"
    ),
    "UPDATE_ROLLBACK_FAILED": "an update failed and CloudFormation could not put every resource back as it was",
}
RETAINING_POLICIES = ("Retain", "RetainExceptOnCreate")
GONE = ("DELETE_COMPLETE", "DELETE_SKIPPED")
DELETABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket")
DATA_WAIT_SECONDS = 600  # a table takes seconds to minutes to delete
POLL_SECONDS = 5.0


@dataclass(frozen=True)
class DataClients:
    """The clients that look into (and delete) a table or a bucket; tests hand in Stubber-driven ones."""

    dynamodb: Any
    s3: Any

    @classmethod
    def of(cls, session: Any) -> DataClients:
        return cls(dynamodb=session.client("dynamodb"), s3=session.client("s3"))


@dataclass(frozen=True)
class Leftover:
    """A retained resource a failed create's rollback did not delete."""

    logical_id: str
    resource_type: str
    physical_id: str

    @property
    def deletable(self) -> bool:
        """A table or a bucket: their fixed names block the next create. Anything else is kept."""
        return self.resource_type in DELETABLE_TYPES

    def __str__(self) -> str:
        return f"{self.logical_id} ({self.resource_type}) {self.physical_id}"


def explain(stack_name: str, status: str) -> str:
    return f"stack {stack_name} is {status}: {FAILED_ROLLBACKS[status]}"


def failed_create_leftovers(cfn: Any, stack_id: str) -> list[Leftover]:
    """The retained resources of a ROLLBACK_FAILED stack that still exist (DeleteStack would keep them)."""
    policies = {
        logical_id: resource.get("DeletionPolicy", "Delete")
        for logical_id, resource in deployed_template(cfn, stack_id).get("Resources", {}).items()
    }
    return [
        Leftover(summary["LogicalResourceId"], summary.get("ResourceType", ""), summary["PhysicalResourceId"])
        for summary in resource_summaries(cfn, stack_id)
        if summary.get("PhysicalResourceId")
        and summary.get("ResourceStatus") not in GONE
        and policies.get(summary["LogicalResourceId"]) in RETAINING_POLICIES
    ]


def holds_data(data: DataClients, leftover: Leftover) -> bool:
    """Whether the table has an item or the bucket an object version (a missing one holds nothing)."""
    try:
        if leftover.resource_type == "AWS::DynamoDB::Table":
            return data.dynamodb.scan(TableName=leftover.physical_id, Select="COUNT", Limit=1)["Count"] > 0
        listing = data.s3.list_object_versions(Bucket=leftover.physical_id, MaxKeys=1)
        return bool(listing.get("Versions") or listing.get("DeleteMarkers"))
    except ClientError as error:
        if error_code(error) in ("ResourceNotFoundException", "NoSuchBucket"):
            return False
        raise


def delete_leftover(
    data: DataClients,
    leftover: Leftover,
    out: Output,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Delete an empty table (switching its deletion protection off first) or an empty bucket; bounded."""
    name = leftover.physical_id
    if leftover.resource_type == "AWS::S3::Bucket":
        try:
            data.s3.delete_bucket(Bucket=name)
        except ClientError as error:
            if error_code(error) != "NoSuchBucket":
                raise
        out(f"  deleted bucket {name}")
        return
    try:
        table = data.dynamodb.describe_table(TableName=name)["Table"]
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return
        raise
    if table.get("DeletionProtectionEnabled"):
        data.dynamodb.update_table(TableName=name, DeletionProtectionEnabled=False)
        out(f"  switched off the deletion protection of table {name}")
    data.dynamodb.delete_table(TableName=name)

    def status() -> str | None:
        """The table's status; None once it is gone."""
        try:
            return str(data.dynamodb.describe_table(TableName=name)["Table"]["TableStatus"])
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise

    try:
        wait_until(
            status,
            lambda found: found is None,
            timeout=DATA_WAIT_SECONDS,
            interval=POLL_SECONDS,
            what=f"table {name} to go",
            clock=clock,
            sleep=sleep,
        )
    except WaitTimedOut as timed_out:
        raise OpsError(
            f"table {name} is still {timed_out.last} after {DATA_WAIT_SECONDS} s; run the deploy again later"
        ) from None
    out(f"  deleted table {name}")


def recover_failed_create(
    cfn: Any,
    stack: Mapping[str, Any],
    data: DataClients,
    confirm: Callable[[list[Leftover]], bool],
    out: Output,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Delete what a ROLLBACK_FAILED first create left, then the stack, so that the next CREATE starts clean.

    Refuses (OpsError) when a leftover table or bucket holds data, or when the confirmation says no."""
    name, stack_id = stack["StackName"], stack["StackId"]
    out(explain(name, "ROLLBACK_FAILED"))
    with aws_errors(f"reading what the failed create of {name} left"):
        leftovers = failed_create_leftovers(cfn, stack_id)
        deletable = [leftover for leftover in leftovers if leftover.deletable]
        holding = [str(leftover) for leftover in deletable if holds_data(data, leftover)]
    if holding:
        raise OpsError(
            f"{'; '.join(holding)} holds data although stack {name} never finished creating: look at it, delete it "
            "yourself if it is not needed (or keep it and import it: ops/README.md), then deploy again"
        )
    out("to create it afresh, these are deleted (empty; made by the failed create), and then the stack:")
    for leftover in deletable:
        out(f"  {leftover}")
    kept = [leftover for leftover in leftovers if not leftover.deletable]
    for leftover in kept:
        out(f"  kept (no fixed name, blocks nothing; delete it by hand if unused): {leftover}")
    if not confirm(deletable):
        raise OpsError(f"cancelled: stack {name} stays {stack['StackStatus']}; nothing was deleted")
    with aws_errors(f"deleting what the failed create of {name} left"):
        for leftover in deletable:
            delete_leftover(data, leftover, out, sleep=sleep, clock=clock)
    final, failures = delete_and_follow(
        cfn, stack_id, name, lambda line: None, timeout_seconds=DATA_WAIT_SECONDS, sleep=sleep, clock=clock
    )
    if final != "DELETE_COMPLETE":
        reasons = "; ".join(failures) or final
        raise OpsError(f"could not delete stack {name} ({reasons}); delete it in the console, then deploy again")
    out(f"stack {name} deleted: creating it afresh")


def continue_update_rollback(
    cfn: Any,
    stack: Mapping[str, Any],
    out: Output,
    *,
    timeout_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """ContinueUpdateRollback, skipping nothing, until UPDATE_ROLLBACK_COMPLETE; OpsError naming what failed."""
    name, stack_id = stack["StackName"], stack["StackId"]
    out(f"{explain(name, 'UPDATE_ROLLBACK_FAILED')}; continuing the rollback (ContinueUpdateRollback)")
    final, failures = start_and_follow(
        cfn,
        stack_id,
        out,
        f"continuing the rollback of {name}",
        lambda: cfn.continue_update_rollback(StackName=stack_id),
        timeout_seconds=timeout_seconds,
        sleep=sleep,
        clock=clock,
    )
    if final != "UPDATE_ROLLBACK_COMPLETE":
        failed = sorted({failure.split(" ", 1)[0] for failure in failures})
        reasons = "; ".join(failures) or final
        raise OpsError(
            f"the rollback of {name} failed again ({reasons}): fix what it says and deploy again, or skip those "
            f"resources (they stay as they are, out of step with the template): aws cloudformation "
            f"continue-update-rollback --stack-name {name} --resources-to-skip {' '.join(failed) or 'LOGICAL_ID'}"
        )
    out(f"stack {name} is back on its previous version (UPDATE_ROLLBACK_COMPLETE): updating it")
