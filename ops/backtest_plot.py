"""The backtest's PNG: for each alarm that left OK, the signal it watches, its threshold and its ALARM spans;
composites as spans only; fault markers as vertical lines (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, safe in threads and CI
import matplotlib.pyplot as plt

from alarms.backtest import history_step, signal_values
from alarms.engine.evaluation import ALARM
from ops.backtest import Backtest

WIDTH_INCHES, ROW_INCHES, DPI = 11, 1.6, 100
MAX_ROWS = 12
# With nothing firing, the signals people look at first.
DEFAULT_ROWS = ("api-5xx-rate-high", "api-4xx-rate-low", "queue-age-low")


def plot_backtest(result: Backtest, path: Path) -> None:
    fired = {transition.alarm for transition in result.outcome.transitions if transition.new == ALARM}
    definitions = [*result.definitions.alarms, *result.definitions.composites]
    shown = [d for d in definitions if d["AlarmName"] in fired]
    if not shown:
        shown = [d for d in definitions if d["AlarmName"].removeprefix(result.prefix) in DEFAULT_ROWS]
    shown = shown[:MAX_ROWS]
    origin = result.history.start
    figure, axes_list = plt.subplots(
        max(1, len(shown)), 1, sharex=True, figsize=(WIDTH_INCHES, ROW_INCHES * max(1, len(shown)) + 1), squeeze=False
    )
    try:
        for axes, definition in zip((row[0] for row in axes_list), shown, strict=False):
            name = definition["AlarmName"]
            if "AlarmRule" not in definition:
                values = signal_values(definition, result.history, history_step(result.definitions))
                axes.plot([(t - origin) / 60 for t in values], list(values.values()), linewidth=1)
                if "Threshold" in definition:
                    axes.axhline(float(definition["Threshold"]), color="grey", linestyle="--", linewidth=0.8)
            for begin, end in _alarm_spans(result, name):
                axes.axvspan((begin - origin) / 60, (end - origin) / 60, color="red", alpha=0.25)
            for marker in result.history.markers:
                axes.axvline((marker.time - origin) / 60, color="black", linestyle=":", linewidth=1)
            axes.set_ylabel(name.removeprefix(result.prefix), rotation=0, ha="right", fontsize=8)
            axes.tick_params(labelsize=7)
        axes_list[-1][0].set_xlabel("minutes since the start of the history (red: ALARM; dotted: fault)")
        figure.suptitle(f"backtest of the {result.env} alarm table")
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=DPI)
    finally:
        plt.close(figure)


def _alarm_spans(result: Backtest, name: str) -> list[tuple[int, int]]:
    spans, since = [], None
    for transition in result.outcome.transitions:
        if transition.alarm != name:
            continue
        if transition.new == ALARM and since is None:
            since = transition.time
        elif transition.new != ALARM and since is not None:
            spans.append((since, transition.time))
            since = None
    if since is not None:
        spans.append((since, result.outcome.evaluated_to))
    return spans
