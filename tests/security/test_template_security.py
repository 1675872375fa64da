"""Nobody is let in, in every environment's generated template. What tests/cloudformation/test_template.py
already asserts (role actions and X-Ray's Resource "*", encryption settings, the TLS deny on the queues, the
bucket's public access block being on) and test_validate.py (checkov and cfn-lint) is not repeated here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from core.config import environment_names, load_config
from synth.synthesize import full_template

RESOURCE_POLICIES = {
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
}
PSEUDO_PARAMETERS = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::URLSuffix"}
CONFUSED_DEPUTY_KEYS = {"aws:SourceAccount", "aws:SourceArn", "kms:EncryptionContext:aws:logs:arn"}


@pytest.fixture(scope="module", params=environment_names())
def template(request: pytest.FixtureRequest) -> dict[str, Any]:
    return full_template(load_config(request.param)).to_dict()


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: body["Properties"] for name, body in template["Resources"].items() if body["Type"] == kind}


def resource_policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, body in template["Resources"].items():
        key = RESOURCE_POLICIES.get(body["Type"])
        if key is not None:
            for statement in body["Properties"][key]["Statement"]:
                yield name, body["Type"], statement


def role_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, props in of_type(template, "AWS::IAM::Role").items():
        for policy in props.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield name, statement


def references(value: Any) -> set[str]:
    """Logical ids and pseudo parameters a value refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    if isinstance(value, dict):
        found: set[str] = set()
        for key, inner in value.items():
            if key == "Ref":
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
            else:
                found |= references(inner)
        return found
    if isinstance(value, list):
        return set().union(*(references(item) for item in value)) if value else set()
    return set()


