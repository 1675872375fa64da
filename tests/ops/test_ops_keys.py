"""ops/keys.py against botocore's apigateway shapes (Stubber): every call's parameters and answers are the model's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from core.config import load_config
from ops.errors import OpsError
from ops.keys import ProducerKeys

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
CREATED = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
PLANS = {"plan-default": "sluice-local-default-plan", "plan-partner": "sluice-local-partner-plan"}
PLANS |= {"plan-canary": "sluice-local-canary-plan"}
TAGS = {"Project": "sluice-local", "Environment": "local", "Owner": "platform-team"}


@pytest.fixture
def apigateway():
    client = boto3.client("apigateway", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def keys_of(client: Any, usage: Any = None) -> ProducerKeys:
    return ProducerKeys(client, load_config("local"), usage=usage, now=lambda: NOW)


def api_key(key_id: str, name: str, enabled: bool = True, description: str = "") -> dict[str, Any]:
    return {"id": key_id, "name": f"sluice-local-{name}", "enabled": enabled, "createdDate": CREATED,
            "description": description}  # fmt: skip


def expect_plans(stubber: Stubber) -> None:
    items = [{"id": plan_id, "name": name} for plan_id, name in PLANS.items()]
    stubber.add_response("get_usage_plans", {"items": items}, {"limit": 500})


def expect_listing(stubber: Stubber, members: dict[str, list[str]], keys: list[dict[str, Any]]) -> None:
    """GetUsagePlans, GetUsagePlanKeys of each plan, GetApiKeys: how every operation reads the environment's keys."""
    expect_plans(stubber)
    for plan_id in PLANS:
        items = [{"id": key_id, "type": "API_KEY"} for key_id in members.get(plan_id, [])]
        stubber.add_response("get_usage_plan_keys", {"items": items}, {"usagePlanId": plan_id, "limit": 500})
    stubber.add_response("get_api_keys", {"items": keys}, {"nameQuery": "sluice-local-", "limit": 500})


def test_create_puts_a_tagged_key_in_its_class_plan_and_returns_the_value_once(apigateway):
    client, stubber = apigateway
    # GIVEN an environment with only the template's keys
    existing = [api_key("k-default", "default-key"), api_key("k-canary", "canary-key")]
    members = {"plan-default": ["k-default"], "plan-canary": ["k-canary"]}
    expect_listing(stubber, members, existing)  # the expiry sweep
    expect_plans(stubber)  # the class's plan
    expect_listing(stubber, members, existing)  # the name is free
    # THEN the key is created enabled, named in the environment, with the project's tags and its class
    stubber.add_response(
        "create_api_key",
        {"id": "k-acme", "value": "v" * 40, "name": "sluice-local-acme", "enabled": True, "createdDate": NOW},
        {
            "name": "sluice-local-acme",
            "description": "producer acme (partner)",
            "enabled": True,
            "tags": TAGS | {"Producer": "acme", "ProducerClass": "partner"},
        },
    )
    stubber.add_response(
        "create_usage_plan_key",
        {"id": "k-acme", "type": "API_KEY"},
        {"usagePlanId": "plan-partner", "keyId": "k-acme", "keyType": "API_KEY"},
    )
    # WHEN a partner-class key is created
    created = keys_of(client).create("acme", "partner")
    # AND the value API Gateway generated comes back to be shown once
    assert (created.key.name, created.key.producer_class, created.value) == ("acme", "partner", "v" * 40)


def test_a_taken_name_an_unknown_class_and_a_bad_name_are_one_line_each(apigateway):
    client, stubber = apigateway
    existing = [api_key("k-acme", "acme")]
    members = {"plan-partner": ["k-acme"]}
    expect_listing(stubber, members, existing)
    expect_plans(stubber)
    expect_listing(stubber, members, existing)
    # WHEN a name that exists is created again THEN one line, and nothing is created (the stubber has no create)
    with pytest.raises(OpsError, match=r"^a key named 'acme' already exists in sluice-local \(see keys.show acme\)$"):
        keys_of(client).create("acme", "partner")
    expect_listing(stubber, {}, [])
    with pytest.raises(OpsError, match=r"^--class: no producer class 'gold' \(known: default, partner\)$"):
        keys_of(client).create("beta", "gold")
    with pytest.raises(OpsError, match=r"^key name 'Big Co': expected lowercase letters"):
        keys_of(client).create("Big Co", "partner")


