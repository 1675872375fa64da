"""Deploy and destroy one stack: change set → confirmation → execute → stream events → outputs.

Every wait is bounded and says what it waited for. A failed deploy prints the resources that failed and
why; CloudFormation rolls the stack back itself (moto does not: its ExecuteChangeSet fails synchronously and
leaves the previous template in place, which the tests check).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from ops.aws import aws_errors, error_message
from ops.changeset import (
    ChangeSet,
    Template,
    change_set_type_for,
    create_change_set,
    delete_change_set,
    format_changes,
    stack_status,
)
from ops.errors import OpsError

Output = Callable[[str], None]

STACK_WAIT_SECONDS = 60 * 60  # the slowest resources here (API stage, KMS key) take minutes, not an hour
POLL_SECONDS = 5.0
SUCCEEDED = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "DELETE_COMPLETE"})
# Left behind by a first deploy that never completed; they hold no resources, so deploy clears them.
EMPTY_LEFTOVERS = frozenset({"REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"})
OUTPUTS_FIRST = ("ApiUrl", "DashboardUrl", "ApiKeyId")


@dataclass(frozen=True)
class StackSpec:
    name: str
    template: Template
    parameters: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class DeployOutcome:
    result: Literal["deployed", "no-changes", "cancelled", "failed"]
    stack_status: str | None
    outputs: Mapping[str, str] = field(default_factory=dict)
    failures: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result != "failed"


def is_settled(status: str | None) -> bool:
    return status is None or not status.endswith("_IN_PROGRESS")


class EventStream:
    """Prints a stack's new events oldest first; `prime()` marks what happened before this run as seen."""

    def __init__(self, cfn: Any, stack_id: str, out: Output) -> None:
        self._cfn = cfn
        self._stack_id = stack_id
        self._out = out
        self._seen: set[str] = set()
        self.failures: list[str] = []
        self.completed: set[str] = set()

    def prime(self) -> None:
        with aws_errors("reading stack events"):
            try:
                events = self._cfn.describe_stack_events(StackName=self._stack_id)["StackEvents"]
            except ClientError:
                events = []  # the stack does not exist yet: nothing to skip
        self._seen.update(event["EventId"] for event in events)

    def poll(self, total: int | None = None) -> None:
        fresh: list[dict[str, Any]] = []
        token = None
        with aws_errors("reading stack events"):
            while True:
                paging: dict[str, str] = {"NextToken": token} if token else {}
                page = self._cfn.describe_stack_events(StackName=self._stack_id, **paging)
                events = page["StackEvents"]  # newest first
                new = [event for event in events if event["EventId"] not in self._seen]
                fresh.extend(new)
                token = page.get("NextToken")
                if len(new) < len(events) or not token:
                    break
        for event in reversed(fresh):
            self._seen.add(event["EventId"])
            self._show(event, total)

    def _show(self, event: Mapping[str, Any], total: int | None) -> None:
        status = event.get("ResourceStatus", "")
        logical = event.get("LogicalResourceId", "")
        kind = event.get("ResourceType", "")
        reason = " ".join(str(event.get("ResourceStatusReason") or "").split())
        is_stack = kind == "AWS::CloudFormation::Stack"
        if not is_stack and status.endswith("_COMPLETE"):
            self.completed.add(logical)
        if status.endswith("_FAILED") and reason:
            self.failures.append(f"{logical} ({kind}): {reason}")
        stamp = event["Timestamp"].strftime("%H:%M:%S") if isinstance(event.get("Timestamp"), datetime) else ""
        count = f"[{len(self.completed)}/{total}] " if total else ""
        self._out(f"  {stamp} {count}{status:<28} {logical} ({kind}){f'  {reason}' if reason else ''}")


def wait_for_stack(
    cfn: Any,
    stack_id: str,
    stream: EventStream,
    *,
    total: int | None = None,
    timeout_seconds: float = STACK_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Stream events until the stack settles; return its final status. Raises OpsError on timeout."""
    deadline = clock() + timeout_seconds
    while True:
        stream.poll(total)
        with aws_errors("reading the stack status"):
            status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        if is_settled(status):
            stream.poll(total)  # the events that landed with the final status
            return status
        if clock() >= deadline:
            raise OpsError(
                f"gave up waiting after {timeout_seconds / 60:.0f} min: the stack is still {status}; "
                "CloudFormation carries on — follow it in the console, then run the command again"
            )
        sleep(POLL_SECONDS)


def stack_outputs(cfn: Any, stack_name: str) -> dict[str, str]:
    with aws_errors(f"reading the outputs of {stack_name}"):
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs") or []}


def dashboard_urls(cfn: Any, stack_id: str) -> list[str]:
    """Console links to the stack's dashboards (the template names them; it has no URL output)."""
    region = cfn.meta.region_name
    base = f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/"
    return [
        base + physical_id
        for logical_id, (kind, physical_id) in sorted(stack_resources(cfn, stack_id).items())
        if kind == "AWS::CloudWatch::Dashboard" and physical_id
    ]


def stack_resources(cfn: Any, stack_id: str) -> dict[str, tuple[str, str]]:
    """{logical id: (type, physical id)} of the stack's resources."""
    resources: dict[str, tuple[str, str]] = {}
    with aws_errors("listing the stack's resources"):
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id):
            for summary in page["StackResourceSummaries"]:
                resources[summary["LogicalResourceId"]] = (
                    summary.get("ResourceType", ""),
                    summary.get("PhysicalResourceId", ""),
                )
    return resources


