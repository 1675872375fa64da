"""Watch a stack: its events streamed as they happen, a bounded wait for it to settle, its resources, outputs and
deployed template."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ops.aws import aws_errors
from ops.errors import OpsError
from ops.waiting import WaitTimedOut, wait_until

Output = Callable[[str], None]

STACK_WAIT_SECONDS = 60 * 60  # the slowest resources here (API stage, KMS key) take minutes, not an hour
POLL_SECONDS = 5.0


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

    def status() -> str:
        stream.poll(total)
        with aws_errors("reading the stack status"):
            return str(cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"])

    try:
        final = wait_until(
            status,
            is_settled,
            timeout=timeout_seconds,
            interval=POLL_SECONDS,
            what="the stack",
            clock=clock,
            sleep=sleep,
        )
    except WaitTimedOut as timed_out:
        raise OpsError(
            f"gave up waiting after {timeout_seconds / 60:.0f} min: the stack is still {timed_out.last}; "
            "CloudFormation carries on — follow it in the console, then run the command again"
        ) from None
    stream.poll(total)  # the events that landed with the final status
    return final


def start_and_follow(
    cfn: Any,
    stack_id: str,
    out: Output,
    doing: str,
    start: Callable[[], object],
    *,
    timeout_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[str, list[str]]:
    """Start a stack operation (`doing` names it in an error) and stream its events, and only its, until the stack
    settles: the final status and the failures the events gave."""
    stream = EventStream(cfn, stack_id, out)
    stream.prime()
    with aws_errors(doing):
        start()
    final = wait_for_stack(cfn, stack_id, stream, timeout_seconds=timeout_seconds, sleep=sleep, clock=clock)
    return final, stream.failures


def delete_and_follow(
    cfn: Any,
    stack_id: str,
    stack_name: str,
    out: Output,
    *,
    timeout_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[str, list[str]]:
    """DeleteStack, followed like any stack operation (start_and_follow)."""
    return start_and_follow(
        cfn,
        stack_id,
        out,
        f"deleting stack {stack_name}",
        lambda: cfn.delete_stack(StackName=stack_id),
        timeout_seconds=timeout_seconds,
        sleep=sleep,
        clock=clock,
    )


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


def resource_summaries(cfn: Any, stack_id: str) -> list[dict[str, Any]]:
    """ListStackResources' summaries: logical and physical id, type, status and its reason."""
    with aws_errors("listing the stack's resources"):
        return [
            summary
            for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id)
            for summary in page["StackResourceSummaries"]
        ]


def stack_resources(cfn: Any, stack_id: str) -> dict[str, tuple[str, str]]:
    """{logical id: (type, physical id)} of the stack's resources."""
    return {
        summary["LogicalResourceId"]: (summary.get("ResourceType", ""), summary.get("PhysicalResourceId", ""))
        for summary in resource_summaries(cfn, stack_id)
    }


def deployed_template(cfn: Any, stack_name: str) -> dict[str, Any]:
    with aws_errors(f"reading the template of {stack_name}"):
        body = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    # botocore hands back JSON templates already parsed; YAML ones stay text (ours is JSON).
    return dict(body) if isinstance(body, Mapping) else json.loads(body)
