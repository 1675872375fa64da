"""`invoke capacity`: the capacity model (ops/capacity.py) as a table, the bottleneck and its monthly cost, or JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from cloudformation.template import render
from core.config import Config
from ops.capacity import Capacity, StageCapacity
from ops.cost import Inventory, Prices, Shape, Workload, estimate, sink_label
from synth.synthesize import full_template


@dataclass(frozen=True)
class CostLine:
    events_per_second: float
    events_per_request: int  # ops/cost.py prices whole events per request
    monthly_usd: float
    per_million_usd: float
    hours_per_month: float

    def describe(self, config: Config) -> str:
        return (
            f"cost at that rate: ${self.monthly_usd:,.0f} per {self.hours_per_month:g}-hour month "
            f"(${self.per_million_usd:,.2f} per million events; sinks {sink_label(config.sinks)}, "
            f"{self.events_per_request} event(s) per request; `invoke cost --rate {self.events_per_second:.0f}` "
            "itemises it)"
        )


def cost_at(config: Config, capacity: Capacity, prices: Prices | None = None) -> CostLine:
    """The monthly cost of the whole stack at the bottleneck's rate, by ops/cost.py."""
    prices = prices or Prices.load()
    rate = capacity.bottleneck.events_per_second
    per_request = max(1, round(capacity.traffic.events_per_request))
    workload = Workload(rate, capacity.traffic.event_bytes, prices("meta", "hours_per_month"))
    shape = Shape(f"{per_request} event(s) per request", per_request, sinks=config.sinks)
    inventory = Inventory.from_template(json.loads(render(full_template(config))))
    priced = estimate(config, prices, workload, shape, inventory)
    return CostLine(rate, per_request, priced.total, priced.per_million_events, workload.hours_per_month)


def bottleneck_line(stage: StageCapacity) -> str:
    return (
        f"bottleneck: {stage.stage} at {stage.events_per_second:,.0f} events/s = "
        f"{stage.requests_per_second:,.1f} requests/s ({stage.why})"
    )


def capacity_lines(config: Config, capacity: Capacity, cost: CostLine, notes: tuple[str, ...] = ()) -> list[str]:
    traffic, durations = capacity.traffic, capacity.durations
    lines = [
        f"Capacity of {config.stack_name} ({'the local stack' if config.is_local else config.region}): events of "
        f"{traffic.event_bytes} B, {traffic.events_per_request:g} event(s) per request",
        f"durations: ingest {durations.ingest_ms:g} ms per request ({durations.ingest_source})",
        f"           consumer {durations.consumer_batch_ms:g} ms per batch ({durations.consumer_source})",
        "",
        f"{'stage':<24} {'events/s':>12} {'requests/s':>12}  why",
    ]
    for stage in capacity.stages:
        lines.append(
            f"{stage.stage:<24} {stage.events_per_second:>12,.0f} {stage.requests_per_second:>12,.1f}  {stage.why}"
        )
        lines.append(f"{'':<24} source: {stage.source}")
    lines += ["", bottleneck_line(capacity.bottleneck), cost.describe(config)]
    if capacity.quotas is None:
        lines.append("local: only the local stack's own limits (no account quotas, no table limits in moto)")
    else:
        defaults = [name for name, fact in capacity.quotas.facts().items() if fact.default]
        lines.append(f"AWS's published defaults (not read from the account): {', '.join(defaults) or 'none'}")
    lines += [f"note: {note}" for note in notes]
    return lines


def capacity_json(config: Config, capacity: Capacity, cost: CostLine, notes: tuple[str, ...] = ()) -> str:
    document: dict[str, Any] = {
        "env": config.env,
        "stack": config.stack_name,
        "traffic": dataclasses.asdict(capacity.traffic),
        "durations": dataclasses.asdict(capacity.durations),
        "stages": [dataclasses.asdict(stage) for stage in capacity.stages],
        "bottleneck": dataclasses.asdict(capacity.bottleneck),
        "cost": dataclasses.asdict(cost),
        "quotas": None
        if capacity.quotas is None
        else {name: dataclasses.asdict(fact) for name, fact in capacity.quotas.facts().items()},
        "notes": list(notes),
    }
    return json.dumps(document, indent=2, sort_keys=True)
