"""Where the operate tools point: the local stack (`.local/outputs.json`) or a deployed environment's stack.

Both give the same names (ApiUrl, TableName, QueueUrl, DeadLetterQueueUrl, ArchiveBucket, …), so the tools
never care which one they talk to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from cloudformation import output_keys
from core.config import Config, ConfigError, load_config
from ops import local_output_keys
from ops.aws import aws_errors, make_session, region_of
from ops.deploy import stack_outputs
from ops.errors import OpsError
from ops.local_credentials import LOCAL_CREDENTIALS
from ops.state_folder import LOCAL_OUTPUTS

LOCAL = "local"


@dataclass(frozen=True)
class Target:
    """A stack the tools point at, resolved once: its name (`local` or the environment's), the configuration
    it runs, an AWS session for it and its outputs. The operate tasks and the load tests both use it."""

    name: str
    config: Config
    session: boto3.Session
    outputs: Mapping[str, str] = field(repr=False)  # the local stack's hold the API key's value
    endpoint_url: str | None = None
    _api_key: list[str] = field(default_factory=list, repr=False)  # memo: looked up once

    def client(self, service: str, **options: Any) -> Any:
        if self.endpoint_url:
            options.setdefault("endpoint_url", self.endpoint_url)
        options.setdefault("config", BotoConfig(retries={"mode": "standard", "max_attempts": 5}))
        return self.session.client(service, **options)

    @property
    def is_local(self) -> bool:
        return self.name == LOCAL

    @property
    def env(self) -> str:
        """The configuration environment it runs (a sluice.toml table): `invoke up --env NAME` runs another's."""
        return self.config.env

    @property
    def stack_name(self) -> str:
        return self.config.stack_name

    @property
    def region(self) -> str:
        return self.session.region_name or ""

    @property
    def api_url(self) -> str:
        return self.require(output_keys.API_URL).rstrip("/")

    @property
    def table_name(self) -> str:
        return self.require(output_keys.TABLE_NAME)

    @property
    def queue_url(self) -> str:
        return self.require(output_keys.QUEUE_URL)

    @property
    def dead_letter_queue_url(self) -> str:
        return self.require(output_keys.DEAD_LETTER_QUEUE_URL)

    @property
    def archive_bucket(self) -> str:
        return self.outputs.get(output_keys.ARCHIVE_BUCKET, "")

    @property
    def analytics_bucket(self) -> str:
        """The S3 analytics store; empty when `sinks` does not hold "s3"."""
        return self.outputs.get(output_keys.ANALYTICS_BUCKET, "")

    @property
    def control_url(self) -> str | None:
        """The local stack's control API; None for a deployed stack."""
        return self.require(local_output_keys.CONTROL_URL).rstrip("/") if self.is_local else None

    def require(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            where = "the local stack's outputs" if self.name == LOCAL else f"stack {self.config.stack_name}'s outputs"
            raise OpsError(f"{key} is not in {where}")
        return value

    def api_key(self) -> str:
        """The API key VALUE: the local stack writes it out; AWS keeps it behind apigateway get_api_key."""
        if not self._api_key:
            if local_output_keys.API_KEY in self.outputs:
                self._api_key.append(self.outputs[local_output_keys.API_KEY])
            else:
                key_id = self.require(output_keys.API_KEY_ID)
                with aws_errors(f"reading API key {key_id}"):
                    value = self.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"]
                self._api_key.append(value)
        return self._api_key[0]


def load_environment(env: str) -> Config:
    try:
        return load_config(env)
    except ConfigError as error:
        raise OpsError(str(error)) from None


def local_target(path: Path = LOCAL_OUTPUTS) -> Target:
    try:
        outputs = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OpsError(f"no local stack: {path} not found (start one with `invoke up`)") from None
    except ValueError:
        raise OpsError(f"{path}: not valid JSON (restart the local stack with `invoke down` and `invoke up`)") from None
    if not isinstance(outputs, dict):
        raise OpsError(f"{path}: expected a JSON object of stack outputs")
    return local_target_from(outputs, str(path))


def local_target_from(outputs: Mapping[str, Any], where: str = "the local stack's outputs") -> Target:
    """The local stack from its outputs, with the configuration it runs (`invoke up --env NAME` runs the
    local stack with another environment's configuration, and writes that name as `Env`)."""
    env = outputs.get(local_output_keys.ENV)
    if not env:
        raise OpsError(f"{where}: no Env (written by an older `invoke up`): restart the local stack")
    session = boto3.Session(region_name=outputs.get(local_output_keys.REGION) or "us-east-1", **LOCAL_CREDENTIALS)
    return Target(
        name=LOCAL,
        config=load_environment(str(env)),
        session=session,
        outputs={key: str(value) for key, value in outputs.items()},
        endpoint_url=outputs.get(local_output_keys.AWS_ENDPOINT) or None,
    )


def stack_target(env: str, profile: str | None = None, region: str | None = None) -> Target:
    config = load_environment(env)
    session = make_session(profile, region or config.region)
    region_of(session)
    with aws_errors(f"reading stack {config.stack_name}"):
        cfn = session.client("cloudformation")
        try:
            outputs = stack_outputs(cfn, config.stack_name)
        except OpsError as error:
            if "does not exist" in str(error):
                raise OpsError(
                    f"stack {config.stack_name} not found in {session.region_name} "
                    f"(deploy it with `invoke deploy --env {env}`)"
                ) from None
            raise
    return Target(name=env, config=config, session=session, outputs=outputs)


def resolve_target(
    target: str, profile: str | None = None, region: str | None = None, local_outputs: Path = LOCAL_OUTPUTS
) -> Target:
    """`local` → the local stack; any other name → that environment's deployed stack."""
    if target == LOCAL:
        return local_target(local_outputs)
    return stack_target(target, profile, region)
