"""The runbook's backtest figures (docs/runbook.md, "Before changing a threshold", and table-system-errors' "Why any
count") are what `invoke alarms.backtest` computes from the recordings today: the pages, the fault→page time, the
child that opened the incident, the low-tier notifications, the `--set` example's effect. Re-recording a run or
changing the alarm table without updating the text fails here (issue 28: the text kept an older recording's two
pages after the incident composite made them one)."""

from __future__ import annotations

import re
from functools import cache

import pytest

from alarms.table import INCIDENT_CHILDREN
from core.config import load_config
from core.paths import PROJECT_ROOT
from ops.backtest import Backtest, recorded_history, run_backtest

PROJECT = PROJECT_ROOT
RECORDINGS = PROJECT / "tests" / "data" / "recordings"
COUNTS = {"nobody": 0, "once": 1, "twice": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
INCIDENT = "ingestion-at-risk"


def runbook_text() -> str:
    """The runbook with its line breaks folded into spaces, so a sentence matches wherever it wraps."""
    return " ".join((PROJECT / "docs/runbook.md").read_text(encoding="utf-8").split())


def stated(pattern: str) -> re.Match[str]:
    found = re.search(pattern, runbook_text())
    assert found is not None, f"docs/runbook.md no longer says /{pattern}/: update the sentence and this test together"
    return found


@cache
def backtest(run: str, *settings: str) -> Backtest:
    env, history = recorded_history(RECORDINGS / f"{run}.json")
    return run_backtest(load_config(env), history, settings)


def row(result: Backtest, alarm: str) -> dict:
    """The per-alarm summary by row name and tier (`retries-low`), without the stack's prefix."""
    (found,) = [item.to_dict() for item in result.rows if item.alarm == f"{result.prefix}{alarm}"]
    return found


def pages(result: Backtest) -> int:
    return sum(item.pages for item in result.rows)


def low_tier_rows(result: Backtest) -> set[str]:
    return {
        item.alarm.removeprefix(result.prefix).removesuffix("-low") for item in result.rows if item.low_notifications
    }


def first_alarm_at(result: Backtest, alarm: str) -> float:
    return min(t.time for t in result.outcome.transitions if t.alarm == f"{result.prefix}{alarm}" and t.new == "ALARM")


def test_steady_pages_and_notifies_nobody() -> None:
    # GIVEN the runbook's claim about the steady recording
    stated(r"steady pages nobody and notifies nobody")
    # WHEN the alarm table is run over it
    result = backtest("steady")
    # THEN no alarm paged or notified
    assert pages(result) == 0 and low_tier_rows(result) == set()


def test_db_outage_pages_as_the_runbook_says() -> None:
    # GIVEN the runbook's page count, fault→page time and the child that opened the incident
    claim = stated(
        r"db-outage pages (\w+) — `(?P<incident>[\w-]+)` (?P<seconds>\d+) s after the fault began, through its first "
        r"child `(?P<child>[\w-]+)`"
    )
    # WHEN the alarm table is run over the db-outage recording
    result = backtest("db-outage")
    incident = row(result, f"{INCIDENT}-high")
    # THEN it paged that many times, all through the incident, that long after the fault
    assert pages(result) == COUNTS[claim.group(1)], f"the backtest pages {pages(result)} time(s)"
    assert claim["incident"] == INCIDENT and incident["pages"] == pages(result)
    assert round(incident["first_page_after_fault_seconds"]) == int(claim["seconds"])
    # AND the named child is the first of the incident's children to go to ALARM
    children = [name for name, tier in INCIDENT_CHILDREN if tier == "high"]
    fired = {
        name: first_alarm_at(result, f"{name}-high") for name in children if row(result, f"{name}-high")["episodes"]
    }
    assert min(fired, key=fired.__getitem__) == claim["child"], f"children in order: {sorted(fired, key=fired.get)}"


def test_the_retry_window_joins_the_incident_as_the_runbook_says() -> None:
    # GIVEN the runbook's timing of retry-window within the incident
    claim = stated(
        r"`retry-window` \(.*?\) joins the same incident (?P<later>\d+) s later without a page of its own and keeps it "
        r"open for (?P<minutes>\d+) min in all"
    )
    result = backtest("db-outage")
    child = stated(r"through its first child `([\w-]+)`").group(1)
    # THEN it fired that long after the first child, paged nothing itself, and the incident was open that long
    assert first_alarm_at(result, "retry-window-high") - first_alarm_at(result, f"{child}-high") == int(claim["later"])
    assert row(result, "retry-window-high")["pages"] == 0
    assert row(result, f"{INCIDENT}-high")["seconds_in_alarm"] == 60 * int(claim["minutes"])


def test_db_outage_notifies_the_low_tier_as_the_runbook_says() -> None:
    # GIVEN the runbook's count and list of low-tier notifications
    claim = stated(r"notifies the low tier (?P<count>\w+) times \((?P<rows>[^)]*)\)")
    named = set(re.findall(r"`([\w-]+)`", claim["rows"]))
    result = backtest("db-outage")
    # THEN exactly those rows notified, once each
    assert low_tier_rows(result) == named
    assert sum(item.low_notifications for item in result.rows) == COUNTS[claim["count"]] == len(named)


@pytest.mark.parametrize("alarm", ["dlq-visible-high", "events-archived-low", "api-5xx-rate-high"])
def test_what_the_runbook_says_stays_quiet_stays_quiet(alarm: str) -> None:
    # GIVEN the runbook's claims that nothing was dead-lettered and neither run answered a 5XX
    stated(r"`dlq-visible` and `events-archived` stay quiet")
    stated(r"Neither run answered a 5XX, so the `error-budget-\*` pairs stay quiet on both")
    # THEN those alarms and every error-budget alarm had no episode on either run
    for run in ("steady", "db-outage"):
        result = backtest(run)
        budget = [item.alarm for item in result.rows if "error-budget" in item.alarm and item.episodes]
        assert row(result, alarm)["episodes"] == 0 and budget == [], run


def test_the_set_example_has_the_effect_the_runbook_gives() -> None:
    # GIVEN the runbook's `--set` example and its stated effect
    claim = stated(
        r"`--set (?P<setting>[\w.=-]+)` still pages (?P<count>\w+) at (?P<seconds>\d+) s and only closes the incident "
        r"with the canary, after (?P<open>\d+) s"
    )
    # WHEN the db-outage recording is backtested with that threshold
    result = backtest("db-outage", claim["setting"])
    incident = row(result, f"{INCIDENT}-high")
    # THEN the page count and time are as stated, and the incident closes when the canary's child does
    assert pages(result) == COUNTS[claim["count"]] == incident["pages"]
    assert round(incident["first_page_after_fault_seconds"]) == int(claim["seconds"])
    assert incident["seconds_in_alarm"] == int(claim["open"]) == row(result, "canary-failing-high")["seconds_in_alarm"]


def test_table_errors_had_no_episode_on_either_recording() -> None:
    # GIVEN table-system-errors' "Why any count": the backtest shows 0 episodes of both table error rows
    stated(r"show 0 episodes of `table-system-errors` and `table-throttles` at today's threshold \(0\)")
    for run in ("steady", "db-outage"):
        result = backtest(run)
        # THEN neither row had an episode
        assert (
            row(result, "table-system-errors-high")["episodes"] == row(result, "table-throttles-low")["episodes"] == 0
        )
