"""Resources every test folder makes in moto the same way (tests share one moto server a session)."""

from __future__ import annotations

import uuid
from typing import Any


def unique(prefix: str) -> str:
    """A resource name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_hash_table(dynamodb: Any, name: str, key: str) -> str:
    """An on-demand table keyed by one string attribute, as the events, idempotency and held tables are."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name
