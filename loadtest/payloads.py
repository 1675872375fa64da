"""Realistic events of a chosen size, serialized exactly as they are sent."""

from __future__ import annotations

import json
import random
import string
import time
import uuid

EVENT_TYPES = ("page_view", "click", "add_to_cart", "purchase", "signup", "search")
PAGES = ("/", "/pricing", "/docs", "/blog/launch", "/checkout", "/account")
_FILLER = string.ascii_letters + string.digits


def _base(rng: random.Random) -> dict[str, object]:
    return {
        "type": rng.choice(EVENT_TYPES),
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "user_id": f"u-{rng.randrange(1_000_000):06d}",
        "session_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "page": rng.choice(PAGES),
        "properties": {"amount_cents": rng.randrange(100, 100_000), "currency": "EUR", "ab": rng.choice("AB")},
        "notes": "",
    }


def _dumps(event: dict[str, object]) -> str:
    return json.dumps(event, separators=(",", ":"))


def event_json(rng: random.Random, size: int) -> str:
    """One event's JSON text of exactly `size` bytes (or the smallest realistic event, if larger).

    The `notes` field pads it: ASCII only, so characters and bytes agree.
    """
    event = _base(rng)
    missing = size - len(_dumps(event).encode())
    if missing > 0:
        event["notes"] = "".join(rng.choices(_FILLER, k=missing))
    return _dumps(event)


def batch_body(events: list[str]) -> str:
    """A request body: the event itself, or a JSON array of events (texts joined, not re-serialized)."""
    if len(events) == 1:
        return events[0]
    return "[" + ",".join(events) + "]"
