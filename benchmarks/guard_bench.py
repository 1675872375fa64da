"""What the emulator's guard (local/emulation/guard.py) costs per request, against moto unguarded, in one run.

1. Over HTTP: moto's own app served twice in this process (the same backends, werkzeug's server and moto's
   request handler as `local.emulation.server` runs them), once behind the guard; a botocore client calls SQS
   GetQueueUrl on each, alternating in ROUNDS rounds of CALLS so drift hits both alike. Median per call.
2. The guard alone: its check around an app that does nothing, against that app, in-process (microseconds).

Run: `PYTHONPATH=$PWD python -m benchmarks.guard_bench` (not a test; prints figures and ratios).
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from local.emulation.guard import LocalOnly
from local.emulation.process import aws_client, free_port

ROUNDS = 10
CALLS = 100
IN_PROCESS_CALLS = 100_000


@contextmanager
def serving(wrap: Callable[[Any, int], Any]) -> Iterator[str]:
    """moto's app (wrapped by `wrap(app, port)`) on a free 127.0.0.1 port, for the block; its endpoint URL."""
    port = free_port()
    app = wrap(DomainDispatcherApplication(create_backend_app), port)
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(10)


def per_call_ms(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    for _ in range(CALLS):
        call()
    return (time.perf_counter() - start) / CALLS * 1000


def over_http() -> tuple[float, float]:
    """Median ms per GetQueueUrl: (unguarded, guarded)."""
    with serving(lambda app, port: app) as plain_url, serving(LocalOnly) as guarded_url:
        calls = {}
        for label, url in (("plain", plain_url), ("guarded", guarded_url)):
            sqs = aws_client("sqs", url)
            sqs.create_queue(QueueName=f"bench-{label}")
            calls[label] = lambda sqs=sqs, name=f"bench-{label}": sqs.get_queue_url(QueueName=name)
            calls[label]()  # warm: the client's first call loads its model
        times: dict[str, list[float]] = {"plain": [], "guarded": []}
        for _ in range(ROUNDS):
            for label in ("plain", "guarded"):
                times[label].append(per_call_ms(calls[label]))
    return statistics.median(times["plain"]), statistics.median(times["guarded"])


def guard_alone() -> tuple[float, float]:
    """Microseconds per call of an app that does nothing: (bare, behind the guard)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        return []

    environ = {"HTTP_HOST": "127.0.0.1:4566", "REQUEST_METHOD": "POST"}
    guarded = LocalOnly(app, 4566)
    bare = timeit.timeit(lambda: app(environ, print), number=IN_PROCESS_CALLS)
    behind = timeit.timeit(lambda: guarded(environ, print), number=IN_PROCESS_CALLS)
    return bare / IN_PROCESS_CALLS * 1e6, behind / IN_PROCESS_CALLS * 1e6


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per call
    plain, guarded = over_http()
    print(f"SQS GetQueueUrl over HTTP, median of {ROUNDS} rounds of {CALLS} calls")
    print(f"  moto unguarded   {plain:7.3f} ms/call")
    print(f"  moto + guard     {guarded:7.3f} ms/call   ratio {guarded / plain:.3f}x   ({guarded - plain:+.3f} ms)")
    bare, behind = guard_alone()
    print(f"the guard alone, in-process, {IN_PROCESS_CALLS:,} calls: {behind - bare:.2f} µs/call added")


if __name__ == "__main__":
    main()
