"""The smoke scenario against the real local stack: Locust over HTTP, every accepted id in the table and once in
the S3 analytics store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.run import RunOptions, run_scenario
from loadtest.scenarios import get_scenario
from loadtest.stack import LocalStackView
from loadtest.target import local_target
from ops.progress import ProgressLine
from tests.load_verdicts import assert_met_apart_from_latency
from tests.local_stack_harness import HarnessStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-d")]


def test_smoke_passes_against_the_local_stack(local_stack: HarnessStack, tmp_path: Path) -> None:
    # GIVEN the local stack, started on free ports by the shared `local_stack` fixture
    target = local_target(local_stack.outputs)
    # WHEN the smoke scenario runs against it
    result = run_scenario(
        get_scenario("smoke"), target, LocalStackView(target), RunOptions(reports_dir=tmp_path), ProgressLine(None)
    )
    # THEN every expectation holds: error ratio, zero loss, no DLQ or 5XX alarm (latency is this machine's: shown,
    # not judged, tests/load_verdicts.py)
    assert_met_apart_from_latency(result)
    summary = json.loads((result.folder / "summary.json").read_text())
    assert summary["accepted"] > 0 and summary["lost"] == 0
    # AND the local stack's S3 analytics store was reconciled too: each accepted id in exactly one line
    assert (summary["s3_lost"], summary["s3_duplicates"]) == (0, 0)
