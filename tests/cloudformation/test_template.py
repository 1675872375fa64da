"""The generated template: golden files per environment and the invariants the pipeline rests on."""

import base64
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudformation.functions import logical_id
from cloudformation.template import render
from core.config import ConfigError, environment_names, load_config
from core.paths import PROJECT_ROOT
from synth.synthesize import full_template

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("SLUICE_UPDATE_GOLDEN") == "1"  # regenerate with: SLUICE_UPDATE_GOLDEN=1 pytest ...
REAL_CONFIG = PROJECT_ROOT / "sluice.toml"


def synthesized(env: str) -> dict:
    return full_template(load_config(env)).to_dict()


def resources_of(template: dict, kind: str) -> dict:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == kind}


def statements(template: dict):
    """Every IAM statement in roles, key, queue, bucket and topic policies, with where it stands."""
    for name, body in template["Resources"].items():
        props = body.get("Properties", {})
        documents = [policy["PolicyDocument"] for policy in props.get("Policies", [])]
        documents += [props[key] for key in ("PolicyDocument", "KeyPolicy") if key in props]
        for document in documents:
            for statement in document["Statement"]:
                yield name, body["Type"], statement


@pytest.mark.parametrize("env", environment_names())
def test_template_matches_its_golden_file(env):
    # GIVEN the committed configuration WHEN the template is rendered twice
    first = render(full_template(load_config(env)))
    second = render(full_template(load_config(env)))
    # THEN it is byte-for-byte deterministic and equal to the reviewed golden file
    assert first == second
    golden = GOLDEN / f"{env}.json"
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(first)
    assert golden.exists(), f"no golden file for {env}: review it and run SLUICE_UPDATE_GOLDEN=1 pytest {__file__}"
    assert first == golden.read_text(), f"template changed: review and run SLUICE_UPDATE_GOLDEN=1 pytest {__file__}"


def test_every_environment_of_sluice_toml_has_a_golden_file_and_no_golden_file_is_left_over():
    # GIVEN the environments sluice.toml defines WHEN the golden folder is listed
    golden = sorted(path.stem for path in GOLDEN.glob("*.json"))
    # THEN each environment has its golden file (the test above runs for every one), and nothing else is there
    assert golden == sorted(environment_names())


@pytest.mark.parametrize("env", environment_names())
def test_queue_timing_invariants(env):
    # GIVEN the template of an environment
    config = load_config(env)
    template = synthesized(env)
    queues = resources_of(template, "AWS::SQS::Queue")
    ingest, dlq = queues["IngestQueue"]["Properties"], queues["DeadLetterQueue"]["Properties"]
    consumer_timeout = template["Resources"]["ConsumerFunction"]["Properties"]["Timeout"]
    # THEN the visibility timeout covers six consumer timeouts
    assert ingest["VisibilityTimeout"] >= 6 * consumer_timeout
    # AND the redrive policy dead-letters after AWS's least advised 5 receives, and the longest an event may wait
    # (the window, a retrier run, the redrive policy's receives) ends well before retention
    max_receives = ingest["RedrivePolicy"]["maxReceiveCount"]
    assert max_receives == config.max_receive_count == 5
    assert config.retry_budget_seconds <= ingest["MessageRetentionPeriod"] / 2
    assert config.retry_budget_seconds == (
        config.queue.retry_window_seconds
        + config.queue.retrier_interval_seconds
        + max_receives * ingest["VisibilityTimeout"]
    )
    # AND the DLQ keeps messages 14 days, longer than the source queue
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600 > ingest["MessageRetentionPeriod"]
    # AND the consumer and the retrier count the window the template configures
    functions = template["Resources"]
    window = str(config.queue.retry_window_seconds)
    for name in ("ConsumerFunction", "RetrierFunction"):
        assert functions[name]["Properties"]["Environment"]["Variables"]["RETRY_WINDOW_SECONDS"] == window


@pytest.mark.parametrize("env", environment_names())
def test_no_allow_statement_has_a_wildcard_action_and_scoped_ones_name_arns(env):
    template = synthesized(env)
    for name, kind, statement in statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] == "Allow" and kind == "AWS::IAM::Role":
            # THEN no role may do "*" or "service:*"
            assert not any(action == "*" or action.endswith(":*") for action in actions), (name, actions)
            # AND only X-Ray (which has no resource-level permissions) may name Resource "*"
            if statement["Resource"] == ["*"]:
                assert all(action.startswith("xray:") for action in actions), (name, actions)


