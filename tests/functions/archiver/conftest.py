"""The archiver handler on a mocked bucket."""

from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.functions.support import load_module, plain_client

BUCKET = "sluice-archive"


@pytest.fixture
def archiver(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    plain_client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("ARCHIVE_BUCKET", BUCKET)
    monkeypatch.delenv("ARCHIVE_PREFIX", raising=False)
    yield load_module("functions.archiver.app")
