"""What API Gateway enforces per API key, for the local gateway: which keys it accepts (enabled, in a usage plan of the
stage), each key's plan throttle (a token bucket per key) and quota (requests per UTC day or month), and the usage
GetUsage reports — moto stores keys and plans but enforces nothing and has no GetUsage.

Keys and plans are read from moto's apigateway API every `refresh_seconds` (0.5 s), so a key created, disabled or
deleted while the stack runs (`invoke keys.*`) is seen within a second, as on AWS. Quota periods follow the local
clock (local/services/clock.py), so a test can move to the next UTC day and see the quota reset.

Answers, as API Gateway's: an unknown, disabled or plan-less key → 403 Forbidden; over the plan's rate → 429 "Too Many
Requests"; over the quota → 429 "Limit Exceeded".
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

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


@dataclass(frozen=True)
class Grant:
    """An enabled key in a usage plan of the stage."""

    key_id: str
    plan_id: str
    throttle: ThrottleLimits | None
    quota: Quota | None


class UsagePlans:
    def __init__(
        self,
        client: Any,
        api_id: str,
        stage: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        refresh_seconds: float = REFRESH_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._stage = (api_id, stage)
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic  # the throttle's real time, apart from `clock` (which a test may shift)
        self._grants: dict[str, Grant] = {}  # key value → grant
        self._buckets: dict[str, tuple[ThrottleLimits, TokenBucket]] = {}
        self._used: dict[tuple[str, date], int] = defaultdict(int)  # (key id, UTC day) → admitted requests
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the gateway's questions ----------------------------------------------------------------------

    def key_id(self, value: str | None) -> str | None:
        """The key id of an accepted key value; None: API Gateway answers 403."""
        grant = self._grants.get(value or "")
        return grant.key_id if grant else None

    def admit(self, key_id: str) -> str | None:
        """None when the request may pass; else the 429 message (throttled, or the quota spent). An admitted
        request counts toward the key's usage."""
        grant = next((grant for grant in self._grants.values() if grant.key_id == key_id), None)
        if grant is None:
            return None
        if grant.throttle is not None and not self._bucket(key_id, grant.throttle).try_take():
            return THROTTLED
        today = self._clock().astimezone(UTC).date()
        with self._lock:
            if grant.quota is not None and self._period_used(key_id, grant.quota, today) >= grant.quota.limit:
                return QUOTA_SPENT
            self._used[(key_id, today)] += 1
        return None

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
        grants = {}
        for key in _pages(self._client.get_api_keys, includeValues=True):
            plan = plans.get(key_plan.get(key["id"], ""))
            if plan is None or not key.get("enabled"):
                continue
            grants[key["value"]] = Grant(key["id"], plan["id"], _throttle(plan), _quota(plan))
        self._grants = grants  # one assignment: a request sees the old set or the new one

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
