"""MessageIndex: moto's list order and predicates, at a cost that does not grow with the queue's depth.

Time is passed in explicitly (ms), so nothing here waits or depends on the clock. The cost tests count
how many messages the index examines (`state_at` calls) instead of timing anything.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.sqs.models import Message

import local.emulation.fast_sqs.index as index_module
from local.emulation.fast_sqs.index import MessageIndex, State

NOW = 1_000_000.0
DEPTH = 10_000


def message(body: str, delayed_until: float = 0.0) -> Message:
    sent = Message(f"id-{body}", body)
    sent.delayed_until = delayed_until
    return sent


def in_flight_until(index: MessageIndex, held: Message, visible_at: float, now: float = NOW) -> None:
    """What a receive does: take it, move its deadline, file it again."""
    held.visible_at = visible_at
    index.place(held, now)


def drain(index: MessageIndex, now: float) -> list[str]:
    taken = []
    while (ready := index.take_ready(now)) is not None:
        taken.append(ready.body)
    return taken


@pytest.fixture
def examined(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Message]]:
    """The messages whose state the index evaluates, in order."""
    seen: list[Message] = []
    real = index_module.state_at

    def counting(message: Message, now: float) -> tuple[State, float]:
        seen.append(message)
        return real(message, now)

    monkeypatch.setattr(index_module, "state_at", counting)
    yield seen


def test_ready_messages_come_out_in_arrival_order_like_motos_list_scan() -> None:
    # GIVEN three messages, the oldest received and then visible again
    index = MessageIndex()
    first, second, third = message("a"), message("b"), message("c")
    for sent in (first, second, third):
        index.append(sent, NOW)
    assert index.take_ready(NOW) is first
    in_flight_until(index, first, visible_at=NOW + 1000)
    # WHEN its visibility timeout has passed
    later = NOW + 1001
    # THEN it comes out before the younger ones again, as in moto's list
    assert drain(index, later) == ["a", "b", "c"]


def test_states_follow_motos_predicates_at_the_boundaries() -> None:
    # GIVEN a message delayed until T and one in flight until T
    index = MessageIndex()
    delayed, held = message("delayed", delayed_until=NOW + 500), message("held")
    index.append(delayed, NOW)
    index.append(held, NOW)
    index.take_ready(NOW)
    in_flight_until(index, held, visible_at=NOW + 500)
    # WHEN asked exactly at T: moto's `delayed` is now < delayed_until, its `visible` is now > visible_at
    at_deadline = NOW + 500
    # THEN the delayed one is available and the one in flight is not yet
    assert index.count(State.READY, at_deadline) == 1
    assert index.count(State.IN_FLIGHT, at_deadline) == 1
    assert index.count(State.DELAYED, at_deadline) == 0
    assert drain(index, at_deadline) == ["delayed"]
    assert drain(index, at_deadline + 1) == ["held"]


def test_a_removed_or_re_added_message_leaves_no_live_entry_behind() -> None:
    # GIVEN a message removed while in flight (deleted, or moved to a DLQ that is the same queue)
    index = MessageIndex()
    sent = message("a")
    index.append(sent, NOW)
    index.take_ready(NOW)
    in_flight_until(index, sent, visible_at=NOW + 10)
    index.remove(sent)
    assert drain(index, NOW + 20) == []
    # WHEN it is added again
    index.append(sent, NOW + 20)
    # THEN it comes out once, not once per stale heap entry
    assert drain(index, NOW + 20) == ["a"]
    assert len(index) == 1


def test_every_receipt_handle_a_message_had_finds_it_until_it_is_removed() -> None:
    # GIVEN a message received twice (moto keeps the older handle valid)
    index = MessageIndex()
    sent = message("a")
    index.append(sent, NOW)
    sent.mark_received(visibility_timeout=0)
    index.note_handles(sent)
    older = sent.receipt_handle
    sent.mark_received(visibility_timeout=0)
    index.note_handles(sent)
    # WHEN / THEN both handles find it, and neither does once it is removed
    assert index.holder(older) is sent
    assert index.holder(sent.receipt_handle) is sent
    index.remove(sent)
    assert index.holder(older) is None


def test_receiving_from_a_deep_queue_examines_a_constant_number_of_messages(examined: list[Message]) -> None:
    # GIVEN 10,000 messages in flight and one available
    index = MessageIndex()
    for n in range(DEPTH):
        sent = message(f"held {n}")
        index.append(sent, NOW)
        index.take_ready(NOW)
        in_flight_until(index, sent, visible_at=NOW + 30_000)
    index.append(message("ready"), NOW)
    examined.clear()
    # WHEN a receive takes what is available and the counts are read
    assert drain(index, NOW + 1) == ["ready"]
    counts = [index.count(state, NOW + 1) for state in (State.READY, State.IN_FLIGHT, State.DELAYED)]
    # THEN the right answers came without looking at the messages in flight
    assert counts == [0, DEPTH, 0]
    assert examined == []


def test_visibility_expiry_costs_per_message_that_expires_not_per_message_held(examined: list[Message]) -> None:
    # GIVEN 10,000 messages in flight, 10 of which become visible first
    index = MessageIndex()
    for n in range(DEPTH):
        sent = message(f"m{n}")
        index.append(sent, NOW)
        index.take_ready(NOW)
        in_flight_until(index, sent, visible_at=NOW + (100 if n < 10 else 30_000))
    examined.clear()
    # WHEN a receive comes after the first 10 expired
    taken = drain(index, NOW + 101)
    # THEN it gets those 10, in order, having examined only them
    assert taken == [f"m{n}" for n in range(10)]
    assert {seen.body for seen in examined} == set(taken)


def test_stale_heap_entries_stay_within_the_compaction_slack_however_many_messages_left() -> None:
    # GIVEN an index through which many more messages than the slack pass: each received (a second heap entry,
    # the first now stale) with a deadline far ahead, then removed (its entry stale until that deadline)
    index = MessageIndex()
    for n in range(5 * index_module.COMPACTION_SLACK):
        passing = message(str(n))
        index.append(passing, NOW)
        assert index.take_ready(NOW) is passing
        in_flight_until(index, passing, visible_at=NOW + 43_200_000)
        index.remove(passing)
    # WHEN / THEN the heaps hold at most the slack: stale entries (and the messages in them) do not accumulate
    assert len(index) == 0
    assert index.heap_entries() <= index_module.COMPACTION_SLACK
