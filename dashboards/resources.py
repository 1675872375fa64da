"""The `AWS::CloudWatch::Dashboard` resources: the operations and summary dashboards."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from troposphere import Sub, cloudwatch

from cloudformation.api import access_log_group_name
from core.config import Config
from dashboards.catalog import Catalog
from dashboards.layout import AlarmView
from dashboards.operations import operations_body
from dashboards.summary import summary_body


def render_body(body: dict[str, Any]) -> str:
    """Deterministic JSON: the same configuration always gives the same dashboard."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def dashboard(logical_id: str, name: str, body: dict[str, Any]) -> cloudwatch.Dashboard:
    # Fn::Sub fills in the region and the account of alarm ARNs; the body has no other `${`.
    return cloudwatch.Dashboard(logical_id, DashboardName=name, DashboardBody=Sub(render_body(body)))


def build_dashboards(config: Config, catalog: Catalog, views: Sequence[AlarmView]) -> list[cloudwatch.Dashboard]:
    """The operations and summary dashboards, with the alarms' views drawn on their signals."""
    period = config.monitoring.period_seconds
    return [
        dashboard(
            "OperationsDashboard",
            config.resource_name("operations"),
            operations_body(
                catalog,
                views,
                period,
                events_table="dynamodb" in config.sinks,
                ingest_log_group=f"/aws/lambda/{config.resource_name('ingest')}",
                access_log_group=access_log_group_name(config),
            ),
        ),
        dashboard(
            "SummaryDashboard",
            config.resource_name("summary"),
            summary_body(catalog, views, period, canary=config.canary.enabled),
        ),
    ]
