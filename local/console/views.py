"""What the console page shows, as JSON-ready dicts: a dashboard's widgets with their data in a time
window, and the overview (alarms with state and history, notification feed, counts, faults)."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.client import BaseClient

from alarms.engine.metric_math import Band
from cloudformation import output_keys
from dashboards.operations import WHO_IS_SENDING
from local.console.dashboard_data import (
    LOG_QUERY_NOTE,
    Window,
    alarm_states,
    entries,
    fetch,
    fit_window,
    range_seconds,
    shown_in,
    smallest_period,
    tile_value,
)
from local.console.feed import feed, last_sent, pending_digest
from local.console.markdown_page import markdown_to_html, runbook_anchor_link
from local.console.producer_table import PRODUCER_COLUMNS, PRODUCER_HEADERS, PRODUCER_NOTE, producer_table
from local.console.running_stack import RunningStack
from local.deploying.deploy import clients
from local.services.faults import FAULTS
from ops import local_output_keys
from ops.replay import replay

CONSOLE_LINKS = runbook_anchor_link("/runbook", docs="/docs/")
# a widget's place on the 24-column grid, with CloudWatch's defaults; anything else in a body is left out
GRID_DEFAULTS = {"x": 0, "y": 0, "width": 6, "height": 6}
MAX_GRID = 1000  # CloudWatch allows heights up to 1,000 grid units; a place past that is not ours
VIEWS = frozenset({"timeSeries", "singleValue", "gauge", "bar", "pie", "table"})
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
# what a replay from the console reads: everything archived since shortly before the stack started
REPLAY_MARGIN = timedelta(hours=1)


class ConsoleViews:
    """Reads the running stack for the page; AWS clients are made once, on first use."""

    def __init__(self, runtime: RunningStack) -> None:
        self._runtime = runtime
        self._clients: dict[str, BaseClient] = {}
        self._lock = threading.Lock()
        self.locust: dict[str, Any] | None = None  # {"url", "until"} while a load test's web UI runs

    def client(self, service: str) -> BaseClient:
        with self._lock:
            if service not in self._clients:
                outputs = json.loads(self._runtime.paths.outputs.read_text())
                self._clients[service] = clients(
                    outputs[local_output_keys.AWS_ENDPOINT], outputs[local_output_keys.REGION]
                )(service)
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
        producers = producer_table(self._runtime.usage_plans)
        return {
            "name": name,
            "start": window.start,
            "end": window.end,
            "period": period,
            "widgets": [
                shown_widget(w, values, window, states, producers) for w, values in zip(widgets, fetched, strict=True)
            ],
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
            # business hours follow the local clock (local/services/clock.py), as the notifier's do
            "digest": {
                **pending_digest(
                    self.client("dynamodb"),
                    outputs[output_keys.HELD_NOTIFICATIONS_TABLE],
                    settings,
                    runtime.clock.now(),
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
            outputs[output_keys.ARCHIVE_BUCKET],
            outputs[output_keys.QUEUE_URL],
            since=started,
            until=datetime.now(UTC) + REPLAY_MARGIN,
            progress_stream=io.StringIO(),  # the page shows the result, not a progress line
        )
        return {"sent": result.sent, "replayable": result.replayable, "failed": len(result.failed)}


def shown_widget(
    widget: dict[str, Any],
    values: dict[str, Any],
    window: Window,
    states: dict[str, str],
    producers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the page draws of one widget, its values as shown in `window` (or in the widget's own range). The body
    is whatever the emulator stores, maybe planted: the page puts a text widget's HTML in as markup (escaped, and
    links limited, by markdown_to_html) and the other values into attributes and styles, so those are numbers,
    known words and colours, or left out. `producers`: the local gateway's counts per key (producer_table), drawn
    in place of the "Who is sending?" Logs Insights table; a producers table's cells go in as text, never markup."""
    values = shown_in(widget, values, window)
    properties = widget["properties"]
    shown: dict[str, Any] = {"type": widget["type"], **{key: _cell(widget, key) for key in GRID_DEFAULTS}}
    shown["title"] = properties.get("title", "")
    if widget["type"] == "text":
        shown["html"] = markdown_to_html(properties.get("markdown", ""), CONSOLE_LINKS)
    elif widget["type"] == "log" and producers is not None and properties.get("title") == WHO_IS_SENDING:
        shown["type"] = "producers"
        shown["headers"] = list(PRODUCER_HEADERS)
        shown["rows"] = [[row[column] for column in PRODUCER_COLUMNS] for row in producers["rows"]]
        shown["producers"] = producers["rows"]
        shown["unknown_refused"] = producers["unknown_refused"]
        shown["note_html"] = markdown_to_html(PRODUCER_NOTE, CONSOLE_LINKS)
    elif widget["type"] == "log":  # drawn as a text widget: the note, then the query AWS runs
        shown["type"] = "text"
        query = str(properties.get("query", ""))
        shown["html"] = markdown_to_html(f"{LOG_QUERY_NOTE}\n\n```\n{query}\n```", CONSOLE_LINKS)
    elif widget["type"] == "alarm":
        names = [arn.rsplit(":alarm:", 1)[-1] for arn in properties.get("alarms", [])]
        shown["alarms"] = [{"name": name, "state": states.get(name, "INSUFFICIENT_DATA")} for name in names]
    else:
        view = properties.get("view", "timeSeries")
        shown["view"] = view if view in VIEWS else "timeSeries"
        # each y axis' unit: a graph of two units labels a right axis too ("" where it has none)
        shown["unit"] = properties.get("yAxis", {}).get("left", {}).get("label", "")
        shown["right_unit"] = properties.get("yAxis", {}).get("right", {}).get("label", "")
        shown["annotations"] = _annotations(properties.get("annotations", {}).get("horizontal", []))
        shown["series"] = [
            _series(properties, entry, values.get(entry["id"], {}))
            for entry in entries(properties)
            if entry["options"].get("visible", True)
        ]
    return shown


def _series(properties: dict[str, Any], entry: dict[str, Any], series: Any) -> dict[str, Any]:
    shown: dict[str, Any] = {"id": entry["id"], "label": entry["options"].get("label", entry["id"])}
    shown["axis"] = _axis(entry["options"])
    if _is_colour(entry["options"].get("color")):
        shown["color"] = entry["options"]["color"]
    if isinstance(series, Band):
        shown["band"] = [[t, low, high] for t, (low, high) in sorted(series.bounds.items())]
    else:
        shown["points"] = [[t, series[t]] for t in sorted(series)]
        shown["value"] = tile_value(properties, entry, series)
    return shown


def _cell(widget: dict[str, Any], key: str) -> int:
    """A grid position or size as a whole number (the page writes it into a style), else CloudWatch's default."""
    value = widget.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_GRID:
        return value
    return GRID_DEFAULTS[key]


def _is_colour(value: Any) -> bool:
    return isinstance(value, str) and COLOUR.fullmatch(value) is not None


def _axis(options: dict[str, Any]) -> str:
    """The y axis a series or a line is drawn against, as a known word: "right" if the body says so, else "left"."""
    return "right" if options.get("yAxis") == "right" else "left"


def _annotations(lines: list[Any]) -> list[dict[str, Any]]:
    """The threshold lines the page can draw: each with a number, its axis, and a colour only if it is a hex
    colour."""
    return [
        {key: value for key, value in line.items() if key != "yAxis" and (key != "color" or _is_colour(value))}
        | {"axis": _axis(line)}
        for line in lines
        if isinstance(line, dict)
        and isinstance(line.get("value"), int | float)
        and not isinstance(line.get("value"), bool)
    ]