def literals(value: Any) -> list[str]:
    """The literal text of a value: plain strings, Fn::Join parts, Fn::Sub templates."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for inner in value.values() for text in literals(inner)]
    if isinstance(value, list):
        return [text for item in value for text in literals(item)]
    return []


def test_resource_policies_grant_no_wildcard_action_and_admit_no_anonymous_principal(template):
    for name, kind, statement in resource_policy_statements(template):
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement["Action"])
        principal = statement["Principal"]
        # THEN no Allow grants "*" to anyone, and never to an anonymous principal
        assert "*" not in actions, (name, statement)
        assert principal != "*" and "*" not in as_list(principal.get("AWS", [])), (name, statement)
        # AND "service:*" only in the key's own administration by this account's root (AWS's default key
        # policy: without it the key could become unmanageable)
        if any(action.endswith(":*") for action in actions):
            assert kind == "AWS::KMS::Key" and actions == ["kms:*"], (name, statement)
            root = principal["AWS"]
            assert references(root) == {"AWS::Partition", "AWS::AccountId"} and ":root" in literals(root), root
        # AND a service is let in only on behalf of this account or this stack (no confused deputy)
        if "Service" in principal:
            keys = {key for condition in statement.get("Condition", {}).values() for key in condition}
            assert keys & CONFUSED_DEPUTY_KEYS, (name, statement)


def test_role_statements_name_this_stacks_resources_not_patterns(template):
    resources = set(template["Resources"]) | PSEUDO_PARAMETERS
    for name, statement in role_statements(template):
        actions = as_list(statement["Action"])
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                continue  # X-Ray only: tests/cloudformation/test_template.py asserts that
            # THEN each resource is built from a resource of this stack (Ref / GetAtt), never a literal pattern
            named = references(resource)
            assert named and named <= resources and named - PSEUDO_PARAMETERS, (name, actions, resource)
            # AND a wildcard appears only as the object part of an ARN path (the archive's `dlq/*` prefix)
            for text in literals(resource):
                assert "*" not in text or re.fullmatch(r"/[\w-]+/\*", text), (name, actions, resource)


def test_key_policy_star_means_this_key_and_the_key_rotates(template):
    keys = of_type(template, "AWS::KMS::Key")
    assert keys, "the stack has its own customer-managed key"
    for name, props in keys.items():
        # THEN the key rotates yearly
        assert props["EnableKeyRotation"] is True, name
        # AND every statement of its policy is about this key: Resource "*" in a key policy means the key itself
        for statement in props["KeyPolicy"]["Statement"]:
            assert as_list(statement["Resource"]) == ["*"], (name, statement)
    # AND no other policy lets a KMS action reach every key
    for name, statement in role_statements(template):
        if any(action.startswith("kms:") for action in as_list(statement["Action"])):
            assert as_list(statement["Resource"]) != ["*"], (name, statement)
            assert references(statement["Resource"]) == set(keys), (name, statement)


def test_tls_is_required_for_every_action_on_the_bucket_and_its_objects(template):
    bucket_policies = of_type(template, "AWS::S3::BucketPolicy")
    # every bucket (the archive; the analytics store when `sinks` holds "s3") has a policy
    assert sorted(props["Bucket"]["Ref"] for props in bucket_policies.values()) == sorted(
        of_type(template, "AWS::S3::Bucket")
    )
    for props in bucket_policies.values():
        denies = [
            statement
            for statement in props["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": False}}
        ]
        # THEN a Deny of everything without TLS covers the bucket ARN and every object ARN under it
        assert len(denies) == 1, denies
        deny = denies[0]
        assert deny["Principal"] == "*" and as_list(deny["Action"]) == ["s3:*"]
        bucket_arn = {"Fn::GetAtt": [props["Bucket"]["Ref"], "Arn"]}
        assert bucket_arn in deny["Resource"]
        assert {"Fn::Join": ["", [bucket_arn, "/*"]]} in deny["Resource"]
    # AND the queues' TLS denies cover every SQS action
    for props in of_type(template, "AWS::SQS::QueuePolicy").values():
        for statement in props["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny":
                assert statement["Principal"] == "*" and as_list(statement["Action"]) == ["sqs:*"], statement


def test_the_archive_is_private(template):
    for name, props in of_type(template, "AWS::S3::Bucket").items():
        # THEN all four public-access switches are on (not merely the ones present), and ACLs are off
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}, name
        assert "AccessControl" not in props and "WebsiteConfiguration" not in props, name


def test_every_way_in_needs_an_api_key_or_is_one_named_service(template):
    # THEN every API method needs an API key, and the key is bound to a usage plan that throttles it
    methods = of_type(template, "AWS::ApiGateway::Method")
    assert methods and all(props["ApiKeyRequired"] is True for props in methods.values()), methods
    plans = of_type(template, "AWS::ApiGateway::UsagePlan")
    assert all(plan["Throttle"]["RateLimit"] > 0 and plan["Throttle"]["BurstLimit"] > 0 for plan in plans.values())
    # (the clients' key and the canary's own, each bound to its own plan)
    bindings = {props["KeyId"]["Ref"]: props for props in of_type(template, "AWS::ApiGateway::UsagePlanKey").values()}
    assert set(bindings) == {"ApiKey", "CanaryApiKey"}
    assert all(binding["KeyType"] == "API_KEY" for binding in bindings.values())
    assert bindings["ApiKey"]["UsagePlanId"] != bindings["CanaryApiKey"]["UsagePlanId"]
    # AND no function has a URL of its own, and each invoke permission names one service and one source
    assert not of_type(template, "AWS::Lambda::Url")
    for name, props in of_type(template, "AWS::Lambda::Permission").items():
        assert props["Action"] == "lambda:InvokeFunction", name
        assert props["Principal"] in ("apigateway.amazonaws.com", "sns.amazonaws.com"), name
        assert references(props["SourceArn"]) - PSEUDO_PARAMETERS, (name, props["SourceArn"])


def test_the_api_key_value_reaches_no_log_and_no_function(template):
    [stage] = of_type(template, "AWS::ApiGateway::Stage").values()
    # THEN API Gateway's full request logging (which writes request headers, x-api-key included) is off
    assert all(setting["DataTraceEnabled"] is False for setting in stage["MethodSettings"])
    # AND the access log records the key's id, never the key itself
    log_format = stage["AccessLogSetting"]["Format"]
    assert "$context.identity.apiKeyId" in log_format
    assert '$context.identity.apiKey"' not in log_format and "$context.identity.apiKey " not in log_format
    # AND no function's environment refers to the clients' key; a variable naming a key holds the canary key's
    # id (a Ref of an ApiKey is its id: CloudFormation has no way to hand out the value), and the environments
    # are encrypted with the stack's key
    for name, props in of_type(template, "AWS::Lambda::Function").items():
        variables = props.get("Environment", {}).get("Variables", {})
        assert "ApiKey" not in references(variables), name
        for variable, value in variables.items():
            if "key" in variable.lower() and "kms" not in variable.lower():
                assert variable == "CANARY_API_KEY_ID" and value == {"Ref": "CanaryApiKey"}, (name, variable)
        assert references(props["KmsKeyArn"]) == {"StackKey"}, name
    # AND no output hands out the key (its id is not the secret; there is no way to output the value)
    for name, output in template.get("Outputs", {}).items():
        assert "ApiKey" not in references(output["Value"]) or name == "ApiKeyId", name
        assert "CanaryApiKey" not in references(output["Value"]) or name == "CanaryApiKeyId", name


def test_the_canary_reads_its_own_key_and_its_own_items_only(template):
    # GIVEN the canary's role
    [policy] = template["Resources"]["CanaryRole"]["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    by_action = {action: statement for statement in statements for action in as_list(statement["Action"])}
    # THEN it reads one API key: its own (the value never passes through the template or its environment)
    gets = by_action["apigateway:GET"]
    assert references(gets["Resource"]) - PSEUDO_PARAMETERS == {"CanaryApiKey"}
    assert not any(action.startswith("apigateway:") and action != "apigateway:GET" for action in by_action)
    # AND it reads the events table only where the partition key starts with the canary prefix, and writes nothing
    read = by_action["dynamodb:GetItem"]
    assert references(read["Resource"]) == {"EventsTable"}
    assert read["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["canary-*"]}}
    assert {action for action in by_action if action.startswith("dynamodb:")} == {"dynamodb:GetItem"}


def test_the_consumer_changes_no_visibility_sends_only_to_the_dlq_and_parks_only_under_parked(template):
    # GIVEN the consumer role's statements
    consumer = [statement for name, statement in role_statements(template) if name == "ConsumerRole"]

    def resources_allowed(action: str) -> set[str]:
        return {
            ref
            for statement in consumer
            if action in as_list(statement["Action"])
            for ref in references(statement["Resource"])
        }

    # THEN it keeps nothing in flight (no visibility changes: it parks instead), what it moves goes to the DLQ and
    # nowhere else, and it reads and deletes only the archive bucket's parked objects
    assert resources_allowed("sqs:ChangeMessageVisibility") == set()
    assert resources_allowed("sqs:SendMessage") == {"DeadLetterQueue"}
    assert resources_allowed("s3:GetObject") == resources_allowed("s3:DeleteObject") == {"ArchiveBucket"}
