"""Where the load goes: the local stack (its outputs file) or a deployed environment (its stack outputs)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loadtest.errors import LoadTestError

DEFAULT_OUTPUTS = Path(".local/outputs.json")
LOCAL_KEYS = ("ApiUrl", "ApiKey", "AwsEndpoint", "Region", "TableName", "QueueUrl", "DeadLetterQueueUrl", "ControlUrl")
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

    @property
    def is_local(self) -> bool:
        return self.control_url is not None


def read_outputs(path: Path) -> dict[str, str]:
    """The local stack's outputs file, written by `invoke up`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LoadTestError(f"{path}: not found; start the local stack first (invoke up)") from None
    except ValueError as error:
        raise LoadTestError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise LoadTestError(f"{path}: expected a JSON object of stack outputs")
    return {str(key): str(value) for key, value in data.items()}


def local_target(outputs: Mapping[str, Any]) -> Target:
    """The local stack from its outputs; every address must be on this machine."""
    missing = [key for key in LOCAL_KEYS if not outputs.get(key)]
    if missing:
        raise LoadTestError(f"local stack outputs lack {', '.join(missing)}")
    for key in ("ApiUrl", "AwsEndpoint", "ControlUrl"):
        host = urlsplit(str(outputs[key])).hostname
        if host not in LOOPBACK:
            raise LoadTestError(f"local stack output {key}={outputs[key]!r} is not on 127.0.0.1")
    return Target(
        name="local",
        env="local",
        api_url=str(outputs["ApiUrl"]).rstrip("/"),
        api_key=str(outputs["ApiKey"]),
        region=str(outputs["Region"]),
        table_name=str(outputs["TableName"]),
        queue_url=str(outputs["QueueUrl"]),
        dead_letter_queue_url=str(outputs["DeadLetterQueueUrl"]),
        aws_endpoint=str(outputs["AwsEndpoint"]),
        control_url=str(outputs["ControlUrl"]).rstrip("/"),
        archive_bucket=str(outputs.get("ArchiveBucket", "")),
    )


def deployed_target(env: str, stack_name: str, session: Any) -> Target:
    """A deployed environment: outputs of the CloudFormation stack, the API key's value from API Gateway."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        outputs = {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])}
        needed = ("ApiUrl", "ApiKeyId", "TableName", "QueueUrl", "DeadLetterQueueUrl")
        missing = [key for key in needed if key not in outputs]
        if missing:
            raise LoadTestError(f"stack {stack_name} has no output {', '.join(missing)}")
        key = session.client("apigateway").get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)["value"]
    except ClientError as error:
        details = error.response.get("Error", {})
        raise LoadTestError(f"{stack_name}: {details.get('Code', 'error')}: {details.get('Message', '')}") from None
    except BotoCoreError as error:
        raise LoadTestError(f"{stack_name}: {error}") from None
    return Target(
        name=env,
        env=env,
        api_url=outputs["ApiUrl"].rstrip("/"),
        api_key=key,
        region=session.region_name or "",
        table_name=outputs["TableName"],
        queue_url=outputs["QueueUrl"],
        dead_letter_queue_url=outputs["DeadLetterQueueUrl"],
        stack_name=stack_name,
        archive_bucket=outputs.get("ArchiveBucket", ""),
    )
