"""Dashboard building blocks: a graph's y axes, one per unit of its signals."""

from __future__ import annotations

import pytest

from dashboards.catalog import Expression, Metric
from dashboards.layout import AlarmView, graph

LATENCY = Metric("latency", "Sluice/test", "Duration", (), "p99", 60, "Milliseconds", "p99", capacity=3000.0)
CALLS = Metric("calls", "Sluice/test", "Invocations", (), "Sum", 60, "Count", "calls")
FAILED = Metric("failed", "Sluice/test", "Errors", (), "Sum", 60, "Count", "failed")
SHARE = Expression("share", "100 * failed / calls", (FAILED, CALLS), "Percent", "failed %")
SIZE = Metric("size", "Sluice/test", "Size", (), "Maximum", 60, "Bytes", "size")


def options(widget: dict, entry_id: str) -> dict:
    (found,) = [entry[-1] for entry in widget["properties"]["metrics"] if entry[-1]["id"] == entry_id]
    return found


def test_a_second_unit_goes_on_the_right_axis_with_its_thresholds_and_band():
    # GIVEN durations with a limit, counts with an alarm threshold and an anomaly band
    alarms = [
        AlarmView("calls-high", "high", "", "", signal="calls", threshold=5.0),
        AlarmView("calls-band", "low", "", "", signal="calls", band_width=2.0),
        AlarmView("latency-high", "high", "", "", signal="latency", threshold=1000.0),
    ]
    # WHEN they are graphed together
    widget = graph("Is it close to its limits?", [LATENCY, CALLS], alarms)
    properties = widget["properties"]
    # THEN the first unit labels the left axis, the second the right one, each from zero, CloudWatch's units hidden
    assert properties["yAxis"] == {
        "left": {"min": 0, "label": "Milliseconds", "showUnits": False},
        "right": {"min": 0, "label": "Count", "showUnits": False},
    }
    # AND the counts and their band sit on the right axis; the durations on the left (CloudWatch's default)
    assert options(widget, "calls")["yAxis"] == "right"
    assert options(widget, "calls_band")["yAxis"] == "right"
    assert "yAxis" not in options(widget, "latency")
    # AND each threshold is drawn against its signal's axis
    lines = {line["label"]: line.get("yAxis", "left") for line in properties["annotations"]["horizontal"]}
    assert lines == {"calls-high (high)": "right", "latency-high (high)": "left", "limit: p99": "left"}


def test_an_expression_of_another_unit_goes_right_and_the_counts_it_reads_stay_left():
    # GIVEN counts and a share computed from them
    widget = graph("What share fails?", [FAILED, CALLS, SHARE])
    # THEN the share is on the right axis, labelled Percent; the counts on the left
    assert widget["properties"]["yAxis"]["right"]["label"] == "Percent"
    assert options(widget, "share")["yAxis"] == "right"
    assert all("yAxis" not in options(widget, entry_id) for entry_id in ("failed", "calls"))


def test_a_graph_of_one_unit_has_only_the_left_axis():
    widget = graph("Are calls arriving?", [CALLS, FAILED])
    assert widget["properties"]["yAxis"] == {"left": {"min": 0, "label": "Count", "showUnits": False}}


def test_a_graph_of_three_units_is_refused_when_the_template_is_built():
    # WHEN a graph mixes durations, counts and bytes
    # THEN it is refused, naming the graph and its units: it has two y axes
    with pytest.raises(ValueError, match=r"'Too much\?' mixes 3 units \(Milliseconds, Count, Bytes\)"):
        graph("Too much?", [LATENCY, CALLS, SIZE])


def test_number_tiles_of_several_units_need_no_axes():
    # GIVEN a number tile of three units: each number's label carries its unit
    widget = graph("How is it now?", [LATENCY, CALLS, SIZE], view="singleValue")
    # THEN it is built, without axes
    assert "yAxis" not in widget["properties"]