def format_outputs(outputs: Mapping[str, str]) -> list[str]:
    if not outputs:
        return ["(the stack reports no outputs)"]
    keys = [key for key in OUTPUTS_FIRST if key in outputs] + sorted(set(outputs) - set(OUTPUTS_FIRST))
    width = max(len(key) for key in keys)
    return [f"  {key:<{width}}  {outputs[key]}" for key in keys]


def clear_leftover(cfn: Any, stack_name: str, status: str, out: Output, sleep: Callable[[float], None]) -> None:
    """Delete an empty stack a failed or abandoned first deploy left, so the next CREATE starts clean."""
    why = "a failed first deploy" if status == "ROLLBACK_COMPLETE" else "a change set that was never executed"
    out(f"stack {stack_name} is {status}, left by {why}; deleting it before creating it again")
    with aws_errors(f"deleting the leftover stack {stack_name}"):
        stack_id = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
        cfn.delete_stack(StackName=stack_id)
    stream = EventStream(cfn, stack_id, lambda line: None)
    final = wait_for_stack(cfn, stack_id, stream, timeout_seconds=600, sleep=sleep)
    if final != "DELETE_COMPLETE":
        raise OpsError(f"could not delete the leftover stack {stack_name}: {final}; delete it in the console")


def deploy_stack(
    cfn: Any,
    spec: StackSpec,
    confirm: Callable[[ChangeSet], bool],
    out: Output = print,
    *,
    timeout_seconds: float = STACK_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> DeployOutcome:
    """Create a change set, show it, and execute it once `confirm(change_set)` says yes."""
    with aws_errors(f"reading stack {spec.name}"):
        status = stack_status(cfn, spec.name)
    if status in EMPTY_LEFTOVERS:
        clear_leftover(cfn, spec.name, status, out, sleep)
        status = None
    kind = change_set_type_for(status)
    out(f"{'creating' if kind == 'CREATE' else 'updating'} stack {spec.name}: preparing a change set")
    change_set = create_change_set(
        cfn,
        spec.name,
        spec.template,
        spec.parameters,
        kind,
        tags=spec.tags,
        description=spec.description,
        sleep=sleep,
        clock=clock,
    )
    if change_set.no_changes:
        out(f"no changes: stack {spec.name} already matches this template and these parameters")
        return DeployOutcome("no-changes", status, stack_outputs(cfn, spec.name))
    out(format_changes(change_set.changes))
    if not confirm(change_set):
        discard(cfn, change_set, spec.name)
        out("cancelled: nothing was changed (the change set is deleted)")
        return DeployOutcome("cancelled", status)

    stream = EventStream(cfn, change_set.stack_id, out)
    stream.prime()
    out(f"executing change set {change_set.id}")
    try:
        cfn.execute_change_set(ChangeSetName=change_set.id, StackName=change_set.stack_id)
    except ClientError as error:
        # AWS answers at once and rolls back later; moto applies the change set inside this call and, when a
        # resource fails, answers with the error and leaves the previous template in place.
        return _failed(cfn, spec.name, change_set, stream, f"execute refused: {error_message(error)}", out)
    final = wait_for_stack(
        cfn,
        change_set.stack_id,
        stream,
        total=len(change_set.changes) or None,
        timeout_seconds=timeout_seconds,
        sleep=sleep,
        clock=clock,
    )
    if final not in SUCCEEDED:
        return _failed(cfn, spec.name, change_set, stream, f"stack ended in {final}", out)
    outputs = stack_outputs(cfn, change_set.stack_id)
    out(f"deployed: stack {spec.name} is {final}")
    out("outputs:")
    for line in format_outputs(outputs):
        out(line)
    for url in dashboard_urls(cfn, change_set.stack_id):
        out(f"  dashboard  {url}")
    return DeployOutcome("deployed", final, outputs)


def preview_stack(cfn: Any, spec: StackSpec, out: Output = print, **waits: Any) -> ChangeSet:
    """`invoke diff`: the change set as a table; nothing is executed and the change set is deleted."""
    with aws_errors(f"reading stack {spec.name}"):
        status = stack_status(cfn, spec.name)
    if status == "REVIEW_IN_PROGRESS":
        clear_leftover(cfn, spec.name, status, out, waits.get("sleep", time.sleep))
        status = None
    kind = change_set_type_for(status)
    change_set = create_change_set(
        cfn, spec.name, spec.template, spec.parameters, kind, tags=spec.tags, description=spec.description, **waits
    )
    if change_set.no_changes:
        out(f"no changes: stack {spec.name} already matches this template and these parameters")
        return change_set
    out(f"{'new stack' if kind == 'CREATE' else 'changes to stack'} {spec.name}:")
    out(format_changes(change_set.changes))
    discard(cfn, change_set, spec.name)
    out("nothing executed (the change set is deleted)")
    return change_set


def discard(cfn: Any, change_set: ChangeSet, stack_name: str) -> None:
    """Delete an unexecuted change set, and the empty stack a CREATE change set made for it."""
    delete_change_set(cfn, change_set)
    if change_set.change_set_type == "CREATE":
        with aws_errors(f"deleting the empty stack {stack_name}"):
            if stack_status(cfn, change_set.stack_id) == "REVIEW_IN_PROGRESS":
                cfn.delete_stack(StackName=change_set.stack_id)


def _failed(
    cfn: Any, stack_name: str, change_set: ChangeSet, stream: EventStream, headline: str, out: Output
) -> DeployOutcome:
    stream.poll()
    with aws_errors(f"reading stack {stack_name}"):
        status = stack_status(cfn, change_set.stack_id)
    failures = tuple(stream.failures) or (headline,)
    out(f"FAILED: {headline}")
    if stream.failures:
        out("failed resources:")
        for failure in failures:
            out(f"  {failure}")
    if status == "REVIEW_IN_PROGRESS":
        out(f"stack {stack_name} was never created (REVIEW_IN_PROGRESS); the next deploy starts it afresh")
    elif status:
        out(f"stack {stack_name} is {status}: the previous version stays in service")
    return DeployOutcome("failed", status, failures=failures)


# --- destroy ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retained:
    logical_id: str
    resource_type: str
    physical_id: str

    def __str__(self) -> str:
        return f"{self.logical_id} ({self.resource_type}) {self.physical_id or '(not created)'}"


@dataclass(frozen=True)
class DestroyOutcome:
    result: Literal["destroyed", "absent", "cancelled", "failed"]
    retained: tuple[Retained, ...] = ()
    failures: tuple[str, ...] = ()


def retained_resources(template: Mapping[str, Any], physical_ids: Mapping[str, str]) -> list[Retained]:
    """The resources a stack deletion keeps: DeletionPolicy Retain (or RetainExceptOnCreate)."""
    kept = []
    for logical_id, resource in sorted(template.get("Resources", {}).items()):
        if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate"):
            kept.append(Retained(logical_id, resource.get("Type", "?"), physical_ids.get(logical_id, "")))
    return kept


def deployed_template(cfn: Any, stack_name: str) -> dict[str, Any]:
    with aws_errors(f"reading the template of {stack_name}"):
        body = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    # botocore hands back JSON templates already parsed; YAML ones stay text (ours is JSON).
    return dict(body) if isinstance(body, Mapping) else json.loads(body)


def destroy_stack(
    cfn: Any,
    stack_name: str,
    confirm: Callable[[list[Retained]], bool],
    out: Output = print,
    *,
    timeout_seconds: float = STACK_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> DestroyOutcome:
    """Delete the stack once `confirm(retained)` says yes; report what DeletionPolicy Retain kept."""
    with aws_errors(f"reading stack {stack_name}"):
        status = stack_status(cfn, stack_name)
        if status is None:
            out(f"no stack {stack_name}: nothing to destroy")
            return DestroyOutcome("absent")
        stack_id = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
    if not is_settled(status) and status != "REVIEW_IN_PROGRESS":
        raise OpsError(f"the stack is busy ({status}); wait for it to finish and try again")
    physical = {logical_id: physical_id for logical_id, (_, physical_id) in stack_resources(cfn, stack_id).items()}
    retained = retained_resources(deployed_template(cfn, stack_id), physical)
    out(f"stack {stack_name} ({status}) will be deleted")
    if retained:
        out("these resources have DeletionPolicy Retain and will be KEPT (with their data):")
        for resource in retained:
            out(f"  {resource}")
    if not confirm(retained):
        out("cancelled: nothing was deleted")
        return DestroyOutcome("cancelled", tuple(retained))
    stream = EventStream(cfn, stack_id, out)
    stream.prime()
    with aws_errors(f"deleting stack {stack_name}"):
        cfn.delete_stack(StackName=stack_id)
    final = wait_for_stack(cfn, stack_id, stream, timeout_seconds=timeout_seconds, sleep=sleep, clock=clock)
    if final != "DELETE_COMPLETE":
        failures = tuple(stream.failures) or (f"stack ended in {final}",)
        out(f"FAILED: stack {stack_name} is {final}")
        for failure in failures:
            out(f"  {failure}")
        return DestroyOutcome("failed", tuple(retained), failures)
    out(f"destroyed: stack {stack_name} is deleted")
    if retained:
        out("kept (DeletionPolicy Retain) — delete them by hand if the data is no longer needed:")
        for resource in retained:
            out(f"  {resource}")
    return DestroyOutcome("destroyed", tuple(retained))
