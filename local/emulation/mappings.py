"""moto's own event source mappings, switched off for good in the local stack's moto server.

moto 5.2 runs an enabled SQS mapping inside SendMessage: it receives the queue's messages (spending one of
each message's receives), invokes the function — which it cannot run without Docker — and makes them visible
again, so every message sent while such a mapping is enabled is dead-lettered after maxReceiveCount sends.
The local stack polls its queues itself (local/services/pollers.py), and a mapping's Enabled state
(UpdateEventSourceMapping)
switches that poller on and off (local/services/mapping_state.py): moto's own mapping must never run, whatever its
state.

moto finds the mappings to run through each source's `lambda_event_source_mappings` (an SQS queue, a DynamoDB
table, a Kinesis stream). Here that attribute always reads empty: the mappings stay in moto's Lambda backend,
where Create/Get/List/Update/DeleteEventSourceMapping keep working, but no send, put or record reaches them.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.models.table import Table
from moto.kinesis.models import Stream
from moto.sqs.models import Queue

MAPPING_SOURCES: tuple[type, ...] = (Queue, Table, Stream)


class _NoMappings:
    """A class attribute that reads as a new empty dict and ignores assignment (moto assigns `{}` in __init__)."""

    def __get__(self, instance: object, owner: type | None = None) -> dict[str, Any]:
        return {}

    def __set__(self, instance: object, value: object) -> None:
        pass


def switch_off_moto_event_source_mappings() -> None:
    """From now on no queue, table or stream of this process's moto runs an event source mapping."""
    for source in MAPPING_SOURCES:
        source.lambda_event_source_mappings = _NoMappings()  # type: ignore[attr-defined]
