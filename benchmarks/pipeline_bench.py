"""Sustained accepted-and-stored events per second on the local stack, against a baseline in the same run.

The baseline makes the same SQS and DynamoDB calls straight to the same moto server — SendMessageBatch
of 10 from the senders; ReceiveMessage 10, BatchWriteItem, DeleteMessageBatch from the consumers —
so the ratio is what the gateway, the handlers, the pollers and the monitoring cost on top of the raw
calls. Then the API's p50/p99 latency at half the measured rate. Run: `invoke bench` (not a test).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from local.stack.background import BackgroundStack, start_background_stack
from ops import local_output_keys
from ops.waiting import wait_until

EVENTS = 1000  # enough for a steady rate; the local stack's queues cost the same at any depth (local/fast_sqs)
EVENTS_PER_REQUEST = 10  # one SendMessageBatch per request on both sides
SENDERS = 8
CONSUMERS = 4  # the local consumer mapping's maximum concurrency
LATENCY_SECONDS = 20
STORE_TIMEOUT_SECONDS = 300


def _batches(count: int) -> list[list[dict]]:
    return [
        [{"bench": True, "n": start + i} for i in range(EVENTS_PER_REQUEST)]
        for start in range(0, count, EVENTS_PER_REQUEST)
    ]


def pipeline_rate(stack: BackgroundStack, events: int = EVENTS) -> tuple[float, int]:
    """Events per second from the first POST until every accepted event is in the table; and events lost."""
    session = requests.Session()
    headers = {"x-api-key": stack.outputs[local_output_keys.API_KEY], "Content-Type": "application/json"}
    before = stack.status()["table_items"]
    accepted: list[str] = []
    lock = threading.Lock()

    def post(batch: list[dict]) -> None:
        response = session.post(f"{stack.api_url}/events", data=json.dumps(batch), headers=headers, timeout=30)
        response.raise_for_status()
        with lock:
            accepted.extend(response.json()["ids"])

    started = time.monotonic()
    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(post, _batches(events)))
    wait_until(
        lambda: stack.status()["table_items"] - before >= len(accepted),
        timeout=STORE_TIMEOUT_SECONDS,
        interval=0.25,
        what="the accepted events to be stored",
    )
    elapsed = time.monotonic() - started
    lost = len(set(accepted) - stack.stored_ids(accepted))
    return len(accepted) / elapsed, lost


def baseline_rate(stack: BackgroundStack, events: int = EVENTS, batched: bool = True) -> float:
    """The same calls, straight to moto: a fresh queue and table beside the stack's.

    `batched=False` sends one SendMessage per event instead of SendMessageBatch(10): the raw single-send
    ceiling, which no backlog builds under while moto's SQS is depth-bound (the issue-18 comparison)."""
    sqs, dynamodb = stack.client("sqs"), stack.client("dynamodb")
    name = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "event_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    stored = 0
    lock = threading.Lock()
    done = threading.Event()

    def send(batch: list[dict]) -> None:
        entries = [
            {"Id": str(i), "MessageBody": json.dumps({"event_id": str(uuid.uuid4()), "raw": json.dumps(e)})}
            for i, e in enumerate(batch)
        ]
        if batched:
            sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            return
        for entry in entries:
            sqs.send_message(QueueUrl=queue_url, MessageBody=entry["MessageBody"])

    def consume() -> None:
        nonlocal stored
        while not done.is_set():
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            )
            if not messages:
                continue
            bodies = [json.loads(message["Body"]) for message in messages]
            dynamodb.batch_write_item(
                RequestItems={
                    name: [
                        {"PutRequest": {"Item": {"event_id": {"S": b["event_id"]}, "raw": {"S": b["raw"]}}}}
                        for b in bodies
                    ]
                }
            )
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            with lock:
                stored += len(messages)
                if stored >= events:
                    done.set()

    consumers = [threading.Thread(target=consume, daemon=True) for _ in range(CONSUMERS)]
    started = time.monotonic()
    for consumer in consumers:
        consumer.start()
    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(send, _batches(events)))
    if not done.wait(STORE_TIMEOUT_SECONDS):
        raise RuntimeError("baseline consumers did not finish")
    elapsed = time.monotonic() - started
    sqs.delete_queue(QueueUrl=queue_url)
    dynamodb.delete_table(TableName=name)
    return events / elapsed


def latency_at(
    stack: BackgroundStack, events_per_second: float, seconds: float = LATENCY_SECONDS
) -> tuple[float, float]:
    """p50 and p99 API latency (ms) with requests paced to `events_per_second`."""
    session = requests.Session()
    headers = {"x-api-key": stack.outputs[local_output_keys.API_KEY], "Content-Type": "application/json"}
    interval = EVENTS_PER_REQUEST / events_per_second
    latencies: list[float] = []
    lock = threading.Lock()

    def post(batch: list[dict]) -> None:
        started = time.perf_counter()
        session.post(f"{stack.api_url}/events", data=json.dumps(batch), headers=headers, timeout=30)
        with lock:
            latencies.append((time.perf_counter() - started) * 1000)

    batches = _batches(int(events_per_second * seconds))
    begin = time.monotonic()
    with ThreadPoolExecutor(SENDERS) as pool:
        for index, batch in enumerate(batches):
            time.sleep(max(0.0, begin + index * interval - time.monotonic()))
            pool.submit(post, batch)
    latencies.sort()
    return statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as state:
        print("starting a local stack …", flush=True)
        stack = start_background_stack(Path(state))
        try:
            print(f"baseline: {EVENTS} events, raw SQS + DynamoDB calls …", flush=True)
            baseline = baseline_rate(stack)
            print(f"baseline: {EVENTS} events, raw calls with one SendMessage per event …", flush=True)
            single = baseline_rate(stack, batched=False)
            print(f"pipeline: {EVENTS} events over HTTP through the local stack …", flush=True)
            rate, lost = pipeline_rate(stack)
            half = rate / 2
            print(f"latency at half that rate ({half:.0f} events/s for {LATENCY_SECONDS} s) …", flush=True)
            p50, p99 = latency_at(stack, half)
        finally:
            stack.stop()
    print()
    print(f"{'benchmark':<48}{'value':>12}{'baseline':>12}{'ratio':>8}")
    print(f"{'accepted-and-stored events/s (target ≥ 0.8×)':<48}{rate:>12.1f}{baseline:>12.1f}{rate / baseline:>8.2f}")
    print(f"{'… / raw calls, one SendMessage per event':<48}{rate:>12.1f}{single:>12.1f}{rate / single:>8.2f}")
    print(f"{'events lost':<48}{lost:>12}")
    print(f"{f'API latency p50 / p99 at {half:.0f} events/s (ms)':<48}{p50:>12.1f}{p99:>12.1f}")


if __name__ == "__main__":
    main()
