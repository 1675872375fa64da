"""The consumer's circuit breaker: store calls while it fails are bounded by one probe per interval."""

from functions.consumer.breaker import Breaker, Transition


def test_a_closed_breaker_lets_every_batch_through() -> None:
    # GIVEN a new breaker WHEN batches succeed THEN each may call the store and nothing changes
    breaker = Breaker(30, clock=lambda: 0.0)
    assert all(breaker.allows_store() for _ in range(5))
    assert breaker.record(stored_all=True) is Transition.NONE and not breaker.is_open


def test_an_open_breaker_allows_one_probe_per_interval() -> None:
    # GIVEN a breaker that just saw the store fail
    now = [100.0]
    breaker = Breaker(30, clock=lambda: now[0])
    assert breaker.record(stored_all=False) is Transition.OPENED

    # WHEN batches keep arriving every second for two minutes
    allowed = 0
    for _ in range(120):
        now[0] += 1
        if breaker.allows_store():
            allowed += 1
            assert breaker.record(stored_all=False) is Transition.NONE  # the probe failed: still open

    # THEN the store was called once per 30 s interval, not once per batch
    assert allowed == 4


def test_a_probe_that_succeeds_closes_the_breaker() -> None:
    # GIVEN an open breaker whose probe is due
    now = [0.0]
    breaker = Breaker(5, clock=lambda: now[0])
    breaker.record(stored_all=False)
    now[0] = 5.0

    # WHEN the probe batch is stored THEN the breaker closes and every batch may call the store again
    assert breaker.allows_store()
    assert breaker.record(stored_all=True) is Transition.CLOSED
    assert breaker.allows_store() and breaker.allows_store()
