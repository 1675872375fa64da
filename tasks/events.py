"""`invoke events.*`: read stored events (the table) and query the S3 analytics store."""

from __future__ import annotations

from invoke import Collection, Context, Exit

from cloudformation import output_keys
from tasks.common import AWS_HELP, TARGET_HELP, ops_errors, target_of, task


@task(name="get", help={"event_id": "the event id (the table key)", "target": TARGET_HELP, **AWS_HELP})
def events_get(
    c: Context, event_id: str, target: str = "local", profile: str | None = None, region: str | None = None
) -> None:
    """Print one stored event as JSON."""
    import json

    from ops.events import get_event

    with ops_errors():
        resolved = target_of(target, profile, region)
        table = resolved.require(output_keys.TABLE_NAME)
        item = get_event(resolved.client("dynamodb"), table, event_id)
    if item is None:
        raise Exit(f"error: no event {event_id!r} in {table}", code=1)
    print(json.dumps(item, indent=2, sort_keys=True))


@task(
    name="list",
    help={
        "since": "received at or after (ISO 8601)",
        "until": "received before (default: now)",
        "limit": "at most this many, newest first (default 20)",
        "target": TARGET_HELP,
        **AWS_HELP,
    },
)
def events_list(
    c: Context,
    since: str,
    until: str | None = None,
    limit: int = 20,
    target: str = "local",
    profile: str | None = None,
    region: str | None = None,
) -> None:
    """Print the newest stored events received in a window, one JSON object per line."""
    import json
    import sys

    from ops.events import list_events
    from ops.timeparse import parse_window

    if limit < 1:
        raise Exit("error: --limit: expected a positive number", code=2)
    with ops_errors():
        start, end = parse_window(since, until)
        resolved = target_of(target, profile, region)
        items, truncated = list_events(
            resolved.client("dynamodb"),
            resolved.require(output_keys.TABLE_NAME),
            start,
            end,
            limit=limit,
            progress_stream=sys.stderr,
        )
    for item in items:
        print(json.dumps(item, sort_keys=True))
    if truncated:
        print("note: the scan stopped early on a large table; older matches may be missing", file=sys.stderr)


@task(
    name="query",
    help={
        "sql": "the SQL, over the view `events` (one row per event; `events_raw`: every line)",
        "producer": "only this producer's rows in both views (the name given to keys.create)",
        "target": TARGET_HELP,
        **AWS_HELP,
    },
)
def events_query(
    c: Context,
    sql: str,
    producer: str | None = None,
    target: str = "local",
    profile: str | None = None,
    region: str | None = None,
) -> None:
    """Run SQL over the S3 analytics store: Athena on AWS, DuckDB over the local S3 objects locally."""
    import sys

    from ops.cost import Prices
    from ops.keys import producer_key_ids
    from ops.query import format_result, producer_filter, query_athena, query_local

    with ops_errors():
        resolved = target_of(target, profile, region)
        if "s3" not in resolved.config.sinks:
            raise Exit(
                f'error: {target} has no S3 analytics store: set sinks = ["dynamodb", "s3"] in sluice.toml', code=2
            )
        where = producer_filter(producer_key_ids(resolved, producer)) if producer is not None else None
        if resolved.name == "local":
            result = query_local(
                resolved.client("s3"),
                resolved.require(output_keys.ANALYTICS_BUCKET),
                sql,
                where=where,
                progress_stream=sys.stderr,
            )
        else:
            result = query_athena(
                resolved.client("athena"),
                sql,
                resolved.require(output_keys.ANALYTICS_DATABASE),
                resolved.require(output_keys.ANALYTICS_WORK_GROUP),
                Prices.load()("athena", "scanned_tb"),
                where=where,
                progress_stream=sys.stderr,
            )
    print("\n".join(format_result(result)))
    for note in result.notes:
        print(note, file=sys.stderr)


events = Collection("events", events_get, events_list, events_query)
