"""An event source mapping's Enabled state, as the local Lambda API (moto) stores it, for the local poller.

On AWS, `aws lambda update-event-source-mapping --uuid … --no-enabled` stops a mapping and `--enabled` starts it
again. moto keeps the state but never polls (local/emulation/mappings.py switches its own mappings off): the local
poller reads the state here and polls only while it says Enabled, so the state an operator reads and sets is
the truth locally too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)

STOPPED_STATES = frozenset({"Disabling", "Disabled"})  # Lambda's States (botocore: EventSourceMappingConfiguration)
REFRESH_SECONDS = 1.0  # an update takes effect within this; reading moto on every poll would load it for nothing


class MappingNotFound(LookupError):
    """No event source mapping joins the function to the queue; the message is one line."""


def find_mapping_uuid(lambda_client: BaseClient, function_name: str, source_arn: str) -> str:
    """The UUID of the mapping from `source_arn` to `function_name`."""
    paginator = lambda_client.get_paginator("list_event_source_mappings")
    for page in paginator.paginate(FunctionName=function_name, EventSourceArn=source_arn):
        for mapping in page.get("EventSourceMappings", []):
            return str(mapping["UUID"])
    raise MappingNotFound(f"no event source mapping from {source_arn} to {function_name}")


class MappingState:
    """`disabled()`: whether the mapping's State is Disabled (or Disabling), read from the Lambda API at most every
    `refresh_seconds`. A failed read keeps the last state (a poller must not stop because moto was busy)."""

    def __init__(
        self,
        lambda_client: BaseClient,
        uuid: str,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uuid = uuid
        self._lambda = lambda_client
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._enabled = True
        self._read_at: float | None = None

    def disabled(self) -> bool:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._refresh_seconds:
                self._read_at = now
                self._enabled = self._read(self._enabled)
            return not self._enabled

    def _read(self, last: bool) -> bool:
        try:
            state = self._lambda.get_event_source_mapping(UUID=self.uuid)["State"]
        except (BotoCoreError, ClientError) as error:
            log.warning("event source mapping %s: state unreadable, keeping %s: %s", self.uuid, last, error)
            return last
        return state not in STOPPED_STATES
