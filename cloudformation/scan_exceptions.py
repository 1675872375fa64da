"""The justified exceptions to the template scanners (cfn-lint serverless rules, checkov). Keep it short:
every other finding fails `invoke validate`."""

SCAN_EXCEPTIONS: dict[str, str] = {
    # SQS event source mappings cannot have an on-failure destination (AWS supports it only for
    # streams and Kafka); a failed message goes to the dead-letter queue by the queue's redrive policy.
    "ES1001": "SQS event source mappings do not support OnFailure destinations; the redrive policy is the failure path",
    # The dead-letter queue and the failures queue are the end of the line: a DLQ of a DLQ only moves the
    # problem. Both are alarmed on depth and the DLQ is archived to S3.
    "ES6000": "dead-letter queues are the end of the line; they are alarmed and archived instead",
    # A function's DeadLetterConfig applies to asynchronous invocations only: ingest is invoked synchronously,
    # consumer and archiver by event source mappings (the queues' redrive policy is their failure path), and the
    # notifier's failures take its OnFailure destination; a DLQ as well would deliver each failure twice.
    # The canary and the retrier run on schedules whose next run does the same work: a failed run is not retried.
    "CKV_AWS_116": "sync, mapping-driven and scheduled functions never use a DLQ; the notifier's take OnFailure",
    # The functions only call AWS APIs; a VPC would add NAT gateways (cost, a failure point) and no
    # isolation that IAM does not already give.
    "CKV_AWS_117": "functions reach only AWS APIs; a VPC adds NAT cost and no isolation beyond IAM",
    # POST /events must never be cached, and GET /health is a mock: a cache cluster costs money for nothing.
    "CKV_AWS_120": "POST /events is never cacheable; a stage cache cluster would cost without benefit",
    # The archive's writers and readers are our own roles; object-level access is audited with CloudTrail
    # data events where required, and an access-log bucket would itself need a log bucket.
    "CKV_AWS_18": "archive access is audited by CloudTrail data events; a log bucket needs a log bucket",
}
