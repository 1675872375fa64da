"""`invoke capacity` as an operator runs it: a subprocess, no AWS (tasks/capacity.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.tasks.helpers import run_invoke

# No credentials anywhere and no instance metadata: the task must fall back to AWS's defaults, saying so in one line.
NO_AWS = {
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def test_local_reads_the_local_configuration_and_names_the_bottleneck(tmp_path: Path) -> None:
    # GIVEN the local configuration, the local load profile's mix and two cores for the stack (with more, the runtime
    # process's one core binds first)
    # WHEN invoke capacity --env local
    arguments = ("--events-per-request", "1.48", "--event-bytes", "910", "--local-cores", "2")
    result = run_invoke(tmp_path, "capacity", "--env", "local", *arguments)
    # THEN the local stages, the bottleneck and the cost, and no account quota
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Capacity of sluice-local (the local stack)" in out
    assert "API Gateway usage plan" in out and "local machine CPU" in out
    assert "API Gateway account" not in out
    assert "\nbottleneck: local machine CPU at " in out
    assert "\ncost at that rate: $" in out


def test_prod_without_credentials_uses_the_defaults_and_says_so_in_one_line(tmp_path: Path) -> None:
    # GIVEN no AWS credentials
    # WHEN invoke capacity --env prod
    result = run_invoke(tmp_path, "capacity", "--env", "prod", env=NO_AWS)
    # THEN the model runs on AWS's published defaults, with one line saying so
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("note:")]
    assert notes == ["note: no AWS credentials: using AWS's published defaults for every quota"]
    assert "\nbottleneck: API Gateway usage plan at 500 events/s = 500.0 requests/s" in result.stdout
    assert "Traceback" not in result.stderr


def test_json_and_flags(tmp_path: Path) -> None:
    # GIVEN ten events per request, 40 ms ingest and the defaults without asking AWS
    result = run_invoke(
        tmp_path,
        "capacity",
        "--env",
        "prod",
        "--events-per-request",
        "10",
        "--ingest-ms",
        "40",
        "--defaults",
        "--json",
        env=NO_AWS,
    )
    # THEN JSON: the flag's duration, every stage, the binding one in events and requests
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["durations"]["ingest_source"] == "--ingest-ms"
    ingest = next(stage for stage in document["stages"] if stage["stage"] == "ingest λ")
    assert ingest["requests_per_second"] == 1250  # 50 reserved ÷ 40 ms
    assert document["bottleneck"]["stage"] == "API Gateway usage plan"
    assert document["bottleneck"]["events_per_second"] == 5000
    assert document["notes"] == []


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    for arguments, message in (
        (("--events-per-request", "0"), "error: --events-per-request: expected 1–500 (api.max_batch_events), got 0"),
        (("--consumer-batch-ms", "-5"), "error: --consumer-batch-ms: expected a positive number of milliseconds"),
        (("--ingest-ms", "abc"), "error: --ingest-ms: expected milliseconds (a number), got 'abc'"),
        (("--events-per-request", "many"), "error: --events-per-request: expected a float, got 'many'"),
        (("--api-keys", "0"), "error: --api-keys: expected 1 or more keys on the usage plan, got 0"),
    ):
        result = run_invoke(tmp_path, "capacity", "--env", "prod", "--defaults", *arguments, env=NO_AWS)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [message]
    unknown = run_invoke(tmp_path, "capacity", "--env", "nosuch", env=NO_AWS)
    assert unknown.returncode == 2
    assert len(unknown.stderr.strip().splitlines()) == 1 and "nosuch" in unknown.stderr
