"""Producers' API keys: create, list, show, rotate, revoke and expire, on a deployed environment or the local stack.

A producer is an API key named `<project>-<env>-<NAME>` in the usage plan of its class (`<project>-<env>-<class>-plan`,
cloudformation/api.py): the plan is the class, so a key's class is read from API Gateway, never stored twice.

Rotation keeps the old key working for an overlap: the old key is renamed `<NAME>~retired-<UTC stamp>` and its
description records `expires-at=<ISO time>`; the new key takes the name at once. Nothing runs in the background to
disable the old key on time: every keys.* call first disables the retired keys whose overlap has ended, and
`invoke keys.expire` does only that (run it from cron or a CI schedule for a hard end). So a retired key works *at
least* the overlap and stops at the first keys.* call after it — never earlier.

API Gateway facts relied on (docs/producers.md cites them): a key value is 20–128 alphanumeric characters and API
Gateway generates one when none is given; a key is in at most one usage plan per stage; a disabled or deleted key gets
403 Forbidden; GetUsage returns per-key daily [used, remaining] pairs between two UTC dates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from cloudformation.api import usage_plan_name
from cloudformation.common import project_tags
from core.config import Config
from ops.aws import aws_errors
from ops.errors import OpsError

if TYPE_CHECKING:
    from ops.outputs import Target

# A producer's name: what operators type and what the key is called after the environment's prefix.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
RETIRED_MARK = "~retired-"
EXPIRES_AT = "expires-at="
# Keys the template owns: CloudFormation would fight a rename or a deletion made behind its back.
TEMPLATE_KEYS = ("default-key", "canary-key")
USAGE_DAYS = 30
CANARY_CLASS = "canary"
NO_CLASS = "-"  # in no usage plan of this environment: API Gateway refuses it (403)
PAGE_SIZE = 500  # GetApiKeys' and GetUsagePlanKeys' largest page (botocore's apigateway model)
MAX_PAGES = 100  # every listing loop is bounded


class UsageReader(Protocol):
    """GetUsage's answer for one key of one plan: `{"items": {key_id: [[used, remaining], ...]}}`."""

    def __call__(self, usage_plan_id: str, key_id: str, start_date: str, end_date: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class ProducerKey:
    name: str  # the producer's name (retired generations keep their `~retired-…` suffix)
    key_id: str
    producer_class: str
    enabled: bool
    created: datetime
    expires_at: datetime | None = None  # a retired key's end of overlap
    usage_30_days: int | None = None  # requests counted by its plan over the last 30 UTC days

    @property
    def retired(self) -> bool:
        return RETIRED_MARK in self.name

    @property
    def producer(self) -> str:
        return self.name.split(RETIRED_MARK)[0]


@dataclass(frozen=True)
class NewKey:
    key: ProducerKey
    value: str  # shown once to the operator; never logged


class ProducerKeys:
    """The keys of one environment, through an `apigateway` client (AWS or moto server)."""

    def __init__(
        self,
        client: Any,
        config: Config,
        usage: UsageReader | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._config = config
        self._usage = usage or self._get_usage
        self._now = now
        self._prefix = config.resource_name("")

    # --- the operations -------------------------------------------------------------------------------

    def create(self, name: str, producer_class: str = "default") -> NewKey:
        check_name(name)
        self.expire()
        plan_id = self._plan_id(producer_class)
        if self._find(name) is not None:
            raise OpsError(f"a key named {name!r} already exists in {self._config.stack_name} (see keys.show {name})")
        return self._create(name, producer_class, plan_id)

    def list_keys(self, with_usage: bool = True) -> list[ProducerKey]:
        self.expire()
        return self._keys(with_usage)

    def show(self, name: str) -> list[ProducerKey]:
        """The key NAME and its retired generations still in API Gateway, newest first."""
        check_name(name)
        self.expire()
        found = [key for key in self._keys(with_usage=True) if key.producer == name]
        if not found:
            raise OpsError(f"no key named {name!r} in {self._config.stack_name} (keys.list shows them)")
        return sorted(found, key=lambda key: (key.retired, -key.created.timestamp()))

    def key_ids(self, name: str) -> list[str]:
        """The API key ids that NAME's events carry: its key and its retired generations still in API Gateway.
        Read only (no expiry), for the tools that filter stored events by producer."""
        check_name(name)
        found = [key.key_id for key in self._keys(with_usage=False) if key.producer == name]
        if not found:
            raise OpsError(f"--producer: no key named {name!r} in {self._config.stack_name} (keys.list shows them)")
        return found

    def rotate(self, name: str, overlap: timedelta) -> tuple[NewKey, ProducerKey]:
        """A new key under NAME, active at once; the old one retired, working until `overlap` has passed."""
        check_name(name)
        if overlap < timedelta(0):
            raise OpsError("--overlap: expected 0 or more seconds")
        self.expire()
        old = self._require(name, modifiable=True)
        if not old.enabled:
            raise OpsError(f"key {name!r} is disabled (revoked): create a new one with keys.create, not rotate")
        now = self._now()
        expires_at = now + overlap
        retired_name = f"{name}{RETIRED_MARK}{now:%Y%m%dT%H%M%SZ}"
        with aws_errors(f"retiring key {name!r}"):
            self._client.update_api_key(
                apiKey=old.key_id,
                patchOperations=[
                    {"op": "replace", "path": "/name", "value": self._prefix + retired_name},
                    {"op": "replace", "path": "/description", "value": _description(name, expires_at)},
                ],
            )
        try:
            new = self._create(name, old.producer_class, self._plan_id(old.producer_class))
        except OpsError:
            with aws_errors(f"restoring key {name!r}"):  # the old key keeps its name: nothing changed
                self._client.update_api_key(
                    apiKey=old.key_id,
                    patchOperations=[{"op": "replace", "path": "/name", "value": self._prefix + name}],
                )
            raise
        retired = ProducerKey(retired_name, old.key_id, old.producer_class, True, old.created, expires_at)
        if overlap == timedelta(0):
            self._disable(retired)
            retired = ProducerKey(retired_name, old.key_id, old.producer_class, False, old.created, expires_at)
        return new, retired

    def revoke(self, name: str, delete: bool = False) -> list[ProducerKey]:
        """Disable NAME and its retired generations at once (API Gateway answers them 403); `delete` removes them
        too (their usage history goes with them)."""
        check_name(name)
        self.expire()
        self._require(name, modifiable=True)
        keys = [key for key in self._keys(with_usage=False) if key.producer == name]
        for key in keys:
            if key.enabled:
                self._disable(key)
            if delete:
                with aws_errors(f"deleting key {key.name!r}"):
                    self._client.delete_api_key(apiKey=key.key_id)
        return keys

    def expire(self) -> list[ProducerKey]:
        """Disable every retired key whose overlap has ended; the keys disabled."""
        now = self._now()
        due = [
            key
            for key in self._keys(with_usage=False)
            if key.enabled and key.expires_at is not None and key.expires_at <= now
        ]
        for key in due:
            self._disable(key)
        return due

    # --- API Gateway ----------------------------------------------------------------------------------

    def _create(self, name: str, producer_class: str, plan_id: str) -> NewKey:
        tags = {**project_tags(self._config), "Producer": name, "ProducerClass": producer_class}
        with aws_errors(f"creating key {name!r}"):
            created = self._client.create_api_key(
                name=self._prefix + name,
                description=f"producer {name} ({producer_class})",
                enabled=True,
                tags=tags,
            )
        try:
            with aws_errors(f"adding key {name!r} to usage plan {usage_plan_name(self._config, producer_class)}"):
                self._client.create_usage_plan_key(usagePlanId=plan_id, keyId=created["id"], keyType="API_KEY")
        except OpsError:
            with aws_errors(f"removing the half-created key {name!r}"):
                self._client.delete_api_key(apiKey=created["id"])
            raise
        key = ProducerKey(name, created["id"], producer_class, True, _timestamp(created.get("createdDate")))
        return NewKey(key, created["value"])

    def _disable(self, key: ProducerKey) -> None:
        with aws_errors(f"disabling key {key.name!r}"):
            self._client.update_api_key(
                apiKey=key.key_id, patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
            )

    def _plans(self) -> dict[str, str]:
        """Usage plan id → class, for this environment's plans (the canary's included)."""
        names = {usage_plan_name(self._config, name): name for name in self._config.producer_classes}
        names[usage_plan_name(self._config, CANARY_CLASS)] = CANARY_CLASS
        with aws_errors("listing usage plans"):
            plans = list(_pages(lambda **page: self._client.get_usage_plans(limit=PAGE_SIZE, **page)))
        return {plan["id"]: names[plan["name"]] for plan in plans if plan.get("name") in names}

    def _plan_id(self, producer_class: str) -> str:
        classes = self._config.producer_classes
        if producer_class not in classes:
            raise OpsError(f"--class: no producer class {producer_class!r} (known: {', '.join(classes)})")
        for plan_id, name in self._plans().items():
            if name == producer_class:
                return plan_id
        raise OpsError(
            f"usage plan {usage_plan_name(self._config, producer_class)} not found: deploy the environment's "
            "template with this class first (invoke deploy, or restart the local stack)"
        )

    def _keys(self, with_usage: bool) -> list[ProducerKey]:
        plans = self._plans()
        class_of: dict[str, tuple[str, str]] = {}  # key id → (class, plan id)
        for plan_id, producer_class in plans.items():
            with aws_errors("listing usage plan keys"):
                members = list(_pages(partial(self._client.get_usage_plan_keys, usagePlanId=plan_id, limit=PAGE_SIZE)))
            class_of |= {member["id"]: (producer_class, plan_id) for member in members}
        with aws_errors("listing API keys"):
            found = list(
                _pages(lambda **page: self._client.get_api_keys(nameQuery=self._prefix, limit=PAGE_SIZE, **page))
            )
        keys = []
        for item in found:
            name = str(item.get("name") or "")
            if not name.startswith(self._prefix):  # nameQuery is a prefix match; check it here too
                continue
            producer_class, plan_id = class_of.get(item["id"], (NO_CLASS, ""))
            usage = self._usage_of(plan_id, item["id"]) if with_usage and plan_id else None
            keys.append(
                ProducerKey(
                    name=name[len(self._prefix) :],
                    key_id=item["id"],
                    producer_class=producer_class,
                    enabled=bool(item.get("enabled")),
                    created=_timestamp(item.get("createdDate")),
                    expires_at=_expires_at(str(item.get("description") or "")),
                    usage_30_days=usage,
                )
            )
        return sorted(keys, key=lambda key: key.name)

    def _find(self, name: str) -> ProducerKey | None:
        return next((key for key in self._keys(with_usage=False) if key.name == name), None)

    def _require(self, name: str, modifiable: bool = False) -> ProducerKey:
        if modifiable and name in TEMPLATE_KEYS:
            raise OpsError(
                f"{name} is the template's key (CloudFormation owns it): give each producer a key of its own "
                "with keys.create, then retire this one from the template"
            )
        key = self._find(name)
        if key is None:
            raise OpsError(f"no key named {name!r} in {self._config.stack_name} (keys.list shows them)")
        return key

    def _usage_of(self, plan_id: str, key_id: str) -> int:
        today = self._now().date()
        start = today - timedelta(days=USAGE_DAYS - 1)
        with aws_errors(f"reading the usage of key {key_id}"):
            answer = self._usage(plan_id, key_id, start.isoformat(), today.isoformat())
        days = answer.get("items", {}).get(key_id, [])
        return sum(int(day[0]) for day in days)

    def _get_usage(self, usage_plan_id: str, key_id: str, start_date: str, end_date: str) -> Mapping[str, Any]:
        return dict(
            self._client.get_usage(usagePlanId=usage_plan_id, keyId=key_id, startDate=start_date, endDate=end_date)
        )


def producer_key_ids(target: Target, name: str) -> list[str]:
    """`--producer NAME` of reconcile and events.query: the key ids NAME's stored events carry."""
    return ProducerKeys(target.client("apigateway"), target.config).key_ids(name)


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name or ""):
        raise OpsError(
            f"key name {name!r}: expected lowercase letters, digits and dashes (at most 63), starting with a "
            "letter or digit"
        )


def _description(name: str, expires_at: datetime) -> str:
    return f"producer {name}, retired; {EXPIRES_AT}{expires_at.astimezone(UTC).isoformat(timespec='seconds')}"


def _expires_at(description: str) -> datetime | None:
    match = re.search(re.escape(EXPIRES_AT) + r"(\S+)", description)
    if match is None:
        return None
    try:
        return datetime.fromisoformat(match.group(1))
    except ValueError:
        return None


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromtimestamp(0, UTC)


def _pages(call: Callable[..., Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every item of a paged apigateway listing (`position`), at most MAX_PAGES pages."""
    page: dict[str, str] = {}
    for _ in range(MAX_PAGES):
        answer = call(**page)
        yield from answer.get("items", [])
        position = answer.get("position")
        if not position:
            return
        page = {"position": position}
    raise OpsError(f"more than {MAX_PAGES} pages of results: narrow the listing")
