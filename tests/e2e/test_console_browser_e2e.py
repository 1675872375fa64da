"""The console in a real browser (headless Chromium, the Debian package) against a running local stack:
the page loads without errors and never shows the API key; after traffic every widget of both dashboards
draws data; a fault button fires an alarm on the page within its evaluation time, the notification feed shows
what on-call got, and lifting the fault brings the alarm back to OK.

With SLUICE_UPDATE_SCREENSHOT=1 the screenshot taken while the alarm fires is written to docs/console.png
(the README shows it)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator

import pytest
import requests

from cloudformation import output_keys
from core.config import load_config
from core.paths import PROJECT_ROOT
from functions.common.clock import iso_millis, utc_now
from functions.common.envelope import Envelope, new_event_id
from local.services.faults import FAULTS
from local.stack.demo import demo_requests, send_traffic
from ops import local_output_keys
from tests.e2e.clients import Traffic
from tests.e2e.stack_helpers import alarm, archived_lines
from tests.local.console.chromium import Browser, find_chromium
from tests.local_stack_harness import HarnessStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack-b")]

CONFIG = load_config("local")
SCREENSHOT = PROJECT_ROOT / "docs" / "console.png"
CHROMIUM = find_chromium()
PAGE_TIMEOUT = 30.0
DATA_TIMEOUT = 60.0  # the metrics publisher and the page's refresh: a few periods
FIRE_TIMEOUT = 60.0  # three 10-s periods, two breaching, evaluated every 2 s
CLEAR_TIMEOUT = 90.0
QUIET_TIMEOUT = 120.0  # another test's alarms may still be clearing
FAULT = "queue-down"
FIRING = alarm("api-5xx-rate", "high")
# api-5xx-rate-high is a child of the incident composite: it notifies nobody itself, the composite pages
PAGED = alarm("ingestion-at-risk", "high")
REFUSED = alarm("api-4xx-rate", "low")
RETRYING = alarm("retries", "low")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("no Chromium here: install the Debian package `chromium` (.ci/run does)")
    browser = Browser.start(CHROMIUM, tmp_path_factory.mktemp("chromium") / "profile", width=1600, height=1200)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def console(browser: Browser, local_stack: HarnessStack) -> Browser:
    browser.open(local_stack.outputs[local_output_keys.CONSOLE_URL])
    browser.wait_for("document.querySelectorAll('.dashboard').length === 2", PAGE_TIMEOUT, "both dashboards")
    browser.wait_for("document.querySelectorAll('#alarms li').length > 0", PAGE_TIMEOUT, "the alarm list")
    return browser


def alarm_state(browser: Browser, alarm: str) -> str | None:
    return browser.evaluate(f"document.querySelector('#alarms li[data-alarm=\"{alarm}\"]')?.dataset.state ?? null")


def widgets_without_data(browser: Browser) -> list[str]:
    """Titles of the metric widgets whose graph draws no line, dot or band, or whose number is empty."""
    return browser.evaluate(
        """Array.from(document.querySelectorAll('.dashboard .widget.metric')).filter((widget) => {
             const chart = widget.querySelector('svg.chart');
             if (chart) return Number(chart.dataset.points) === 0 || !chart.querySelector('polyline, circle, polygon');
             const tiles = Array.from(widget.querySelectorAll('.tile b'));
             return tiles.length === 0 || tiles.some((tile) => tile.textContent === '—');
           }).map((widget) => widget.closest('.dashboard').dataset.name + ': ' + widget.dataset.title)"""
    )


def metric_widget_count(stack: HarnessStack) -> int:
    cloudwatch = stack.client("cloudwatch")
    bodies = [
        json.loads(cloudwatch.get_dashboard(DashboardName=entry["DashboardName"])["DashboardBody"])
        for entry in cloudwatch.list_dashboards()["DashboardEntries"]
    ]
    return sum(widget["type"] == "metric" for body in bodies for widget in body["widgets"])


def test_the_page_loads_without_errors_and_never_shows_the_api_key(console, local_stack):
    # THEN both dashboards, the alarms, the counts and a button per fault are on the page, without errors
    assert console.evaluate("document.querySelectorAll('.dashboard .widget.metric').length") == metric_widget_count(
        local_stack
    )
    assert console.evaluate("document.querySelectorAll('#faults button[data-action=\"inject\"]').length") == len(FAULTS)
    assert console.errors == []
    # AND neither the page nor anything it fetched holds the API key
    page = console.evaluate("document.documentElement.outerHTML")
    key = local_stack.outputs[local_output_keys.API_KEY]
    assert key not in page
    for path in ("/console/api/overview", "/console/api/dashboards", "/console/static/console.js"):
        assert key not in requests.get(local_stack.outputs[local_output_keys.CONTROL_URL] + path, timeout=30).text


def choose_range(browser: Browser, minutes: str) -> None:
    """Pick a time range in the page's menu and wait until the dashboards are drawn over it."""
    browser.evaluate("document.getElementById('status').textContent = ''")
    browser.evaluate(
        f"(s => {{ s.value = '{minutes}'; s.dispatchEvent(new Event('change')); }})(document.getElementById('window'))"
    )
    browser.wait_for("document.getElementById('status').textContent.includes('updated')", PAGE_TIMEOUT, "a redraw")


