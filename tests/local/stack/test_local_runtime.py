"""What the local runtime hooks in a new execution environment: every AWS client the function uses, those it
makes on first use included, so that a fault such as db-down reaches all of them."""

from __future__ import annotations

import pytest
from botocore.exceptions import EndpointConnectionError

from local.emulation.process import MotoServer
from local.services.chaos import Chaos
from local.services.lambdas import load_environment
from local.stack.runtime import environment_clients
from ops.local_credentials import LOCAL_CREDENTIALS_ENVIRONMENT
from tests.aws_helpers import create_hash_table, unique


def test_db_down_reaches_the_idempotency_table_ingest_uses_on_its_first_keyed_request(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an ingest execution environment, loaded as the runtime loads one, against moto
    table = create_hash_table(moto.client("dynamodb"), unique("idempotency"), "id")
    environment = {
        "AWS_ENDPOINT_URL": moto.endpoint_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        **LOCAL_CREDENTIALS_ENVIRONMENT,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "QUEUE_URL": f"{moto.endpoint_url}/123456789012/unused",
        "IDEMPOTENCY_TABLE_NAME": table,
        "POWERTOOLS_SERVICE_NAME": "ingest",  # as the template sets it
        "RETRY_AFTER_SECONDS": "5",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    module, _ = load_environment("functions.ingest.app.handler")
    # WHEN the runtime hooks its clients, and DynamoDB goes down
    chaos = Chaos()
    chaos.attach(*environment_clients("ingest", module))
    chaos.inject("db-down", 60)
    try:
        # THEN the idempotency table's client (on Lambda, made on the first keyed request) fails to connect too
        idempotency = module.keyed_requests().client
        with pytest.raises(EndpointConnectionError):
            idempotency.describe_table(TableName=table)
    finally:
        chaos.detach()
    # AND once the fault is gone it reaches the table again
    assert idempotency.describe_table(TableName=table)["Table"]["TableName"] == table
