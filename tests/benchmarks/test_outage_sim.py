"""The side-by-side outage model: today's retries against issue 26's parking, on prod's configuration. Every
assertion is on the model's outputs (counts and virtual time), never on how long the simulation took."""

from __future__ import annotations

import pytest

from benchmarks.outage_queue import Cohorts
from benchmarks.outage_sim import Cell, full_throughput_minutes, in_flight_bound, main, simulate
from benchmarks.outage_today import todays_schedule
from core.config import load_config
from ops.cost import Assumptions, Prices, Workload
from ops.outage_cost import outage_estimate
from ops.outage_model import drain_throughput

PROD = load_config("prod")
IN_FLIGHT_LIMIT = 120_000


def run(rate: int, hours: int, **options: int) -> Cell:
    [cell] = simulate(PROD, [rate], [hours], **options)
    return cell


def test_todays_schedule_is_the_one_the_replaced_design_deployed() -> None:
    # GIVEN prod's configuration WHEN the replaced design's backoff is built THEN it is the schedule it deployed (the
    # configuration docs' table before issue 26: 180 s doubling, capped at 12 h less the timeout and window)
    assert todays_schedule(PROD).delays == (180, 360, 720, 1440, 2880, 5760, 11520, 23040, 43169, 6929)
    assert todays_schedule(PROD).max_receive_count == 11


def test_the_in_flight_limit_is_the_one_given() -> None:
    # GIVEN a queue whose in-flight quota is 50,000 WHEN an hour at 100 events/s is simulated
    cell = run(100, 1, in_flight_limit=50_000)
    # THEN today's receives stop at it
    assert cell.today.in_flight_peak == 50_000


def test_one_hour_at_100_per_second_fills_todays_in_flight_limit_and_loses_nothing() -> None:
    # GIVEN a 1 h outage at 100 events/s WHEN simulated
    cell = run(100, 1)
    # THEN today's design reaches the in-flight limit (its receives stop there) but loses nothing within retention
    assert cell.today.accepted == 360_000
    assert cell.today.in_flight_peak == IN_FLIGHT_LIMIT
    assert cell.today.lost == 0 and cell.today.dead_lettered == 0
    assert cell.today.drain_seconds is not None
    # AND the new design holds only what the consumer works on, and drains too
    assert 0 < cell.new.in_flight_peak <= in_flight_bound(PROD)
    assert cell.new.lost == 0 and cell.new.drain_seconds is not None


def test_five_days_at_100_per_second_lose_events_today_and_none_with_parking() -> None:
    # GIVEN a 5-day outage at 100 events/s (retention 4 days, retry window 24 h) WHEN simulated
    cell = run(100, 120)
    # THEN today's design loses events the queue deleted unread: at most those accepted more than the retention
    # before recovery
    assert 0 < cell.today.lost <= 100 * (120 - 96) * 3600
    # AND the new design loses none: what outlasted the window is dead-lettered by the consumer (replayable), the
    # rest stored
    assert cell.new.lost == 0
    assert cell.new.drain_seconds is not None
    spent = 100 * (120 - 24) * 3600
    assert spent - 100 * 3600 <= cell.new.dead_lettered <= spent + 100 * 2 * 60


def test_pointed_events_stay_in_their_object_so_objects_never_grow_and_leave_soon_after_their_window() -> None:
    """An object is listed, and spent, by its newest event, and keeps its events until they leave it: the trickle's
    events, left in their object while the breaker is open, are dead-lettered with the object's own (docs/
    configuration.md, "Limits of the design": the cap makes a spent object wait a few runs)."""
    # GIVEN a 5-day outage at 100 events/s WHEN simulated
    cell = run(100, 120)
    # THEN no event is dead-lettered an hour after its window ended (merged objects made that a day)
    assert 0 < cell.new.dead_lettered_late_seconds < 3600
    # AND no parked object holds more than a batch: pointed objects never grow
    assert cell.new.largest_parked_object == 100


@pytest.mark.parametrize("rate", [10, 1000])
def test_the_new_designs_in_flight_peak_stays_within_its_bound(rate: int) -> None:
    # GIVEN an outage at a low and a high rate WHEN simulated
    cell = run(rate, 1)
    # THEN the new design never holds more in flight than the consumer's batches (plus one retrier batch)
    assert 0 < cell.new.in_flight_peak <= in_flight_bound(PROD)
    # AND the drain, a queue of pointers, keeps every environment busy with a full batch: the bound is reached
    mapping = PROD.mapping("consumer")
    assert cell.new.in_flight_peak == pytest.approx(mapping.maximum_concurrency * mapping.batch_size)


