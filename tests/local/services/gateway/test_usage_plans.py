"""The local gateway's usage plans (local/services/gateway/usage_plans.py) against moto's apigateway in process:
which keys are accepted, each key's throttle and quota. Time is a fake clock (UTC, for quota periods) and a fake
monotonic counter (the throttle); keys are re-read by calling refresh() rather than waiting for the thread."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.services.gateway.usage_plans import QUOTA_SPENT, THROTTLED, UsagePlans

REGION = "us-east-1"
STAGE = "v1"


@dataclass
class FakeTime:
    moment: datetime = datetime(2024, 1, 31, 23, 0, tzinfo=UTC)
    seconds: float = 1000.0

    def now(self) -> datetime:
        return self.moment

    def monotonic(self) -> float:
        return self.seconds

    def advance(self, delta: timedelta) -> None:
        self.moment += delta
        self.seconds += delta.total_seconds()


@dataclass
class Gateway:
    client: Any
    api_id: str
    time: FakeTime

    def plan(self, **settings: Any) -> str:
        plan = self.client.create_usage_plan(
            name=f"plan-{len(self.client.get_usage_plans()['items'])}",
            apiStages=[{"apiId": self.api_id, "stage": STAGE}],
            **settings,
        )
        return str(plan["id"])

    def key(self, value: str, plan_id: str | None = None, enabled: bool = True) -> str:
        key_id = str(self.client.create_api_key(name=value, value=secret(value), enabled=enabled)["id"])
        if plan_id is not None:
            self.client.create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY")
        return key_id

    def plans(self) -> UsagePlans:
        plans = UsagePlans(self.client, self.api_id, STAGE, self.time.now, monotonic=self.time.monotonic)
        plans.refresh()
        return plans


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with mock_aws():
        client = boto3.client("apigateway", region_name=REGION)
        api_id = client.create_rest_api(name="sluice")["id"]
        yield Gateway(client, api_id, FakeTime())


def secret(name: str) -> str:
    """A key value API Gateway accepts (at least 20 characters) for a short name."""
    return name.ljust(20, "0")


def admit_all(plans: UsagePlans, key_id: str, count: int) -> list[str | None]:
    return [plans.admit(key_id) for _ in range(count)]


# --- throttle -------------------------------------------------------------------------------------------------


def test_a_burst_passes_at_once_then_waits_for_the_rate(gateway: Gateway) -> None:
    # GIVEN a key in a plan of 2 requests a second with a burst of 5
    key_id = gateway.key("k-burst", gateway.plan(throttle={"rateLimit": 2.0, "burstLimit": 5}))
    plans = gateway.plans()
    # WHEN 6 requests arrive at the same instant
    answers = admit_all(plans, key_id, 6)
    # THEN the burst of 5 passes and the 6th is throttled
    assert answers == [None] * 5 + [THROTTLED]
    # WHEN a quarter of a second passes (half a token at 2/s)
    gateway.time.advance(timedelta(seconds=0.25))
    # THEN the key is still throttled
    assert plans.admit(key_id) == THROTTLED
    # WHEN another quarter passes (one token refilled)
    gateway.time.advance(timedelta(seconds=0.25))
    # THEN exactly one more request passes
    assert admit_all(plans, key_id, 2) == [None, THROTTLED]


def test_the_burst_refills_no_higher_than_its_limit(gateway: Gateway) -> None:
    # GIVEN a key with burst 3 at 10 requests a second, its burst spent
    key_id = gateway.key("k-cap", gateway.plan(throttle={"rateLimit": 10.0, "burstLimit": 3}))
    plans = gateway.plans()
    admit_all(plans, key_id, 3)
    # WHEN an hour passes
    gateway.time.advance(timedelta(hours=1))
    # THEN only the burst passes at once, not an hour's worth of tokens
    assert admit_all(plans, key_id, 4) == [None] * 3 + [THROTTLED]


# --- quota ----------------------------------------------------------------------------------------------------


def test_a_daily_quota_resets_at_the_next_utc_day(gateway: Gateway) -> None:
    # GIVEN a key with 3 requests a day, at 23:00 UTC
    key_id = gateway.key("k-day", gateway.plan(quota={"limit": 3, "period": "DAY"}))
    plans = gateway.plans()
    # WHEN it sends 4 requests
    # THEN the 4th is refused: the quota is spent
    assert admit_all(plans, key_id, 4) == [None, None, None, QUOTA_SPENT]
    # WHEN the clock reaches 23:59:59 the same day
    gateway.time.advance(timedelta(minutes=59, seconds=59))
    # THEN the quota is still spent
    assert plans.admit(key_id) == QUOTA_SPENT
    # WHEN it crosses midnight UTC
    gateway.time.advance(timedelta(seconds=1))
    # THEN the key has its 3 requests again
    assert admit_all(plans, key_id, 4) == [None, None, None, QUOTA_SPENT]


def test_a_monthly_quota_lasts_across_days_and_resets_at_the_next_utc_month(gateway: Gateway) -> None:
    # GIVEN a key with 2 requests a month, on January 30th
    key_id = gateway.key("k-month", gateway.plan(quota={"limit": 2, "period": "MONTH"}))
    plans = gateway.plans()
    gateway.time.moment = datetime(2024, 1, 30, 12, 0, tzinfo=UTC)
    # WHEN it spends one request on the 30th and one on the 31st
    assert plans.admit(key_id) is None
    gateway.time.advance(timedelta(days=1))
    assert plans.admit(key_id) is None
    # THEN a third one on the 31st is refused: a new day is not a new month
    assert plans.admit(key_id) == QUOTA_SPENT
    # WHEN it is February 1st, 00:00 UTC
    gateway.time.moment = datetime(2024, 2, 1, 0, 0, tzinfo=UTC)
    # THEN the month's 2 requests are available again
    assert admit_all(plans, key_id, 3) == [None, None, QUOTA_SPENT]


def test_quota_days_are_utc_days_whatever_the_clocks_zone(gateway: Gateway) -> None:
    # GIVEN a key with 1 request a day, spent at 23:30 UTC
    key_id = gateway.key("k-zone", gateway.plan(quota={"limit": 1, "period": "DAY"}))
    plans = gateway.plans()
    gateway.time.moment = datetime(2024, 3, 10, 23, 30, tzinfo=UTC)
    assert plans.admit(key_id) is None
    # WHEN the clock answers 01:30 the next day in UTC+2 (= 23:30 UTC, the same UTC day)
    gateway.time.moment = datetime(2024, 3, 11, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    # THEN the quota is still spent
    assert plans.admit(key_id) == QUOTA_SPENT


# --- which keys are accepted (403) ----------------------------------------------------------------------------


def test_a_disabled_key_and_a_key_in_no_plan_are_refused(gateway: Gateway) -> None:
    # GIVEN an enabled key in a plan, a disabled one in the same plan, and an enabled key in no plan
    plan_id = gateway.plan()
    accepted = gateway.key("k-ok", plan_id)
    gateway.key("k-disabled", plan_id, enabled=False)
    gateway.key("k-planless")
    # WHEN the gateway asks for each key's id
    plans = gateway.plans()
    # THEN only the enabled key in a plan is accepted; the others (and an unknown or missing key) get 403
    assert plans.key_id(secret("k-ok")) == accepted
    assert plans.key_id(secret("k-disabled")) is None
    assert plans.key_id(secret("k-planless")) is None
    assert plans.key_id(secret("k-unknown")) is None
    assert plans.key_id(None) is None


def test_a_key_in_a_plan_of_another_stage_is_refused(gateway: Gateway) -> None:
    # GIVEN a key whose plan serves another API's stage
    other_api = gateway.client.create_rest_api(name="other")["id"]
    plan_id = gateway.client.create_usage_plan(name="other", apiStages=[{"apiId": other_api, "stage": STAGE}])["id"]
    gateway.key("k-elsewhere", plan_id)
    # WHEN the keys are read
    plans = gateway.plans()
    # THEN the key is refused on this stage
    assert plans.key_id(secret("k-elsewhere")) is None


def test_a_deleted_key_is_refused_after_a_refresh(gateway: Gateway) -> None:
    # GIVEN an accepted key
    key_id = gateway.key("k-deleted", gateway.plan())
    plans = gateway.plans()
    assert plans.key_id(secret("k-deleted")) == key_id
    # WHEN it is deleted and the keys are read again
    gateway.client.delete_api_key(apiKey=key_id)
    plans.refresh()
    # THEN it is refused
    assert plans.key_id(secret("k-deleted")) is None


# --- refresh --------------------------------------------------------------------------------------------------


def test_a_refresh_picks_up_a_new_key(gateway: Gateway) -> None:
    # GIVEN the keys read once, then a new key added to a plan
    plan_id = gateway.plan()
    plans = gateway.plans()
    key_id = gateway.key("k-new", plan_id)
    assert plans.key_id(secret("k-new")) is None
    # WHEN the keys are read again
    plans.refresh()
    # THEN the new key is accepted
    assert plans.key_id(secret("k-new")) == key_id


def test_a_refresh_picks_up_a_key_disabled_then_enabled_again(gateway: Gateway) -> None:
    # GIVEN an accepted key
    key_id = gateway.key("k-toggle", gateway.plan())
    plans = gateway.plans()
    # WHEN it is disabled and the keys are read again
    gateway.client.update_api_key(
        apiKey=key_id, patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
    )
    plans.refresh()
    # THEN it is refused
    assert plans.key_id(secret("k-toggle")) is None
    # WHEN it is enabled again and the keys are read again
    gateway.client.update_api_key(
        apiKey=key_id, patchOperations=[{"op": "replace", "path": "/enabled", "value": "true"}]
    )
    plans.refresh()
    # THEN it is accepted again
    assert plans.key_id(secret("k-toggle")) == key_id


# --- counts per producer (the console's "Who is sending?") -----------------------------------------------------


def counts_of(plans: UsagePlans, key_id: str) -> tuple[int, int, int, int]:
    row = next(row for row in plans.producers() if row.key_id == key_id)
    return row.admitted, row.throttled, row.quota, row.forbidden


def test_each_decision_is_counted_against_its_own_key(gateway: Gateway) -> None:
    # GIVEN a throttled key (burst 2), a key with a quota of 1 a day and a disabled key, each in a plan
    throttled_id = gateway.key("k-rate", gateway.plan(throttle={"rateLimit": 1.0, "burstLimit": 2}))
    quota_id = gateway.key("k-quota", gateway.plan(quota={"limit": 1, "period": "DAY"}))
    disabled_id = gateway.key("k-off", gateway.plan(), enabled=False)
    plans = gateway.plans()
    # WHEN each sends 3 requests, as the gateway asks (key_id, then admit)
    for value in ("k-rate", "k-quota", "k-off"):
        for _ in range(3):
            key_id = plans.key_id(secret(value))
            if key_id is not None:
                plans.admit(key_id)
    # THEN each key's row holds its own admitted, throttled, over-quota and forbidden requests
    assert counts_of(plans, throttled_id) == (2, 1, 0, 0)
    assert counts_of(plans, quota_id) == (1, 0, 2, 0)
    assert counts_of(plans, disabled_id) == (0, 0, 0, 3)
    # AND the disabled key shows as disabled, the others as enabled
    enabled = {row.key_id: row.enabled for row in plans.producers()}
    assert enabled == {throttled_id: True, quota_id: True, disabled_id: False}


def test_a_value_that_is_no_key_is_counted_once_for_all(gateway: Gateway) -> None:
    # GIVEN one key
    key_id = gateway.key("k-real", gateway.plan())
    plans = gateway.plans()
    # WHEN requests come with an unknown value and with none
    assert plans.key_id(secret("k-nobody")) is None
    assert plans.key_id(None) is None
    # THEN both are counted as refused for no known key, and the real key's row is untouched
    assert plans.unknown_refused == 2
    assert counts_of(plans, key_id) == (0, 0, 0, 0)


def test_the_class_is_the_plans_class_and_a_deleted_keys_counts_go(gateway: Gateway) -> None:
    # GIVEN a key in a plan whose name maps to the class "partner", and a key in no plan
    plan_id = gateway.plan()
    plan_name = next(p["name"] for p in gateway.client.get_usage_plans()["items"] if p["id"] == plan_id)
    key_id = gateway.key("k-partner", plan_id)
    loose_id = gateway.key("k-loose")
    plans = UsagePlans(gateway.client, gateway.api_id, STAGE, gateway.time.now, plan_classes={plan_name: "partner"})
    plans.refresh()
    plans.admit(key_id)
    # WHEN the rows are read
    classes = {row.key_id: row.producer_class for row in plans.producers()}
    # THEN the planned key shows its class and the loose key "-"
    assert classes == {key_id: "partner", loose_id: "-"}
    # WHEN the partner's key is deleted and the keys are read again
    gateway.client.delete_api_key(apiKey=key_id)
    plans.refresh()
    # THEN its row and its counts are gone: the counts are bounded by the keys that exist
    assert [row.key_id for row in plans.producers()] == [loose_id]


def test_the_429s_carry_api_gateways_own_messages() -> None:
    # GIVEN the messages the local gateway answers a throttled and a quota-spent request with
    # THEN they are API Gateway's (re:Post knowledge center "api-gateway-429-limit": "429 Too Many Requests" or
    # "Limit Exceeded"), whatever the module counts its decisions as
    assert (THROTTLED, QUOTA_SPENT) == ("Too Many Requests", "Limit Exceeded")
