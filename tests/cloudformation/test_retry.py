"""The retry schedule (cloudformation/retry.py) and the consumer's reading of it (functions/consumer/backoff.py)."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudformation.config import load_config
from cloudformation.retry import (
    SQS_MAX_VISIBILITY_SECONDS,
    jitter_floor,
    max_delay_for,
    retry_schedule,
)
from cloudformation.synth import retries_line
from cloudformation.template import build_template
from functions.consumer.backoff import parse_backoff

schedules = st.builds(
    lambda window, timeout, batching, jitter: (window, 6 * timeout, max_delay_for(timeout, batching), jitter),
    window=st.integers(1, 14 * 24 * 3600),
    timeout=st.integers(1, 900),
    batching=st.integers(0, 300),
    jitter=st.integers(0, 50),
)


@settings(max_examples=300, deadline=None)
@given(inputs=schedules)
def test_the_schedule_reaches_the_window_with_its_derived_receive_count(inputs):
    # GIVEN any window, first delay (a visibility timeout), SQS-derived cap and jitter
    window, first, cap, jitter = inputs
    # WHEN the schedule is built
    schedule = retry_schedule(window, first, cap, jitter)
    # THEN even the shortest jittered delays reach the window by the last receive, and one delay fewer does not:
    # the last receive falls just after the window ends
    assert schedule.earliest_last_receive >= window
    assert sum(jitter_floor(delay, jitter) for delay in schedule.delays[:-1]) < window
    assert schedule.max_receive_count == len(schedule.delays) + 1
    # AND every delay is one SQS accepts, counted from the receive with the invocation's time taken off
    assert all(1 <= delay <= cap < SQS_MAX_VISIBILITY_SECONDS for delay in schedule.delays)
    # AND delays grow by doubling from the first (the last may be trimmed to end at the window)
    for earlier, later in zip(schedule.delays[:-2], schedule.delays[1:-1], strict=True):
        assert later == min(2 * earlier, cap) or earlier == cap


@settings(max_examples=200, deadline=None)
@given(inputs=schedules, seed=st.integers(0, 2**32 - 1))
def test_the_consumer_jitters_each_delay_within_its_bound(inputs, seed):
    # GIVEN a schedule as the template passes it to the consumer
    window, first, cap, jitter = inputs
    schedule = retry_schedule(window, first, cap, jitter)
    backoff = parse_backoff(schedule.env_value(), schedule.jitter_percent)
    rng = random.Random(seed)
    # WHEN the consumer picks the visibility of each failed receive
    picked = [backoff.visibility(receive, rng) for receive in range(1, schedule.max_receive_count + 1)]
    # THEN each lies within [delay - jitter %, delay], and the last receive sets none (redrive takes over)
    for delay, visibility in zip(schedule.delays, picked, strict=False):
        assert jitter_floor(delay, jitter) <= visibility <= delay
        assert visibility >= delay * (100 - jitter) / 100
    assert picked[-1] is None
    # AND both sides agree on the receive count and the shortest total wait
    assert backoff.max_receive_count == schedule.max_receive_count
    assert sum(p for p in picked if p is not None) >= window


def test_the_template_gives_the_consumer_the_schedule_its_redrive_policy_counts():
    for env in ("local", "prod"):
        # GIVEN an environment's configuration and template
        config = load_config(env)
        resources = build_template(config).to_dict()["Resources"]
        variables = resources["ConsumerFunction"]["Properties"]["Environment"]["Variables"]
        # WHEN the consumer reads its environment
        backoff = parse_backoff(variables["RETRY_SCHEDULE"], int(variables["RETRY_JITTER_PERCENT"]))
        # THEN it computes the configuration's schedule, whose receive count is the queue's maxReceiveCount
        assert backoff.delays == config.retry_schedule.delays
        redrive = resources["IngestQueue"]["Properties"]["RedrivePolicy"]
        assert backoff.max_receive_count == redrive["maxReceiveCount"] == config.max_receive_count


def test_prod_retries_for_24_hours_in_11_receives():
    # GIVEN / WHEN prod's defaults
    schedule = load_config("prod").retry_schedule
    # THEN events are retried at least 24 h and at most ~27 h, in 11 receives, no delay over 12 h
    assert schedule.earliest_last_receive >= 86_400
    assert schedule.latest_last_receive <= 27 * 3600
    assert schedule.max_receive_count == 11
    assert max(schedule.delays) < SQS_MAX_VISIBILITY_SECONDS


def test_synth_prints_the_window_and_the_schedule():
    # GIVEN / WHEN the local environment's retry line, as `invoke synth` prints it
    line = retries_line(load_config("local"))
    # THEN it names the window, every delay and the derived receive count
    assert line.startswith("retries: 120 s window; backoff 12 s, 24 s, 48 s, 47 s → 5 receives (maxReceiveCount)")
