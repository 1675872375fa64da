"""CPU time per API request of a running local stack: its runtime process and its moto server.

The local stack runs the gateway, the handlers and the pollers as threads of one Python process, so that process
can use one core at most (the GIL): 1000 ÷ its CPU ms per request is the local stack's ceiling in requests/s,
whatever the reserved concurrency says. `invoke capacity --env local` uses the figures recorded from here
(ops/capacity.py RECORDED_LOCAL_CPU).

Run, on a stack started with `invoke up --detach` (nothing else sending to it, nothing else busy on the machine):
    python -m benchmarks.local_cpu_bench --outputs .local/outputs.json [--requests 1800] [--rate 60]

It sends the local load profile's mix (loadtest/profiles.toml: event sizes, batch sizes, Idempotency-Keys) from
one sender at up to `--rate`, waits until the consumer has taken every message, and divides each process's CPU
time (utime + stime from /proc/<pid>/stat) by the requests sent. A request costs less the busier the stack (the
pollers' batches fill up), so measure as busy as one sender gets, not at a trickle. Linux only; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from pathlib import Path

import requests

from cloudformation import output_keys
from loadtest.payloads import batch_body, event_json
from loadtest.profiles import load_profile
from local.console.control_client import ControlClient
from local.emulation.process import read_pidfile
from ops import local_output_keys

DRAIN_TIMEOUT_SECONDS = 120
IDLE_SECONDS = 20.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pid(folder: Path, name: str) -> int:
    pid = read_pidfile(folder / name)
    if pid is None:
        raise SystemExit(f"error: no running process in {folder / name}: start the stack with `invoke up --detach`")
    return pid


def _drained(control: ControlClient) -> bool:
    queues = control.call("GET", "/status")["queues"]
    return all(depth["visible"] == 0 and depth["in_flight"] == 0 for depth in queues.values())


def measure(outputs_path: Path, count: int, rate: float, seed: int = 7) -> dict[str, float]:
    outputs = json.loads(outputs_path.read_text())
    folder = outputs_path.parent
    runtime_pid, moto_pid = _pid(folder, "runtime.pid"), _pid(folder, "moto.pid")
    control = ControlClient(outputs[local_output_keys.CONTROL_URL])
    profile = load_profile("local")
    rng = random.Random(seed)
    session = requests.Session()
    url = f"{outputs[output_keys.API_URL]}/events"
    events = 0
    # What the stack spends with no traffic (metrics publisher, alarm evaluator, canary, retrier, idle long polls)
    # is charged to no request: measured first, over a quiet spell, and subtracted.
    idle = {"runtime": cpu_seconds(runtime_pid), "moto": cpu_seconds(moto_pid)}
    time.sleep(IDLE_SECONDS)  # a measurement window, not a wait for a state
    before = {"runtime": cpu_seconds(runtime_pid), "moto": cpu_seconds(moto_pid)}
    idle_per_second = {name: (before[name] - idle[name]) / IDLE_SECONDS for name in idle}
    started = time.monotonic()
    for index in range(count):
        batch = profile.batch_size(rng)
        events += batch
        body = batch_body([event_json(rng, profile.event_size(rng)) for _ in range(batch)])
        headers = {"x-api-key": outputs[local_output_keys.API_KEY], "Content-Type": "application/json"}
        if rng.random() < profile.idempotency_share:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        session.post(url, data=body, headers=headers, timeout=30).raise_for_status()
        pause = started + (index + 1) / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # pacing the sender, not waiting for a result
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while not _drained(control):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the queues did not drain within {DRAIN_TIMEOUT_SECONDS} s")
        time.sleep(0.5)  # polling the queues' state, bounded by the deadline
    elapsed = time.monotonic() - started
    spent = {
        name: cpu_seconds(pid) - before[name] - idle_per_second[name] * elapsed
        for name, pid in (("runtime", runtime_pid), ("moto", moto_pid))
    }
    runtime_ms, moto_ms = spent["runtime"] * 1000 / count, spent["moto"] * 1000 / count
    return {
        "requests": count,
        "events_per_request": events / count,
        "seconds": elapsed,
        "idle_runtime_cpu_share": idle_per_second["runtime"],
        "idle_moto_cpu_share": idle_per_second["moto"],
        "runtime_cpu_ms_per_request": runtime_ms,
        "moto_cpu_ms_per_request": moto_ms,
        "runtime_bound_requests_per_second": 1000 / runtime_ms,
        "two_core_bound_requests_per_second": 2000 / (runtime_ms + moto_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", default=".local/outputs.json", help="the running stack's outputs.json")
    parser.add_argument("--requests", type=int, default=1800)
    parser.add_argument("--rate", type=float, default=60.0, help="requests/s asked (one sender reaches what it can)")
    arguments = parser.parse_args()
    result = measure(Path(arguments.outputs), arguments.requests, arguments.rate)
    for name, value in result.items():
        print(f"{name:<36} {value:,.2f}")


if __name__ == "__main__":
    main()
