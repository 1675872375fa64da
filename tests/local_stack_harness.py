"""The tests' handle on a local stack they started: the product's BackgroundStack (local/stack/background.py) plus
what only tests use (posting events, faults, pausing the canary, counting client items, the functions' log) and the
waits a test needs, which fail the test (AssertionError) with what they last saw when the stack does not get
there in time."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from cloudformation import output_keys
from functions.common.contract import CANARY_ATTRIBUTE
from local.stack.background import BackgroundStack, start_background_stack
from ops import local_output_keys
from ops.waiting import WaitTimedOut, wait_until

POLL_SECONDS = 1


@dataclass
class HarnessStack(BackgroundStack):
    def post_events(
        self, body: Any, headers: dict[str, str] | None = None, key: str | None = "default"
    ) -> requests.Response:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent["x-api-key"] = self.outputs[local_output_keys.API_KEY] if key == "default" else key
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return requests.post(f"{self.api_url}/events", data=data, headers=sent, timeout=30)

    def inject(self, fault: str, seconds: float) -> None:
        self.control_api.inject(fault, seconds)

    def lift(self, fault: str) -> None:
        self.control_api.lift(fault)

    @contextlib.contextmanager
    def canary_paused(self) -> Iterator[None]:
        """No canary run (and so no canary request through ingest) while the block runs: for tests that check
        that their own requests ran nothing."""
        self.control("POST", "/canary", {"paused": True})
        try:
            yield
        finally:
            self.control("POST", "/canary", {"paused": False})

    def client_items(self, attempts: int = 20) -> int:
        """Items in the table that are not the canary's. The canary stores one every few seconds: the table's
        count is read between two counts of canary items, and read again until no canary item landed meanwhile."""
        dynamodb, table = self.client("dynamodb"), self.outputs[output_keys.TABLE_NAME]
        for _ in range(attempts):
            before = _canary_items(dynamodb, table)
            total = int(dynamodb.describe_table(TableName=table)["Table"]["ItemCount"])
            if _canary_items(dynamodb, table) == before:
                return total - before
        raise RuntimeError(f"canary items kept landing while counting {table}")

    def functions_log(self) -> str:
        return (self.state_dir / "logs" / "functions.log").read_text(encoding="utf-8", errors="replace")

    def wait_until(self, condition: Callable[[dict], bool], timeout: float, what: str) -> dict:
        """Poll the status until `condition` holds; fail with the last status after `timeout`."""
        try:
            return wait_until(self.status, condition, timeout=timeout, interval=POLL_SECONDS, what=what)
        except WaitTimedOut as timed_out:
            raise AssertionError(str(timed_out)) from None

    def fired_since(self, since: float) -> set[str]:
        """Names of the alarms that went to ALARM since `since` (epoch seconds)."""
        transitions = self.control("GET", f"/alarm-transitions?since={since}")
        return {item["alarm"] for item in transitions if item["new"] == "ALARM"}

    def wait_for_alarms(self, names: set[str], since: float, timeout: float) -> set[str]:
        """Wait until every alarm in `names` has fired since `since`; returns all that fired."""
        try:
            return wait_until(
                lambda: self.fired_since(since),
                names.issubset,
                timeout=timeout,
                interval=POLL_SECONDS,
                what=f"alarms {sorted(names)}",
            )
        except WaitTimedOut as timed_out:
            fired = timed_out.last
            raise AssertionError(
                f"alarms {sorted(names - fired)} did not fire within {timeout:.0f} s; fired: {fired}"
            ) from None

    def wait_stored(self, ids: list[str], timeout: float) -> None:
        """Until every id is in the table; AssertionError with the count missing after `timeout`."""
        missing = set(ids)

        def all_stored() -> bool:
            missing.difference_update(self.stored_ids(sorted(missing)))  # ask only for those not yet seen
            return not missing

        try:
            wait_until(all_stored, timeout=timeout, interval=POLL_SECONDS, what="the accepted events to be stored")
        except WaitTimedOut:
            raise AssertionError(
                f"{len(missing)} of {len(ids)} accepted events not stored after {timeout:.0f} s"
            ) from None


def start_harness_stack(state_dir: Path, **options: Any) -> HarnessStack:
    """start_background_stack, as the tests' handle."""
    stack = start_background_stack(state_dir, **options)
    return HarnessStack(process=stack.process, state_dir=stack.state_dir, outputs=stack.outputs)


def _canary_items(dynamodb: Any, table: str) -> int:
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        Select="COUNT",
        ConsistentRead=True,
        FilterExpression="attribute_exists(#canary)",
        ExpressionAttributeNames={"#canary": CANARY_ATTRIBUTE},
    )
    return sum(page["Count"] for page in pages)
