"""Change sets: create one, wait for it, read its changes as a table, delete it.

A change set is CloudFormation's dry run: `invoke diff` stops there, `invoke deploy` executes it. "Nothing to
change" comes back two ways and both mean the same: a FAILED change set whose reason says it "didn't contain
changes" (AWS, and moto with TemplateURL), or a ValidationError "No updates are to be performed." at creation
(moto with TemplateBody).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ops.aws import aws_errors, error_code, error_message
from ops.errors import OpsError
from ops.waiting import WaitTimedOut, wait_until

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
MAX_TEMPLATE_BODY_BYTES = 51_200  # CloudFormation's limit for an inline TemplateBody
NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")
CHANGE_SET_WAIT_SECONDS = 300
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Template:
    """Where CloudFormation reads the template from: inline when small, an S3 URL otherwise."""

    body: str | None = None
    url: str | None = None

    def arguments(self) -> dict[str, str]:
        if self.url:
            return {"TemplateURL": self.url}
        if self.body is None:
            raise ValueError("a template needs a body or a url")
        if len(self.body.encode()) > MAX_TEMPLATE_BODY_BYTES:
            raise OpsError(f"template is {len(self.body.encode())} bytes: over {MAX_TEMPLATE_BODY_BYTES} it needs S3")
        return {"TemplateBody": self.body}


@dataclass(frozen=True)
class Change:
    action: str  # Add, Modify, Remove, Import, Dynamic
    logical_id: str
    resource_type: str
    replacement: str  # yes, no, conditional, or "-" when it does not apply / the service did not say

    @classmethod
    def from_api(cls, change: Mapping[str, Any]) -> Change:
        resource = change.get("ResourceChange", {})
        action = resource.get("Action", "?")
        replacement = {"True": "yes", "False": "no", "Conditional": "conditional"}.get(
            str(resource.get("Replacement")), "-"
        )
        if action != "Modify":
            replacement = "-"
        return cls(action, resource.get("LogicalResourceId", "?"), resource.get("ResourceType", "?"), replacement)


@dataclass(frozen=True)
class ChangeSet:
    id: str
    stack_id: str
    change_set_type: str  # CREATE or UPDATE
    changes: tuple[Change, ...] = field(default_factory=tuple)
    no_changes: bool = False


def describe_stack(cfn: Any, stack_name: str) -> dict[str, Any] | None:
    """The stack as DescribeStacks has it, or None when there is no such (live) stack."""
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if error_code(error) == "ValidationError" and "does not exist" in error_message(error):
            return None
        raise
    return dict(stacks[0]) if stacks else None


def stack_status(cfn: Any, stack_name: str) -> str | None:
    """The stack's status, or None when there is no such (live) stack."""
    stack = describe_stack(cfn, stack_name)
    return stack["StackStatus"] if stack else None


def change_set_type_for(status: str | None) -> str:
    """CREATE for a stack that does not exist (yet), UPDATE for one that does; refuse a busy or broken one."""
    if status in (None, "REVIEW_IN_PROGRESS"):
        return "CREATE"
    if status.endswith("_IN_PROGRESS"):
        raise OpsError(f"the stack is busy ({status}); wait for it to finish and try again")
    if status in ("ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED"):
        raise OpsError(f"the stack is in {status}: `invoke deploy` recovers it first (ops/README.md: Failed rollbacks)")
    if status == "DELETE_FAILED":
        raise OpsError(f"the stack is in {status}: fix it in the CloudFormation console (or destroy it) first")
    if status == "ROLLBACK_COMPLETE":
        raise OpsError(
            "the stack is in ROLLBACK_COMPLETE (a failed first create): `invoke deploy` deletes and recreates it"
        )
    return "UPDATE"


def change_set_name(now: datetime | None = None) -> str:
    """`ops-20261125T193200Z`: must start with a letter; the time tells runs apart in the console."""
    return (now or datetime.now(UTC)).strftime("ops-%Y%m%dT%H%M%S%fZ")


