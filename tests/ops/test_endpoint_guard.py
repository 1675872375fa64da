"""preflight and deploy refuse an AWS endpoint on this machine (the local stack's export line), in one line,
before any call (ops/endpoint_guard.py)."""

from __future__ import annotations

import os

import boto3
import pytest
from invoke import Context, Exit

import tasks.deployment
from ops.endpoint_guard import ensure_aws_endpoints, this_machine
from ops.errors import OpsError

LOCAL_EXPORT = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",  # the line `invoke up --detach` prints
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


@pytest.fixture
def local_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in LOCAL_EXPORT.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("task", "options"),
    [(tasks.deployment.preflight, {"env": "dev"}), (tasks.deployment.deploy, {"env": "dev", "yes": True})],
)
def test_preflight_and_deploy_refuse_the_local_stacks_endpoint_in_one_line(local_shell, task, options) -> None:
    # GIVEN a shell with the local stack's export line WHEN preflight or deploy runs
    with pytest.raises(Exit) as raised:
        task(Context(), **options)
    # THEN it stops before any call, in one line naming the endpoint and what to do
    message = str(raised.value.message)
    assert message.startswith("error: the AWS endpoint points at this machine (sts: http://127.0.0.1:4566), not AWS")
    assert "`unset AWS_ENDPOINT_URL`" in message and "\n" not in message


def test_a_service_specific_endpoint_on_this_machine_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN only CloudFormation's endpoint moved to localhost
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://localhost:4566")
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    # THEN it is named
    with pytest.raises(OpsError, match=r"\(cloudformation: http://localhost:4566\)"):
        ensure_aws_endpoints(session)


def test_aws_endpoints_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDFORMATION"):
        monkeypatch.delenv(name, raising=False)
    session = boto3.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    ensure_aws_endpoints(session)  # the regional AWS endpoints: no error


@pytest.mark.parametrize(
    ("host", "local"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", True), ("sts.amazonaws.com", False)],
)
def test_this_machine(host: str, local: bool) -> None:
    assert this_machine(host) is local
