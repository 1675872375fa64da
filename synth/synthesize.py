"""Synthesize an environment's template to `build/<env>/template.json`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from troposphere import AWSObject, Template

from cloudformation.notifications import tier_recipients
from cloudformation.template import MonitoringBuilder, Stack, build_template, render, resource_counts
from core.config import Config
from core.paths import PROJECT_ROOT

BUILD_DIR = PROJECT_ROOT / "build"


def monitoring_builders() -> tuple[MonitoringBuilder, ...]:
    """What the full template adds on top of the pipeline: the alarms, the dashboards that show them, the budget."""
    # Imported late: the monitoring side builds on the template's Stack.
    from alarms.builders import build_alarms
    from alarms.views import alarm_views
    from cloudformation.budget import build_budget
    from dashboards.catalog import build_catalog
    from dashboards.resources import build_dashboards

    def dashboards(stack: Stack) -> list[AWSObject]:
        catalog = build_catalog(stack.config)
        return [*build_dashboards(stack.config, catalog, alarm_views(stack.config, catalog))]

    return (build_alarms, dashboards, build_budget)


def full_template(config: Config) -> Template:
    return build_template(config, monitoring=monitoring_builders())


@dataclass(frozen=True)
class Synthesized:
    path: Path
    counts: Counter[str]
    retries: str = ""  # how an event the store does not take is retried, one line
    stopped_consumer: str = ""  # how soon a stopped consumer pages, one line
    recipients: tuple[str, ...] = ()  # who receives each tier, one line each

    def summary(self) -> str:
        kinds = ", ".join(f"{count} {kind.removeprefix('AWS::')}" for kind, count in sorted(self.counts.items()))
        header = f"{self.path}: {sum(self.counts.values())} resources ({kinds})"
        lines = [header, self.retries, self.stopped_consumer, *self.recipients]
        return "\n".join(line for line in lines if line)


def recipients_lines(config: Config) -> tuple[str, ...]:
    """Who receives each tier, and where a failed delivery of each is told."""
    recipients = tier_recipients(config)
    where = " (the local stack logs every notification to .local/logs/notifications.log)" if config.is_local else ""
    settings = config.notifications
    hours = f"{','.join(settings.business_days)} {settings.business_hours} {settings.business_timezone}"
    return (
        f"high tier (pages, at once): {recipients['high'].describe()}{where}",
        f"low tier (in business hours, {hours}; a digest of the rest when they start): "
        f"{recipients['low'].describe()}{where}",
        "undelivered pages (pages-undelivered) are told to the low tier's people at once, at any hour, undelivered "
        "low-tier notifications "
        "(notifications-undelivered) by page: neither through the subscriptions that failed",
    )


def retries_line(config: Config) -> str:
    """e.g. "retries: parked in S3 while the store fails, probed every 30 s per consumer environment; ..."."""
    queue = config.queue
    return (
        f"retries: parked in S3 while the store fails (at most {config.consumer_in_flight_bound} records in flight, "
        f"the queue's in-flight cap {queue.in_flight_limit}), the store probed every {queue.probe_interval_seconds} s "
        "per consumer environment; "
        f"the retrier runs every {queue.retrier_interval_seconds} s, unparks once the store answers and dead-letters "
        f"events {queue.retry_window_seconds} s after acceptance; the redrive policy (after "
        f"{config.max_receive_count} receives) "
        "catches only what crashes the consumer"
    )


def synthesize(config: Config, build_dir: Path = BUILD_DIR) -> Synthesized:
    template = full_template(config)
    path = build_dir / config.env / "template.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(template), encoding="utf-8")
    from alarms.stopped_consumer import stopped_consumer_bound  # the monitoring side: import it late

    return Synthesized(
        path=path,
        counts=resource_counts(template),
        retries=retries_line(config),
        stopped_consumer=stopped_consumer_bound(config).describe(),
        recipients=recipients_lines(config),
    )
