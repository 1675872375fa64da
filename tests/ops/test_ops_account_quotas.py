"""Reading the account's quotas (ops/account_quotas.py) through botocore's Stubber: requests and responses are
checked against botocore's models of Lambda GetAccountSettings and Service Quotas GetServiceQuota."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import Stubber

from ops.account_quotas import read_account_quotas
from ops.capacity import Quotas

REGION = "eu-west-1"
QUOTA_REQUEST = {"ServiceCode": "apigateway", "QuotaCode": "L-8A5B8E43"}


@dataclass
class Account:
    awslambda: Any
    quotas: Any
    lambda_stub: Stubber
    quotas_stub: Stubber

    def concurrency(self, limit: int) -> None:
        account_limit = {
            "TotalCodeSize": 80_530_636_800,
            "CodeSizeUnzipped": 262_144_000,
            "CodeSizeZipped": 52_428_800,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": limit - 5,
        }
        self.lambda_stub.add_response(
            "get_account_settings",
            {"AccountLimit": account_limit, "AccountUsage": {"TotalCodeSize": 1_000, "FunctionCount": 6}},
            expected_params={},
        )

    def throttle_rate(self, value: float) -> None:
        quota = {
            "ServiceCode": "apigateway",
            "ServiceName": "Amazon API Gateway",
            "QuotaArn": f"arn:aws:servicequotas:{REGION}:123456789012:apigateway/L-8A5B8E43",
            "QuotaCode": "L-8A5B8E43",
            "QuotaName": "Throttle rate",
            "Value": value,
            "Unit": "None",
            "Adjustable": True,
            "GlobalQuota": False,
        }
        self.quotas_stub.add_response("get_service_quota", {"Quota": quota}, expected_params=QUOTA_REQUEST)


@pytest.fixture
def account() -> Iterator[Account]:
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
    awslambda, quotas = boto3.client("lambda", **credentials), boto3.client("service-quotas", **credentials)
    stubs = Stubber(awslambda), Stubber(quotas)
    for stub in stubs:
        stub.activate()
    yield Account(awslambda, quotas, *stubs)
    for stub in stubs:
        stub.assert_no_pending_responses()  # every stubbed call was made


def test_the_accounts_values_replace_the_defaults_and_name_their_source(account: Account) -> None:
    # GIVEN an account with 3,000 concurrent executions and an API Gateway throttle raised to 20,000
    account.concurrency(3_000)
    account.throttle_rate(20_000.0)
    # WHEN read
    reading = read_account_quotas(account.awslambda, account.quotas)
    # THEN both are the account's, not defaults; the rest stay AWS's defaults
    assert (reading.quotas.lambda_concurrency.value, reading.quotas.lambda_concurrency.default) == (3_000, False)
    assert "GetAccountSettings" in reading.quotas.lambda_concurrency.source
    assert REGION in reading.quotas.lambda_concurrency.source
    assert (reading.quotas.api_account_rps.value, reading.quotas.api_account_rps.default) == (20_000, False)
    assert "Service Quotas apigateway L-8A5B8E43 (Throttle rate)" in reading.quotas.api_account_rps.source
    assert reading.quotas.dynamodb_table_write_units == Quotas().dynamodb_table_write_units
    assert reading.notes == ()


def test_a_refused_quota_keeps_its_default_with_a_note(account: Account) -> None:
    # GIVEN Lambda answers but the caller may not read Service Quotas
    account.concurrency(1_000)
    account.quotas_stub.add_client_error(
        "get_service_quota",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform servicequotas:GetServiceQuota",
        http_status_code=403,
        expected_params=QUOTA_REQUEST,
    )
    # WHEN read
    reading = read_account_quotas(account.awslambda, account.quotas)
    # THEN the throttle stays the published default, and one line says why
    assert reading.quotas.api_account_rps == Quotas().api_account_rps
    assert reading.quotas.lambda_concurrency.default is False
    assert reading.notes == (
        "API Gateway throttle: AccessDeniedException: User is not authorized to perform "
        "servicequotas:GetServiceQuota; using the default 10,000",
    )


def test_a_quota_without_an_applied_value_keeps_its_default(account: Account) -> None:
    account.lambda_stub.add_client_error(
        "get_account_settings", service_error_code="TooManyRequestsException", http_status_code=429
    )
    account.quotas_stub.add_client_error(
        "get_service_quota", service_error_code="NoSuchResourceException", http_status_code=400
    )
    reading = read_account_quotas(account.awslambda, account.quotas)
    assert reading.quotas == Quotas()
    assert [note.split(":")[0] for note in reading.notes] == ["Lambda concurrency", "API Gateway throttle"]


class NoCredentials:
    """A client whose calls fail as botocore's do when no credentials are found (Stubber answers before signing)."""

    meta = type("Meta", (), {"region_name": REGION})()

    def get_account_settings(self) -> dict[str, Any]:
        raise NoCredentialsError()


def test_without_credentials_one_line_says_every_quota_is_a_default() -> None:
    reading = read_account_quotas(NoCredentials(), NoCredentials())
    assert reading.quotas == Quotas()
    assert reading.notes == ("no AWS credentials: using AWS's published defaults for every quota",)
