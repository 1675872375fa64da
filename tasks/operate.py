"""Operate a stack, local or deployed (ops/): send events, reconcile, replay the archive, redrive the DLQ."""

from __future__ import annotations

from invoke import Context, Exit

from cloudformation import output_keys
from tasks.common import AWS_HELP, TARGET_HELP, ops_errors, target_of, task


@task(
    help={
        "file": "JSON Lines file of events (one JSON object per line), or - for stdin",
        "target": TARGET_HELP,
        "ids_out": "write the accepted event ids here, one per line",
        "batch": "events per request (default and maximum: api.max_batch_events)",
        **AWS_HELP,
    }
)
def send(
    c: Context,
    file: str,
    target: str = "local",
    ids_out: str | None = None,
    batch: int = 0,
    profile: str | None = None,
    region: str | None = None,
) -> None:
    """Send events to the API in batches; print how many were accepted and why any were rejected."""
    import sys
    from pathlib import Path

    from ops.progress import Progress
    from ops.send import Sender, read_events, send_events, write_ids

    if ids_out and not Path(ids_out).resolve().parent.is_dir():
        raise Exit(f"error: --ids-out: directory {Path(ids_out).parent} does not exist", code=2)
    with ops_errors():
        events = read_events(file)
        resolved = target_of(target, profile, region)
        api = resolved.config.api
        size = batch or api.max_batch_events
        if not 1 <= size <= api.max_batch_events:
            raise Exit(f"error: --batch: expected 1–{api.max_batch_events}, got {batch}", code=2)
        sender = Sender(resolved.require(output_keys.API_URL), resolved.api_key())
        result = send_events(
            events,
            sender,
            max_events=size,
            max_body_bytes=api.max_body_bytes,
            max_event_bytes=api.max_event_bytes,
            progress=Progress("send", total=len(events), stream=sys.stderr),
        )
        if ids_out:
            write_ids(ids_out, result.accepted_ids)
    print("\n".join(result.summary()))
    if ids_out:
        print(f"accepted ids written to {ids_out}")
    if result.rejected:
        raise Exit(code=1)


@task(
    help={
        "since": "start of the window (ISO 8601, UTC unless an offset is given), by archive time",
        "until": "end of the window (default: now)",
        "dry_run": "read and count, send nothing",
        "target": TARGET_HELP,
        **AWS_HELP,
    }
)
def replay(
    c: Context,
    since: str,
    until: str | None = None,
    dry_run: bool = False,
    target: str = "local",
    profile: str | None = None,
    region: str | None = None,
) -> None:
    """Send archived DLQ messages in a time window back to the ingest queue, with their original event ids."""
    import sys

    from ops.replay import replay as run_replay
    from ops.timeparse import parse_window

    with ops_errors():
        start, end = parse_window(since, until)
        resolved = target_of(target, profile, region)
        result = run_replay(
            resolved.client("s3"),
            resolved.client("sqs"),
            resolved.require(output_keys.ARCHIVE_BUCKET),
            resolved.require(output_keys.QUEUE_URL),
            start,
            end,
            dry_run=dry_run,
            progress_stream=sys.stderr,
        )
    print("\n".join(result.summary(dry_run)))
    if result.failed:
        raise Exit(code=1)


@task(
    help={
        "target": TARGET_HELP,
        "limit": "move at most this many messages (by hand, not with a move task; default 0: all)",
        **AWS_HELP,
    }
)
def redrive(
    c: Context, target: str = "local", limit: int = 0, profile: str | None = None, region: str | None = None
) -> None:
    """Move the dead-letter queue's messages back to the ingest queue."""
    import sys

    from botocore.config import Config as BotoConfig

    from ops.redrive import redrive as run_redrive

    with ops_errors():
        resolved = target_of(target, profile, region)
        result = run_redrive(
            resolved.client("sqs"),
            resolved.require(output_keys.DEAD_LETTER_QUEUE_URL),
            resolved.require(output_keys.QUEUE_URL),
            limit=limit or None,
            progress_stream=sys.stderr,
            # No retries for the move-task call: an endpoint without it should say so at once.
            move_client=resolved.client("sqs", config=BotoConfig(retries={"total_max_attempts": 1})),
        )
    print("\n".join(result.summary()))


@task(
    help={
        "ids": "client log of accepted ids: one per line, or JSON lines with `ids` (the API's 202 bodies)",
        "since": "without --ids: start of the window to compare the EventsAccepted metric over",
        "until": "without --ids: end of the window (default: now)",
        "sink": "dynamodb (the table, default) or s3 (the analytics store: missing and duplicated, with --ids)",
        "producer": "with --ids: count only this producer's events (the name given to keys.create)",
        "target": TARGET_HELP,
        **AWS_HELP,
    }
)
def reconcile(
    c: Context,
    ids: str | None = None,
    since: str | None = None,
    until: str | None = None,
    sink: str = "dynamodb",
    producer: str | None = None,
    target: str = "local",
    profile: str | None = None,
    region: str | None = None,
) -> None:
    """Check that accepted events reached a sink; say where missing ones are and how to bring them back."""
    import sys

    from ops.reconcile import reconcile_target

    with ops_errors():
        result = reconcile_target(
            lambda: target_of(target, profile, region),
            ids=ids,
            since=since,
            until=until,
            sink=sink,
            producer=producer,
            progress_stream=sys.stderr,
        )
    print("\n".join(result.summary()))
    if (
        getattr(result, "missing", None)
        or getattr(result, "duplicated", None)
        or getattr(result, "other_producer", None)
    ):
        raise Exit(code=1)
