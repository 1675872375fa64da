"""`python -m local.emulation.server [-H HOST] [-p PORT]`: moto server whose standard SQS queues are indexed, behind
the local stack's guard.

The local stack starts this instead of `python -m moto.server` (see local/fast_sqs); it also frees what moto
deleted (local/emulation/instances.py) and keeps a window of metric data (local/emulation/metrics_retention.py:
SLUICE_METRICS_RETENTION_SECONDS, 3 hours when unset), so that a long run does not grow it. Its standard queues
hold at most SLUICE_SQS_IN_FLIGHT_LIMIT messages in flight (from the environment; SQS's quota of 120,000
when unset), and moto's own event source mappings never run (local/emulation/mappings.py). Every request passes
local/emulation/guard.py first: only local tools reach moto, never another web page. On a moto version the index
was not written for, or a limit or window out of bounds, it prints one line and exits 2 before listening.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Mapping
from types import FrameType

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

from local.emulation.fast_sqs import SQS_IN_FLIGHT_LIMIT, MotoVersionError, install
from local.emulation.guard import LocalOnly
from local.emulation.instances import track_weakly
from local.emulation.mappings import switch_off_moto_event_source_mappings
from local.emulation.metrics_retention import RetentionError, keep_metrics_for, retention_seconds
from local.emulation.process import IN_FLIGHT_LIMIT_ENV


class LimitError(ValueError):
    """The in-flight limit in the environment is not a positive integer; the message is one line."""


def in_flight_limit(environment: Mapping[str, str]) -> int:
    """The in-flight limit `environment` sets, or SQS's quota when it sets none."""
    text = environment.get(IN_FLIGHT_LIMIT_ENV, "").strip()
    if not text:
        return SQS_IN_FLIGHT_LIMIT
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise LimitError(f"{IN_FLIGHT_LIMIT_ENV}: expected a positive integer, got {text!r}")
    return int(text)


def serve(host: str, port: int) -> None:
    """moto server's own app and request handler (as `moto.server` runs them), behind the guard."""
    os.environ.setdefault("MOTO_PORT", str(port))  # moto builds URLs it returns (queue URLs) with it
    for ending in (signal.SIGINT, signal.SIGTERM):  # as moto.server: both end the process without a traceback
        signal.signal(ending, _exit)
    run_simple(
        host,
        port,
        LocalOnly(DomainDispatcherApplication(create_backend_app), port),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


def _exit(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.emulation.server")
    parser.add_argument("-H", "--host", default="127.0.0.1", help="the address to listen on")
    parser.add_argument("-p", "--port", type=int, default=4566, help="the port to listen on")
    arguments = parser.parse_args(argv)
    try:
        limit, metrics_window = in_flight_limit(os.environ), retention_seconds(os.environ)
        install(limit)
    except (MotoVersionError, LimitError, RetentionError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    switch_off_moto_event_source_mappings()  # the local pollers run the mappings (local/emulation/mappings.py)
    track_weakly()  # or every model instance moto makes stays in memory for the server's life
    keep_metrics_for(metrics_window)
    serve(arguments.host, arguments.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