def test_store_requests_during_the_outage_do_not_depend_on_the_rate() -> None:
    # GIVEN 1 h outages at 10 and at 1,000 events/s WHEN simulated
    slow, fast = run(10, 1), run(1000, 1)
    # THEN the store gets the same requests from the new design: each environment's first failure, then a probe
    # every 30 s
    environments = PROD.mapping("consumer").maximum_concurrency
    assert slow.new.store_requests == fast.new.store_requests == environments * 3600 // 30
    # AND today's grow with the rate until its in-flight limit stops the receives
    assert slow.today.store_requests < fast.today.store_requests


def test_the_drain_runs_at_full_throughput_from_the_first_run_after_a_probe() -> None:
    """Issue 26's target: after a 24 h outage at 100 events/s the drain runs at the consumer's full throughput from
    the first minute after recovery (a batch of 100 pointers to objects of 100 events takes all 10,000)."""
    # GIVEN a 24 h outage at 100 events/s with prod's retrier WHEN simulated
    cell = run(100, 24)
    # THEN the run at recovery still reads the breaker open; a probe closes it, and the next run, a minute after
    # recovery, starts pointing
    assert cell.new.unpark_start_seconds == 60
    # AND every whole minute from then on stores at the consumer's full throughput on batches of pointers
    full, slowest = full_throughput_minutes(cell, PROD)
    assert full and slowest >= 0.95 * drain_throughput(PROD, Assumptions(), 100)
    # AND the backlog, 8.64 M events, is gone within the minute's start and its length at that throughput
    assert cell.new.drain_seconds is not None
    assert cell.new.drain_seconds <= 60 + 8_640_000 / slowest + 60


def test_a_depth_that_does_not_bridge_the_gap_between_runs_slows_the_drain() -> None:
    # GIVEN a retrier allowed 200 pointers in the queue: the consumer takes them in about 2 s of the 10 s between
    # two runs WHEN a 24 h outage at 100 events/s is simulated
    shallow = run(100, 24, unpark_queue_depth=200)
    # THEN the drain falls short of full throughput and takes longer than with prod's depth
    full, slowest = full_throughput_minutes(shallow, PROD)
    assert not full and slowest < 0.95 * drain_throughput(PROD, Assumptions(), 100)
    deep = run(100, 24)
    assert shallow.new.drain_seconds is not None and deep.new.drain_seconds is not None
    assert shallow.new.drain_seconds > deep.new.drain_seconds


def test_the_simulation_prices_the_new_design_as_invoke_cost_does() -> None:
    # GIVEN a 24 h outage at 100 events/s, simulated and in invoke cost's closed form
    cell = run(100, 24)
    prices = Prices.load()
    estimate = outage_estimate(PROD, prices, Workload(100, 1024, prices("meta", "hours_per_month")), 24.0)
    # THEN both price the same lines, to within what the drain's timing and the trickle add
    assert [line.item for line in cell.new.lines] == [line.item for line in estimate.lines]
    assert cell.new.cost == pytest.approx(estimate.total, rel=0.05)
    assert cell.new.store_requests == estimate.counts.store_requests


def test_cohorts_are_taken_oldest_first() -> None:
    # GIVEN messages added out of order
    cohorts: Cohorts[int] = Cohorts()
    cohorts.add(20, 5)
    cohorts.add(10, 3)
    cohorts.add(20, 1)
    # WHEN some are taken, then those up to a clock
    first = cohorts.take(4)
    expired = cohorts.take_while(lambda clock: clock <= 20)
    # THEN the oldest come first, a cohort may be split, and the count follows
    assert first == [(10, 3), (20, 1)]
    assert expired == [(20, 5)] and cohorts.total == 0 and cohorts.oldest() is None


def test_markdown_prints_one_row_per_cell_and_the_targets(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN one small cell WHEN printed as markdown
    status = main(["--rates", "10", "--hours", "1", "--markdown"])
    lines = capsys.readouterr().out.splitlines()
    # THEN a markdown table with the cell's row, and the targets it could check
    assert lines[0].startswith("| events/s | outage | accepted | in-flight peak")
    assert lines[2].startswith("| 10 | 1 h | 36.00k | ")
    assert lines[-1].startswith("targets met: ") and "not in this run" in lines[-1]
    assert status == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--rates", "ten"], "error: --rates: expected positive whole numbers separated by commas, got 'ten'"),
        (["--hours", "0"], "error: --hours: expected positive whole numbers separated by commas, got '0'"),
        (["--unpark-queue-depth", "1,2"], "error: --unpark-queue-depth: expected one positive whole number, got '1,2'"),
        (
            ["--step", "7"],
            "error: --step: expected a divisor of 30 s (the probe interval 30 s and the retrier's 60 s), got 7",
        ),
        (["--env", "nosuch"], "error: sluice.toml: no environment 'nosuch' (known: dev, local, prod)"),
    ],
)
def test_bad_input_is_one_line(arguments: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(arguments)
    assert str(stopped.value) == message
