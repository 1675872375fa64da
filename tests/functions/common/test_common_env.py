"""Reading the environment: one clear line naming the variable."""

import pytest

from functions.common import env
from functions.common.errors import ConfigError


def test_require(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_TEST_VAR", " value ")
    assert env.require("SLUICE_TEST_VAR") == "value"
    monkeypatch.setenv("SLUICE_TEST_VAR", "  ")
    with pytest.raises(ConfigError, match=r"^environment variable SLUICE_TEST_VAR is not set$"):
        env.require("SLUICE_TEST_VAR")


def test_integer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLUICE_TEST_INT", raising=False)
    assert env.integer("SLUICE_TEST_INT", 5, minimum=1, maximum=10) == 5
    monkeypatch.setenv("SLUICE_TEST_INT", "11")
    with pytest.raises(ConfigError, match="SLUICE_TEST_INT must be between 1 and 10, got 11"):
        env.integer("SLUICE_TEST_INT", 5, minimum=1, maximum=10)


def test_metrics_namespace_defaults_to_sluice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    assert env.metrics_namespace() == "Sluice"
