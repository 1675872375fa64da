"""A message that leaves an indexed queue leaves nothing behind: a long local run does not grow moto server.

moto keeps every message object it ever made (its register of model instances, for its dashboard) and every
deleted message's receipt handles (~270 bytes a message), and the index kept a left message in its heaps until
its old visibility deadline came round (up to 12 hours of ChangeMessageVisibility).
Each test sends, receives and gets rid of ROUNDS × MESSAGES messages one way (DeleteMessage,
DeleteMessageBatch, the redrive policy's move to the dead-letter queue and delete there, purge) and requires what the
queues hold after the last round to be what they held after the first, and every message object to be gone.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto.core.common_models import BaseModel
from moto.sqs.models import Message

import local.emulation.fast_sqs.index as index_module
from local.emulation import instances as moto_instances
from local.emulation.fast_sqs.backend import IndexedQueue, IndexedSQSBackend
from local.emulation.fast_sqs.deleted import RecentHandles

MESSAGES = 100
ROUNDS = 3
REMEMBERED = 50  # deleted handles a queue remembers here: fewer than one round's messages, so the bound shows
LONG_BACKOFF_SECONDS = 43_000  # a consumer's backoff just under SQS's 12-hour ceiling: a deadline no test reaches
QUEUE = "forgets"
DEAD_LETTERS = "forgets-dlq"


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[IndexedSQSBackend]:
    monkeypatch.setattr(IndexedQueue, "deleted_handles_remembered", REMEMBERED)
    # As local.emulation.server runs: moto's register of every model instance holds them weakly
    # (local/emulation/instances.py)
    monkeypatch.setattr(BaseModel, "__new__", moto_instances._new_weakly_tracked)
    # No slack: the heaps are rebuilt as soon as stale entries outnumber live ones, so the bound is exact here
    # (the server leaves at most COMPACTION_SLACK stale entries: test_fast_sqs_index.py)
    monkeypatch.setattr(index_module, "COMPACTION_SLACK", 0)
    # moto refuses a second purge within 60 s unless told not to (moto/settings.py)
    monkeypatch.setenv("MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR", "false")
    sqs = IndexedSQSBackend(region_name="us-east-1", account_id="123456789012")
    dead_letters = sqs.create_queue(DEAD_LETTERS, VisibilityTimeout="300")
    queue = sqs.create_queue(QUEUE, VisibilityTimeout="300")
    # What a RedrivePolicy attribute sets up; moto looks the DLQ up in its global registry, which this
    # backend (made here, not through the registry) is not in.
    queue.redrive_policy = {"deadLetterTargetArn": dead_letters.queue_arn, "maxReceiveCount": 1}
    queue.dead_letter_queue = dead_letters
    yield sqs
    sqs.reset()


def held(sqs: IndexedSQSBackend) -> dict[str, int]:
    """Everything the queues keep that grows with the messages they saw."""
    sizes: dict[str, int] = {}
    for name in (QUEUE, DEAD_LETTERS):
        queue = sqs.get_queue(name)
        assert isinstance(queue, IndexedQueue)
        index: Any = queue._messages
        sizes |= {
            f"{name} messages": len(index),
            f"{name} heap entries": index.heap_entries(),
            f"{name} indexed handles": len(index._by_handle),
            f"{name} pending": len(queue.pending_messages),
            f"{name} deleted handles": len(queue.deleted_messages),
        }
    return sizes


def send(sqs: IndexedSQSBackend, alive: list[weakref.ref[Message]]) -> None:
    for n in range(MESSAGES):
        alive.append(weakref.ref(sqs.send_message(QUEUE, f"event {n}")))


def receive_all(sqs: IndexedSQSBackend, queue: str = QUEUE) -> list[Message]:
    received: list[Message] = []
    for _ in range(MESSAGES):  # bounded: each pass takes up to ten
        batch = sqs.receive_message(queue, 10, 0, 300)
        if not batch:
            break
        received.extend(batch)
    return received


def delete_each(sqs: IndexedSQSBackend) -> None:
    for message in receive_all(sqs):
        assert message.receipt_handle is not None
        sqs.delete_message(QUEUE, message.receipt_handle)


def delete_in_batches(sqs: IndexedSQSBackend) -> None:
    received = receive_all(sqs)
    for start in range(0, len(received), 10):
        batch = received[start : start + 10]
        entries = [{"Id": str(n), "ReceiptHandle": message.receipt_handle} for n, message in enumerate(batch)]
        _, errors = sqs.delete_message_batch(QUEUE, entries)
        assert errors == []


def back_off_then_delete(sqs: IndexedSQSBackend) -> None:
    """The consumer's retry: a long ChangeMessageVisibility, then the delete once the store answers."""
    received = receive_all(sqs)
    for message in received:
        assert message.receipt_handle is not None
        sqs.change_message_visibility(QUEUE, message.receipt_handle, LONG_BACKOFF_SECONDS)
    for message in received:
        assert message.receipt_handle is not None
        sqs.delete_message(QUEUE, message.receipt_handle)


