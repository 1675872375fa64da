"""`invoke cost`: the whole report — each request shape, keyed requests, each sink configuration and what a
database outage adds — priced from the environment's template and configuration, and written as text (the model
is ops/cost.py, an outage's ops/outage_cost.py)."""

from __future__ import annotations

import dataclasses
import json
import math

from cloudformation.template import render
from core.config import Config
from ops.cost import (
    SECONDS_PER_HOUR,
    Assumptions,
    Estimate,
    Inventory,
    Line,
    Prices,
    Workload,
    estimate,
    keyed_request_cost,
    shapes,
    sink_shapes,
)
from ops.errors import OpsError
from ops.outage_cost import OutageEstimate, outage_estimate
from ops.outage_model import parking_design
from synth.synthesize import full_template


def positive_number(option: str, value: str | float, what: str, *, zero_allowed: bool = False) -> float:
    """An option's value as a number; one line naming the option when it is not one."""
    try:
        number = float(value)
    except ValueError:
        raise OpsError(f"--{option}: expected {what} (a number), got {value!r}") from None
    if number < 0 or (number == 0 and not zero_allowed):
        raise OpsError(f"--{option}: expected {'zero or more' if zero_allowed else 'a positive number of'} {what}")
    return number


def cost_report(config: Config, rate: float, event_bytes: int, batch: int, outage_hours: float) -> list[str]:
    check_batch(config, batch, event_bytes)
    prices = Prices.load()
    workload = Workload(rate, event_bytes, prices("meta", "hours_per_month"))
    inventory = _inventory(config)
    assumptions = Assumptions()
    estimates = [estimate(config, prices, workload, shape, inventory, assumptions) for shape in shapes(batch)]
    keyed = [
        keyed_request_cost(config, prices, events, event_bytes, assumptions).line(prices)
        for events in sorted({1, batch})
    ]
    # each sink configuration priced on the template it deploys (without the table, none of its alarms)
    deployed = {
        shape: _inventory(dataclasses.replace(config, sinks=shape.sinks)) for shape in sink_shapes(config, batch)
    }
    by_sinks = [estimate(config, prices, workload, shape, deployed[shape], assumptions) for shape in deployed]
    outage = outage_estimate(config, prices, workload, outage_hours, assumptions)
    lines = [
        f"Sluice cost estimate for {config.stack_name}: {rate:g} events/s of {event_bytes} B "
        f"= {workload.events_per_month / 1e6:,.1f} M events per {workload.hours_per_month:g}-hour month",
        f"{prices.text('meta', 'region')} list prices as of {prices.text('meta', 'as_of')} (ops/prices.toml); "
        "no free tier, no discounts",
    ]
    for item in estimates:
        lines += ["", *format_estimate(item)]
    lines += ["", *format_comparison(estimates, config), *keyed]
    lines += ["", *format_sinks(by_sinks, config.sinks)]
    lines += ["", *format_outage(outage, config)]
    lines += ["", "assumptions (estimates, not measurements):", *(f"  {line}" for line in assumptions.lines())]
    return lines


def _inventory(config: Config) -> Inventory:
    return Inventory.from_template(json.loads(render(full_template(config))))


def check_batch(config: Config, batch: int, event_bytes: int) -> None:
    """A batch the API would refuse cannot be priced."""
    if not 1 <= batch <= config.api.max_batch_events:
        raise OpsError(f"--batch: expected 1–{config.api.max_batch_events} (api.max_batch_events), got {batch}")
    if event_bytes < 1 or event_bytes > config.api.max_event_bytes:
        raise OpsError(f"--event-bytes: expected 1–{config.api.max_event_bytes} (api.max_event_bytes)")
    if batch * (event_bytes + 1) + 1 > config.api.max_body_bytes:
        raise OpsError(
            f"--batch {batch} × --event-bytes {event_bytes} exceeds api.max_body_bytes ({config.api.max_body_bytes})"
        )


def suggested_budget(monthly_usd: float, factor: float = 1.5) -> int:
    """cost × factor, rounded UP to two significant figures, in whole dollars (at least 1)."""
    target = monthly_usd * factor
    if target <= 1:
        return 1
    step = 10 ** max(0, math.floor(math.log10(target)) - 1)
    return int(math.ceil(round(target / step, 9)) * step)


def human(quantity: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(quantity) >= limit:
            return f"{quantity / limit:.2f}{suffix}"
    return f"{quantity:.3g}" if quantity else "0"


def format_estimate(priced: Estimate) -> list[str]:
    lines = [f"{priced.shape.label}:"]
    lines += [_row(line) for line in priced.lines]
    lines.append(f"  {'total per month':<70} {'':>22}  ${priced.total:>10,.2f}")
    return lines


def format_comparison(estimates: list[Estimate], config: Config, factor: float = 1.5) -> list[str]:
    width = max(len(priced.shape.label) for priced in estimates)
    lines = [f"{'shape':<{width}}  {'per month':>12}  {'per million events':>18}  {'suggested budget':>16}"]
    for priced in estimates:
        lines.append(
            f"{priced.shape.label:<{width}}  ${priced.total:>11,.2f}  ${priced.per_million_events:>17,.3f}"
            f"  ${suggested_budget(priced.total, factor):>15,}"
        )
    ours = estimates[-1]
    budget = suggested_budget(ours.total, factor)
    verdict = "covers" if config.budget.monthly_usd >= budget else "is BELOW"
    lines.append(
        f"budget.monthly_usd for {config.env} is ${config.budget.monthly_usd:,.0f}: it {verdict} the suggested "
        f"${budget:,} (cost × {factor:g}, rounded up) for {ours.shape.label}"
    )
    return lines


def format_outage(outage: OutageEstimate, config: Config) -> list[str]:
    design = parking_design(config)
    window_hours = config.queue.retry_window_seconds / SECONDS_PER_HOUR
    counts = outage.counts
    environments = config.mapping("consumer").maximum_concurrency
    per_minute = 60 / design.probe_interval_seconds
    lines = [
        f"a database outage of {outage.hours:g} h (retry window {window_hours:g} h; batches parked in S3 behind a "
        f"circuit breaker, one probe per {design.probe_interval_seconds} s per consumer environment):",
        f"  {human(counts.accepted)} events accepted during it are parked in {human(counts.parked_objects)} objects; "
        f"the store gets {human(counts.store_requests)} requests (at most {environments} environments × "
        f"{per_minute:g} a minute); {human(outage.dead_lettered)} outlast the window and are dead-lettered",
    ]
    lines += [_row(line) for line in outage.lines]
    lines.append(f"  {'added to the month':<70} {'':>22}  ${outage.total:>10,.2f}")
    return lines


def format_sinks(estimates: list[Estimate], configured: tuple[str, ...]) -> list[str]:
    """Each sink configuration side by side: the per-event lines that differ, and the totals."""
    batch = estimates[0].shape.events_per_request
    width = max(len(priced.shape.label) for priced in estimates)
    lines = [
        f"sink configurations, {batch} events per request:",
        f"  {'':<{width}}  {'per month':>12}  {'per million events':>18}",
    ]
    for priced in estimates:
        this = priced.shape.sinks == configured
        mark = "  ← this environment" if this else ""
        total, per_million = priced.total, priced.per_million_events
        lines.append(f"  {priced.shape.label:<{width}}  ${total:>11,.2f}  ${per_million:>17,.3f}{mark}")
    return lines


def _row(line: Line) -> str:
    quantity = f"{human(line.quantity)} {line.unit}"
    return f"  {line.service:<11} {line.item:<58} {quantity:>22}  ${line.usd:>10,.2f}"
