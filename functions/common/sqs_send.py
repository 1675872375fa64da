"""SendMessageBatch entries grouped so that each call fits SQS's limits (no Powertools here: ingest imports it,
and its cold start stays light)."""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

# SendMessageBatch (botocore's sqs model): at most 10 entries, and "the maximum total payload size (the sum of the
# individual lengths of all of the batched messages)" is 1 MiB. A message's length counts its attributes too: "All
# parts of the message attribute, including Name, Type, and Value, are part of the message size restriction"
# (MessageAttributeValue).
BATCH_ENTRIES = 10
BATCH_BYTES = 1024 * 1024


def entry_bytes(entry: dict[str, Any]) -> int:
    """What one SendMessageBatch entry counts against the 1 MiB: its body and every attribute's name, type and
    value, in UTF-8."""
    size = len(str(entry.get("MessageBody", "")).encode())
    for name, value in (entry.get("MessageAttributes") or {}).items():
        size += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        size += len(str(value.get("StringValue", "")).encode()) + len(value.get("BinaryValue", b""))
    return size


def batches(entries: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive groups of SendMessageBatch entries, each within 10 entries and 1 MiB. An entry over 1 MiB on
    its own travels alone (SQS refuses it by itself, not its neighbours)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        length = entry_bytes(entry)
        if batch and (len(batch) == BATCH_ENTRIES or size + length > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += length
    if batch:
        yield batch


def send_entries(
    client: Any, queue_url: str, entries: list[dict[str, Any]], on_error: Callable[[Exception], None]
) -> set[str]:
    """SendMessageBatch `entries` in calls within SQS's limits; returns the Ids of the entries not sent. A call
    that fails as a whole fails its entries and is reported to `on_error` (the caller's logger)."""
    failed: set[str] = set()
    for batch in batches(entries):
        try:
            response = client.send_message_batch(QueueUrl=queue_url, Entries=batch)
        except (BotoCoreError, ClientError) as error:
            on_error(error)
            failed |= {entry["Id"] for entry in batch}
            continue
        failed |= {entry["Id"] for entry in response.get("Failed", [])}
    return failed
