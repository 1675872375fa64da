"""What the console page shows, as JSON-ready dicts: a dashboard's widgets with their data in a time
window, and the overview (alarms with state and history, notification feed, counts, faults)."""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.client import BaseClient

from dashboards.metric_math import Band
from local.console.feed import feed, last_sent, pending_digest
from local.dashboard_data import (
    Window,
    alarm_states,
    clip,
    entries,
    entry_periods,
    fetch,
    fit_window,
    range_seconds,
    smallest_period,
    tile_value,
)
from local.deploy import clients
from local.faults import FAULTS
from local.markdown_page import markdown_to_html, runbook_anchor_link
from ops.replay import replay

if TYPE_CHECKING:
    from local.runtime import LocalRuntime

CONSOLE_LINKS = runbook_anchor_link("/runbook")
# what a replay from the console reads: everything archived since shortly before the stack started
REPLAY_MARGIN = timedelta(hours=1)


class ConsoleViews:
    """Reads the running stack for the page; AWS clients are made once, on first use."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self._runtime = runtime
        self._clients: dict[str, BaseClient] = {}
        self._lock = threading.Lock()
        self.locust: dict[str, Any] | None = None  # {"url", "until"} while a load test's web UI runs

    def client(self, service: str) -> BaseClient:
        with self._lock:
            if service not in self._clients:
                outputs = json.loads(self._runtime.paths.outputs.read_text())
                self._clients[service] = clients(outputs["AwsEndpoint"], outputs["Region"])(service)
            return self._clients[service]

    # --- dashboards ----------------------------------------------------------------------------------

    def dashboard_names(self) -> list[str]:
        assert self._runtime.stack is not None
        resources = self._runtime.stack.template["Resources"].values()
        names = [r["Properties"]["DashboardName"] for r in resources if r["Type"] == "AWS::CloudWatch::Dashboard"]
        summary = self._runtime.config.resource_name("summary")
        return sorted(names, key=lambda name: name != summary)  # the wall-screen summary first

    def dashboard(self, name: str, minutes: float | None = None) -> dict[str, Any]:
        """The dashboard as stored in the local CloudWatch, each widget with its data in the window:
        the last `minutes`, or from the stack's start (within the dashboard's own range)."""
        if name not in self.dashboard_names():
            raise KeyError(name)
        cloudwatch = self.client("cloudwatch")
        body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
        widgets = body["widgets"]
        end = time.time()
        longest = minutes * 60 if minutes else range_seconds(body.get("start", ""))
        period = smallest_period(widgets)
        fetched = fetch(widgets, cloudwatch, end - longest, end)
        since = None if minutes else self._runtime.started_at
        window = fit_window(widgets, fetched, end, longest, period, since)
        states = {**alarm_states(widgets, cloudwatch), **self._runtime_states()}
        return {
            "name": name,
            "start": window.start,
            "end": window.end,
            "period": period,
            "widgets": [_widget(w, values, window, states) for w, values in zip(widgets, fetched, strict=True)],
        }

    def _runtime_states(self) -> dict[str, str]:
        evaluator = self._runtime.evaluator
        return evaluator.states() if evaluator else {}

    # --- overview ------------------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        runtime = self._runtime
        status = runtime.status()
        transitions = [asdict(item) for item in runtime.transitions]
        settings = runtime.config.notifications
        outputs = runtime.stack.outputs if runtime.stack else {}
        locust = self.locust if self.locust and self.locust["until"] > time.time() else None
        sent = list(runtime.digests.sent) if runtime.digests else []
        return {
            "period": runtime.config.monitoring.period_seconds,
            "started_at": runtime.started_at,
            "alarms": self._alarms(status["alarms"], transitions),
            "feed": feed(transitions, settings, sent),
            # business hours follow the local clock (local/clock.py), as the notifier's do
            "digest": {
                **pending_digest(
                    self.client("dynamodb"), outputs["HeldNotificationsTable"], settings, runtime.clock.now()
                ),
                "last_sent": last_sent(sent),
            },
            "counts": {
                "queue": status["queues"]["ingest"],
                "dead_letter": status["queues"]["dead_letter"],
                "failures": status["queues"]["failures"],
                "in_flight_limit": status["in_flight_limit"],
                "table_items": status["table_items"],
                "archive_objects": status["archive_objects"],
                "parked_objects": status["parked_objects"],
                "breaker": status["breaker"],
            },
            "faults": [
                {"name": name, "description": fault.description, "seconds_left": status["chaos"].get(name)}
                for name, fault in FAULTS.items()
            ],
            "locust": locust,
        }

    def _alarms(self, states: dict[str, str], transitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        runtime = self._runtime
        assert runtime.stack is not None
        reasons: dict[str, str] = {}
        names = [definition["AlarmName"] for definition in runtime.stack.alarms]
        cloudwatch = self.client("cloudwatch")
        for offset in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
            response = cloudwatch.describe_alarms(AlarmNames=names[offset : offset + 100])
            reasons |= {alarm["AlarmName"]: alarm.get("StateReason", "") for alarm in response["MetricAlarms"]}
        tiers = runtime.alarm_tiers()
        return [
            {
                "name": name,
                "tier": tiers.get(name, "none"),
                "state": state,
                "reason": reasons.get(name, ""),
                "history": [t for t in transitions if t["alarm"] == name][::-1],
            }
            for name, state in sorted(states.items(), key=lambda item: (item[1] != "ALARM", item[0]))
        ]

    # --- actions -------------------------------------------------------------------------------------

    def replay_archive(self) -> dict[str, Any]:
        """Everything archived since the stack started, back into the ingest queue (`invoke replay`)."""
        outputs = self._runtime.stack.outputs if self._runtime.stack else {}
        started = datetime.fromtimestamp(self._runtime.started_at, UTC) - REPLAY_MARGIN
        result = replay(
            self.client("s3"),
            self.client("sqs"),
            outputs["ArchiveBucket"],
            outputs["QueueUrl"],
            since=started,
            until=datetime.now(UTC) + REPLAY_MARGIN,
            progress_stream=io.StringIO(),  # the page shows the result, not a progress line
        )
        return {"sent": result.sent, "replayable": result.replayable, "failed": len(result.failed)}


def _widget(widget: dict[str, Any], values: dict[str, Any], window: Window, states: dict[str, str]) -> dict[str, Any]:
    properties = widget["properties"]
    shown: dict[str, Any] = {key: widget[key] for key in ("type", "x", "y", "width", "height")}
    shown["title"] = properties.get("title", "")
    if widget["type"] == "text":
        shown["html"] = markdown_to_html(properties.get("markdown", ""), CONSOLE_LINKS)
    elif widget["type"] == "alarm":
        names = [arn.rsplit(":alarm:", 1)[-1] for arn in properties.get("alarms", [])]
        shown["alarms"] = [{"name": name, "state": states.get(name, "INSUFFICIENT_DATA")} for name in names]
    else:
        shown["view"] = properties.get("view", "timeSeries")
        shown["unit"] = properties.get("yAxis", {}).get("left", {}).get("label", "")
        shown["annotations"] = properties.get("annotations", {}).get("horizontal", [])
        periods = entry_periods(properties)
        shown["series"] = [
            _series(properties, entry, clip(values.get(entry["id"], {}), window, periods.get(entry["id"], 0)))
            for entry in entries(properties)
            if entry["options"].get("visible", True)
        ]
    return shown


def _series(properties: dict[str, Any], entry: dict[str, Any], series: Any) -> dict[str, Any]:
    shown: dict[str, Any] = {"id": entry["id"], "label": entry["options"].get("label", entry["id"])}
    if "color" in entry["options"]:
        shown["color"] = entry["options"]["color"]
    if isinstance(series, Band):
        shown["band"] = [[t, low, high] for t, (low, high) in sorted(series.bounds.items())]
    else:
        shown["points"] = [[t, series[t]] for t in sorted(series)]
        shown["value"] = tile_value(properties, entry, series)
    return shown
