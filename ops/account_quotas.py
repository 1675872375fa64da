"""The account's applied quotas, where an API gives them, in place of AWS's published defaults (ops/capacity.py).

- Lambda GetAccountSettings: AccountLimit.ConcurrentExecutions (botocore lambda 2015-03-31).
- Service Quotas GetServiceQuota(ServiceCode "apigateway", QuotaCode "L-8A5B8E43"): API Gateway's throttle rate per
  account and Region (the quota code the API Gateway quotas page links to). The burst is set by AWS from it and
  cannot be read or changed, so it stays the published default.

DynamoDB's table quota and SQS's in-flight cap have no such API here: they stay defaults, and say so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ops.aws import error_message
from ops.capacity import Fact, Quotas

API_GATEWAY_SERVICE_CODE = "apigateway"
API_GATEWAY_THROTTLE_RATE_QUOTA_CODE = "L-8A5B8E43"


@dataclass(frozen=True)
class AccountReading:
    quotas: Quotas
    notes: tuple[str, ...]  # one line per quota that could not be read (its default stands)


def read_account_quotas(lambda_client: Any, quotas_client: Any, defaults: Quotas | None = None) -> AccountReading:
    """Each quota the account answers for replaces its default; a refused or failed call leaves the default and a
    note naming it."""
    quotas, notes = defaults or Quotas(), []
    region = lambda_client.meta.region_name
    try:
        limit = lambda_client.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    except NoCredentialsError:
        return AccountReading(quotas, ("no AWS credentials: using AWS's published defaults for every quota",))
    except (ClientError, BotoCoreError, KeyError) as error:
        notes.append(f"Lambda concurrency: {_reason(error)}; using the default {quotas.lambda_concurrency.value:,.0f}")
    else:
        source = f"account {region}: Lambda GetAccountSettings AccountLimit.ConcurrentExecutions"
        quotas = dataclasses.replace(quotas, lambda_concurrency=Fact(float(limit), source, default=False))
    try:
        quota = quotas_client.get_service_quota(
            ServiceCode=API_GATEWAY_SERVICE_CODE, QuotaCode=API_GATEWAY_THROTTLE_RATE_QUOTA_CODE
        )["Quota"]
        source = (
            f"account {region}: Service Quotas {API_GATEWAY_SERVICE_CODE} {API_GATEWAY_THROTTLE_RATE_QUOTA_CODE} "
            f"({quota.get('QuotaName', 'throttle rate')})"
        )
        quotas = dataclasses.replace(quotas, api_account_rps=Fact(float(quota["Value"]), source, default=False))
    except (ClientError, BotoCoreError, KeyError) as error:
        notes.append(f"API Gateway throttle: {_reason(error)}; using the default {quotas.api_account_rps.value:,.0f}")
    return AccountReading(quotas, tuple(notes))


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        return error_message(error)
    if isinstance(error, KeyError):
        return f"the answer has no {error}"
    return " ".join(str(error).split())