def redrive_then_delete_from_the_dead_letter_queue(sqs: IndexedSQSBackend) -> None:
    for message in receive_all(sqs):  # the first receive spends the one receive allowed
        assert message.receipt_handle is not None
        sqs.change_message_visibility(QUEUE, message.receipt_handle, 0)
    assert receive_all(sqs) == []  # the second moves every message to the dead-letter queue
    for message in receive_all(sqs, DEAD_LETTERS):
        assert message.receipt_handle is not None
        sqs.delete_message(DEAD_LETTERS, message.receipt_handle)


def purge_in_flight(sqs: IndexedSQSBackend) -> None:
    receive_all(sqs)
    sqs.purge_queue(QUEUE)


LEAVING: dict[str, Callable[[IndexedSQSBackend], None]] = {
    "DeleteMessage": delete_each,
    "DeleteMessageBatch": delete_in_batches,
    "backoff then DeleteMessage": back_off_then_delete,
    "the redrive policy's move, then DeleteMessage on the DLQ": redrive_then_delete_from_the_dead_letter_queue,
    "PurgeQueue with messages in flight": purge_in_flight,
}


@pytest.mark.parametrize("leave", LEAVING.values(), ids=LEAVING.keys())
def test_messages_that_left_leave_nothing_behind(
    backend: IndexedSQSBackend, leave: Callable[[IndexedSQSBackend], None]
) -> None:
    # GIVEN a queue (with a dead-letter queue) after one round of MESSAGES sent, received and gotten rid of
    alive: list[weakref.ref[Message]] = []
    send(backend, alive)
    leave(backend)
    baseline = held(backend)
    # WHEN two more rounds go through the same way
    for _ in range(ROUNDS - 1):
        send(backend, alive)
        leave(backend)
    # THEN the queues hold what they held after the first round: no message, no stale entry, at most the
    # REMEMBERED most recent deleted handles; and no message object is kept alive by anything
    assert held(backend) == baseline
    assert all(size <= REMEMBERED for size in baseline.values())
    gc.collect()
    assert sum(ref() is not None for ref in alive) == 0


def test_the_most_recently_deleted_handles_still_delete_and_older_ones_are_forgotten(
    backend: IndexedSQSBackend,
) -> None:
    # GIVEN more messages deleted than a queue remembers
    alive: list[weakref.ref[Message]] = []
    send(backend, alive)
    handles = []
    for message in receive_all(backend):
        assert message.receipt_handle is not None
        handles.append(message.receipt_handle)
        backend.delete_message(QUEUE, message.receipt_handle)
    # WHEN a client deletes again with the last handle (a retried delete) THEN it succeeds, as on SQS and moto
    backend.delete_message(QUEUE, handles[-1])
    # AND the queue remembers exactly the REMEMBERED most recent handles
    remembered = backend.get_queue(QUEUE).deleted_messages
    assert isinstance(remembered, RecentHandles)
    assert list(remembered) == handles[-REMEMBERED:]


def test_recent_handles_refuse_a_limit_below_one() -> None:
    # GIVEN / WHEN a limit that could remember nothing THEN it says so in one line
    with pytest.raises(ValueError, match="remember at least one deleted handle, got 0"):
        RecentHandles(0)