def create_change_set(
    cfn: Any,
    stack_name: str,
    template: Template,
    parameters: Mapping[str, str],
    change_set_type: str,
    *,
    tags: Mapping[str, str] | None = None,
    description: str = "",
    timeout_seconds: float = CHANGE_SET_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ChangeSet:
    """Create a change set and wait until it is ready (or known to contain nothing)."""
    arguments: dict[str, Any] = {
        "StackName": stack_name,
        "ChangeSetName": change_set_name(),
        "ChangeSetType": change_set_type,
        "Parameters": [{"ParameterKey": key, "ParameterValue": value} for key, value in sorted(parameters.items())],
        "Capabilities": CAPABILITIES,
        "Tags": [{"Key": key, "Value": value} for key, value in sorted((tags or {}).items())],
        **template.arguments(),
    }
    if description:
        arguments["Description"] = description[:1024]
    try:
        created = cfn.create_change_set(**arguments)
    except ClientError as error:
        if _is_no_change(error_message(error)):
            return ChangeSet(id="", stack_id="", change_set_type=change_set_type, no_changes=True)
        raise OpsError(f"creating the change set for {stack_name}: {error_message(error)}") from None
    change_set_id, stack_id = created["Id"], created["StackId"]
    with aws_errors(f"waiting for change set {change_set_id}"):
        try:
            described = wait_until(
                lambda: cfn.describe_change_set(ChangeSetName=change_set_id, StackName=stack_id),
                lambda found: found["Status"] in ("CREATE_COMPLETE", "FAILED"),
                timeout=timeout_seconds,
                interval=POLL_SECONDS,
                what=f"change set {change_set_id}",
                clock=clock,
                sleep=sleep,
            )
        except WaitTimedOut as timed_out:
            raise OpsError(
                f"change set {change_set_id} still {timed_out.last['Status']} after {timeout_seconds:.0f} s; "
                "look at it in the CloudFormation console"
            ) from None
        if described["Status"] == "FAILED":
            reason = described.get("StatusReason", "") or "no reason given"
            cfn.delete_change_set(ChangeSetName=change_set_id, StackName=stack_id)
            if _is_no_change(reason):
                return ChangeSet(id="", stack_id=stack_id, change_set_type=change_set_type, no_changes=True)
            raise OpsError(f"CloudFormation refused the change set: {reason}")
        changes = [Change.from_api(change) for change in described.get("Changes", [])]
        token = described.get("NextToken")
        while token:  # more than 100 changes come in pages
            page = cfn.describe_change_set(ChangeSetName=change_set_id, StackName=stack_id, NextToken=token)
            changes += [Change.from_api(change) for change in page.get("Changes", [])]
            token = page.get("NextToken")
    return ChangeSet(id=change_set_id, stack_id=stack_id, change_set_type=change_set_type, changes=tuple(changes))


def _is_no_change(reason: str) -> bool:
    return any(text in reason for text in NO_CHANGE_REASONS)


def delete_change_set(cfn: Any, change_set: ChangeSet) -> None:
    if change_set.id:
        with aws_errors(f"deleting change set {change_set.id}"):
            cfn.delete_change_set(ChangeSetName=change_set.id, StackName=change_set.stack_id)


ACTION_ORDER = {"Add": 0, "Modify": 1, "Remove": 2}


def format_changes(changes: tuple[Change, ...] | list[Change]) -> str:
    """A fixed-width table: action, logical id, type, replacement; adds, then modifies, then removes."""
    if not changes:
        return "no resource changes (only outputs, parameters or metadata differ)"
    ordered = sorted(changes, key=lambda change: (ACTION_ORDER.get(change.action, 3), change.logical_id))
    header = ("action", "logical id", "type", "replacement")
    rows = [(change.action.lower(), change.logical_id, change.resource_type, change.replacement) for change in ordered]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    rule = "  ".join("-" * width for width in widths)
    title = "  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)).rstrip()
    counts = {action: sum(1 for change in changes if change.action == action) for action in ("Add", "Modify", "Remove")}
    replaced = sum(1 for change in changes if change.replacement in ("yes", "conditional"))
    footer = f"{counts['Add']} to add, {counts['Modify']} to modify ({replaced} replaced), {counts['Remove']} to remove"
    return "\n".join([title, rule, *lines, footer])
