"""SQS cost against queue depth: plain moto server and the local stack's (indexed queues), in one run.

1. receive(10) + DeleteMessageBatch(10) on a queue holding DEPTH messages vs the same on one holding
   SHALLOW (the queue is topped up between rounds, outside the timing, so the depth stays put);
2. how long a backlog takes to drain with CONSUMERS threads doing receive(10) + DeleteMessageBatch.

Plain moto's sends and receives cost O(depth) each, so filling and draining DEPTH messages there is
quadratic (tens of minutes): plain moto is measured at PLAIN_DEPTH, which already shows the slope.
Run: `invoke bench --only sqs` (not a test).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from botocore.client import BaseClient

from local.emulation.process import MotoServer, free_port, start_moto

SERVERS = {"plain moto": "moto.server", "indexed": "local.emulation.server"}
SHALLOW = 10
DEPTH = 10_000  # the indexed server
PLAIN_DEPTH = 1_000  # plain moto: its fill and drain are quadratic in the depth
ROUNDS = 15
CONSUMERS = 4  # the local consumer mapping's maximum concurrency
SENDERS = 4
DRAIN_TIMEOUT_SECONDS = 900


def _fill(sqs: BaseClient, url: str, count: int) -> None:
    batches = [
        [{"Id": str(i), "MessageBody": f"event {start + i}"} for i in range(min(10, count - start))]
        for start in range(0, count, 10)
    ]
    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(lambda entries: sqs.send_message_batch(QueueUrl=url, Entries=entries), batches))


def _receive_and_delete(sqs: BaseClient, url: str) -> int:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    if messages:
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return len(messages)


def round_trip_ms(sqs: BaseClient, depth: int) -> float:
    """Median ms of receive(10) + DeleteMessageBatch(10) with `depth` messages in the queue."""
    url = sqs.create_queue(QueueName=f"depth-{depth}")["QueueUrl"]
    _fill(sqs, url, depth)
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        taken = _receive_and_delete(sqs, url)
        timings.append((time.perf_counter() - started) * 1000)
        _fill(sqs, url, taken)  # back to `depth`, untimed
    sqs.delete_queue(QueueUrl=url)
    return statistics.median(timings)


def drain_seconds(sqs: BaseClient, backlog: int) -> float:
    """Seconds CONSUMERS threads take to receive and delete a backlog of `backlog` messages."""
    url = sqs.create_queue(QueueName=f"drain-{backlog}")["QueueUrl"]
    _fill(sqs, url, backlog)
    drained = 0
    lock = threading.Lock()

    def consume() -> None:
        nonlocal drained
        while drained < backlog:
            taken = _receive_and_delete(sqs, url)
            with lock:
                drained += taken

    started = time.monotonic()
    consumers = [threading.Thread(target=consume, daemon=True) for _ in range(CONSUMERS)]
    for consumer in consumers:
        consumer.start()
    for consumer in consumers:
        consumer.join(DRAIN_TIMEOUT_SECONDS)
    if drained < backlog:
        raise RuntimeError(f"drained {drained} of {backlog} within {DRAIN_TIMEOUT_SECONDS} s")
    elapsed = time.monotonic() - started
    sqs.delete_queue(QueueUrl=url)
    return elapsed


def _measure(server: MotoServer, depth: int) -> tuple[float, float, float]:
    sqs = server.client("sqs")
    print(f"  receive+delete at depth {SHALLOW} …", flush=True)
    shallow = round_trip_ms(sqs, SHALLOW)
    print(f"  receive+delete at depth {depth:,} (filling it first) …", flush=True)
    deep = round_trip_ms(sqs, depth)
    print(f"  draining a backlog of {depth:,} …", flush=True)
    return shallow, deep, drain_seconds(sqs, depth)


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory(prefix="sluice-sqs-bench-") as logs:
        for name, module in SERVERS.items():
            depth = DEPTH if name == "indexed" else PLAIN_DEPTH
            print(f"{name} ({module}) …", flush=True)
            with start_moto(port=free_port(), log_path=Path(logs) / f"{name}.log", server_module=module) as server:
                results[name] = (depth, *_measure(server, depth))
    print()
    print(f"{'server':<12}{'depth':>8}{'ms @10':>9}{'ms @depth':>11}{'ratio':>8}{'drain s':>9}{'drain ev/s':>12}")
    for name, (depth, shallow, deep, drain) in results.items():
        ratio, rate = deep / shallow, depth / drain
        print(f"{name:<12}{depth:>8,}{shallow:>9.1f}{deep:>11.1f}{ratio:>8.2f}{drain:>9.1f}{rate:>12.0f}")
    print(f"target: the indexed server's ratio ≤ 2 at depth {DEPTH:,} (receive(10) + DeleteMessageBatch(10))")


if __name__ == "__main__":
    main()
