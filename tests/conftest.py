"""Fixtures shared across the tree. `local_stack`: one real local stack per test session (per xdist
worker), for the tests marked e2e; tests that inject faults lift them before they end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.background import BackgroundStack, start_background_stack


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundStack]:
    stack = start_background_stack(tmp_path_factory.mktemp("local-stack"))
    yield stack
    stack.stop()
