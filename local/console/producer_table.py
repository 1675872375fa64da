"""The console's and the PNG's "Who is sending?" table on the local stack: what the local gateway decided per producer
since the stack started (local/services/gateway/usage_plans.py counts it). On AWS the same widget is a Logs Insights
query over ingest's records, which moto cannot run: the table says so in one line under it."""

from __future__ import annotations

from typing import Any

from local.services.gateway.usage_plans import UsagePlans

PRODUCER_COLUMNS = ("name", "class", "enabled", "admitted", "throttled", "quota", "forbidden")
# the header of each column, as the page and the PNG draw it
PRODUCER_HEADERS = ("key name", "class", "enabled", "admitted", "429 throttled", "429 quota", "403 forbidden")
PRODUCER_NOTE = (
    "Locally: the requests the local gateway admitted and refused per key since the stack started. On AWS this table"
    " is the Logs Insights query over ingest's records (moto has no Logs Insights)."
)


def producer_table(plans: UsagePlans | None) -> dict[str, Any]:
    """Rows of PRODUCER_COLUMNS (the busiest producer first) and the 403s for no known key; no rows until the
    gateway runs."""
    if plans is None:
        return {"rows": [], "unknown_refused": 0}
    rows = [
        {
            "key_id": row.key_id,
            "name": row.name,
            "class": row.producer_class,
            "enabled": row.enabled,
            "admitted": row.admitted,
            "throttled": row.throttled,
            "quota": row.quota,
            "forbidden": row.forbidden,
        }
        for row in plans.producers()
    ]
    return {"rows": rows, "unknown_refused": plans.unknown_refused}
