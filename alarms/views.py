"""What the dashboards show of each alarm: the dashboards package never imports the alarm table, so the
alarm side hands it these views."""

from __future__ import annotations

from alarms.table import alarm_definitions, composite_definitions
from core.config import Config
from dashboards.catalog import Catalog
from dashboards.layout import AlarmView


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
            window_seconds=(definition.spec.periods or config.monitoring.evaluation_periods)
            * catalog[definition.spec.signal].period,
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
