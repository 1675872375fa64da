"""The tests' handle on a local stack they started: the product's BackgroundStack (local/stack/background.py) plus the
waits a test needs, which fail the test (AssertionError) with what they last saw when the stack does not get
there in time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.stack.background import BackgroundStack, start_background_stack
from ops.waiting import WaitTimedOut, wait_until

POLL_SECONDS = 1


@dataclass
class HarnessStack(BackgroundStack):
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
