"""Fixtures shared across the tree. `local_stack`: one real local stack per test session (per xdist
worker), for the tests marked e2e; tests that inject faults lift them before they end.

The e2e modules are split into two xdist groups ("local-stack", "local-stack-b"): `--dist loadgroup` keeps a
group on one worker, so with two workers each group usually gets a stack of its own and the two halves run side
by side (each group's tests still share one stack, as they always did)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.background import BackgroundStack, start_background_stack


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundStack]:
    stack = start_background_stack(tmp_path_factory.mktemp("local-stack"))
    yield stack
    stack.stop()
