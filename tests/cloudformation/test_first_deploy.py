"""What a first deploy into a fresh account, and every alert after it, rests on in the template."""

import json
from datetime import UTC, datetime

import pytest

from core.config import environment_names, load_config
from functions.notifier.schedule import schedule_moment
from synth.synthesize import full_template

# Fixed-name resources that keep data: a rolled-back first create must not leave them behind (they would
# block the retry with "already exists"), and a stack deletion must keep them and the key that reads them.
KEPT_OUTSIDE_LOCAL = ("EventsTable", "ArchiveBucket", "StackKey")


def synthesized(env: str) -> dict:
    return full_template(load_config(env)).to_dict()


@pytest.mark.parametrize("env", environment_names())
def test_data_and_its_key_are_kept_except_when_their_first_create_rolls_back(env: str) -> None:
    # GIVEN the template of an environment
    resources = synthesized(env)["Resources"]
    for name in KEPT_OUTSIDE_LOCAL:
        policies = {key: resources[name].get(key) for key in ("DeletionPolicy", "UpdateReplacePolicy")}
        if env == "local":
            # THEN on a laptop everything goes with the stack
            assert policies == {"DeletionPolicy": None, "UpdateReplacePolicy": None}, name
        else:
            # THEN elsewhere: kept on delete and replace, but removed when the create that made them rolls back
            # (UpdateReplacePolicy takes no RetainExceptOnCreate: AWS documents it for DeletionPolicy only)
            assert policies == {"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}, name
    # AND nothing anywhere is plain Retain, which would outlive a rolled-back first create
    assert not [name for name, body in resources.items() if body.get("DeletionPolicy") == "Retain"]


@pytest.mark.parametrize("env", environment_names())
def test_the_events_table_is_protected_by_a_parameter_a_first_create_sets_off(env: str) -> None:
    # GIVEN the template of an environment
    template = synthesized(env)
    table = template["Resources"]["EventsTable"]["Properties"]
    if env == "local":
        # THEN on a laptop the table is never protected and there is nothing to set
        assert table["DeletionProtectionEnabled"] is False
        assert "EventsTableDeletionProtection" not in template.get("Parameters", {})
        return
    # THEN elsewhere its protection follows a parameter (invoke deploy: "false" for the create, so that a failed
    # first create can roll back by deleting the table, then "true" at once), which protects by default
    assert table["DeletionProtectionEnabled"] == {"Fn::If": ["EventsTableProtected", True, False]}
    assert template["Conditions"]["EventsTableProtected"] == {
        "Fn::Equals": [{"Ref": "EventsTableDeletionProtection"}, "true"]
    }
    parameter = template["Parameters"]["EventsTableDeletionProtection"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("true", ["true", "false"])


@pytest.mark.parametrize("env", environment_names())
def test_only_this_account_can_make_the_scheduler_invoke_the_notifier(env: str) -> None:
    # GIVEN the role EventBridge Scheduler assumes to invoke the notifier
    role = synthesized(env)["Resources"]["NotifierScheduleRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    # THEN it is limited to schedules of this account (the confused-deputy guard AWS recommends)
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


@pytest.mark.parametrize("env", environment_names())
def test_the_schedule_sends_an_explicit_input_the_notifier_recognises(env: str) -> None:
    # GIVEN the notifier's schedule, and what Scheduler delivers from its input (it replaces the context
    # attribute <aws.scheduler.scheduled-time> with the time the schedule was due)
    target = synthesized(env)["Resources"]["NotifierSchedule"]["Properties"]["Target"]
    assert "<aws.scheduler.scheduled-time>" in target["Input"]
    delivered = json.loads(target["Input"].replace("<aws.scheduler.scheduled-time>", "2026-11-30T08:00:00Z"))
    # WHEN the notifier reads it THEN it is the schedule, due at that time (not when it was received)
    received = datetime(2026, 11, 30, 8, 40, tzinfo=UTC)
    assert schedule_moment(delivered, received) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("env", environment_names())
def test_failed_notifier_invocations_have_one_way_out_and_no_function_has_an_idle_dlq(env: str) -> None:
    # GIVEN the functions: ingest is invoked synchronously, consumer and archiver by event source mappings,
    # the notifier asynchronously (by SNS and the schedule)
    resources = synthesized(env)["Resources"]
    # THEN no function has a DeadLetterConfig (it only ever applies to asynchronous invocations) ...
    for name in ("Ingest", "Consumer", "Archiver", "Notifier", "Canary"):
        assert "DeadLetterConfig" not in resources[f"{name}Function"]["Properties"], name
    # ... and the notifier's failures take the one path of its OnFailure destination
    destination = resources["NotifierAsyncInvokeConfig"]["Properties"]["DestinationConfig"]["OnFailure"]
    assert destination["Destination"] == {"Fn::GetAtt": ["FailuresQueue", "Arn"]}
    # ... which only the notifier's role may send to, of the functions' roles (a schedule's role sends the
    # schedule's own undeliverable invocations there)
    senders = {
        name
        for name, body in resources.items()
        if body["Type"] == "AWS::IAM::Role" and name.endswith("Role") and not name.endswith("ScheduleRole")
        for policy in body["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if {"Fn::GetAtt": ["FailuresQueue", "Arn"]} in statement["Resource"]
    }
    assert senders == {"NotifierRole"}


@pytest.mark.parametrize("env", environment_names())
def test_one_incident_pages_once_through_the_composite(env: str) -> None:
    # GIVEN the high-tier composite and the alarms it combines
    resources = synthesized(env)["Resources"]
    alarms = [body["Properties"] for body in resources.values() if body["Type"] == "AWS::CloudWatch::Alarm"]
    (composite,) = [
        body["Properties"]
        for body in resources.values()
        if body["Type"].endswith("CompositeAlarm") and "ingestion-at-risk" in body["Properties"]["AlarmName"]
    ]
    children = {
        alarm["AlarmName"]: alarm for alarm in alarms if f'ALARM("{alarm["AlarmName"]}")' in composite["AlarmRule"]
    }
    # api-5xx-rate, ingest-errors, enqueue-gap, enqueue-gap-window, queue-age, queue-in-flight, consumer-stopped,
    # table-system-errors, retry-window, dlq-visible, archiver-errors, canary-failing, canary-errors
    assert len(children) == 13
    # (the error budget's burn-rate windows are children of their own composites: tests/alarms)
    children |= {alarm["AlarmName"]: alarm for alarm in alarms if "-error-budget-" in alarm["AlarmName"]}
    # THEN the composite pages the high topic, and its children notify nobody on their own
    assert composite["AlarmActions"] == [{"Ref": "HighTopic"}]
    for name, child in children.items():
        assert child.get("AlarmActions", []) == [] and child.get("OKActions", []) == [], name
    # ... while every other high-tier alarm still pages
    assert all(alarm["AlarmActions"] for alarm in alarms if alarm["AlarmName"] not in children)
