"""What marks a canary event: its id. Only ingest assigns ids, and only to requests made with the canary's own
API key does it give this prefix, so no client can make one of its events look like a canary (and expire).
The prefix is also what the canary's IAM policy lets it read (a dynamodb:LeadingKeys condition)."""

from functions.common.clock import parse_iso
from functions.common.contract import CANARY_ID_PREFIX


def is_canary(event_id: str) -> bool:
    return event_id.startswith(CANARY_ID_PREFIX)


def expires_at(received_at: str, ttl_seconds: int) -> int:
    """Epoch seconds `ttl_seconds` after `received_at` (ISO 8601), as DynamoDB's TTL reads them."""
    return int(parse_iso(received_at).timestamp()) + ttl_seconds
