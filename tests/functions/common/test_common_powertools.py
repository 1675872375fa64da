"""The handlers' Powertools tools: one service name, from the template's variable, on all three."""

import pytest

from functions.common import powertools


def test_handler_tools_share_the_templates_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the template's service name and metric namespace
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "sluice-test-fn")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SluiceTest")
    # WHEN a handler sets up its tools
    logger, tracer, metrics = powertools.handler_tools()
    # THEN logs, traces and metrics carry that name, and metrics go to that namespace
    assert logger.service == "sluice-test-fn"
    assert tracer.service == "sluice-test-fn"
    assert metrics.service == "sluice-test-fn"
    assert metrics.namespace == "SluiceTest"
