"""First write wins for events whose id was derived from a client's Idempotency-Key.

A whole-body resend after a partial failure, or a key used again after ingest forgot it, brings new
metadata (received_at, request id) under an event id that may already be stored. BatchWriteItem cannot be
conditional, so those ids are looked up first, and an event already in the table is left as it is (its
records count as stored). Ingest-assigned ULIDs only ever come back as the identical envelope (redelivery,
replay), so they are not looked up. A failed or unprocessed lookup leaves the event to be written: at worst
its metadata is rewritten, never is an event lost. Two deliveries racing between lookup and write can still
both write; that needs both in flight at once, which a resend after an answer never is.

The lookup reads whole items (a projection would not read fewer units: DynamoDB counts the item's size), so
the consumer can tell a resend (the table holds other metadata: the first request's envelope carries the event
to the analytics store) from the first delivery coming back (the same envelope: its analytics write may have
failed, so it goes to the store again).
"""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from functions.common.contract import EXPIRES_AT_ATTRIBUTE
from functions.common.envelope import Envelope, is_derived_event_id
from functions.common.item import Item, decode

logger = Logger(child=True)  # named after POWERTOOLS_SERVICE_NAME

MAX_KEYS_PER_CALL = 100  # BatchGetItem's limit


def already_stored(client: Any, table_name: str, key: str, event_ids: list[str]) -> dict[str, Item]:
    """The items already in the table of the derived ids among `event_ids`, by event id."""
    derived = [event_id for event_id in event_ids if is_derived_event_id(event_id)]
    found: dict[str, Item] = {}
    for start in range(0, len(derived), MAX_KEYS_PER_CALL):
        keys = [{key: {"S": event_id}} for event_id in derived[start : start + MAX_KEYS_PER_CALL]]
        try:
            response = client.batch_get_item(RequestItems={table_name: {"Keys": keys}})
        except (BotoCoreError, ClientError):
            logger.warning("BatchGetItem failed: events are written as they came", extra={"keys": len(keys)})
            continue
        found |= {item[key]["S"]: item for item in response.get("Responses", {}).get(table_name, [])}
    return found


def is_resend(stored: Item, envelope: Envelope) -> bool:
    """True when the table's item was written from another delivery than `envelope` (other metadata)."""
    fields = {name: value for name, value in decode(stored).items() if name != EXPIRES_AT_ATTRIBUTE}
    return fields != {name: value for name, value in asdict(envelope).items() if value is not None}
