"""Deploy and destroy one stack: change set → confirmation → execute → stream events → outputs.

Every wait is bounded and says what it waited for. A failed deploy prints the resources that failed and
why; CloudFormation rolls the stack back itself (moto does not: its ExecuteChangeSet fails synchronously and
leaves the previous template in place, which the tests check).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from cloudformation import output_keys
from ops.aws import aws_errors, error_message
from ops.changeset import (
    ChangeSet,
    Template,
    change_set_type_for,
    create_change_set,
    delete_change_set,
    describe_stack,
    format_changes,
    stack_status,
)
from ops.errors import OpsError
from ops.kept import KeptName, blocked_additions, refusal
from ops.recovery import (
    FAILED_ROLLBACKS,
    DataClients,
    Leftover,
    continue_update_rollback,
    explain,
    recover_failed_create,
)
from ops.stack_events import (
    STACK_WAIT_SECONDS,
    EventStream,
    Output,
    dashboard_urls,
    delete_and_follow,
    deployed_template,
    is_settled,
    stack_outputs,
    stack_resources,
    wait_for_stack,
)

SUCCEEDED = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "DELETE_COMPLETE"})
# Left behind by a first deploy that never completed; they hold no resources, so deploy clears them.
EMPTY_LEFTOVERS = frozenset({"REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"})
OUTPUTS_FIRST = (output_keys.API_URL, output_keys.API_KEY_ID)


# What the operator does after a deploy that ended in a failed rollback: run the same command again.
NEXT_STEP = {
    "ROLLBACK_FAILED": (
        "run `{command}` again: it lists what the failed create left, deletes it once you agree (only what holds no "
        "data) and creates the stack afresh"
    ),
    "UPDATE_ROLLBACK_FAILED": (
        "run `{command}` again: it continues the rollback (ContinueUpdateRollback), then updates; fix by hand first "
        "what a failed resource above names, if anything"
    ),
}


@dataclass(frozen=True)
class StackSpec:
    name: str
    template: Template
    parameters: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    # Values a first create takes instead of `parameters` (the events table without deletion protection, so that
    # the rollback of a failed first create can delete it); deploy applies `parameters` right after CREATE_COMPLETE.
    first_create_parameters: Mapping[str, str] = field(default_factory=dict)
    command: str = "the deploy"  # what the operator runs to deploy again, named in messages
    # The retained tables and buckets with fixed names: a change set that adds one whose name is taken is refused.
    kept: Mapping[str, KeptName] = field(default_factory=dict)

    def parameters_for(self, change_set_type: str) -> dict[str, str]:
        overrides = self.first_create_parameters if change_set_type == "CREATE" else {}
        return {**self.parameters, **overrides}


@dataclass(frozen=True)
class DeployOutcome:
    result: Literal["deployed", "no-changes", "cancelled", "failed"]
    stack_status: str | None
    outputs: Mapping[str, str] = field(default_factory=dict)
    failures: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result != "failed"


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


def _refuse(_: list[Leftover]) -> bool:
    return False


def deploy_stack(
    cfn: Any,
    spec: StackSpec,
    confirm: Callable[[ChangeSet], bool],
    out: Output = print,
    *,
    data: DataClients | None = None,
    confirm_recovery: Callable[[list[Leftover]], bool] = _refuse,
    timeout_seconds: float = STACK_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> DeployOutcome:
    """Create a change set, show it, and execute it once `confirm(change_set)` says yes.

    A stack left by a failed rollback is recovered first (ops/recovery.py): ROLLBACK_FAILED by deleting what the
    failed create left once `confirm_recovery(leftovers)` says yes (needs `data`), UPDATE_ROLLBACK_FAILED by
    continuing the rollback. A change set that would add a kept table or bucket whose name is taken is refused
    (ops/kept.py; needs `data`). A first create takes `spec.first_create_parameters`, then `spec.parameters`."""
    waits: dict[str, Any] = {"sleep": sleep, "clock": clock}
    with aws_errors(f"reading stack {spec.name}"):
        stack = describe_stack(cfn, spec.name)
    status = stack["StackStatus"] if stack else None
    if stack and status in EMPTY_LEFTOVERS:
        clear_leftover(cfn, spec.name, stack["StackStatus"], out, sleep)
        status = None
    elif stack and status == "ROLLBACK_FAILED":
        if data is None:
            raise OpsError(f"{explain(spec.name, status)}; deleting what it left needs the DynamoDB and S3 clients")
        recover_failed_create(cfn, stack, data, confirm_recovery, out, **waits)
        status = None
    elif stack and status == "UPDATE_ROLLBACK_FAILED":
        continue_update_rollback(cfn, stack, out, timeout_seconds=timeout_seconds, **waits)
        status = "UPDATE_ROLLBACK_COMPLETE"
    kind = change_set_type_for(status)
    out(f"{'creating' if kind == 'CREATE' else 'updating'} stack {spec.name}: preparing a change set")
    change_set = _change_set(cfn, spec, kind, **waits)
    if change_set.no_changes:
        out(f"no changes: stack {spec.name} already matches this template and these parameters")
        return DeployOutcome("no-changes", status, stack_outputs(cfn, spec.name))
    out(format_changes(change_set.changes))
    blocked = blocked_additions(change_set.changes, spec.kept, data) if data is not None else []
    if blocked:
        discard(cfn, change_set, spec.name)
        raise OpsError(refusal(spec.name, blocked))
    if not confirm(change_set):
        discard(cfn, change_set, spec.name)
        out("cancelled: nothing was changed (the change set is deleted)")
        return DeployOutcome("cancelled", status)
    outcome = _execute(cfn, spec, change_set, out, timeout_seconds=timeout_seconds, **waits)
    if outcome.ok and kind == "CREATE" and spec.first_create_parameters:
        outcome = _finish_first_create(cfn, spec, out, timeout_seconds=timeout_seconds, **waits)
    if not outcome.ok:
        return outcome
    outputs = stack_outputs(cfn, spec.name)
    out(f"deployed: stack {spec.name} is {outcome.stack_status}")
    out("outputs:")
    for line in format_outputs(outputs):
        out(line)
    for url in dashboard_urls(cfn, change_set.stack_id):
        out(f"  dashboard  {url}")
    return DeployOutcome("deployed", outcome.stack_status, outputs)


def _change_set(cfn: Any, spec: StackSpec, kind: str, **waits: Any) -> ChangeSet:
    return create_change_set(
        cfn,
        spec.name,
        spec.template,
        spec.parameters_for(kind),
        kind,
        tags=spec.tags,
        description=spec.description,
        **waits,
    )


def _execute(cfn: Any, spec: StackSpec, change_set: ChangeSet, out: Output, **waits: Any) -> DeployOutcome:
    """Execute the change set and follow the stack until it settles: "deployed" (no outputs yet) or "failed"."""
    stream = EventStream(cfn, change_set.stack_id, out)
    stream.prime()
    out(f"executing change set {change_set.id}")
    try:
        cfn.execute_change_set(ChangeSetName=change_set.id, StackName=change_set.stack_id)
    except ClientError as error:
        # AWS answers at once and rolls back later; moto applies the change set inside this call and, when a
        # resource fails, answers with the error and leaves the previous template in place.
        return _failed(cfn, spec, change_set, stream, f"execute refused: {error_message(error)}", out)
    final = wait_for_stack(cfn, change_set.stack_id, stream, total=len(change_set.changes) or None, **waits)
    if final not in SUCCEEDED:
        return _failed(cfn, spec, change_set, stream, f"stack ended in {final}", out)
    return DeployOutcome("deployed", final)


def _finish_first_create(cfn: Any, spec: StackSpec, out: Output, **waits: Any) -> DeployOutcome:
    """Right after CREATE_COMPLETE: the update that sets what the first create left off (deletion protection)."""
    settings = ", ".join(f"{key}={spec.parameters[key]}" for key in sorted(spec.first_create_parameters))
    out(f"created; now updating stack {spec.name} to what a first create leaves off: {settings}")
    change_set = _change_set(cfn, spec, "UPDATE", sleep=waits["sleep"], clock=waits["clock"])
    if change_set.no_changes:
        return DeployOutcome("deployed", "CREATE_COMPLETE")
    out(format_changes(change_set.changes))
    outcome = _execute(cfn, spec, change_set, out, **waits)
    if not outcome.ok:
        out(f"stack {spec.name} is created, but without {settings}: run `{spec.command}` again to set it")
    return outcome


def preview_stack(cfn: Any, spec: StackSpec, out: Output = print, **waits: Any) -> ChangeSet:
    """`invoke diff`: the change set as a table; nothing is executed and the change set is deleted."""
    with aws_errors(f"reading stack {spec.name}"):
        status = stack_status(cfn, spec.name)
    if status == "REVIEW_IN_PROGRESS":
        clear_leftover(cfn, spec.name, status, out, waits.get("sleep", time.sleep))
        status = None
    kind = change_set_type_for(status)
    change_set = _change_set(cfn, spec, kind, **waits)
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
    cfn: Any, spec: StackSpec, change_set: ChangeSet, stream: EventStream, headline: str, out: Output
) -> DeployOutcome:
    stream.poll()
    with aws_errors(f"reading stack {spec.name}"):
        status = stack_status(cfn, change_set.stack_id)
    failures = tuple(stream.failures) or (headline,)
    out(f"FAILED: {headline}")
    if stream.failures:
        out("failed resources:")
        for failure in failures:
            out(f"  {failure}")
    if status == "REVIEW_IN_PROGRESS":
        out(f"stack {spec.name} was never created (REVIEW_IN_PROGRESS); the next deploy starts it afresh")
    elif status == "ROLLBACK_COMPLETE":
        out(f"stack {spec.name} was not created (ROLLBACK_COMPLETE); the next deploy deletes it and starts afresh")
    elif status is not None and status in FAILED_ROLLBACKS:
        out(explain(spec.name, status))
        out(NEXT_STEP[status].format(command=spec.command))
    elif status:
        out(f"stack {spec.name} is {status}: the previous version stays in service")
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
    final, failed = delete_and_follow(
        cfn, stack_id, stack_name, out, timeout_seconds=timeout_seconds, sleep=sleep, clock=clock
    )
    if final != "DELETE_COMPLETE":
        failures = tuple(failed) or (f"stack ended in {final}",)
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