@pytest.mark.parametrize("env", environment_names())
def test_every_taggable_resource_carries_the_project_tag(env):
    from troposphere import Template

    template_object: Template = full_template(load_config(env))
    for name, resource in template_object.resources.items():
        if "Tags" not in resource.props:
            continue
        tags = resource.to_dict()["Properties"]["Tags"]
        assert {"Key": "Project", "Value": f"sluice-{env}"} in tags, name


@pytest.mark.parametrize("env", environment_names())
def test_encryption_at_rest_and_tls_everywhere(env):
    template = synthesized(env)
    for name, body in resources_of(template, "AWS::SQS::Queue").items():
        props = body["Properties"]
        assert props.get("KmsMasterKeyId") or props.get("SqsManagedSseEnabled"), name
    for name, body in resources_of(template, "AWS::DynamoDB::Table").items():
        assert body["Properties"]["SSESpecification"]["SSEEnabled"] is True, name
        assert body["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    for name, body in resources_of(template, "AWS::SNS::Topic").items():
        assert body["Properties"]["KmsMasterKeyId"] == {"Ref": "StackKey"}, name  # never alias/aws/sns
    for name, body in resources_of(template, "AWS::Logs::LogGroup").items():
        assert "KmsKeyId" in body["Properties"] and body["Properties"]["RetentionInDays"] > 0, name
    bucket = template["Resources"]["ArchiveBucket"]["Properties"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] == "aws:kms"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    # THEN every queue and the bucket deny requests that are not TLS
    denied = set()
    for name, _kind, statement in statements(template):
        if statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": False}}:
            props = template["Resources"][name]["Properties"]
            denied.update(ref["Ref"] for ref in props.get("Queues", []))
            if "Bucket" in props:
                denied.add(props["Bucket"]["Ref"])
    assert denied >= {"IngestQueue", "DeadLetterQueue", "FailuresQueue", "ArchiveBucket"}


@pytest.mark.parametrize("env", environment_names())
def test_functions_and_mappings(env):
    config = load_config(env)
    template = synthesized(env)
    functions = resources_of(template, "AWS::Lambda::Function")
    assert set(functions) == {
        "IngestFunction",
        "ConsumerFunction",
        "ArchiverFunction",
        "NotifierFunction",
        "CanaryFunction",
        "RetrierFunction",
    }
    for body in functions.values():
        props = body["Properties"]
        assert props["Runtime"] == "python3.12"
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["MemorySize"] > 0 and props["Timeout"] > 0 and props["ReservedConcurrentExecutions"] > 0
        assert props["LoggingConfig"]["LogGroup"]["Ref"] in template["Resources"]
    for name in ("Consumer", "Archiver"):
        mapping = template["Resources"][f"{name}EventSourceMapping"]["Properties"]
        settings = config.mappings[name.lower()]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BatchSize"] == settings.batch_size
        assert mapping["ScalingConfig"] == {"MaximumConcurrency": settings.maximum_concurrency}


@pytest.mark.parametrize("env", environment_names())
def test_data_is_retained_outside_local(env):
    template = synthesized(env)
    for name in ("EventsTable", "ArchiveBucket"):
        retained = template["Resources"][name].get("DeletionPolicy") == "RetainExceptOnCreate"
        assert retained is (env != "local"), name
    # protection: a parameter outside local (tests/cloudformation/test_first_deploy.py), never on a laptop
    protection = template["Resources"]["EventsTable"]["Properties"]["DeletionProtectionEnabled"]
    assert protection == ({"Fn::If": ["EventsTableProtected", True, False]} if env != "local" else False)


def test_provisioned_table_gets_target_tracking_autoscaling(tmp_path):
    # GIVEN an environment that asks for provisioned capacity
    path = tmp_path / "sluice.toml"
    path.write_text(REAL_CONFIG.read_text() + '\n[test]\n[test.table]\nbilling = "provisioned"\n')
    template = full_template(load_config("test", path)).to_dict()
    # THEN the table is provisioned and a target-tracking policy scales its writes
    assert template["Resources"]["EventsTable"]["Properties"]["BillingMode"] == "PROVISIONED"
    policy = template["Resources"]["EventsTableWriteScalingPolicy"]["Properties"]
    assert policy["PolicyType"] == "TargetTrackingScaling"


def test_table_ttl_is_on_the_consumers_attribute_and_client_items_carry_it_when_configured(tmp_path):
    # GIVEN an environment whose items expire after 90 days
    path = tmp_path / "sluice.toml"
    path.write_text(REAL_CONFIG.read_text() + '\n[test]\nsinks = ["dynamodb", "s3"]\n[test.table]\nttl_days = 90\n')
    template = full_template(load_config("test", path)).to_dict()
    # THEN the table expires items on `expires_at` and the consumer is told the days
    ttl = template["Resources"]["EventsTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expires_at", "Enabled": True}
    consumer = template["Resources"]["ConsumerFunction"]["Properties"]["Environment"]["Variables"]
    assert consumer["TABLE_TTL_DAYS"] == "90"
    # AND without ttl_days the TTL is still on (canary events always expire); client items get none (0 days)
    prod = synthesized("prod")["Resources"]
    assert prod["EventsTable"]["Properties"]["TimeToLiveSpecification"] == ttl
    assert prod["ConsumerFunction"]["Properties"]["Environment"]["Variables"]["TABLE_TTL_DAYS"] == "0"


def test_the_analytics_store_brings_its_bucket_glue_table_and_athena_workgroup_only_when_configured():
    # GIVEN local (sinks dynamodb and s3) and prod (dynamodb only)
    local, prod = synthesized("local"), synthesized("prod")
    # THEN local has the analytics bucket, a Glue table projecting dt/hour over the consumer's prefix, a workgroup
    table = local["Resources"]["AnalyticsRawTable"]["Properties"]["TableInput"]
    assert table["Name"] == "events_raw"
    assert [key["Name"] for key in table["PartitionKeys"]] == ["dt", "hour"]
    assert table["Parameters"]["projection.enabled"] == "true"
    template_location = table["Parameters"]["storage.location.template"]["Fn::Join"][1]
    assert template_location[-1] == "dt=${dt}/hour=${hour}/"
    # AND queries read `events`, an Athena view over it that keeps one row per hour and event id
    view = local["Resources"]["AnalyticsTable"]["Properties"]["TableInput"]
    assert (view["Name"], view["TableType"], view["ViewExpandedText"]) == (
        "events",
        "VIRTUAL_VIEW",
        "/* Presto View */",
    )
    assert view["Parameters"] == {"presto_view": "true", "comment": "Presto View"}
    encoded = view["ViewOriginalText"].removeprefix("/* Presto View: ").removesuffix(" */")
    definition = json.loads(base64.b64decode(encoded))
    assert definition["schema"] == "sluice_local" and definition["catalog"] == "awsdatacatalog"
    assert (
        "PARTITION BY dt, hour, event_id" in definition["originalSql"]
        and "FROM events_raw" in definition["originalSql"]
    )
    columns = [column["Name"] for column in view["StorageDescriptor"]["Columns"]]
    assert (
        columns
        == [column["name"] for column in definition["columns"]]
        == [
            *(column["Name"] for column in table["StorageDescriptor"]["Columns"]),
            "dt",
            "hour",
        ]
    )
    workgroup = local["Resources"]["AnalyticsWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert workgroup["EnforceWorkGroupConfiguration"] is True and workgroup["BytesScannedCutoffPerQuery"] > 0
    # AND the consumer writes both sinks, and may put objects under the analytics store's events prefix (and park
    # under the archive's parked/ prefix) only
    variables = local["Resources"]["ConsumerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["SINKS"] == "dynamodb,s3" and variables["ANALYTICS_PREFIX"] == "events"
    puts = [
        resource
        for name, _, statement in statements(local)
        if name == "ConsumerRole" and "s3:PutObject" in statement["Action"]
        for resource in statement["Resource"]
    ]
    assert puts == [
        {"Fn::Join": ["", [{"Fn::GetAtt": ["ArchiveBucket", "Arn"]}, "/parked/*"]]},
        {"Fn::Join": ["", [{"Fn::GetAtt": ["AnalyticsBucket", "Arn"]}, "/events/*"]]},
    ]
    # AND prod has none of it
    assert not [name for name in prod["Resources"] if name.startswith("Analytics")]
    assert prod["Resources"]["ConsumerFunction"]["Properties"]["Environment"]["Variables"]["SINKS"] == "dynamodb"


def test_waf_association_only_when_configured(tmp_path):
    path = tmp_path / "sluice.toml"
    arn = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/sluice/abc"
    path.write_text(REAL_CONFIG.read_text() + f'\n[test]\n[test.api]\nwaf_web_acl_arn = "{arn}"\n')
    with_waf = full_template(load_config("test", path)).to_dict()
    assert with_waf["Resources"]["ApiWebAclAssociation"]["Properties"]["WebACLArn"] == arn
    assert "ApiWebAclAssociation" not in synthesized("prod")["Resources"]


def test_each_producer_class_is_a_usage_plan_and_the_default_plan_and_key_keep_their_ids():
    # GIVEN prod's configuration (classes default and partner) WHEN the template is synthesized
    plans = resources_of(synthesized("prod"), "AWS::ApiGateway::UsagePlan")
    by_name = {body["Properties"]["UsagePlanName"]: (name, body["Properties"]) for name, body in plans.items()}
    # THEN the default class is still `UsagePlan` (an upgrade keeps `ApiKey` in it) and the canary keeps its own
    assert by_name["sluice-prod-default-plan"][0] == "UsagePlan"
    assert by_name["sluice-prod-canary-plan"][0] == "CanaryUsagePlan"
    # AND the partner class is a plan with the configured throttle and daily quota
    name, partner = by_name["sluice-prod-partner-plan"]
    assert name == "ProducerPartnerUsagePlan"
    assert partner["Throttle"] == {"RateLimit": 50.0, "BurstLimit": 100}
    assert partner["Quota"] == {"Limit": 1000000, "Period": "DAY"}


@settings(max_examples=40, deadline=None)
@given(
    consumer_timeout=st.integers(1, 900),
    retry_window=st.integers(0, 1_209_600),
    retention=st.integers(60, 1_209_600),
)
def test_any_accepted_configuration_keeps_the_queue_invariants(
    tmp_path_factory, consumer_timeout, retry_window, retention
):
    # GIVEN any combination of timeout, retry window and retention
    path = tmp_path_factory.mktemp("cfg") / "sluice.toml"
    path.write_text(
        REAL_CONFIG.read_text()
        + f"\n[test]\n[test.functions.consumer]\nmemory_mb = 512\ntimeout_seconds = {consumer_timeout}\n"
        f"reserved_concurrency = 10\n[test.queue]\nretry_window_seconds = {retry_window}\n"
        f"retention_seconds = {retention}\ndlq_retention_seconds = 1209600\n"
    )
    # WHEN it is loaded: either it is refused with a clear error, or the template keeps every invariant
    try:
        config = load_config("test", path)
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    ingest = full_template(config).to_dict()["Resources"]["IngestQueue"]["Properties"]
    assert ingest["VisibilityTimeout"] >= 6 * consumer_timeout
    receives = ingest["RedrivePolicy"]["maxReceiveCount"]
    assert 5 <= receives <= 1000
    waits = retry_window + config.queue.retrier_interval_seconds + receives * ingest["VisibilityTimeout"]
    assert waits <= retention / 2
    assert retry_window >= 2 * config.queue.retrier_interval_seconds
    assert ingest["MessageRetentionPeriod"] < 1_209_600


def test_rendered_json_is_sorted():
    text = render(full_template(load_config("prod")))
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("env", environment_names())
def test_the_canary_runs_on_a_schedule_with_an_explicit_input_and_its_items_expire(env):
    config = load_config(env)
    template = synthesized(env)
    resources = template["Resources"]
    # THEN the schedule invokes the canary every interval (Scheduler counts minutes) with a known Input
    schedule = resources["CanarySchedule"]["Properties"]
    minutes = max(1, config.canary.interval_seconds // 60)
    assert schedule["ScheduleExpression"] == f"rate({minutes} minute{'s' if minutes > 1 else ''})"
    assert json.loads(schedule["Target"]["Input"]) == {"source": "sluice.canary", "action": "probe"}
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": ["CanaryFunction", "Arn"]}
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    assert schedule["State"] == "ENABLED"
    # AND ingest knows the canary's key id (to give its events canary ids), the consumer the items' TTL
    variables = {name: resources[logical_id(name)]["Properties"]["Environment"]["Variables"]
                 for name in ("ingest", "consumer", "canary")}  # fmt: skip
    assert variables["ingest"]["CANARY_API_KEY_ID"] == {"Ref": "CanaryApiKey"}
    assert variables["consumer"]["CANARY_TTL_SECONDS"] == str(config.canary.ttl_hours * 3600)
    assert variables["canary"]["DEADLINE_SECONDS"] == str(config.canary.deadline_seconds)
    # AND the table deletes items whose TTL attribute has passed
    ttl = resources["EventsTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expires_at", "Enabled": True}


def test_a_canary_switched_off_is_disabled_and_raises_no_alarm(tmp_path):
    # GIVEN prod with the canary off
    text = PROJECT_ROOT.joinpath("sluice.toml").read_text()
    path = tmp_path / "sluice.toml"
    path.write_text(text + "\n[prod.canary]\nenabled = false\n")
    template = full_template(load_config("prod", path)).to_dict()
    # THEN its schedule is disabled and none of its alarms exist (they would only report missing data)
    assert template["Resources"]["CanarySchedule"]["Properties"]["State"] == "DISABLED"
    alarms = [body["Properties"]["AlarmName"] for body in resources_of(template, "AWS::CloudWatch::Alarm").values()]
    assert alarms and not [name for name in alarms if "-canary-" in name]


def s3_only_template(tmp_path: Path) -> dict:
    path = tmp_path / "sluice.toml"
    path.write_text(REAL_CONFIG.read_text() + '\n[test]\nsinks = ["s3"]\n')
    return full_template(load_config("test", path)).to_dict()


def test_an_s3_only_environment_maps_the_consumer_with_the_analytics_stores_bigger_batches(tmp_path):
    # GIVEN an environment whose only sink is the S3 analytics store
    # WHEN its template is synthesized
    template = s3_only_template(tmp_path)
    # THEN the consumer's event source mapping takes analytics.s3_only_batch_size / _batching_window_seconds
    mapping = template["Resources"]["ConsumerEventSourceMapping"]["Properties"]
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (1000, 10)
    # AND prod (the table) keeps mappings.consumer's
    prod = synthesized("prod")["Resources"]["ConsumerEventSourceMapping"]["Properties"]
    assert (prod["BatchSize"], prod["MaximumBatchingWindowInSeconds"]) == (100, 1)


def test_an_s3_only_environment_has_no_events_table_and_its_canary_reads_the_bucket(tmp_path):
    # GIVEN an environment whose only sink is the S3 analytics store
    # WHEN its template is synthesized
    template = s3_only_template(tmp_path)
    resources = template["Resources"]
    # THEN there is no events table, nothing refers to one and no TableName output
    assert "EventsTable" not in resources and "EventsTable" not in json.dumps(template)
    assert "TableName" not in template["Outputs"]
    # AND the consumer runs without TABLE_NAME, may not touch DynamoDB, and puts objects under events/ and canary/
    consumer = resources["ConsumerFunction"]["Properties"]["Environment"]["Variables"]
    assert "TABLE_NAME" not in consumer and consumer["SINKS"] == "s3"
    consumer_actions = [
        action for name, _, st in statements(template) if name == "ConsumerRole" for action in st["Action"]
    ]
    assert not [action for action in consumer_actions if action.startswith("dynamodb:")]
    puts = [st for name, _, st in statements(template) if name == "ConsumerRole" and "s3:PutObject" in st["Action"]]
    assert [arn["Fn::Join"][1][1] for st in puts for arn in st["Resource"]] == ["/parked/*", "/events/*", "/canary/*"]
    # AND the canary reads its own objects from the bucket (ListBucket: a missing object is a 404, not a 403)
    canary = resources["CanaryFunction"]["Properties"]["Environment"]["Variables"]
    assert canary["ANALYTICS_BUCKET"] == {"Ref": "AnalyticsBucket"} and "TABLE_NAME" not in canary
    reads = {st["Action"][0]: st["Resource"] for name, _, st in statements(template) if name == "CanaryRole"}
    assert reads["s3:GetObject"][0]["Fn::Join"][1][1] == "/canary/canary-*"
    assert reads["s3:ListBucket"] == [{"Fn::GetAtt": ["AnalyticsBucket", "Arn"]}]
    # AND canary objects expire like canary items (24 hours: one day)
    rules = resources["AnalyticsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"Id": "canary-events", "Status": "Enabled", "Prefix": "canary/", "ExpirationInDays": 1} in rules
    # AND no alarm watches the missing table's own metrics (UserErrors is account-wide: it stays)
    alarms = {
        body["Properties"].get("AlarmName", "") for body in resources_of(template, "AWS::CloudWatch::Alarm").values()
    }
    assert not [name for name in alarms if "table-system-errors" in name or "table-throttles" in name]
    assert "sluice-test-table-user-errors-low" in alarms
