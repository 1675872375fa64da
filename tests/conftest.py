"""Fixtures shared across the tree. `local_stack`: one real local stack per test session (per xdist
worker), for the tests marked e2e; tests that inject faults lift them before they end.

The e2e modules are split into five xdist groups ("local-stack", "local-stack-b" to "local-stack-e") of about
equal time (6 to 14 min each, measured with `--durations=0`): `--dist loadgroup` keeps a group on one worker and
hands out the groups with most tests first, so with `make test`'s five workers the groups run side by side, each
on the one stack its worker started, and the unit tests fill the gaps. Five workers on two cores: the e2e tests
mostly wait on the local stacks' clocks (alarm periods, backoff delays, a fault's alarm firing and clearing). Tests
that start stacks of their own (demo, detach, crash recovery) have groups of their own ("own-stack-..."), so no
worker starts a shared stack for them. Every e2e test must name its group: collection fails otherwise (an ungrouped
one could land on a worker without a stack and start another)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.local_stack_harness import HarnessStack, start_harness_stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    ungrouped = [
        item.nodeid for item in items if item.get_closest_marker("e2e") and not item.get_closest_marker("xdist_group")
    ]
    if ungrouped:
        raise pytest.UsageError(f"e2e tests without an xdist_group (tests/conftest.py): {', '.join(ungrouped)}")


@pytest.fixture(autouse=True)
def faults_lifted_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that fails while its fault is on (a 600 s pause, say) must not leave its group's shared stack broken
    for the tests after it: whatever fault is still active when a test on the shared stack ends is lifted."""
    yield
    if "local_stack" in request.fixturenames:
        stack = request.getfixturevalue("local_stack")
        for fault in stack.status()["chaos"]:
            stack.lift(fault)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessStack]:
    stack = start_harness_stack(tmp_path_factory.mktemp("local-stack"))
    yield stack
    stack.stop()
