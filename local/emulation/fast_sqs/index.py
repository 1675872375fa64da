"""A standard queue's messages, indexed so that no operation's cost grows with the queue's depth.

moto keeps a queue's messages in one list and answers every question by scanning it. This index
keeps the same messages in the same order (the order they were added) and answers the same
questions — which messages are available, in what order, who holds this receipt handle, how many
are delayed or in flight — in O(log n) amortised:

- each message is in exactly one state at a time: DELAYED (until `delayed_until`), IN_FLIGHT (until
  `visible_at`) or READY; a message waiting on a deadline sits in a heap keyed by that deadline and
  moves to READY when a caller asks at a later time (`_promote`);
- READY messages sit in a heap keyed by their order of arrival, so they come out oldest first, the
  order moto's list scan yields them;
- heap entries are never removed in place: each placement gets a fresh token and an entry whose
  token is no longer the message's is skipped when it surfaces (lazy deletion); when stale entries
  outnumber live ones the heaps are rebuilt without them, so a deleted message (and its body) is not
  held until its old deadline — up to 12 hours of visibility — comes round;
- every receipt handle a message ever had maps to it, as moto accepts any of them.

The predicates are moto's own (`Message.delayed`: now < delayed_until; `Message.visible`:
now > visible_at), evaluated at one `now` per call. The index holds no lock: its queue does.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from moto.core.utils import unix_time_millis
from moto.sqs.models import Message

# Rebuild the heaps once they hold more than twice as many entries as there are messages, plus this slack
# (so a near-empty queue is not rebuilt at every removal): amortised O(1) per entry, memory O(messages).
COMPACTION_SLACK = 1024


class State(enum.Enum):
    DELAYED = "delayed"
    IN_FLIGHT = "in flight"
    READY = "ready"
    TAKEN = "taken"  # handed to a receive that will place or remove it before it returns


@dataclass
class _Slot:
    seq: int  # order of arrival in this queue
    token: int  # the placement whose heap entry is current
    state: State


def state_at(message: Message, now: float) -> tuple[State, float]:
    """The message's state at `now` (ms) by moto's predicates, and the deadline that ends it."""
    if now < message.delayed_until:
        return State.DELAYED, message.delayed_until
    if not now > message.visible_at:
        return State.IN_FLIGHT, message.visible_at
    return State.READY, now


class MessageIndex:
    """The messages of one standard queue; `append` and iteration keep moto's list interface."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._slots: dict[Message, _Slot] = {}
        self._by_handle: dict[str, Message] = {}
        self._ready: list[tuple[int, int, Message]] = []  # (seq, token, message)
        self._waiting: list[tuple[float, int, int, Message]] = []  # (deadline, seq, token, message)
        self._counts = dict.fromkeys(State, 0)
        self._seq = itertools.count()
        self._tokens = itertools.count()  # one counter for all: a re-added message never revives an old entry

    # moto's list interface: Queue.add_message appends; anything else that iterates sees arrival order.
    def append(self, message: Message, now: float | None = None) -> None:
        self._slots[message] = _Slot(next(self._seq), -1, State.TAKEN)
        self._counts[State.TAKEN] += 1
        self.note_handles(message)
        self.place(message, unix_time_millis() if now is None else now)

    def __iter__(self) -> Iterator[Message]:
        return iter(sorted(self._slots, key=lambda message: self._slots[message].seq))

    def __len__(self) -> int:
        return len(self._slots)

    def holder(self, receipt_handle: str) -> Message | None:
        """The message that was given this receipt handle, if it is still in this queue."""
        return self._by_handle.get(receipt_handle)

    def note_handles(self, message: Message) -> None:
        """Index the message's receipt handles (call after moto's `mark_received` issues a new one)."""
        for handle in message.all_receipt_handles:
            if handle is not None:
                self._by_handle[handle] = message

    def remove(self, message: Message) -> None:
        slot = self._slots.pop(message)
        self._counts[slot.state] -= 1
        for handle in message.all_receipt_handles:
            if handle is not None:
                self._by_handle.pop(handle, None)
        if len(self._ready) + len(self._waiting) > 2 * len(self._slots) + COMPACTION_SLACK:
            self._compact()

    def heap_entries(self) -> int:
        """Entries in the heaps, stale ones included: what the index holds beyond its messages."""
        return len(self._ready) + len(self._waiting)

    def _compact(self) -> None:
        """Drop every stale heap entry (a removed message's, or one a later placement replaced)."""
        self._ready = [entry for entry in self._ready if self._is_current(entry[2], entry[1])]
        self._waiting = [entry for entry in self._waiting if self._is_current(entry[3], entry[2])]
        heapq.heapify(self._ready)
        heapq.heapify(self._waiting)

    def _is_current(self, message: Message, token: int) -> bool:
        slot = self._slots.get(message)
        return slot is not None and slot.token == token

    def place(self, message: Message, now: float) -> None:
        """File the message under its state at `now` (after a send, a receive or a visibility change)."""
        slot = self._slots[message]
        state, deadline = state_at(message, now)
        self._counts[slot.state] -= 1
        self._counts[state] += 1
        slot.state, slot.token = state, next(self._tokens)
        if state is State.READY:
            heapq.heappush(self._ready, (slot.seq, slot.token, message))
        else:
            heapq.heappush(self._waiting, (deadline, slot.seq, slot.token, message))

    def take_ready(self, now: float) -> Message | None:
        """The oldest available message, marked TAKEN: the caller must `place` or `remove` it."""
        self._promote(now)
        while self._ready:
            _, token, message = heapq.heappop(self._ready)
            slot = self._slots.get(message)
            if slot is not None and slot.token == token:
                self._counts[State.READY] -= 1
                self._counts[State.TAKEN] += 1
                slot.state = State.TAKEN
                return message
        return None

    def count(self, state: State, now: float) -> int:
        self._promote(now)
        return self._counts[state]

    def _promote(self, now: float) -> None:
        """Move every message whose deadline has passed to READY (or back to waiting: visible_at == now)."""
        not_yet: list[tuple[float, int, int, Message]] = []
        while self._waiting and self._waiting[0][0] <= now:
            entry = heapq.heappop(self._waiting)
            message = entry[3]
            slot = self._slots.get(message)
            if slot is None or slot.token != entry[2]:
                continue
            if state_at(message, now)[0] is State.READY:
                self.place(message, now)
            else:
                not_yet.append(entry)
        for entry in not_yet:
            heapq.heappush(self._waiting, entry)
