"""Fixtures for the function tests: AWS environment, mocked AWS, a Lambda context.

No __init__.py in tests/functions on purpose: a `tests/functions` package could shadow `functions`.
"""

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.functions.support import FakeContext

REGION = "us-east-1"


@pytest.fixture(autouse=True, scope="session")
def aws_environment() -> Iterator[None]:
    """Fake credentials, no endpoint override, tracing off: as the local runtime sets it."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LAMBDA_TASK_ROOT", "_X_AMZN_TRACE_ID"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        patch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Sluice")
        yield


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()