def test_over_five_minutes_every_graph_names_its_unit_and_its_time_ticks_do_not_touch(console):
    # WHEN the last 5 minutes are chosen and the page redraws
    choose_range(console, "5")
    # THEN every graph names its unit, has three or more time ticks, and no tick label touches another
    faults = console.evaluate(
        """Array.from(document.querySelectorAll('.dashboard .widget.metric')).flatMap((widget) => {
             const chart = widget.querySelector('svg.chart');
             if (!chart) return [];
             const title = widget.dataset.title;
             const unit = chart.querySelector('text.unit')?.textContent ?? '';
             const ticks = Array.from(chart.querySelectorAll('text.tick')).map((t) => t.getBoundingClientRect());
             const touching = ticks.some((box, i) => i > 0 && box.left < ticks[i - 1].right + 2);
             return [!unit && `${title}: no unit`, ticks.length < 3 && `${title}: ${ticks.length} ticks`,
                     touching && `${title}: ticks touch`].filter(Boolean);
           })"""
    )
    choose_range(console, "")
    assert faults == []


def graph_units(stack: HarnessStack) -> dict[str, list[str]]:
    """'dashboard: title' -> the units its body labels its y axes with (left, then right), for every graph."""
    cloudwatch = stack.client("cloudwatch")
    units = {}
    for entry in cloudwatch.list_dashboards()["DashboardEntries"]:
        body = json.loads(cloudwatch.get_dashboard(DashboardName=entry["DashboardName"])["DashboardBody"])
        for widget in body["widgets"]:
            properties = widget["properties"]
            if widget["type"] == "metric" and properties.get("view") == "timeSeries":
                title = f"{entry['DashboardName']}: {properties['title']}"
                units[title] = [axis["label"] for axis in properties["yAxis"].values()]
    return units


def test_a_graph_of_two_units_draws_a_right_axis_with_its_unit_and_ticks(console, local_stack):
    # GIVEN the units each graph's body labels its axes with: some graphs mix two (counts and a share)
    expected = graph_units(local_stack)
    assert any(len(units) == 2 for units in expected.values())
    # WHEN the page's graphs are read: each axis' unit, the right axis' tick labels, and where they are drawn
    drawn = console.evaluate(
        """Object.fromEntries(Array.from(document.querySelectorAll('.dashboard .widget.metric')).flatMap((widget) => {
             const chart = widget.querySelector('svg.chart');
             if (!chart) return [];
             const frame = chart.getBoundingClientRect();
             const units = Array.from(chart.querySelectorAll('text.unit'));
             const ticks = Array.from(chart.querySelectorAll('text.value.right'));
             const boxes = [...units, ...ticks].map((text) => text.getBoundingClientRect());
             const outside = boxes.some((b) => b.left < frame.left - 1 || b.right > frame.right + 1
                                             || b.top < frame.top - 1 || b.bottom > frame.bottom + 1);
             const touching = units.slice(1).some((unit) => ticks.some((tick) => {
               const [a, b] = [unit.getBoundingClientRect(), tick.getBoundingClientRect()];
               return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
             }));
             const key = widget.closest('.dashboard').dataset.name + ': ' + widget.dataset.title;
             return [[key, { units: units.map((unit) => unit.textContent), ticks: ticks.length, outside, touching }]];
           }))"""
    )
    # THEN every graph names the units of its body's axes, left then right, and only those
    assert {key: chart["units"] for key, chart in drawn.items()} == expected
    for key, chart in drawn.items():
        # AND a right axis has its own tick labels, inside the graph and clear of its unit
        assert chart["ticks"] == (3 if len(expected[key]) == 2 else 0), key
        assert not chart["outside"] and not chart["touching"], key


def test_a_load_test_with_its_web_ui_is_linked_while_it_runs(console, local_stack):
    # WHEN a load test run with --web announces its Locust UI for a few seconds
    locust = "http://127.0.0.1:8089/"
    local_stack.control("POST", "/console/api/locust", {"url": locust, "seconds": 6})
    # THEN the page links to it, and drops the link when the run's time is over
    console.wait_for(f"document.querySelector('#locust a[href=\"{locust}\"]')", PAGE_TIMEOUT, "the Locust link")
    console.wait_for("document.querySelector('#locust a') === null", PAGE_TIMEOUT, "the Locust link to go")


