"""The scenario table is consistent: shapes exist, user classes exist, the alarm rows it names are rows of the
alarm table (every environment's)."""

from __future__ import annotations

import pytest

from alarms.table import alarm_table, composite_definitions
from core.config import environment_names, load_config
from core.paths import PROJECT_ROOT
from dashboards.catalog import build_catalog
from loadtest.alarm_rows import ALL_OTHERS
from loadtest.errors import LoadTestError
from loadtest.scenarios import SCENARIOS, USER_CLASSES, get_scenario
from loadtest.shapes import SHAPES
from local.services.faults import FAULTS  # the local stack's faults: the names a scenario may inject

SHAPES_DIR = PROJECT_ROOT / "loadtest" / "shapes"


def table_rows(env: str) -> set[str]:
    config = load_config(env)
    return {spec.name for spec in alarm_table(config, build_catalog(config))} | {
        composite.spec.name for composite in composite_definitions(config)
    }


# a scenario runs against any environment: the rows it names must exist in every one
TABLE_ROWS = set.intersection(*(table_rows(env) for env in environment_names()))


def test_the_issue_s_scenarios_exist() -> None:
    assert {"smoke", "steady", "bad-input", "db-outage", "spike"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=lambda scenario: scenario.name)
def test_each_scenario_is_runnable(scenario) -> None:
    assert scenario.shape in SHAPES and (SHAPES_DIR / f"{scenario.shape}.py").is_file()
    assert scenario.mix and set(scenario.mix) <= set(USER_CLASSES)
    assert all(weight > 0 for weight in scenario.mix.values())
    rows = scenario.expectations.must_fire | scenario.expectations.must_stay_ok
    assert rows <= TABLE_ROWS | {ALL_OTHERS}, rows - TABLE_ROWS
    assert not scenario.expectations.must_fire & scenario.expectations.must_stay_ok
    assert scenario.users >= 1 and scenario.rate > 0 and scenario.duration >= 5
    if scenario.fault:
        assert scenario.fault.name in FAULTS


def test_db_outage_outlasts_five_receives_but_not_the_retry_window_and_needs_no_replay() -> None:
    scenario = get_scenario("db-outage")
    config = load_config("local")
    assert scenario.fault is not None and scenario.fault.name == "db-down"
    assert 5 * config.visibility_timeout_seconds < scenario.fault.seconds < config.queue.retry_window_seconds
    assert not scenario.replay
    assert {"retries", "ingestion-at-risk"} <= scenario.expectations.must_fire
    assert {"dlq-visible", "events-archived"} <= scenario.expectations.must_stay_ok


def test_smoke_fits_in_a_ci_minute() -> None:
    smoke = get_scenario("smoke")
    assert smoke.duration + smoke.drain_seconds <= 50
    assert smoke.fault is None and not smoke.expectations.must_fire


def test_an_unknown_scenario_names_the_known_ones() -> None:
    with pytest.raises(LoadTestError, match="known: smoke, steady"):
        get_scenario("nope")
