"""Fixtures shared across the tree. `local_stack`: one real local stack per test session (per xdist
worker), for the tests marked e2e; tests that inject faults lift them before they end.

The e2e modules are split into three xdist groups ("local-stack", "local-stack-b", "local-stack-c") of about
the same length: `--dist loadgroup` keeps a group on one worker and hands out the largest groups first, so with
`make test`'s three workers each group gets a stack of its own and the three run side by side (a group's tests
share one stack). Three workers on two cores: the e2e tests mostly wait on the local stack's clocks (alarm
periods, backoff delays); measured on 2 cores, pytest took 22 min with two workers and 14 min with three, the
three using 1.2 cores on average."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.background import BackgroundStack, start_background_stack


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundStack]:
    stack = start_background_stack(tmp_path_factory.mktemp("local-stack"))
    yield stack
    stack.stop()
