"""DynamoDB requests a database outage costs, before and after the retry window (issue 14), in the same run.

Run: .venv/bin/python -m benchmarks.outage_bench [--baseline REV] [--hours 1] [--rate 10]

The consumer handler of the baseline revision (default: the merge base with main) and the current tree's each
run in a fresh interpreter against the same simulated outage: prod's configuration, events arriving at
`--rate` per second for `--hours`, and a DynamoDB that fails every request (each attempt counted at botocore's
before-send, where the local fault injection fails it too). Time is virtual: botocore's retry sleeps are skipped,
and the queue is modelled with SQS's documented semantics (visibility timeout, receive count, redrive when a
receive would exceed maxReceiveCount, ChangeMessageVisibility counted from the call), polled once a virtual
second in batches of the mapping's batch size. The handlers are the real ones, their clients real botocore.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.cold_start import AWS_ENV

ROOT = Path(__file__).resolve().parent.parent
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/sluice-prod-ingest"
DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/sluice-prod-dead-letter"
SIMULATION_TIMEOUT_SECONDS = 1800


@dataclass
class Message:
    body: str
    sent: float
    visible_at: float
    receives: int = 0
    receipt: str = ""


class SimulatedQueue:
    """An SQS standard queue on a virtual clock, with a redrive policy."""

    def __init__(self, visibility: int, max_receives: int) -> None:
        self.now = 0.0
        self.visibility = visibility
        self.max_receives = max_receives
        self.messages: dict[str, Message] = {}
        self.by_receipt: dict[str, str] = {}
        self.dead_lettered = 0

    def send(self, message_id: str, body: str) -> None:
        self.messages[message_id] = Message(body, self.now, self.now)

    def receive(self, limit: int) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for message_id, message in list(self.messages.items()):
            if len(records) == limit:
                break
            if message.visible_at > self.now:
                continue
            if message.receives >= self.max_receives:  # this receive would exceed maxReceiveCount: redrive
                del self.messages[message_id]
                self.dead_lettered += 1
                continue
            message.receives += 1
            message.visible_at = self.now + self.visibility
            message.receipt = f"{message_id}:{message.receives}"
            self.by_receipt[message.receipt] = message_id
            records.append(
                {
                    "messageId": message_id,
                    "receiptHandle": message.receipt,
                    "body": message.body,
                    "attributes": {
                        "ApproximateReceiveCount": str(message.receives),
                        "SentTimestamp": str(int(message.sent * 1000)),
                    },
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                }
            )
        return records

    def change_visibility(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        for entry in entries:
            message_id = self.by_receipt.get(entry["ReceiptHandle"])
            if message_id in self.messages:
                self.messages[message_id].visible_at = self.now + entry["VisibilityTimeout"]
        return {"Successful": [{"Id": entry["Id"]} for entry in entries], "Failed": []}

    def delete(self, message_ids: set[str]) -> None:
        for message_id in message_ids:
            self.messages.pop(message_id, None)


def simulate(hours: float, rate: int) -> dict[str, Any]:
    """Run in a fresh interpreter whose `functions` package is the version under test."""
    import time

    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import EndpointConnectionError

    from cloudformation.config import load_config
    from functions.common.envelope import Envelope
    from local.lambdas import FunctionSettings, LambdaContext

    config = load_config("prod")
    time.sleep = lambda _seconds: None  # virtual time: botocore's retry backoff and the writer's pauses
    app = __import__("functions.consumer.app", fromlist=["handler"])
    queue = SimulatedQueue(config.visibility_timeout_seconds, config.max_receive_count)
    requests = [0]

    def unreachable(request: Any, **_: Any) -> None:
        requests[0] += 1
        raise EndpointConnectionError(endpoint_url=request.url)

    app.dynamodb.meta.events.register("before-send.dynamodb", unreachable)
    if hasattr(app, "sqs"):  # the current consumer sets backoffs through its own SQS client
        pending: list[dict[str, Any]] = []

        def keep(params: dict[str, Any], **_: Any) -> None:
            pending.append(params)

        def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            return AWSResponse(QUEUE_URL, 200, {}, None), queue.change_visibility(pending.pop()["Entries"])

        event = "sqs.ChangeMessageVisibilityBatch"
        app.sqs.meta.events.register(f"before-parameter-build.{event}", keep)
        app.sqs.meta.events.register(f"before-call.{event}", answer)
    settings = FunctionSettings(
        name="sluice-prod-consumer", timeout_seconds=config.functions["consumer"].timeout_seconds
    )
    batch = config.mapping("consumer").batch_size
    invocations = 0
    sent = 0
    with contextlib.redirect_stdout(io.StringIO()):
        for second in range(int(hours * 3600)):
            queue.now = float(second)
            for _ in range(rate):
                envelope = Envelope(f"evt-{sent}", json.dumps({"n": sent}), "2026-01-01T00:00:00.000Z")
                queue.send(f"msg-{sent}", envelope.to_json())
                sent += 1
            while records := queue.receive(batch):
                invocations += 1
                response = app.handler({"Records": records}, LambdaContext.starting_now(settings, "bench"))
                failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
                queue.delete({record["messageId"] for record in records} - failed)
    return {
        "events": sent,
        "dynamodb_requests": requests[0],
        "invocations": invocations,
        "dead_lettered": queue.dead_lettered,
        "waiting": len(queue.messages),
    }


def export_revision(revision: str, into: Path) -> Path:
    """The `functions/` package of `revision`, extracted under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "functions"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_version(functions_root: Path, hours: float, rate: int) -> dict[str, Any]:
    config = __import__("cloudformation.config", fromlist=["load_config"]).load_config("prod")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "POWERTOOLS_"))}
    env |= AWS_ENV | {
        "PYTHONPATH": os.pathsep.join([str(functions_root), str(ROOT)]),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "consumer",  # as the template sets it
        "TABLE_NAME": "sluice-prod-events",
        "QUEUE_URL": QUEUE_URL,
        "DEAD_LETTER_QUEUE_URL": DLQ_URL,
        "RETRY_SCHEDULE": config.retry_schedule.env_value(),
        "RETRY_JITTER_PERCENT": str(config.retry_schedule.jitter_percent),
    }
    code = f"import json; from benchmarks.outage_bench import simulate; print(json.dumps(simulate({hours}, {rate})))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=functions_root,
        capture_output=True,
        text=True,
        check=False,
        timeout=SIMULATION_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        raise SystemExit(f"error: the simulation failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="", help="revision of the baseline consumer (default: merge base)")
    parser.add_argument("--hours", type=float, default=1.0, help="length of the outage (default 1)")
    parser.add_argument("--rate", type=int, default=10, help="events per second (default 10)")
    arguments = parser.parse_args()
    baseline = (
        arguments.baseline
        or subprocess.run(
            ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    with tempfile.TemporaryDirectory() as temporary:
        print(f"simulating a {arguments.hours:g} h outage at {arguments.rate} events/s (prod configuration)...")
        before = run_version(export_revision(baseline, Path(temporary)), arguments.hours, arguments.rate)
        after = run_version(ROOT, arguments.hours, arguments.rate)
    print(f"{'':<22}{'baseline ' + baseline[:8]:>20}{'retry window':>20}{'ratio':>10}")
    for key in ("events", "dynamodb_requests", "invocations", "dead_lettered", "waiting"):
        ratio = f"{after[key] / before[key]:.3f}" if before[key] else "-"
        print(f"{key:<22}{before[key]:>20,}{after[key]:>20,}{ratio:>10}")


if __name__ == "__main__":
    main()
