"""Where the load goes: the local stack (its outputs file) or a deployed environment (its stack outputs),
found by the operators' resolver (ops/outputs.py) so both tools always point at the same stack."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from loadtest.errors import LoadTestError
from local.state import DEFAULT_PATHS

if TYPE_CHECKING:
    from ops.outputs import Target as StackTarget

LOCAL_KEYS = ("ApiUrl", "ApiKey", "AwsEndpoint", "Region", "TableName", "QueueUrl", "DeadLetterQueueUrl", "ControlUrl")
DEPLOYED_KEYS = ("ApiUrl", "ApiKeyId", "TableName", "QueueUrl", "DeadLetterQueueUrl")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
API_KEY_ENV = "SLUICE_API_KEY"  # how the key reaches Locust: never on a command line


@dataclass(frozen=True)
class Target:
    name: str  # "local" or the environment's name
    env: str  # the configuration environment (sluice.toml table, load profile)
    api_url: str
    api_key: str = field(repr=False)
    region: str
    table_name: str
    queue_url: str
    dead_letter_queue_url: str
    aws_endpoint: str | None = None  # None: AWS itself
    control_url: str | None = None  # the local stack's control API
    stack_name: str = ""
    archive_bucket: str = ""
    analytics_bucket: str = ""  # the S3 analytics store, when `sinks` holds "s3"
    session: Any = field(default=None, repr=False, compare=False)  # boto3 session of a deployed stack

    @property
    def is_local(self) -> bool:
        return self.control_url is not None


def resolve_load_target(
    name: str, outputs_path: Path = DEFAULT_PATHS.outputs, profile: str | None = None, region: str | None = None
) -> Target:
    """`local` (the outputs file of `invoke up`) or a deployed environment, through the operators' one
    resolver (ops/outputs.py): the same outputs, configuration and API key the ops tasks use."""
    # Imported here: Locust's processes import this module for API_KEY_ENV only, and need no boto3.
    from ops.errors import OpsError
    from ops.outputs import resolve_target

    try:
        return from_stack(resolve_target(name, profile, region, local_outputs=outputs_path))
    except OpsError as error:
        raise LoadTestError(str(error)) from None


def local_target(outputs: Mapping[str, Any]) -> Target:
    """The local stack from its outputs (a background stack's, in the tests)."""
    from ops.errors import OpsError
    from ops.outputs import local_target_from

    try:
        return from_stack(local_target_from(outputs))
    except OpsError as error:
        raise LoadTestError(str(error)) from None


def from_stack(stack: StackTarget) -> Target:
    """The load target of a resolved stack; a local one must be complete and entirely on this machine."""
    from ops.outputs import LOCAL

    outputs = stack.outputs
    local = stack.name == LOCAL
    missing = [key for key in (LOCAL_KEYS if local else DEPLOYED_KEYS) if not outputs.get(key)]
    if missing:
        where = "local stack outputs" if local else f"stack {stack.config.stack_name}"
        raise LoadTestError(f"{where} lack {', '.join(missing)}")
    if local:
        for key in ("ApiUrl", "AwsEndpoint", "ControlUrl"):
            if urlsplit(outputs[key]).hostname not in LOOPBACK:
                raise LoadTestError(f"local stack output {key}={outputs[key]!r} is not on 127.0.0.1")
    return Target(
        name=stack.name,
        env=stack.config.env,
        api_url=outputs["ApiUrl"].rstrip("/"),
        api_key=stack.api_key(),
        region=stack.session.region_name or "",
        table_name=outputs["TableName"],
        queue_url=outputs["QueueUrl"],
        dead_letter_queue_url=outputs["DeadLetterQueueUrl"],
        aws_endpoint=stack.endpoint_url,
        control_url=outputs["ControlUrl"].rstrip("/") if local else None,
        stack_name="" if local else stack.config.stack_name,
        archive_bucket=outputs.get("ArchiveBucket", ""),
        analytics_bucket=outputs.get("AnalyticsBucket", ""),
        session=None if local else stack.session,
    )
