"""What API Gateway enforces per API key, for the local gateway: which keys it accepts (enabled, in a usage plan of the
stage), each key's plan throttle (a token bucket per key) and quota (requests per UTC day or month), and the usage
GetUsage reports — moto stores keys and plans but enforces nothing and has no GetUsage.

Keys and plans are read from moto's apigateway API every `refresh_seconds` (0.5 s), so a key created, disabled or
deleted while the stack runs (`invoke keys.*`) is seen within a second, as on AWS. Quota periods follow the local
clock (local/services/clock.py), so a test can move to the next UTC day and see the quota reset.

Answers, as API Gateway's: an unknown, disabled or plan-less key → 403 Forbidden; over the plan's rate → 429 "Too Many
Requests"; over the quota → 429 "Limit Exceeded".

Each decision is counted per key since the stack started (`producers()`: the console's "Who is sending?" table).
The counts are bounded by the keys that exist: a deleted key's counts go with it; a value that is no key's is counted
once for all (`unknown_refused`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cloudformation.api import usage_plan_name
from core.config import Config
from local.services.gateway.proxy import ThrottleLimits, TokenBucket

log = logging.getLogger(__name__)

REFRESH_SECONDS = 0.5
PAGE_SIZE = 500
MAX_PAGES = 100
THROTTLED = "Too Many Requests"
QUOTA_SPENT = "Limit Exceeded"


@dataclass(frozen=True)
class Quota:
    limit: int
    period: str  # DAY, WEEK or MONTH

    def period_start(self, moment: datetime) -> date:
        day = moment.astimezone(UTC).date()
        if self.period == "MONTH":
            return day.replace(day=1)
        if self.period == "WEEK":  # QuotaSettings.offset 0: weeks start on Sunday
            return day - timedelta(days=(day.weekday() + 1) % 7)
        return day


# what the gateway decided about a request, per key
# What the gateway decided for a key, as counted per key (the console's "Who is sending?"): not the 429s' messages
COUNT_ADMITTED, COUNT_THROTTLED, COUNT_QUOTA, COUNT_FORBIDDEN = "admitted", "throttled", "quota", "forbidden"


@dataclass(frozen=True)
class KeyRecord:
    """A key of the account as the last refresh read it, granted or not."""

    key_id: str
    name: str
    enabled: bool
    plan_name: str | None  # the usage plan of the stage it is in; None: in none (403)


@dataclass(frozen=True)
class ProducerCounts:
    """One producer's requests since the stack started: admitted, and refused by kind."""

    key_id: str
    name: str
    producer_class: str  # the usage plan's class (`plan_classes`), else the plan's name; "-" when in no plan
    enabled: bool
    admitted: int
    throttled: int  # 429 Too Many Requests
    quota: int  # 429 Limit Exceeded
    forbidden: int  # 403


@dataclass(frozen=True)
class Grant:
    """An enabled key in a usage plan of the stage."""

    key_id: str
    plan_id: str
    throttle: ThrottleLimits | None
    quota: Quota | None


def plan_classes(config: Config) -> dict[str, str]:
    """Usage plan name → producer class: the configured classes and the canary's own plan, named as ops/keys.py
    names them."""
    return {usage_plan_name(config, name): name for name in (*config.producer_classes, "canary")}