def test_every_widget_of_both_dashboards_draws_data_after_traffic(console, local_stack):
    # GIVEN real traffic, valid and invalid, and a dead letter (the archiver runs)
    send_traffic(local_stack.api_url, local_stack.outputs[local_output_keys.API_KEY], demo_requests(valid_requests=20))
    envelope = Envelope(new_event_id(), json.dumps({"kind": "dead-letter"}), iso_millis(utc_now()))
    sqs = local_stack.client("sqs")
    sqs.send_message(QueueUrl=local_stack.outputs[output_keys.DEAD_LETTER_QUEUE_URL], MessageBody=envelope.to_json())
    # AND refused requests until the low-tier 4XX alarm is in ALARM (it notified: the notifier ran), bounded. A
    # state, not a transition: the demo traffic or an earlier test on this shared stack may have fired it already
    deadline = time.monotonic() + FIRE_TIMEOUT
    while local_stack.status()["alarms"][REFUSED] != "ALARM":
        assert time.monotonic() < deadline, f"{REFUSED} did not fire within {FIRE_TIMEOUT:.0f} s"
        assert local_stack.post_events({"kind": "no key"}, key=None).status_code == 403
        assert local_stack.post_events({"kind": "keyed"}).status_code == 202
        time.sleep(0.5)
    # AND a database outage long enough for events to wait on retry (the retry widgets), lifted once the
    # retries alarm has seen them
    local_stack.inject("db-down", 120)
    try:
        local_stack.post_events([{"kind": "retried", "i": i} for i in range(3)])
        local_stack.wait_until(lambda status: status["alarms"][RETRYING] == "ALARM", FIRE_TIMEOUT, f"{RETRYING}")
    finally:
        local_stack.lift("db-down")
    # WHEN the page refreshes (each alarm period) until every widget has data, bounded
    deadline = time.monotonic() + DATA_TIMEOUT
    while missing := widgets_without_data(console):
        assert time.monotonic() < deadline, f"no data drawn after {DATA_TIMEOUT:.0f} s in: {missing}"
        time.sleep(2)
    # THEN every graph and number of both dashboards shows data, and the page logged no error
    assert console.errors == []
    # AND the replay button sends the archived dead letter back: it is stored
    local_stack.wait_until(
        lambda _: set(archived_lines(local_stack, {envelope.event_id})) == {envelope.event_id},
        60,
        "the dead letter to be archived",
    )
    console.evaluate("document.getElementById('replay').click()")
    result = console.wait_for(
        "(t => t.includes('sent back') && t)(document.getElementById('replay-result').textContent)", 60, "the replay"
    )
    assert "0 of" not in result
    local_stack.wait_until(lambda _: local_stack.stored_ids([envelope.event_id]), 60, "the replayed event stored")


def test_a_fault_button_fires_an_alarm_the_feed_shows_it_and_lifting_returns_ok(console, local_stack, tmp_path):
    # GIVEN a quiet stack: the alarm the fault drives is OK on the page
    console.wait_for(
        f'document.querySelector(\'#alarms li[data-alarm="{FIRING}"][data-state="OK"]\')', QUIET_TIMEOUT, f"{FIRING} OK"
    )
    inject = f'document.querySelector(\'#faults button[data-fault="{FAULT}"][data-action="inject"]\')'
    lift = f'document.querySelector(\'#faults button[data-fault="{FAULT}"][data-action="lift"]\')'
    with Traffic(local_stack, "console", batch=3, pause=0.3, max_requests=600, max_seconds=240.0):
        try:
            # WHEN the fault's button is pressed while clients send events
            console.evaluate("document.getElementById('fault-seconds').value = '300'")
            console.evaluate(f"{inject}.click()")
            console.wait_for(f"{lift} !== null", PAGE_TIMEOUT, f"{FAULT} shown as active")
            # THEN the alarm turns ALARM on the page within its evaluation time
            console.wait_for(
                f'document.querySelector(\'#alarms li[data-alarm="{FIRING}"][data-state="ALARM"]\')',
                FIRE_TIMEOUT,
                f"{FIRING} in ALARM on the page",
            )
            # AND the notification feed shows the one page on-call got at once: the incident's composite
            entry = console.wait_for(
                f'document.querySelector(\'#feed li[data-alarm="{PAGED}"][data-new="ALARM"]\')?.textContent',
                PAGE_TIMEOUT,
                "the page in the notification feed",
            )
            assert "paged now (high tier)" in entry
            console.wait_for(
                f'document.querySelector(\'.dashboard [data-alarm="{FIRING}"][data-state="ALARM"]\')',
                PAGE_TIMEOUT,
                "the dashboard's alarm widget",
            )
            shot = tmp_path / "console.png"
            console.screenshot(shot, full_page=False)
            if os.environ.get("SLUICE_UPDATE_SCREENSHOT") == "1":
                shutil.copyfile(shot, SCREENSHOT)
            # WHEN the fault is lifted from the page
            console.evaluate(f"{lift}.click()")
            console.wait_for(f"{inject} !== null", PAGE_TIMEOUT, f"{FAULT} shown as lifted")
        finally:
            local_stack.lift(FAULT)
        # THEN the alarm returns to OK on the page, and the feed shows the OK notification
        console.wait_for(
            f'document.querySelector(\'#alarms li[data-alarm="{FIRING}"][data-state="OK"]\')',
            CLEAR_TIMEOUT,
            f"{FIRING} back to OK",
        )
        console.wait_for(
            f'document.querySelector(\'#feed li[data-alarm="{PAGED}"][data-new="OK"]\')',
            PAGE_TIMEOUT,
            "the OK in the feed",
        )
    assert console.errors == []
