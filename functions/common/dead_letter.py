"""What a message sent to the dead-letter queue on purpose carries: its reason, for the archive and the
operator (the archiver reads it back; a message moved by the redrive policy has none)."""

from typing import Any

from functions.common.contract import DEAD_LETTER_REASON_ATTRIBUTE

SOURCE_ATTRIBUTE = "source_message_id"
RETRY_WINDOW_SPENT = "retry window spent"
# A message attribute value counts towards the message's size: keep the reason short.
MAX_REASON_CHARS = 256


def safe_entry_id(message_id: str) -> str:
    """A batch entry Id (alphanumerics, hyphens, underscores, ≤ 80): SQS message ids are UUIDs already."""
    return "".join(char if char.isalnum() or char in "-_" else "_" for char in message_id)[:80]


def dead_letter_entry(entry_id: str, message_id: str, body: str, reason: str) -> dict[str, Any]:
    """A SendMessageBatch entry for the DLQ: the message's body, its reason and the message id it had."""
    return {
        "Id": entry_id,
        "MessageBody": body,
        "MessageAttributes": {
            DEAD_LETTER_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason[:MAX_REASON_CHARS]},
            SOURCE_ATTRIBUTE: {"DataType": "String", "StringValue": message_id},
        },
    }
