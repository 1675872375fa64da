"""The monitoring builders the template composes: alarms, the dashboards that show them, the budget.

The dashboards package never imports the alarm table; this module hands it what it shows of each alarm.
"""

from __future__ import annotations

from troposphere import AWSObject

from alarms.builders import build_alarms
from alarms.table import alarm_definitions, composite_definitions
from cloudformation.budget import build_budget
from cloudformation.config import Config
from cloudformation.template import MonitoringBuilder, Stack
from dashboards.catalog import Catalog, build_catalog
from dashboards.layout import AlarmView
from dashboards.operations import operations_body
from dashboards.resources import dashboard
from dashboards.summary import summary_body


def builders() -> tuple[MonitoringBuilder, ...]:
    return (build_alarms, build_dashboards, build_budget)


def alarm_views(config: Config, catalog: Catalog) -> tuple[AlarmView, ...]:
    metric_alarms = [
        AlarmView(
            name=definition.name,
            tier=definition.tier,
            summary=definition.spec.summary,
            runbook=definition.runbook,
            signal=definition.spec.signal,
            threshold=None if definition.spec.is_band else definition.threshold,
            band_width=definition.threshold if definition.spec.is_band else None,
        )
        for definition in alarm_definitions(config, catalog)
    ]
    composites = [
        AlarmView(
            name=definition.name, tier=definition.tier, summary=definition.spec.summary, runbook=definition.runbook
        )
        for definition in composite_definitions(config)
    ]
    return (*composites, *metric_alarms)


def build_dashboards(stack: Stack) -> list[AWSObject]:
    config = stack.config
    catalog = build_catalog(config)
    views = alarm_views(config, catalog)
    period = config.monitoring.period_seconds
    return [
        dashboard("OperationsDashboard", config.resource_name("operations"), operations_body(catalog, views, period)),
        dashboard(
            "SummaryDashboard",
            config.resource_name("summary"),
            summary_body(catalog, views, period, canary=config.canary.enabled),
        ),
    ]
