"""`invoke keys.*`: producers' API keys (ops/keys.py) on the local stack or a deployed environment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invoke import Collection, Context

from ops import local_output_keys
from tasks.common import AWS_HELP, TARGET_HELP, ops_errors, target_of, task

if TYPE_CHECKING:
    from ops.keys import ProducerKey, ProducerKeys

NAME_HELP = "the producer's name: lowercase letters, digits and dashes"


def producer_keys(target: str, profile: str | None, region: str | None) -> ProducerKeys:
    """The keys of the target; on the local stack usage comes from its gateway (moto has no GetUsage)."""
    from ops.keys import ProducerKeys
    from ops.outputs import LOCAL

    resolved = target_of(target, profile, region)
    usage = None
    if resolved.name == LOCAL:
        usage = _local_usage_reader(resolved.require(local_output_keys.CONTROL_URL))
    return ProducerKeys(resolved.client("apigateway"), resolved.config, usage=usage)


def _local_usage_reader(control_url: str) -> Any:
    from urllib.parse import urlencode

    from local.console.control_client import ControlClient, ControlError
    from ops.errors import OpsError

    client = ControlClient(control_url)

    def read(usage_plan_id: str, key_id: str, start_date: str, end_date: str) -> Any:
        query = urlencode({"usagePlanId": usage_plan_id, "keyId": key_id, "startDate": start_date, "endDate": end_date})
        try:
            return client.call("GET", f"/usage?{query}")
        except ControlError as error:
            raise OpsError(str(error)) from None

    return read


def _row(key: ProducerKey) -> str:
    state = "enabled" if key.enabled else "disabled"
    usage = "-" if key.usage_30_days is None else str(key.usage_30_days)
    expires = f"  expires {key.expires_at:%Y-%m-%dT%H:%M:%SZ}" if key.expires_at else ""
    return f"{key.name:<40} {key.producer_class:<10} {state:<9} {key.created:%Y-%m-%d %H:%M} {usage:>12}{expires}"


HEADER = f"{'NAME':<40} {'CLASS':<10} {'STATE':<9} {'CREATED (UTC)':<16} {'REQUESTS 30D':>12}"


@task(
    name="create",
    help={
        "name": NAME_HELP,
        "class": "producer class (sluice.toml producers.<class>; default: default)",
        "target": TARGET_HELP,
        **AWS_HELP,
    },
)
def keys_create(
    c: Context,
    name: str,
    class_: str = "default",
    target: str = "local",
    profile: str | None = None,
    region: str | None = None,
) -> None:
    """Create a producer's API key in its class's usage plan; print its value once (it is not shown again)."""
    with ops_errors():
        created = producer_keys(target, profile, region).create(name, class_)
    print(f"created key {created.key.name} (id {created.key.key_id}, class {created.key.producer_class})")
    print(f"value (shown once; send it as the x-api-key header): {created.value}")


@task(name="list", help={"target": TARGET_HELP, **AWS_HELP})
def keys_list(c: Context, target: str = "local", profile: str | None = None, region: str | None = None) -> None:
    """List the environment's keys: name, class, state, created, requests over the last 30 days."""
    with ops_errors():
        keys = producer_keys(target, profile, region).list_keys()
    print(HEADER)
    for key in keys:
        print(_row(key))


@task(name="show", help={"name": NAME_HELP, "target": TARGET_HELP, **AWS_HELP})
def keys_show(
    c: Context, name: str, target: str = "local", profile: str | None = None, region: str | None = None
) -> None:
    """Show one producer's key and its retired generations (never the value)."""
    with ops_errors():
        keys = producer_keys(target, profile, region).show(name)
    print(HEADER + "  KEY ID")
    for key in keys:
        print(f"{_row(key)}  {key.key_id}")


@task(
    name="rotate",
    help={
        "name": NAME_HELP,
        "overlap": "seconds the old key keeps working (default 3600)",
        "target": TARGET_HELP,
        **AWS_HELP,
    },
)
def keys_rotate(
    c: Context,
    name: str,
    overlap: int = 3600,
    target: str = "local",
    profile: str | None = None,
    region: str | None = None,
) -> None:
    """Give a producer a new key at once; the old one works for --overlap seconds, then the next keys.* disables it."""
    from datetime import timedelta

    with ops_errors():
        new, retired = producer_keys(target, profile, region).rotate(name, timedelta(seconds=overlap))
    print(f"new key {new.key.name} (id {new.key.key_id}, class {new.key.producer_class}) is active now")
    print(f"value (shown once; send it as the x-api-key header): {new.value}")
    until = f"{retired.expires_at:%Y-%m-%dT%H:%M:%SZ}" if retired.expires_at else "now"
    print(
        f"old key {retired.key_id} is now {retired.name}: it works until {until}, and is disabled by the first "
        "keys.* call after that (or `invoke keys.expire`)"
    )


@task(
    name="revoke",
    help={
        "name": NAME_HELP,
        "delete": "also delete the keys (their usage history goes too)",
        "target": TARGET_HELP,
        **AWS_HELP,
    },
)
def keys_revoke(
    c: Context,
    name: str,
    delete: bool = False,
    target: str = "local",
    profile: str | None = None,
    region: str | None = None,
) -> None:
    """Disable a producer's key and its retired generations at once (API Gateway then answers 403)."""
    with ops_errors():
        keys = producer_keys(target, profile, region).revoke(name, delete=delete)
    verb = "deleted" if delete else "disabled"
    for key in keys:
        print(f"{verb} {key.name} (id {key.key_id})")


@task(name="expire", help={"target": TARGET_HELP, **AWS_HELP})
def keys_expire(c: Context, target: str = "local", profile: str | None = None, region: str | None = None) -> None:
    """Disable the retired keys whose overlap has ended (every keys.* call does this first)."""
    with ops_errors():
        expired = producer_keys(target, profile, region).expire()
    for key in expired:
        print(f"disabled {key.name} (id {key.key_id}): its overlap ended {key.expires_at:%Y-%m-%dT%H:%M:%SZ}")
    if not expired:
        print("no retired key is past its overlap")


keys = Collection("keys", keys_create, keys_list, keys_show, keys_rotate, keys_revoke, keys_expire)
