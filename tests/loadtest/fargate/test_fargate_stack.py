"""The load generator's stack: judged by the product's scanners and justified list, and holding what the flow
relies on (the container command lines, the outputs, least privilege)."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from cloudformation.validate import scan
from loadtest.fargate.stack import (
    DEFAULT_LOCUST_TAG,
    MASTER,
    WORKER,
    build_template,
    container_command,
    render_template,
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return json.loads(render_template())


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == kind}


def test_the_stack_has_no_finding_beyond_the_products_justified_list(tmp_path: Path) -> None:
    # GIVEN the rendered template WHEN cfn-lint and checkov judge it, as `invoke validate` judges the product's
    path = tmp_path / "loadgen.json"
    path.write_text(render_template())
    report = scan(path)
    # THEN checkov ran real checks, and nothing failed that is not on cloudformation/scan_exceptions.py's list
    assert report.checkov_passed > 20
    assert report.failures == [], report.summary()


def test_each_task_definition_runs_the_container_command_of_its_role(template: dict[str, Any]) -> None:
    # GIVEN the two task definitions
    definitions = resources_of(template, "AWS::ECS::TaskDefinition")
    commands = {}
    for body in definitions.values():
        (container,) = body["Properties"]["ContainerDefinitions"]
        commands[container["Command"][0]] = container["EntryPoint"] + container["Command"]
    # THEN each holds exactly the command the local rehearsal runs for its role
    assert commands == {MASTER: container_command(MASTER), WORKER: container_command(WORKER)}


def test_the_tasks_have_no_task_role_and_the_execution_role_only_writes_the_logs(template: dict[str, Any]) -> None:
    # GIVEN the task definitions and the one role of the stack
    definitions = resources_of(template, "AWS::ECS::TaskDefinition").values()
    (role,) = resources_of(template, "AWS::IAM::Role").values()
    # THEN no task holds AWS rights (bundle and results travel by presigned URLs)
    assert all("TaskRoleArn" not in body["Properties"] for body in definitions)
    # AND the execution role may create log streams and put events in the stack's log group, nothing else
    (policy,) = role["Properties"]["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == [{"Fn::GetAtt": ["LogGroup", "Arn"]}]


def test_the_bucket_is_private_encrypted_and_tls_only(template: dict[str, Any]) -> None:
    # GIVEN the bucket and its policy
    (bucket,) = resources_of(template, "AWS::S3::Bucket").values()
    (policy,) = resources_of(template, "AWS::S3::BucketPolicy").values()
    properties = bucket["Properties"]
    # THEN every public access is blocked, objects are KMS-encrypted and plain HTTP is refused
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    rule = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": False}}


def test_the_flow_finds_everything_it_needs_in_the_outputs() -> None:
    # GIVEN the template's outputs
    outputs = set(build_template().outputs)
    # THEN the flow's inputs are all there
    from loadtest.fargate.outputs import REQUIRED_OUTPUTS

    assert set(REQUIRED_OUTPUTS) <= outputs


def test_the_default_image_is_the_locust_the_tests_run() -> None:
    # GIVEN the Locust installed here (the rehearsal's) THEN the image's default tag is the same release
    assert version("locust") == DEFAULT_LOCUST_TAG
