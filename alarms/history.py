"""Metric history for the backtest: which series the alarms of a table read, how far back CloudWatch keeps
them at the alarms' period, and the recording file that keeps them.

CloudWatch keeps 60-second datapoints for 15 days, 5-minute ones for 63 days and hourly ones for 455 days
(botocore's cloudwatch model, GetMetricData): `resolution_limit` refuses a window the alarms' periods cannot
be read over. ops.metric_history fetches the series.

A recording (`save_recording` / `load_recording`) is one JSON file: the environment, the window, fault markers
and every series by its MetricStat; `invoke load` writes one into each run's folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alarms.backtest import History, Marker, history_step, recorded_stat, stat_key
from alarms.definitions import Definitions
from alarms.engine.evaluation import MetricAlarm

RECORDING_FILE = "metrics.json"
DAY = 86_400
# The finest period CloudWatch still returns for data this old: (age limit, period); sub-minute (high-resolution)
# datapoints are kept 3 hours.
RETENTION = ((15 * DAY, 60), (63 * DAY, 300), (455 * DAY, 3600))


def metric_stats(definitions: Definitions) -> dict[str, dict[str, Any]]:
    """Every distinct MetricStat the alarms read, by stat_key; a window longer than the monitoring period as its
    period-long datapoints, which the backtest rolls up into sliding windows (alarms.backtest)."""
    step = history_step(definitions)
    stats: dict[str, dict[str, Any]] = {}
    for definition in definitions.alarms:
        for stat in MetricAlarm.from_definition(definition).metric_stats().values():
            kept = recorded_stat(stat, step)
            stats[stat_key(kept)] = kept
    return stats


def lead_in_seconds(definitions: Definitions) -> int:
    """History needed before the first evaluated period: an anomaly band's history, or else one window."""
    alarms = [MetricAlarm.from_definition(definition) for definition in definitions.alarms]
    return max(((alarm.history_periods + alarm.evaluation_periods) * alarm.period for alarm in alarms), default=0)


def retained_resolution(age_seconds: float) -> int | None:
    """The finest period CloudWatch still returns for data `age_seconds` old (a period must be a multiple of it, or
    no datapoint comes back: botocore's GetMetricStatistics `Period`); None when it keeps nothing that old."""
    for limit, period in RETENTION:
        if age_seconds <= limit:
            return period
    return None


def resolution_limit(definitions: Definitions, age_seconds: float) -> str | None:
    """Why CloudWatch cannot return the alarms' periods `age_seconds` back, or None when it can."""
    finest = min((MetricAlarm.from_definition(d).period for d in definitions.alarms), default=60)
    needed = retained_resolution(age_seconds)
    if needed is None:
        return f"CloudWatch keeps metric data for {RETENTION[-1][0] // DAY} days"
    if finest >= needed:
        return None
    kept = max((age for age, resolution in RETENTION if resolution <= finest), default=None)
    if kept is None:  # sub-minute periods are high-resolution custom metrics
        return f"CloudWatch keeps {finest}-second datapoints for 3 hours only"
    return f"CloudWatch keeps {finest}-second datapoints for {kept // DAY} days only"


def recording(env: str, history: History, stats: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The recording file's document."""
    return {
        "env": env,
        "start": history.start,
        "end": history.end,
        "markers": [{"time": marker.time, "label": marker.label} for marker in history.markers],
        "series": [
            {"metric_stat": stats[key], "values": sorted(values.items())}
            for key, values in history.series.items()
            if key in stats
        ],
    }


def save_recording(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load_recording(path: Path) -> tuple[str, History]:
    """The environment and the history of a recording; ValueError with one line if it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        series = {
            stat_key(item["metric_stat"]): {int(t): float(v) for t, v in item["values"]} for item in document["series"]
        }
        markers = tuple(Marker(float(m["time"]), str(m["label"])) for m in document.get("markers", []))
        return str(document["env"]), History(int(document["start"]), int(document["end"]), series, markers)
    except FileNotFoundError:
        raise ValueError(f"{path}: no recording (`invoke load` writes one into each run's folder)") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a metrics recording ({error})") from None


def aligned_window(start: float, end: float, period: int, lead_in: int) -> tuple[int, int]:
    """[start, end) widened to period boundaries, with `lead_in` seconds of history before `start`."""
    first = int(start - lead_in) // period * period
    last = -(-int(end) // period) * period
    return first, last