def test_a_key_that_cannot_join_its_plan_is_deleted_again(apigateway):
    client, stubber = apigateway
    expect_listing(stubber, {}, [])
    expect_plans(stubber)
    expect_listing(stubber, {}, [])
    stubber.add_response("create_api_key", {"id": "k-new", "value": "v" * 40}, {"name": "sluice-local-new",
                         "description": ANY, "enabled": True, "tags": ANY})  # fmt: skip
    # GIVEN API Gateway refuses the usage plan key
    stubber.add_client_error(
        "create_usage_plan_key", "ConflictException", "the key is in another plan of this stage", 409
    )
    # THEN the half-created key is deleted and the error is one line
    stubber.add_response("delete_api_key", {}, {"apiKey": "k-new"})
    with pytest.raises(OpsError, match="ConflictException") as raised:
        keys_of(client).create("new", "default")
    assert "\n" not in str(raised.value)


def test_list_reads_each_keys_class_and_its_last_30_days_from_get_usage(apigateway):
    client, stubber = apigateway
    keys = [api_key("k-acme", "acme"), api_key("k-loose", "loose", enabled=False)]
    members = {"plan-partner": ["k-acme"]}
    expect_listing(stubber, members, keys)  # sweep
    expect_listing(stubber, members, keys)
    # GIVEN GetUsage answers daily [used, remaining] pairs for the key over the last 30 UTC days
    stubber.add_response(
        "get_usage",
        {"usagePlanId": "plan-partner", "items": {"k-acme": [[3, 47], [0, 50], [7, 43]]}},
        {"usagePlanId": "plan-partner", "keyId": "k-acme", "startDate": "2025-02-09", "endDate": "2025-03-10"},
    )
    # WHEN the keys are listed
    listed = {key.name: key for key in keys_of(client).list_keys()}
    # THEN usage is the sum of the days, the class is the plan, a key in no plan shows "-" and no usage
    assert (listed["acme"].producer_class, listed["acme"].usage_30_days, listed["acme"].enabled) == (
        "partner",
        10,
        True,
    )
    assert (listed["loose"].producer_class, listed["loose"].usage_30_days, listed["loose"].enabled) == (
        "-",
        None,
        False,
    )
    assert listed["acme"].created == CREATED


def test_rotate_renames_the_old_key_with_its_end_and_creates_the_new_one_at_once(apigateway):
    client, stubber = apigateway
    keys = [api_key("k-old", "acme")]
    members = {"plan-partner": ["k-old"]}
    expect_listing(stubber, members, keys)  # sweep
    expect_listing(stubber, members, keys)  # find the key
    # THEN the old key is renamed and its description records when the overlap ends
    stubber.add_response(
        "update_api_key",
        {"id": "k-old"},
        {
            "apiKey": "k-old",
            "patchOperations": [
                {"op": "replace", "path": "/name", "value": "sluice-local-acme~retired-20250310T120000Z"},
                {"op": "replace", "path": "/description", "value": "producer acme, retired; "
                 "expires-at=2025-03-10T13:00:00+00:00"},
            ],
        },
    )  # fmt: skip
    expect_plans(stubber)
    stubber.add_response("create_api_key", {"id": "k-new", "value": "n" * 40}, {"name": "sluice-local-acme",
                         "description": "producer acme (partner)", "enabled": True, "tags": ANY})  # fmt: skip
    stubber.add_response("create_usage_plan_key", {"id": "k-new"}, {"usagePlanId": "plan-partner", "keyId": "k-new",
                         "keyType": "API_KEY"})  # fmt: skip
    # WHEN the key is rotated with an hour's overlap
    new, retired = keys_of(client).rotate("acme", timedelta(hours=1))
    # AND the new key takes the name and class; the old one stays enabled until the overlap's end
    assert (new.key.name, new.key.producer_class, new.value) == ("acme", "partner", "n" * 40)
    assert (retired.key_id, retired.enabled, retired.expires_at) == ("k-old", True, NOW + timedelta(hours=1))


