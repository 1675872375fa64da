"""How many events the S3 analytics store holds more than once after the documented paths (issue 32), on a local
stack of its own: `python -m benchmarks.analytics_copies --events 500`.

- a same-key whole-body resend after a partial 503: a keyed body of N events of which two thirds were queued,
  then the whole body again (same ids, the resend's received_at a few seconds later, its own request id);
- a replay, twice: N stored events sent again unchanged (the archive's envelopes), twice, in other groupings.

For each it prints the events, the extra lines in the objects (`events_raw`) and the duplicates through the view
`events` (an event in more than one row), as `invoke reconcile --ids F --sink s3` counts them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from cloudformation import output_keys
from functions.common.clock import iso_millis, utc_now
from functions.common.envelope import Envelope, derived_event_id, events_fingerprint, new_event_id
from local.stack.background import BackgroundStack, start_background_stack
from ops.query import query_local
from ops.reconcile import reconcile_ids_s3
from ops.waiting import wait_until

TIMEOUT_SECONDS = 300


def send(stack: BackgroundStack, envelopes: list[Envelope]) -> None:
    sqs, queue = stack.client("sqs"), stack.outputs[output_keys.QUEUE_URL]
    for start in range(0, len(envelopes), 10):
        batch = envelopes[start : start + 10]
        entries = [{"Id": str(i), "MessageBody": envelope.to_json()} for i, envelope in enumerate(batch)]
        failed = sqs.send_message_batch(QueueUrl=queue, Entries=entries).get("Failed")
        if failed:
            raise SystemExit(f"SendMessageBatch failed: {failed}")


def consumed(stack: BackgroundStack, ids: list[str]) -> None:
    wait_until(lambda: stack.stored_ids(ids) >= set(ids), timeout=TIMEOUT_SECONDS, interval=1, what="the events stored")
    wait_until(
        stack.status,
        lambda status: (
            all(q["visible"] == 0 and q["in_flight"] == 0 for q in status["queues"].values())
            and status["parked_objects"] == 0
        ),
        timeout=TIMEOUT_SECONDS,
        interval=1,
        what="the queues to drain",
    )


def measured(stack: BackgroundStack, label: str, ids: list[str]) -> str:
    copy = reconcile_ids_s3(stack.client("s3"), stack.outputs[output_keys.ANALYTICS_BUCKET], ids)
    extra_lines = sum(copy.copies.values()) - len(copy.copies)
    return (
        f"{label}: {copy.found} of {len(ids)} events in the store; in more than one line (events_raw): "
        f"{len(copy.copies)} ({extra_lines} extra lines); duplicated through the view `events`: {len(copy.duplicated)}"
    )


def keyed_resend(stack: BackgroundStack, events: int, run: str) -> str:
    key, api_key_id = f"{run}-resend", stack.outputs[output_keys.API_KEY_ID]
    raws = [json.dumps({"run": run, "keyed": n}) for n in range(events)]
    fingerprint = events_fingerprint(raws)
    ids = [derived_event_id(api_key_id, key, fingerprint, index) for index in range(events)]

    def request(request_id: str, count: int) -> list[Envelope]:
        received_at = iso_millis(utc_now())
        return [
            Envelope(ids[i], raws[i], received_at, api_key_id=api_key_id, request_id=request_id) for i in range(count)
        ]

    send(stack, request("request-1", events * 2 // 3))  # the partial 503: two thirds queued
    consumed(stack, ids[: events * 2 // 3])
    send(stack, request("request-2", events))  # the whole body again, same key
    consumed(stack, ids)
    listed = ", ".join(f"'{event_id}'" for event_id in ids)
    by_request = query_local(
        stack.client("s3"),
        stack.outputs[output_keys.ANALYTICS_BUCKET],
        f"SELECT request_id, count(*) FROM events_raw WHERE event_id IN ({listed}) GROUP BY 1 ORDER BY 1",
    ).rows
    lines = ", ".join(f"{request_id}: {count}" for request_id, count in by_request)
    return measured(stack, "same-key whole-body resend after a partial 503", ids) + f"; lines by request: {lines}"


def replay_twice(stack: BackgroundStack, events: int, run: str) -> list[str]:
    now = iso_millis(utc_now())
    envelopes = [
        Envelope(new_event_id(), json.dumps({"run": run, "n": n}), now, api_key_id="bench", request_id=f"r-{n}")
        for n in range(events)
    ]
    ids = [envelope.event_id for envelope in envelopes]
    send(stack, envelopes)
    consumed(stack, ids)
    lines = []
    for replay, order in enumerate(
        (envelopes[::-1], envelopes[len(envelopes) // 3 :] + envelopes[: len(envelopes) // 3]), 1
    ):
        send(stack, order)
        consumed(stack, ids)
        lines.append(measured(stack, f"after replay {replay}", ids))
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500, help="events per path (default 500)")
    args = parser.parse_args(argv)
    if not 3 <= args.events <= 5000:
        raise SystemExit("--events: expected 3 to 5000")
    run = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="sluice-copies-") as state:
        started = time.monotonic()
        stack = start_background_stack(Path(state))
        try:
            lines: list[Any] = [keyed_resend(stack, args.events, run), *replay_twice(stack, args.events, run)]
        finally:
            stack.stop()
    print("\n".join(lines))
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
