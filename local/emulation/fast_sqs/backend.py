"""moto's SQS backend with standard queues kept in a MessageIndex; FIFO queues stay on moto's own path.

Only the operations whose cost grew with the queue's depth are overridden — receive, delete, change
visibility, purge, the Approximate* counts and long polling's wake-up test — and each keeps moto's
observable behaviour step by step (the order messages come out in, receive counts, dead-lettering by the redrive policy
when a message reaches maxReceiveCount, old receipt handles that still delete, the retention check).
One bound is added: a queue remembers only its most recently deleted receipt handles
(local/emulation/fast_sqs/deleted.py),
where moto keeps every one forever.
Everything else (validation, send, attributes, tags, CloudFormation) is moto's code unchanged.

One behaviour is added, which moto lacks: SQS's in-flight quota per standard queue (AWS's "Amazon SQS
standard queue quotas": approximately 120,000 in flight; "If you reach this quota while using short
polling, Amazon SQS returns the OverLimit error message. If you use long polling, Amazon SQS returns no
error messages."). A receive returns at most the room left under the limit; at the limit a short poll
raises OverLimit and a long poll waits out its wait time, returning what becomes receivable within it.

Written against one moto version: `install` refuses any other, because the overrides follow that
version's private structure (`Queue._messages`, `_messages_lock`, `deleted_messages`).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from copy import deepcopy
from types import ModuleType
from typing import Any

import moto.sqs.urls
from moto.core.utils import unix_time, unix_time_millis
from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid, SQSException
from moto.sqs.models import Message, Queue, SQSBackend, _filter_message_attributes, sqs_backends

from core.config import SQS_MAX_VISIBILITY_SECONDS
from local.emulation.fast_sqs.deleted import DELETED_HANDLES_REMEMBERED, RecentHandles
from local.emulation.fast_sqs.index import MessageIndex, State

MOTO_VERSION = "5.2.5"  # the pin in pyproject.toml; the overrides below follow this version's models.py
# moto's (and SQS's) 12-hour ceiling since the message was sent
MAXIMUM_TOTAL_VISIBILITY_MS = SQS_MAX_VISIBILITY_SECONDS * 1000
# "a maximum of approximately 120,000 in flight messages" per standard queue (AWS's SQS quotas; botocore's
# ChangeMessageVisibility documentation says the same): the server's default unless `install` is given another
SQS_IN_FLIGHT_LIMIT = 120_000


class MotoVersionError(RuntimeError):
    """The installed moto is not the version the indexed queues were written for."""


class InFlightLimitReached(SQSException):
    """A short-poll receive on a queue whose in-flight messages have reached its limit.

    Its code is the `OverLimit` error shape of botocore's SQS model ("ReceiveMessage returns this error if
    the maximum number of in flight messages is reached"). moto's server finds the shape by the code and
    answers as that shape says (with moto's extras merged in: HTTP 403, a sender fault, the
    `x-amzn-query-error: OverLimit;Sender` header), so botocore raises `SQS.Client.exceptions.OverLimit`."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            "OverLimit",
            f"{limit} messages are in flight, the queue's limit: delete messages or let their visibility "
            "timeout run out before receiving more.",
        )


