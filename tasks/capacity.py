"""`invoke capacity`: what each stage of an environment sustains on paper, and which binds first (ops/capacity.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Context

from tasks.common import config_of, ops_errors, task

if TYPE_CHECKING:
    from core.config import Config
    from ops.capacity import Quotas


@task(
    help={
        "env": "environment whose configuration to model: local (the local stack's own limits) or a deployed one",
        "event_bytes": "bytes per event (default 1024)",
        "events_per_request": "mean events per API request, e.g. 1.6 (default 1)",
        "api_keys": "API keys on the usage plan sending at once: its rate applies per key (default 1)",
        "ingest_ms": "ingest's duration per request (default: the benchmark locally, ops/cost.py's assumptions on AWS)",
        "consumer_batch_ms": "the consumer's duration per batch (default: ops/cost.py's assumptions)",
        "local_cores": "local only: cores the stack's processes get (default: this machine's)",
        "runtime_cpu_ms": "local only: the runtime process's CPU ms per request (default: the recorded benchmark)",
        "moto_cpu_ms": "local only: moto server's CPU ms per request (default: the recorded benchmark)",
        "defaults": "do not ask AWS for the account's quotas: use AWS's published defaults",
        "json": "print the model as JSON",
        "profile": "AWS profile, to read the account's quotas (default: the environment's)",
        "region": "AWS region (default: the config's)",
    }
)
def capacity(
    c: Context,
    env: str,
    event_bytes: int = 1024,
    events_per_request: float = 1.0,
    api_keys: int = 1,
    ingest_ms: str | None = None,
    consumer_batch_ms: str | None = None,
    local_cores: str | None = None,
    runtime_cpu_ms: str | None = None,
    moto_cpu_ms: str | None = None,
    defaults: bool = False,
    json: bool = False,
    profile: str | None = None,
    region: str | None = None,
) -> None:
    """Events/s and requests/s each stage sustains, the bottleneck and the monthly cost at that rate."""
    from ops.capacity import Quotas, Traffic, durations, local_host, model
    from ops.capacity_report import capacity_json, capacity_lines, cost_at

    config = config_of(env)
    with ops_errors():
        traffic = Traffic(event_bytes, float(events_per_request))
        timing = durations(
            config,
            traffic,
            _number("ingest-ms", ingest_ms, "milliseconds"),
            _number("consumer-batch-ms", consumer_batch_ms, "milliseconds"),
        )
        host = local_host(
            _number("local-cores", local_cores, "cores"),
            _number("runtime-cpu-ms", runtime_cpu_ms, "milliseconds"),
            _number("moto-cpu-ms", moto_cpu_ms, "milliseconds"),
        )
    quotas: Quotas = Quotas()
    notes: tuple[str, ...] = ()
    if not config.is_local and not defaults:
        quotas, notes = _account_quotas(config, profile, region)
    with ops_errors():
        result = model(config, traffic, timing, quotas, api_keys, host)
        cost = cost_at(config, result)
    lines = [capacity_json(config, result, cost, notes)] if json else capacity_lines(config, result, cost, notes)
    print("\n".join(lines))


def _account_quotas(config: Config, profile: str | None, region: str | None) -> tuple[Quotas, tuple[str, ...]]:
    """The account's quotas, or the defaults with one line saying why (no credentials, access denied, …)."""
    from botocore.exceptions import BotoCoreError

    from ops.account_quotas import read_account_quotas
    from ops.capacity import Quotas
    from ops.errors import OpsError
    from tasks.common import session_of

    try:
        session = session_of(config, profile, region)
        reading = read_account_quotas(session.client("lambda"), session.client("service-quotas"))
    except (OpsError, BotoCoreError) as error:
        return Quotas(), (f"could not read the account's quotas ({' '.join(str(error).split())}): using defaults",)
    return reading.quotas, reading.notes


def _number(option: str, value: str | float | None, what: str) -> float | None:
    """An optional number flag (invoke passes it as text): None when absent, one line when it is not a number."""
    from ops.cost_report import positive_number

    return None if value is None else positive_number(option, value, what)
