"""`invoke cost`: what an environment costs per month at a given rate (the model: ops/cost.py)."""

from __future__ import annotations

from invoke import Context

from tasks.common import config_of, ops_errors, task


@task(
    help={
        "rate": "steady events per second",
        "event_bytes": "bytes per event (default 1024)",
        "batch": "events per API request for the batched shape (default 50)",
        "env": "environment whose configuration to price (default: prod)",
        "outage_hours": "also price a database outage this long: parking, probes, dead letters (default 1)",
    }
)
def cost(
    c: Context, rate: str, event_bytes: int = 1024, batch: int = 50, env: str = "prod", outage_hours: float = 1.0
) -> None:
    """Estimate the monthly cost line by line, naive shape beside ours, and the budget it suggests."""
    from ops.cost_report import cost_report, positive_number

    with ops_errors():
        events_per_second = positive_number("rate", rate, "events per second")
        outage = positive_number("outage-hours", outage_hours, "hours", zero_allowed=True)
    config = config_of(env)
    with ops_errors():
        print("\n".join(cost_report(config, events_per_second, event_bytes, batch, outage)))