class IndexedQueue(Queue):
    """A standard queue whose `_messages` is a MessageIndex instead of a list."""

    deleted_handles_remembered = DELETED_HANDLES_REMEMBERED

    def __init__(
        self, name: str, region: str, account_id: str, in_flight_limit: int = SQS_IN_FLIGHT_LIMIT, **kwargs: Any
    ) -> None:
        super().__init__(name, region, account_id, **kwargs)
        # moto's add_message appends under _messages_lock and notifies long pollers: the index keeps that.
        self._messages: MessageIndex = MessageIndex()  # type: ignore[assignment]  # (the point of this class)
        # moto's set of every deleted handle grows forever: only the recent ones are kept (see deleted.py)
        self.deleted_messages: RecentHandles = RecentHandles(self.deleted_handles_remembered)  # type: ignore[assignment]
        self.in_flight_limit = in_flight_limit

    @property
    def approximate_number_of_messages_delayed(self) -> int:
        return self._count(State.DELAYED)

    @property
    def approximate_number_of_messages_not_visible(self) -> int:
        return self._count(State.IN_FLIGHT)

    @property
    def approximate_number_of_messages(self) -> int:
        return self._count(State.READY)

    def _count(self, state: State) -> int:
        with self._messages_lock:
            return self._messages.count(state, unix_time_millis())

    def delete_message(self, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return  # already deleted: moto (like SQS) accepts it again
        with self._messages_lock:
            message = self._messages.holder(receipt_handle)
            if message is None:
                raise ReceiptHandleIsInvalid()
            self._messages.remove(message)
            self.pending_messages.discard(message)
            self.deleted_messages.update(handle for handle in message.all_receipt_handles if handle is not None)

    def wait_for_messages(self, timeout: int) -> None:
        """Until a message is available and the limit leaves room for it, or `timeout` s (a send wakes it;
        a delete or a visibility running out is seen when the timeout ends it)."""
        with self._messages_lock:
            self._messages_lock.wait_for(
                lambda: self.approximate_number_of_messages > 0 and self._room() > 0, timeout=timeout
            )

    def _room(self) -> int:
        """How many more messages may be in flight now."""
        return self.in_flight_limit - self.approximate_number_of_messages_not_visible

    def take_received(
        self,
        count: int,
        visibility_timeout: int,
        still_retained: Callable[[Message], bool],
        attribute_names: list[str],
    ) -> tuple[list[Message], list[Message]]:
        """One pass of moto's receive loop: (copies of the messages received, messages to dead-letter).

        Oldest available first; a message that has reached maxReceiveCount leaves this queue for the
        caller to hand to the DLQ; the first message past its retention period is received but not
        returned and ends the pass — all as moto's scan does. At most the room the in-flight limit
        leaves is received; with none left it raises InFlightLimitReached and touches nothing.
        """
        received: list[Message] = []
        to_dlq: list[Message] = []
        taken: list[Message] = []
        with self._messages_lock:
            room = self._room()
            if room <= 0:
                raise InFlightLimitReached(self.in_flight_limit)
            count = min(count, room)
            now = unix_time_millis()
            try:
                while len(received) < count and (message := self._messages.take_ready(now)) is not None:
                    taken.append(message)
                    self.pending_messages.discard(message)  # visible again: its consumer timed out
                    if self._dead_letters(message):
                        self._messages.remove(taken.pop())
                        to_dlq.append(message)
                        continue
                    self.pending_messages.add(message)
                    message.mark_received(visibility_timeout=visibility_timeout)
                    self._messages.note_handles(message)
                    copy = deepcopy(message)  # the reply's view; filtering must not touch the stored message
                    _filter_message_attributes(copy, attribute_names)
                    if not still_retained(message):
                        break
                    received.append(copy)
            finally:
                # Placed after the pass, not during it: a message received with visibility 0 is
                # available at once, and moto's scan still yields each message at most once per pass.
                placed_at = unix_time_millis()
                for message in taken:
                    self._messages.place(message, placed_at)
        return received, to_dlq

    def _dead_letters(self, message: Message) -> bool:
        policy = self.redrive_policy
        return (
            self.dead_letter_queue is not None
            and policy is not None
            and bool(policy)
            and message.approximate_receive_count >= policy["maxReceiveCount"]
        )


class IndexedSQSBackend(SQSBackend):
    """moto's SQS backend; new standard queues are IndexedQueues, and its hot paths use their index."""

    in_flight_limit = SQS_IN_FLIGHT_LIMIT  # each new standard queue's; `install` sets it

    @property
    def _url_module(self) -> ModuleType:
        return moto.sqs.urls  # moto finds a backend's routes by the name of the module defining its class

    def create_queue(self, name: str, tags: dict[str, str] | None = None, **kwargs: Any) -> Queue:
        if name in self.queues or _fifo_requested(kwargs):
            return super().create_queue(name, tags, **kwargs)
        kwargs.pop("region", None)
        # (is_created, abstract in moto's base, is its CloudFormation hook: no indexed queue is made through it)
        queue = IndexedQueue(  # type: ignore[abstract]
            name, region=self.region_name, account_id=self.account_id, in_flight_limit=self.in_flight_limit, **kwargs
        )
        self.queues[name] = queue
        if tags:
            queue.tags = tags
        return queue

    def receive_message(
        self,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Message]:
        queue = self.get_queue(queue_name)
        if not isinstance(queue, IndexedQueue):
            return super().receive_message(
                queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names
            )

        def still_retained(message: Message) -> bool:
            return self.is_message_valid_based_on_retention_period(queue_name, message)

        # moto's loop: one pass, then (long polling only) wait up to 1 s for a send and pass again.
        polling_end = unix_time() + wait_seconds_timeout
        while True:
            try:
                received, to_dlq = queue.take_received(
                    count, visibility_timeout, still_retained, message_attribute_names or []
                )
            except InFlightLimitReached:
                if wait_seconds_timeout == 0:
                    raise  # short polling: OverLimit; long polling: no error, no messages
                received, to_dlq = [], []
            for message in to_dlq:
                assert queue.dead_letter_queue is not None  # only a queue with a DLQ dead-letters
                queue.dead_letter_queue.add_message(message)
            if received or wait_seconds_timeout == 0:
                return received
            queue.wait_for_messages(1)
            if unix_time() > polling_end:
                return []

    def change_message_visibility(self, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        queue = self.get_queue(queue_name)
        if not isinstance(queue, IndexedQueue):
            return super().change_message_visibility(queue_name, receipt_handle, visibility_timeout)
        with queue._messages_lock:
            message = queue._messages.holder(receipt_handle)
            if message is None:
                raise ReceiptHandleIsInvalid
            assert message.sent_timestamp is not None  # set when the message was sent
            given_visibility_timeout = unix_time_millis() + int(visibility_timeout) * 1000
            if given_visibility_timeout - message.sent_timestamp > MAXIMUM_TOTAL_VISIBILITY_MS:
                raise InvalidParameterValue(
                    f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                    f"VisibilityTimeout for the message is beyond the limit [{SQS_MAX_VISIBILITY_SECONDS} seconds]"
                )
            message.change_visibility(visibility_timeout)
            if message.visible:
                queue.pending_messages.discard(message)
            queue._messages.place(message, unix_time_millis())

    def purge_queue(self, queue_name: str) -> None:
        queue = self.get_queue(queue_name)
        if not isinstance(queue, IndexedQueue):
            return super().purge_queue(queue_name)
        with queue._messages_lock:
            super().purge_queue(queue_name)  # its checks and bookkeeping; it leaves a plain list behind
            queue._messages = MessageIndex()


def _fifo_requested(attributes: dict[str, Any]) -> bool:
    # moto's Queue parses FifoQueue the same way (`str(value).lower() == "true"`).
    return str(attributes.get("FifoQueue", "false")).lower() == "true"


def install(in_flight_limit: int = SQS_IN_FLIGHT_LIMIT) -> None:
    """Make every SQS backend moto creates from now on an IndexedSQSBackend, whose standard queues hold at
    most `in_flight_limit` messages in flight; refuse another moto version."""
    if in_flight_limit < 1:
        raise ValueError(f"the in-flight limit must be at least 1, got {in_flight_limit}")
    installed = importlib.metadata.version("moto")
    if installed != MOTO_VERSION:
        raise MotoVersionError(
            f"the local stack's indexed SQS queues are written for moto {MOTO_VERSION}, but moto {installed} "
            f"is installed: install moto[server]=={MOTO_VERSION} (the pin in pyproject.toml)"
        )
    if len(sqs_backends):
        raise RuntimeError("install the indexed SQS queues before moto creates any SQS backend")
    IndexedSQSBackend.in_flight_limit = in_flight_limit
    sqs_backends.backend = IndexedSQSBackend
