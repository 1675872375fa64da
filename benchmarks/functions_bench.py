"""Benchmarks of the Lambda handlers against baselines measured in the same run.

Run: .venv/bin/python -m benchmarks.functions_bench

1. warm ingest invocation (one small event) vs a handler that only calls send_message, same mocked queue
2. cold `import functions.ingest.app` vs `import boto3; boto3.client("sqs")`, each in a fresh interpreter with
   production settings (running "in Lambda", tracing on); and, for information, vs the botocore client alone,
   which is what Powertools, the X-Ray SDK and our own modules add. Outside Lambda the X-Ray SDK builds its
   centralized-sampling clients at import (~150 ms, once per process): a local figure says nothing of Lambda.
3. consumer BatchWriteItem calls per event at batch size 100
4. warm ingest with an Idempotency-Key (a new key each time: Powertools' PutItem and UpdateItem on the
   idempotency table) vs without, same mocked queue and table
"""

import contextlib
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from importlib import import_module
from typing import Any

from benchmarks.cold_start import AWS_ENV, BOTO3_CLIENT, INGEST_ENV, Result, interleaved_medians, print_results
from local.services.lambdas import FunctionSettings, LambdaContext

WARM_ITERATIONS = 400
COLD_RUNS = 15
CONSUMER_BATCHES = 5
BATCH_SIZE = 100


# Lambda's longest timeout: the warm bench reuses one context for all its invocations and must not run short.
INGEST_BENCH_ENV = AWS_ENV | {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "QUEUE_URL": "pending",
    "IDEMPOTENCY_TABLE_NAME": "bench-idempotency",
    "POWERTOOLS_SERVICE_NAME": "ingest",
    "RETRY_AFTER_SECONDS": "5",
}
BENCH_FUNCTION = FunctionSettings(name="sluice-bench", timeout_seconds=900, memory_mb=256)


def bench_context() -> LambdaContext:
    """A Lambda context as the local runtime makes one."""
    return LambdaContext.starting_now(BENCH_FUNCTION, "bench")


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _api_event(body: str) -> dict[str, Any]:
    return {
        "httpMethod": "POST",
        "path": "/events",
        "headers": {"Content-Type": "application/json", "User-Agent": "bench"},
        "requestContext": {"requestId": "r", "identity": {"sourceIp": "127.0.0.1", "apiKeyId": "k"}},
        "body": body,
        "isBase64Encoded": False,
    }


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _warm_pairs(
    ours: Callable[[], Any], theirs: Callable[[], Any], iterations: int, sqs: Any, url: str
) -> tuple[list[float], list[float]]:
    """The two calls timed `iterations` times each, alternating which goes first so drift hurts neither side; the
    bench queue is emptied every 50 iterations (moto's SQS slows down with queue depth)."""
    ours_seconds: list[float] = []
    theirs_seconds: list[float] = []
    with contextlib.redirect_stdout(io.StringIO()) as sink:  # EMF and logs: printed, not measured apart
        for iteration in range(iterations):
            if iteration % 50 == 0:
                sqs.delete_queue(QueueUrl=url)
                sqs.create_queue(QueueName="bench")
                sink.truncate(0)
            pair = (ours, theirs) if iteration % 2 else (theirs, ours)
            for call in pair:
                (ours_seconds if call is ours else theirs_seconds).append(_timed(call))
    return ours_seconds, theirs_seconds


def warm_ingest() -> Result:
    from moto import mock_aws

    with environment(INGEST_BENCH_ENV), mock_aws():
        import boto3

        url = boto3.client("sqs").create_queue(QueueName="bench")["QueueUrl"]
        os.environ["QUEUE_URL"] = url
        app = import_module("functions.ingest.app")
        sqs, event, context = app.sqs, _api_event('{"type": "click", "n": 1}'), bench_context()

        def baseline() -> None:
            sqs.send_message(QueueUrl=url, MessageBody=event["body"])

        def ingest() -> None:
            assert app.handler(event, context)["statusCode"] == 202

        ours, theirs = _warm_pairs(ingest, baseline, WARM_ITERATIONS, sqs, url)
    ratio = statistics.median(ours) / statistics.median(theirs)
    detail = (
        f"ingest {statistics.median(ours) * 1000:.2f} ms vs send_message {statistics.median(theirs) * 1000:.2f} ms,"
        f" median of {WARM_ITERATIONS}"
    )
    return Result("warm ingest / send_message", ratio, 1.3, "x", detail)


