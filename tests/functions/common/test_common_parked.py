"""The parked-events format: keys sort in the order the events' windows end; objects read back as written."""

import random

from functions.common.parked import (
    ParkedEvent,
    breaker_document,
    breaker_is_open,
    key_retry_since_ms,
    parked_key,
    read_parked,
    write_parked,
)


def test_keys_sort_in_retry_clock_order_and_give_their_clock_back() -> None:
    # GIVEN clocks from 2001 to 2286, shuffled
    clocks = [1_000_000_000_000 + step * 7_919_777_123 for step in range(1000)]
    shuffled = random.Random(1).sample(clocks, len(clocks))

    # WHEN each becomes a key
    keys = [parked_key(clock, f"obj{index}") for index, clock in enumerate(shuffled)]

    # THEN sorting the keys (S3 lists in UTF-8 binary order) sorts the clocks, and each key reads back its clock
    assert [key_retry_since_ms(key) for key in sorted(keys)] == sorted(clocks)


def test_a_key_that_is_not_a_parked_key_has_no_clock() -> None:
    assert key_retry_since_ms("parked/breaker.json") is None
    assert key_retry_since_ms("parked/events/garbage") is None


def test_objects_read_back_as_written_with_unicode_line_separators() -> None:
    # GIVEN events whose bodies hold a U+2028 and a newline inside JSON strings
    events = [ParkedEvent('{"a":"x\u2028y"}', 1, "m1"), ParkedEvent('{"b":"line\\nbreak"}', 2, "m2")]
    # WHEN written and read THEN they are the same events
    assert read_parked(write_parked(events)) == events


def test_the_breaker_document_says_open_only_when_it_says_so_and_only_while_fresh() -> None:
    # GIVEN documents written at t = 1,000 ms
    opened, closed = breaker_document(True, 1_000), breaker_document(False, 1_000)
    # THEN open is open and closed is closed; unreadable counts as closed
    assert breaker_is_open(opened) is True and breaker_is_open(closed) is False
    assert breaker_is_open(b"not json") is False
    # AND an open one counts only while it is fresher than asked: an idle environment's stale word holds nothing back
    assert breaker_is_open(opened, now_ms=5_000, fresh_ms=6_000) is True
    assert breaker_is_open(opened, now_ms=7_000, fresh_ms=6_000) is False
