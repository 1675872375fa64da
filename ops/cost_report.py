"""`invoke cost`: the whole report — each request shape, keyed requests, each sink configuration and an
outage's retries — priced from the environment's template and configuration (the model is ops/cost.py)."""

from __future__ import annotations

import dataclasses
import json

from cloudformation.config import Config
from cloudformation.synth import full_template
from cloudformation.template import render
from ops.cost import (
    Assumptions,
    Inventory,
    Prices,
    Workload,
    check_batch,
    estimate,
    format_comparison,
    format_estimate,
    format_outage,
    format_sinks,
    keyed_request_cost,
    outage_estimate,
    shapes,
    sink_shapes,
)
from ops.errors import OpsError


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