def warm_keyed_ingest() -> Result:
    from moto import mock_aws

    with environment(INGEST_BENCH_ENV), mock_aws():
        import boto3

        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="bench")["QueueUrl"]
        boto3.client("dynamodb").create_table(
            TableName=INGEST_BENCH_ENV["IDEMPOTENCY_TABLE_NAME"],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        os.environ["QUEUE_URL"] = url
        app = import_module("functions.ingest.app")
        context = bench_context()
        plain = _api_event('{"type": "click", "n": 1}')
        keys = iter(range(WARM_ITERATIONS))

        def unkeyed() -> None:
            assert app.handler(plain, context)["statusCode"] == 202

        def keyed() -> None:
            event = {**plain, "headers": {**plain["headers"], "Idempotency-Key": f"bench-{next(keys)}"}}
            assert app.handler(event, context)["statusCode"] == 202

        keyed()  # the first keyed request imports the idempotency layer: a cold-start cost, not a warm one
        ours, theirs = _warm_pairs(keyed, unkeyed, WARM_ITERATIONS - 1, sqs, url)
    detail = (
        f"keyed {statistics.median(ours) * 1000:.2f} ms vs unkeyed {statistics.median(theirs) * 1000:.2f} ms,"
        f" median of {WARM_ITERATIONS - 1}"
    )
    return Result(
        "warm keyed ingest / unkeyed ingest", statistics.median(ours) / statistics.median(theirs), None, "x", detail
    )


BOTOCORE_CLIENT = 'import botocore.session; botocore.session.get_session().create_client("sqs")'


def cold_imports() -> list[Result]:
    python = sys.executable
    median = interleaved_medians(
        COLD_RUNS,
        {
            "ingest": (python, "import functions.ingest.app", INGEST_ENV),
            "boto3": (python, BOTO3_CLIENT, INGEST_ENV),
            "botocore": (python, BOTOCORE_CLIENT, INGEST_ENV),
        },
    )

    def versus(baseline: str, target: float | None) -> Result:
        detail = (
            f"{median['ingest'] * 1000:.0f} ms vs {median[baseline] * 1000:.0f} ms,"
            f" median of {COLD_RUNS} fresh interpreters"
        )
        name = f"cold import ingest / {baseline}+client (in Lambda, tracing on)"
        return Result(name, median["ingest"] / median[baseline], target, "x", detail)

    return [versus("boto3", 1.2), versus("botocore", None)]


def consumer_writes() -> Result:
    from moto import mock_aws

    from functions.common.envelope import Envelope

    queues = {
        "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-ingest",
        "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-dead-letter",
        "PARKING_BUCKET": "sluice-archive",
    }
    with (
        environment(
            AWS_ENV
            | queues
            | {"POWERTOOLS_TRACE_DISABLED": "true", "TABLE_NAME": "bench-events", "POWERTOOLS_SERVICE_NAME": "consumer"}
        ),
        mock_aws(),
    ):
        import boto3

        boto3.client("dynamodb").create_table(
            TableName="bench-events",
            KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "event_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        app = import_module("functions.consumer.app")
        calls = []
        app.dynamodb.meta.events.register("before-call.dynamodb.BatchWriteItem", lambda **_: calls.append(1))
        events = 0
        with contextlib.redirect_stdout(io.StringIO()):
            for batch in range(CONSUMER_BATCHES):
                envelopes = [
                    Envelope(f"e-{batch}-{index}", json.dumps({"i": index}), "2026-01-01T00:00:00.000Z")
                    for index in range(BATCH_SIZE)
                ]
                records = [{"messageId": f"m-{e.event_id}", "body": e.to_json()} for e in envelopes]
                assert app.handler({"Records": records}, bench_context()) == {"batchItemFailures": []}
                events += len(records)
    detail = f"{len(calls)} BatchWriteItem calls for {events} events in batches of {BATCH_SIZE}"
    return Result("consumer write requests per event", len(calls) / events, 0.05, "", detail)


def main() -> None:
    results = [
        warm_ingest(),
        *cold_imports(),
        consumer_writes(),
        warm_keyed_ingest(),
    ]
    print_results(results)


if __name__ == "__main__":
    main()