class UsagePlans:
    def __init__(
        self,
        client: Any,
        api_id: str,
        stage: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        refresh_seconds: float = REFRESH_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        plan_classes: Mapping[str, str] | None = None,
    ) -> None:
        """`plan_classes`: usage plan name → producer class, for `producers()`."""
        self._client = client
        self._stage = (api_id, stage)
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic  # the throttle's real time, apart from `clock` (which a test may shift)
        self._grants: dict[str, Grant] = {}  # key value → grant
        self._buckets: dict[str, tuple[ThrottleLimits, TokenBucket]] = {}
        self._used: dict[tuple[str, date], int] = defaultdict(int)  # (key id, UTC day) → admitted requests
        self._plan_classes = dict(plan_classes or {})
        self._keys: dict[str, KeyRecord] = {}  # key value → the key, granted or not
        self._decisions: dict[str, Counter[str]] = defaultdict(Counter)  # key id → decision → requests
        self._unknown_refused = 0  # 403s for a value that is no key's (or no key at all)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the gateway's questions ----------------------------------------------------------------------

    def key_id(self, value: str | None) -> str | None:
        """The key id of an accepted key value; None: API Gateway answers 403 (counted against the key, if any)."""
        grant = self._grants.get(value or "")
        if grant is not None:
            return grant.key_id
        known = self._keys.get(value or "")
        with self._lock:
            if known is None:
                self._unknown_refused += 1
            else:
                self._decisions[known.key_id][COUNT_FORBIDDEN] += 1
        return None

    def admit(self, key_id: str) -> str | None:
        """None when the request may pass; else the 429 message (throttled, or the quota spent). An admitted
        request counts toward the key's usage."""
        grant = next((grant for grant in self._grants.values() if grant.key_id == key_id), None)
        if grant is None:
            return None
        if grant.throttle is not None and not self._bucket(key_id, grant.throttle).try_take():
            with self._lock:
                self._decisions[key_id][COUNT_THROTTLED] += 1
            return THROTTLED
        today = self._clock().astimezone(UTC).date()
        with self._lock:
            if grant.quota is not None and self._period_used(key_id, grant.quota, today) >= grant.quota.limit:
                self._decisions[key_id][COUNT_QUOTA] += 1
                return QUOTA_SPENT
            self._used[(key_id, today)] += 1
            self._decisions[key_id][COUNT_ADMITTED] += 1
        return None

    def producers(self) -> list[ProducerCounts]:
        """Every key the last refresh read, with the requests admitted and refused since the stack started; the
        busiest first."""
        with self._lock:
            rows = [
                ProducerCounts(
                    key_id=key.key_id,
                    name=key.name,
                    producer_class=self._class_of(key.plan_name),
                    enabled=key.enabled,
                    admitted=self._decisions[key.key_id][COUNT_ADMITTED],
                    throttled=self._decisions[key.key_id][COUNT_THROTTLED],
                    quota=self._decisions[key.key_id][COUNT_QUOTA],
                    forbidden=self._decisions[key.key_id][COUNT_FORBIDDEN],
                )
                for key in self._keys.values()
            ]
        return sorted(rows, key=lambda row: (-row.admitted, row.name))

    @property
    def unknown_refused(self) -> int:
        """403s since the stack started for a request whose key value is no key's (or that sent none)."""
        return self._unknown_refused

    def usage(self, plan_id: str, key_id: str, start: date, end: date) -> dict[str, Any]:
        """GetUsage's answer for one key: a [used, remaining] pair per UTC day from start to end."""
        grant = next((grant for grant in self._grants.values() if grant.key_id == key_id), None)
        quota = grant.quota if grant and grant.plan_id == plan_id else None
        days = []
        with self._lock:
            for offset in range(max(0, (end - start).days + 1)):
                day = start + timedelta(days=offset)
                used = self._used.get((key_id, day), 0)
                remaining = max(0, quota.limit - self._period_used(key_id, quota, day)) if quota else 0
                days.append([used, remaining])
        return {"usagePlanId": plan_id, "startDate": start.isoformat(), "endDate": end.isoformat(),
                "items": {key_id: days}}  # fmt: skip

    # --- reading moto ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read keys and plans now."""
        plans = {plan["id"]: plan for plan in _pages(self._client.get_usage_plans) if self._serves_stage(plan)}
        key_plan: dict[str, str] = {}
        for plan_id in plans:
            for member in _pages(self._client.get_usage_plan_keys, usagePlanId=plan_id):
                key_plan[member["id"]] = plan_id
        grants, keys = {}, {}
        for key in _pages(self._client.get_api_keys, includeValues=True):
            plan = plans.get(key_plan.get(key["id"], ""))
            keys[key["value"]] = KeyRecord(key["id"], key.get("name", key["id"]), bool(key.get("enabled")),
                                           plan.get("name", plan["id"]) if plan else None)  # fmt: skip
            if plan is None or not key.get("enabled"):
                continue
            grants[key["value"]] = Grant(key["id"], plan["id"], _throttle(plan), _quota(plan))
        self._grants = grants  # one assignment: a request sees the old set or the new one
        with self._lock:
            self._keys = keys
            existing = {key.key_id for key in keys.values()}
            for gone in set(self._decisions) - existing:  # bounded by the keys that exist
                del self._decisions[gone]

    def start(self) -> UsagePlans:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="usage-plans", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.wait(self._refresh_seconds):
            try:
                self.refresh()
            except Exception:  # moto restarting or gone: keep the last keys, try again
                log.warning("usage plans: could not read keys and plans", exc_info=True)

    def _serves_stage(self, plan: dict[str, Any]) -> bool:
        return any((stage.get("apiId"), stage.get("stage")) == self._stage for stage in plan.get("apiStages") or [])

    def _bucket(self, key_id: str, limits: ThrottleLimits) -> TokenBucket:
        with self._lock:
            known = self._buckets.get(key_id)
            if known is None or known[0] != limits:  # a new key, or its plan changed
                known = (limits, TokenBucket(limits, self._monotonic))
                self._buckets[key_id] = known
            return known[1]

    def _class_of(self, plan_name: str | None) -> str:
        if plan_name is None:
            return "-"
        return self._plan_classes.get(plan_name, plan_name)

    def _period_used(self, key_id: str, quota: Quota, day: date) -> int:
        start = quota.period_start(datetime.combine(day, datetime.min.time(), UTC))
        return sum(used for (key, when), used in self._used.items() if key == key_id and start <= when <= day)


def _throttle(plan: dict[str, Any]) -> ThrottleLimits | None:
    throttle = plan.get("throttle") or {}
    if "rateLimit" not in throttle:
        return None
    return ThrottleLimits(rate_per_second=float(throttle["rateLimit"]), burst=int(throttle.get("burstLimit", 0)))


def _quota(plan: dict[str, Any]) -> Quota | None:
    quota = plan.get("quota") or {}
    if not quota.get("limit"):
        return None
    return Quota(limit=int(quota["limit"]), period=str(quota.get("period", "DAY")))


def _pages(call: Callable[..., dict[str, Any]], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page: dict[str, str] = {}
    for _ in range(MAX_PAGES):
        answer = call(limit=PAGE_SIZE, **params, **page)
        items.extend(answer.get("items", []))
        if not answer.get("position"):
            break
        page = {"position": answer["position"]}
    return items
