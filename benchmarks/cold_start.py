"""What the benchmarks share: the result table, and timing an import in fresh interpreters."""

import os
import statistics
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from functions.common import metric_names
from ops.local_credentials import LOCAL_CREDENTIALS_ENVIRONMENT

AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    **LOCAL_CREDENTIALS_ENVIRONMENT,
    "POWERTOOLS_METRICS_NAMESPACE": metric_names.DEFAULT_NAMESPACE,
}
# What Lambda sets and Powertools/the X-Ray SDK read: "running in Lambda", so tracing is on.
IN_LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "sluice-bench"}
INGEST_ENV = (
    AWS_ENV
    | IN_LAMBDA
    | {
        "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench",
        "IDEMPOTENCY_TABLE_NAME": "bench-idempotency",
        # what the template sets (cloudformation/functions.py)
        "POWERTOOLS_SERVICE_NAME": "ingest",
        "RETRY_AFTER_SECONDS": "5",
    }
)
BOTO3_CLIENT = 'import boto3; boto3.client("sqs")'
IMPORT_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    target: float | None  # None: printed for information
    unit: str
    detail: str


def print_results(results: list[Result]) -> None:
    width = max(len(result.name) for result in results)
    print(f"{'benchmark'.ljust(width)}  {'value':>7}  {'target':>7}  ok   detail")
    for result in results:
        value = f"{result.value:.3f}{result.unit}"
        if result.target is None:
            ok, target = "info", "-"
        else:
            ok, target = ("yes" if result.value <= result.target else "NO"), f"≤{result.target:g}{result.unit}"
        print(f"{result.name.ljust(width)}  {value:>7}  {target:>7}  {ok:<4} {result.detail}")


def import_seconds(statement: str, env: Mapping[str, str], python: str = sys.executable) -> float:
    """Seconds `statement` takes in a fresh interpreter, with `env` over ours (minus AWS_* and POWERTOOLS_*)."""
    code = f"import time; start = time.perf_counter(); {statement}; print(time.perf_counter() - start)"
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "POWERTOOLS_"))}
    output = subprocess.run(
        [python, "-c", code],
        env=clean | dict(env),
        capture_output=True,
        text=True,
        check=True,
        timeout=IMPORT_TIMEOUT_SECONDS,
    ).stdout
    return float(output.strip().splitlines()[-1])


def interleaved_medians(runs: int, statements: Mapping[str, tuple[str, str, Mapping[str, str]]]) -> dict[str, float]:
    """`{name: median seconds}` of `(python, statement, env)` per name, the names taking turns in every run so
    that drift in the machine's load hurts none of them."""
    seconds: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(runs):
        for name, (python, statement, env) in statements.items():
            seconds[name].append(import_seconds(statement, env, python))
    return {name: statistics.median(values) for name, values in seconds.items()}
