"""Database outages at AWS scale, side by side: TODAY's retries (backoff in flight) and issue 26's design (parked in
S3 behind a circuit breaker), on the configuration of `--env` (prod), for each rate × outage length.

Run: python -m benchmarks.outage_sim [--rates 10,100,1000] [--hours 1,24,120] [--markdown] [--env prod]
     [--in-flight-limit N] [--unpark-queue-depth N] [--step 10] [--event-bytes 1024]

A deterministic model in cohorts (benchmarks/outage_today.py, benchmarks/outage_parking.py), not a measurement:
the store fails for the outage, events keep arriving at the rate, and each design runs until every event
accepted before the store answered again is stored, dead-lettered or lost. Costs use `invoke cost`'s prices and
assumptions (ops/prices.toml, ops/cost.py; the new design's lines are ops/outage_cost.py's). The last line checks
the design's targets; the exit status is 1 when one is missed.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.outage_parking import simulate_parking
from benchmarks.outage_queue import DesignResult, Scenario, configured_in_flight_limit
from benchmarks.outage_today import simulate_today, todays_schedule
from core.config import Config, ConfigError, load_config
from functions.consumer.unparking import MAX_UNPARKED_EVENTS, READERS
from ops.cost import SQS_SEND_BATCH, Assumptions, Prices, Workload
from ops.cost_report import human
from ops.errors import OpsError
from ops.outage_model import (
    POINTERS_PER_ROUND,
    drain_throughput,
    events_per_batch,
    full_throughput,
    objects_taken,
    parking_design,
    pointer_batch_seconds,
    pointer_milliseconds,
    pointer_round_seconds,
)

FULL_THROUGHPUT_SHARE = 0.95  # a drain minute counts as full throughput from this share of the consumer's
THROUGHPUT_CHECK = (100, 24)  # the cell whose drain must run at full throughput: 100 events/s, 24 h


@dataclass(frozen=True)
class Cell:
    rate: int
    hours: int
    today: DesignResult
    new: DesignResult


def simulate(
    config: Config,
    rates: Sequence[int],
    hours: Sequence[int],
    *,
    step: int = 10,
    in_flight_limit: int | None = None,
    unpark_queue_depth: int | None = None,
    event_bytes: int = 1024,
) -> list[Cell]:
    prices, assume = Prices.load(), Assumptions()
    limit = in_flight_limit or configured_in_flight_limit(config)
    cells = []
    for rate in rates:
        workload = Workload(rate, event_bytes, prices("meta", "hours_per_month"))
        for length in hours:
            scenario = Scenario(rate, length * 3600, step_seconds=step, in_flight_limit=limit)
            today = simulate_today(config, scenario, assume, prices, workload)
            new = simulate_parking(config, scenario, assume, prices, workload, unpark_queue_depth)
            cells.append(Cell(rate, length, today, new))
    return cells


def in_flight_bound(config: Config) -> int:
    """What the new design may hold in flight: the consumer's batches at maximum concurrency, plus one
    SendMessageBatch of the retrier (the margin issue 26 allows)."""
    mapping = config.mapping("consumer")
    return mapping.maximum_concurrency * mapping.batch_size + SQS_SEND_BATCH


def cell_drain_throughput(config: Config, rate: int) -> float:
    """The consumer's full throughput on the cell's pointers: objects as full as the rate made its batches."""
    return drain_throughput(config, Assumptions(), events_per_batch(config, rate))


def full_throughput_minutes(cell: Cell, config: Config) -> tuple[bool, float]:
    """Whether the new design's pointing starts within a probe interval and a retrier interval of recovery (the run
    at recovery may still see the breaker open: a probe closes it, the next run points) and then stores at the
    consumer's full throughput in every whole minute until the backlog is gone; and its slowest such minute in
    events/s."""
    result = cell.new
    design = parking_design(config)
    if result.drain_seconds is None or result.unpark_start_seconds is None:
        return False, 0.0
    in_time = result.unpark_start_seconds <= design.probe_interval_seconds + design.retrier_interval_seconds
    first, last = math.ceil(result.unpark_start_seconds / 60), result.drain_seconds // 60
    minutes = result.stored_per_minute[first:last]
    target = cell_drain_throughput(config, cell.rate)
    if not minutes:
        return in_time, target
    slowest = min(minutes) / 60
    return in_time and slowest >= FULL_THROUGHPUT_SHARE * target, slowest


def check_targets(cells: list[Cell], config: Config) -> tuple[bool, str]:
    bound = in_flight_bound(config)
    in_flight_ok = all(cell.new.in_flight_peak <= bound for cell in cells)
    lost_ok = all(cell.new.lost == 0 for cell in cells)
    parts = [
        f"new in-flight peak ≤ {bound:,} in every cell: {'yes' if in_flight_ok else 'NO'}",
        f"new design loses 0 in every cell: {'yes' if lost_ok else 'NO'}",
    ]
    ok = in_flight_ok and lost_ok
    rate, hours = THROUGHPUT_CHECK
    cell = next((cell for cell in cells if (cell.rate, cell.hours) == THROUGHPUT_CHECK), None)
    if cell is None:
        parts.append(f"drain at full throughput after {hours} h at {rate} events/s: not in this run")
    else:
        design = parking_design(config)
        full, slowest = full_throughput_minutes(cell, config)
        start = cell.new.unpark_start_seconds
        began = "never" if start is None else f"{start} s after recovery"
        parts.append(
            f"after {hours} h at {rate} events/s the drain runs at the consumer's full throughput from the first "
            f"minute after recovery (the run at recovery reads the breaker open, a probe closes it, the next run "
            f"points: pointing began {began}, at most {design.probe_interval_seconds + design.retrier_interval_seconds}"
            f" s; every whole minute from then on stores ≥ {FULL_THROUGHPUT_SHARE:.0%} of the consumer's "
            f"{cell_drain_throughput(config, rate):,.0f} events/s on pointers, the slowest {slowest:,.0f}): "
            f"{'yes' if full else 'NO'}"
        )
        ok = ok and full
    return ok, f"targets {'met' if ok else 'MISSED'}: " + "; ".join(parts)


def duration(seconds: int | None, most: int) -> str:
    if seconds is None:
        return f"> {most / 86_400:g} d"
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds} s"


def ratio(today: float, new: float) -> str:
    """today / new, when both have something to compare."""
    if not new or not today:
        return "-"
    value = today / new
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def rows(cell: Cell, limit: int, most_drain: int) -> list[tuple[str, str, str, str]]:
    today, new = cell.today, cell.new
    drain_today = today.drain_seconds if today.drain_seconds is not None else math.inf
    drain_new = new.drain_seconds if new.drain_seconds is not None else math.inf
    return [
        (f"in-flight peak (limit {limit:,})", f"{today.in_flight_peak:,.0f}", f"{new.in_flight_peak:,.0f}",
         ratio(today.in_flight_peak, new.in_flight_peak)),
        ("lost to retention", f"{today.lost:,}", f"{new.lost:,}", "-"),
        ("dead-lettered", f"{today.dead_lettered:,}", f"{new.dead_lettered:,}",
         ratio(today.dead_lettered, new.dead_lettered)),
        ("DB requests during the outage", f"{today.store_requests:,}", f"{new.store_requests:,}",
         ratio(today.store_requests, new.store_requests)),
        ("time to drain after recovery", duration(today.drain_seconds, most_drain),
         duration(new.drain_seconds, most_drain),
         ratio(drain_today, drain_new) if math.isfinite(drain_today + drain_new) else "-"),
        ("cost of the outage", f"${today.cost:,.2f}", f"${new.cost:,.2f}", ratio(today.cost, new.cost)),
    ]  # fmt: skip


def text_table(cells: list[Cell], limit: int, most_drain: int) -> list[str]:
    lines = []
    for cell in cells:
        lines += [
            "",
            f"{cell.rate:,} events/s, outage {cell.hours} h ({human(cell.today.accepted)} events accepted during it)",
        ]
        lines.append(f"  {'':<34}{'today':>14}{'new':>14}{'today/new':>12}")
        lines += [
            f"  {label:<34}{old:>14}{new:>14}{factor:>12}" for label, old, new, factor in rows(cell, limit, most_drain)
        ]
    return lines


def markdown_table(cells: list[Cell], limit: int, most_drain: int) -> list[str]:
    labels = [label for label, *_ in rows(cells[0], limit, most_drain)] if cells else []
    lines = [
        "| events/s | outage | accepted | " + " | ".join(f"{label}: today / new" for label in labels) + " |",
        "|---:|---:|---:|" + "---|" * len(labels),
    ]
    for cell in cells:
        values = [
            f"{old} / {new}" + (f" (×{factor})" if factor != "-" else "")
            for _, old, new, factor in rows(cell, limit, most_drain)
        ]
        lines.append(f"| {cell.rate:,} | {cell.hours} h | {human(cell.today.accepted)} | " + " | ".join(values) + " |")
    return lines


def assumptions(config: Config, limit: int, depth: int | None, event_bytes: int, cells: list[Cell]) -> list[str]:
    """What the figures rest on, one line each, and what the new design did beyond the table."""
    return [
        consumer_note(config, limit, event_bytes),
        today_note(config),
        parking_note(config, depth),
        objects_note(cells),
        price_note(Prices.load()),
    ]


def consumer_note(config: Config, limit: int, event_bytes: int) -> str:
    mapping = config.mapping("consumer")
    storing = full_throughput(config, Assumptions())
    batch_ms = mapping.maximum_concurrency * mapping.batch_size / storing * 1000
    return (
        f"configuration {config.env}: the consumer stores {storing:,.0f} events/s at full throughput "
        f"({mapping.maximum_concurrency} environments × {mapping.batch_size} events per {batch_ms:.0f} ms batch: "
        f"ops/cost.py's assumed call times; the table is assumed to take it, though an on-demand table may throttle "
        f"above twice its previous peak); in-flight limit {limit:,}; retention "
        f"{config.queue.retention_seconds / 3600:g} h; retry window {config.queue.retry_window_seconds / 3600:g} h; "
        f"{event_bytes} B events"
    )


def today_note(config: Config) -> str:
    schedule = todays_schedule(config)
    return (
        f"today: backoff {', '.join(str(delay) for delay in schedule.delays)} s (each jittered down by up to "
        f"{schedule.jitter_percent} %: the mean is used) → {schedule.max_receive_count} receives; receives take the "
        "oldest visible messages first"
    )


def parking_note(config: Config, depth: int | None) -> str:
    """The new design's settings, and the drain they make: the consumer's throughput on batches of pointers."""
    assume = Assumptions()
    mapping = config.mapping("consumer")
    design = parking_design(config)
    depth = depth or design.unpark_queue_depth
    per_object = float(mapping.batch_size)
    batch = pointer_batch_seconds(config, assume, per_object)
    taken = objects_taken(mapping.batch_size, per_object)
    records_ms = mapping.batch_size * assume.consumer_per_record_ms
    s3_seconds = (pointer_milliseconds(assume, mapping.batch_size, taken) - records_ms) / 1000
    draining = drain_throughput(config, assume, per_object)
    round_seconds = pointer_round_seconds(assume)
    gap = design.retrier_interval_seconds - design.retrier_run_seconds
    bridged = depth * taken / mapping.batch_size * per_object / draining
    return (
        f"new: a probe per {design.probe_interval_seconds} s per environment; the retrier runs every "
        f"{design.retrier_interval_seconds} s for up to {design.retrier_run_seconds} s and sends a pointer per parked "
        f"object ({SQS_SEND_BATCH} per SendMessageBatch, {POINTERS_PER_ROUND} per GetQueueAttributes: "
        f"{round_seconds * 1000:.0f} ms a round, up to {POINTERS_PER_ROUND / round_seconds:,.0f} pointers/s) while "
        f"fewer than {depth:,} messages are visible; a batch of {mapping.batch_size} pointers to objects of "
        f"{per_object:g} events takes the events of {taken} of them (at most {MAX_UNPARKED_EVENTS:,} a batch: the "
        f"other objects stay parked until the retrier's next run lists them) in {batch:.1f} s of its "
        f"{config.functions['consumer'].timeout_seconds} s timeout ({s3_seconds:.2f} s of it the GETs, {READERS} side "
        f"by side, and a DELETE per emptied object, one after the other), so it drains {draining:,.0f} events/s "
        f"with every environment busy, and {depth:,} pointers last it {bridged:.1f} s (the runs leave {gap} s "
        "between them)"
    )


def objects_note(cells: list[Cell]) -> str:
    """What the table does not show: how large parked objects get (they never grow), and how long after its
    window an event waits to be dead-lettered."""
    largest = max((cell.new.largest_parked_object for cell in cells), default=0.0)
    late = max((cell.new.dead_lettered_late_seconds for cell in cells), default=0)
    return (
        f"new, in these cells: the largest parked object held {largest:,.0f} events (a batch's; a pointed "
        f"object only loses events); the latest dead letter left {duration(late, late)} after its retry window "
        "ended (an object is listed, and spent, by its newest event, and listed at the retrier's next run)"
    )


def price_note(prices: Prices) -> str:
    """The unit prices the costs rest on."""
    lines = {
        "SQS": f"{dollars(prices('sqs', 'standard_requests_per_million'))} per million requests",
        "S3": f"PUT and LIST {dollars(prices('s3', 'put_requests_per_thousand'))}, GET "
        f"{dollars(prices('s3', 'get_requests_per_thousand'))}, DELETE "
        f"{dollars(prices('s3', 'delete_requests_per_thousand'))} per 1,000",
        "Lambda": f"{dollars(prices('lambda', 'requests_per_million'))} per million requests + "
        f"{dollars(prices('lambda', 'arm64_gb_second'))} per GB-s (arm64)",
        "DynamoDB": "bills no request units for failed calls",
    }
    where = f"{prices.text('meta', 'region')} list prices as of {prices.text('meta', 'as_of')} (ops/prices.toml)"
    return f"prices: {where}: " + "; ".join(f"{service} {terms}" for service, terms in lines.items())


def dollars(value: float) -> str:
    """$0.40, $0.005, $0.0000133334: every digit the price table gives, at least cents."""
    digits = f"{value:.10f}".rstrip("0")
    whole, _, fraction = digits.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def _numbers(option: str, text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or any(value <= 0 for value in values):
        raise SystemExit(f"error: --{option}: expected positive whole numbers separated by commas, got {text!r}")
    return values


def _number(option: str, text: str) -> int:
    value = int(text) if text.isascii() and text.isdigit() else 0
    if value <= 0:
        raise SystemExit(f"error: --{option}: expected one positive whole number, got {text!r}")
    return value


def _check_step(step: int, config: Config) -> None:
    """Probes and retrier runs happen on step boundaries: the step must divide both intervals."""
    design = parking_design(config)
    intervals = math.gcd(design.probe_interval_seconds, design.retrier_interval_seconds)
    if intervals % step:
        raise SystemExit(
            f"error: --step: expected a divisor of {intervals} s (the probe interval "
            f"{design.probe_interval_seconds} s and the retrier's {design.retrier_interval_seconds} s), got {step}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rates", default="10,100,1000", help="events per second (default 10,100,1000)")
    parser.add_argument("--hours", default="1,24,120", help="outage lengths in hours (default 1,24,120)")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown (for the docs)")
    parser.add_argument("--env", default="prod", help="the configuration to simulate (default prod)")
    parser.add_argument("--in-flight-limit", default="", help="SQS's in-flight quota (default: the configuration's)")
    parser.add_argument(
        "--unpark-queue-depth", default="", help="the retrier points while fewer messages are visible (default: config)"
    )
    parser.add_argument("--step", default="10", help="seconds per simulated step (default 10)")
    parser.add_argument("--event-bytes", default="1024", help="bytes per event, as `invoke cost` (default 1024)")
    arguments = parser.parse_args(argv)
    rates, hours = _numbers("rates", arguments.rates), _numbers("hours", arguments.hours)
    step = _number("step", arguments.step)
    event_bytes = _number("event-bytes", arguments.event_bytes)
    limit_given = _number("in-flight-limit", arguments.in_flight_limit) if arguments.in_flight_limit else None
    depth = _number("unpark-queue-depth", arguments.unpark_queue_depth) if arguments.unpark_queue_depth else None
    try:
        config = load_config(arguments.env)
        _check_step(step, config)
        cells = simulate(
            config,
            rates,
            hours,
            step=step,
            in_flight_limit=limit_given,
            unpark_queue_depth=depth,
            event_bytes=event_bytes,
        )
    except (ConfigError, OpsError) as error:
        raise SystemExit(f"error: {error}") from None
    limit = limit_given or configured_in_flight_limit(config)
    most_drain = Scenario(1, 0).max_drain_seconds
    ok, verdict = check_targets(cells, config)
    notes = assumptions(config, limit, depth, event_bytes, cells)
    if arguments.markdown:
        print("\n".join([*markdown_table(cells, limit, most_drain), "", *(f"- {note}" for note in notes), "", verdict]))
    else:
        title = (
            "Database outages: retries kept in flight (backoff, the old design) beside parking in S3 behind a breaker"
        )
        print("\n".join([title, *notes, *text_table(cells, limit, most_drain), "", verdict]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