def test_expire_disables_retired_keys_past_their_overlap_only(apigateway):
    client, stubber = apigateway
    past = api_key("k-1", "acme~retired-1", description="producer acme, retired; expires-at=2025-03-10T11:59:59+00:00")
    future = api_key(
        "k-2", "acme~retired-2", description="producer acme, retired; expires-at=2025-03-10T12:00:01+00:00"
    )
    expect_listing(stubber, {"plan-partner": ["k-1", "k-2"]}, [past, future])
    # THEN only the key whose overlap ended is disabled (UpdateApiKey /enabled false)
    stubber.add_response(
        "update_api_key",
        {"id": "k-1", "enabled": False},
        {"apiKey": "k-1", "patchOperations": [{"op": "replace", "path": "/enabled", "value": "false"}]},
    )
    # WHEN the expiry runs
    expired = keys_of(client).expire()
    assert [key.key_id for key in expired] == ["k-1"]


def test_revoke_disables_the_key_and_its_generations_and_delete_removes_them(apigateway):
    client, stubber = apigateway
    keys = [api_key("k-new", "acme"), api_key("k-old", "acme~retired-1", enabled=False), api_key("k-x", "acmex")]
    members = {"plan-partner": ["k-new", "k-old", "k-x"]}
    expect_listing(stubber, members, keys)  # sweep
    expect_listing(stubber, members, keys)  # the key exists
    expect_listing(stubber, members, keys)  # its generations
    # THEN each generation of acme (not acmex) is disabled if enabled, and deleted
    disable = [{"op": "replace", "path": "/enabled", "value": "false"}]
    stubber.add_response("update_api_key", {"id": "k-new"}, {"apiKey": "k-new", "patchOperations": disable})
    stubber.add_response("delete_api_key", {}, {"apiKey": "k-new"})
    stubber.add_response("delete_api_key", {}, {"apiKey": "k-old"})
    # WHEN acme is revoked with --delete
    revoked = keys_of(client).revoke("acme", delete=True)
    assert [key.key_id for key in revoked] == ["k-new", "k-old"]


def test_the_templates_keys_are_not_rotated_or_revoked_behind_cloudformations_back(apigateway):
    client, stubber = apigateway
    expect_listing(stubber, {}, [])
    with pytest.raises(OpsError, match=r"^default-key is the template's key"):
        keys_of(client).revoke("default-key")


def test_a_producers_key_ids_are_its_key_and_its_retired_generations_and_an_unknown_name_is_one_line(apigateway):
    client, stubber = apigateway
    # GIVEN acme's key, its retired generation, and another producer's key
    keys = [
        api_key("k-new", "acme"),
        api_key("k-old", "acme~retired-20261125T000000Z", description="expires-at=2099-01-01T00:00:00+00:00"),
        api_key("k-other", "zeta"),
    ]
    expect_listing(stubber, {"plan-default": ["k-new", "k-old", "k-other"]}, keys)
    # WHEN reconcile or events.query resolve --producer acme
    found = keys_of(client).key_ids("acme")
    # THEN both of acme's key ids come back, read only (no key disabled), and not zeta's
    assert sorted(found) == ["k-new", "k-old"]
    # AND an unknown name is one line
    expect_listing(stubber, {}, keys)
    with pytest.raises(OpsError, match=r"^--producer: no key named 'nobody' in sluice-local \(keys.list shows them\)$"):
        keys_of(client).key_ids("nobody")
