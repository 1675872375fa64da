"""`python -m local.moto_server [moto.server's arguments]`: moto server whose standard SQS queues are indexed.

The local stack starts this instead of `python -m moto.server` (see local/fast_sqs); it also frees what moto
deleted (local/moto_instances.py) and keeps a window of metric data (local/metrics_retention.py:
SLUICE_METRICS_RETENTION_SECONDS, 3 hours when unset), so that a long run does not grow it. Its standard queues
hold at most SLUICE_SQS_IN_FLIGHT_LIMIT messages in flight (from the environment; SQS's quota of 120,000
when unset). On a moto version the index was not written for, or a limit or window out of bounds, it prints
one line and exits 2 before listening.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from moto.server import main as serve

from local.emulator import IN_FLIGHT_LIMIT_ENV
from local.fast_sqs import SQS_IN_FLIGHT_LIMIT, MotoVersionError, install
from local.metrics_retention import RetentionError, keep_metrics_for, retention_seconds
from local.moto_instances import track_weakly


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


def main(argv: list[str] | None = None) -> int:
    try:
        limit, metrics_window = in_flight_limit(os.environ), retention_seconds(os.environ)
        install(limit)
    except (MotoVersionError, LimitError, RetentionError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    track_weakly()  # or every model instance moto makes stays in memory for the server's life
    keep_metrics_for(metrics_window)
    serve(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
