"""`invoke load --fargate-workers` rehearsed on the local stack: the load generator's task definitions' own
command lines run as a local master and two workers, fetch the bundle from the local stack's S3, drive the
local stack, upload their results, and the run collects them into its report — upload to report, whole."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from loadtest.fargate.rehearsal import LocalTasks
from loadtest.fargate.runner import Preparation, prepare_rehearsal, run_on_fargate
from loadtest.fargate.stack import render_template
from loadtest.run import RunOptions
from loadtest.scenarios import get_scenario
from loadtest.stack import LocalStackView
from loadtest.target import local_target
from ops.outputs import Target
from tests.load_verdicts import assert_met_apart_from_latency

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("fargate")]

WORKERS = 2
# Bounded: a few users for a few seconds; the workers must connect within 60 s, the whole Locust part ends
# by the flow's hard limit (duration + worker wait + stop), and each stop waits 60 s at most.
OPTIONS = RunOptions(users=4, rate=8, duration=8, workers=WORKERS)


def test_a_fargate_run_rehearsed_locally_goes_from_upload_to_report(local_stack, tmp_path: Path) -> None:
    # GIVEN the local stack and the rehearsal of the load generator's tasks
    target = local_target(local_stack.outputs)
    prepared: list[Preparation] = []

    def prepare(stack_target: Target, workers: int) -> Preparation:
        preparation = prepare_rehearsal(stack_target, workers)
        preparation.tasks = LocalTasks(json.loads(render_template()), tmp_path / "tasks")  # cleaned up with tmp_path
        prepared.append(preparation)
        return preparation

    # WHEN the smoke scenario runs on a master and two workers, confirmed up front (--yes)
    result = run_on_fargate(
        get_scenario("smoke"),
        target,
        LocalStackView(target),
        replace(OPTIONS, reports_dir=tmp_path / "reports"),
        stack_name="not-used-locally",
        yes=True,
        prepare=prepare,
    )
    # THEN the run passed every check of a local run but latency (tests/load_verdicts.py), with its report, plot and
    # summary
    (preparation,) = prepared
    assert_met_apart_from_latency(result)
    for name in ("report.md", "plot.png", "summary.json", "accepted-ids.jsonl", "locust_stats.csv"):
        assert (result.folder / name).exists(), name
    summary = json.loads((result.folder / "summary.json").read_text())
    assert summary["accepted"] > 0 and summary["lost"] == 0
    # AND both workers' accepted ids came back through S3 (each worker uploads its own id log)
    uploaded = preparation.s3.list_objects_v2(
        Bucket=preparation.bucket, Prefix=f"runs/{result.folder.name}/results/"
    ).get("Contents", [])
    keys = [item["Key"] for item in uploaded]
    worker_logs = {key.split("/")[3] for key in keys if "/ids-" in key and "/worker-" in key}
    assert len(worker_logs) == WORKERS, keys
    # AND every process the rehearsal started has ended
    tasks = preparation.tasks
    assert isinstance(tasks, LocalTasks)
    assert set(tasks.statuses(tasks.started).values()) == {"STOPPED"}
