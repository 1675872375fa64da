"""The local template deploys into moto's CloudFormation, and what moto skips is created from it."""

import boto3
import pytest
from moto import mock_aws

from cloudformation import output_keys
from core.config import load_config
from local.deploying.deploy import deploy


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield lambda service: boto3.client(service, region_name="us-east-1")


def test_local_template_reaches_create_complete_and_skipped_resources_exist(aws):
    # GIVEN the local configuration WHEN the stack is deployed into moto
    local = deploy(load_config("local"), aws)
    # THEN CloudFormation completed
    stack = aws("cloudformation").describe_stacks(StackName="sluice-local")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    # AND the outputs name real resources
    assert aws("sqs").get_queue_url(QueueName="sluice-local-ingest")["QueueUrl"].endswith("sluice-local-ingest")
    assert local.outputs[output_keys.TABLE_NAME] == "sluice-local-events"
    # AND the stage, API key and usage plan that moto skips were created from the template
    api_id = local.outputs[output_keys.API_ID]
    assert [stage["stageName"] for stage in aws("apigateway").get_stages(restApiId=api_id)["item"]] == ["v1"]
    plans = {plan["name"]: plan for plan in aws("apigateway").get_usage_plans()["items"]}
    # clients' (default class), the canary's own, and one per producer class with its quota
    assert set(plans) == {"sluice-local-default-plan", "sluice-local-canary-plan", "sluice-local-partner-plan"}
    assert plans["sluice-local-default-plan"]["throttle"] == {"rateLimit": 100.0, "burstLimit": 200}
    assert plans["sluice-local-partner-plan"]["quota"] == {"limit": 50, "period": "DAY"}
    assert len(local.api_keys) == 2  # the clients' key and the canary's own
    # AND the TLS-only queue policy is in place
    attributes = aws("sqs").get_queue_attributes(
        QueueUrl=local.outputs[output_keys.QUEUE_URL], AttributeNames=["Policy"]
    )
    assert "aws:SecureTransport" in attributes["Attributes"]["Policy"]
    # AND the event source mappings read Enabled, as the template says (the local pollers run them while they
    # do; moto's own never runs: local/emulation/mappings.py)
    mappings = aws("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert mappings and all(mapping["State"] == "Enabled" for mapping in mappings)


def test_function_environment_resolves_to_deployed_names(aws):
    local = deploy(load_config("local"), aws)
    environment = local.function_environment("consumer")
    assert environment["TABLE_NAME"] == "sluice-local-events"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "Sluice/local"
