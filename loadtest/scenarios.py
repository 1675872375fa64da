"""Scenarios as data: a shape, a user mix, an optional fault, and what must be true afterwards.

`users`, `rate` (requests/s with every user running) and `duration` are defaults that `invoke load`
can override. Alarm expectations name rows of the alarm table (loadtest/alarm_rows.py), never alarm names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from loadtest.alarm_rows import ALL_OTHERS
from loadtest.errors import LoadTestError

INGEST = "IngestUser"
BAD_INPUT = "BadInputUser"
USER_CLASSES = (INGEST, BAD_INPUT)
# Rows of the alarm table (alarms/table.py) the scenarios name more than once
DLQ = "dlq-visible"
# Server errors: their rate, and the error budget they burn (the composites that notify)
SERVER_ERRORS = ("api-5xx-rate", "error-budget-fast-burn", "error-budget-steady-burn", "error-budget-slow-burn")


@dataclass(frozen=True)
class Fault:
    name: str  # a fault of the local stack's control API (POST /chaos)
    at_seconds: float  # after the load starts
    seconds: float  # how long it lasts


@dataclass(frozen=True)
class Expectations:
    check_latency: bool = True  # p99 within the target's SLO (loadtest/profiles.toml)
    check_errors: bool = True  # error ratio within the target's SLO
    zero_loss: bool = True  # every accepted id is in the table afterwards
    must_fire: frozenset[str] = frozenset()  # rows whose alarm must go to ALARM during the run
    must_stay_ok: frozenset[str] = frozenset()  # rows whose alarms must not; ALL_OTHERS: every other


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    shape: str  # a module of loadtest/shapes
    users: int
    rate: float
    duration: float
    mix: Mapping[str, int]  # user class → weight
    expectations: Expectations
    fault: Fault | None = None
    replay: bool = False  # replay the archive after recovery (what an operator does after an outage)
    drain_seconds: float = 120.0  # how long the queues may take to empty after the load
    alarm_wait_seconds: float = 0.0  # how long a must-fire alarm may take to fire after the load
    report_knee: bool = False


def _mix(**weights: int) -> Mapping[str, int]:
    return MappingProxyType(weights)


SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {
        scenario.name: scenario
        for scenario in (
            Scenario(
                name="smoke",
                description="a few users for seconds: good and bad requests, every id stored (CI)",
                shape="smoke",
                users=4,
                rate=8.0,
                duration=15.0,
                mix=_mix(IngestUser=3, BadInputUser=1),
                # the 5XX rate, not the error budget: its slow window (12 minutes locally) outlasts the smoke
                # and remembers any earlier run's errors
                expectations=Expectations(must_stay_ok=frozenset({DLQ, "api-5xx-rate"})),
                drain_seconds=30.0,
            ),
            Scenario(
                name="steady",
                description="one realistic load held for a minute: within the SLO, no alarm fires",
                shape="steady",
                users=10,
                rate=20.0,
                duration=60.0,
                mix=_mix(IngestUser=1),
                expectations=Expectations(must_stay_ok=frozenset({ALL_OTHERS})),
            ),
            Scenario(
                name="bad-input",
                description="half the requests are bad, each gets its documented 4XX: the 4XX alarm fires, no other",
                shape="steady",
                users=10,
                rate=20.0,
                duration=60.0,
                mix=_mix(IngestUser=1, BadInputUser=1),
                expectations=Expectations(must_fire=frozenset({"api-4xx-rate"}), must_stay_ok=frozenset({ALL_OTHERS})),
                alarm_wait_seconds=60.0,
            ),
            Scenario(
                name="db-outage",
                description="DynamoDB down for 90 s under load, longer than 5 receives but inside the retry "
                "window: the retries alarm fires and the incident pages once (parked events never age in the "
                "queue), nothing is dead-lettered, every event is stored once after recovery; the API refuses "
                "nothing meanwhile",
                shape="steady",
                users=4,
                rate=10.0,
                duration=60.0,
                mix=_mix(IngestUser=1),
                fault=Fault("db-down", at_seconds=10.0, seconds=90.0),
                # No latency check: locally the backlog of an outage slows moto's SQS (DESIGN.md), so the
                # API's p99 then measures the emulator; the error ratio still must hold.
                expectations=Expectations(
                    check_latency=False,
                    # what parking promises: retries told, one page for the incident; queue-age stays quiet
                    # (nothing waits in the queue while the store is down)
                    must_fire=frozenset({"retries", "ingestion-at-risk"}),
                    must_stay_ok=frozenset({DLQ, "events-archived", "api-4xx-rate", *SERVER_ERRORS}),
                ),
                drain_seconds=300.0,
                alarm_wait_seconds=60.0,
            ),
            Scenario(
                name="spike",
                description="a fifth of the load, all of it within a second, back: SLO kept, the backlog drains",
                shape="spike",
                users=50,
                rate=60.0,
                duration=90.0,
                mix=_mix(IngestUser=1),
                expectations=Expectations(must_stay_ok=frozenset({DLQ, "consumer-errors", *SERVER_ERRORS})),
            ),
            Scenario(
                name="step",
                description="six steps up to `rate`: stops at the first step that breaks the SLO; reports the knee",
                shape="step",
                users=60,
                rate=90.0,  # 15 req/s a step; locally the usage plan throttles at 100 req/s (--rate to go higher)
                duration=180.0,
                mix=_mix(IngestUser=1),
                expectations=Expectations(check_latency=False, check_errors=False, must_stay_ok=frozenset({DLQ})),
                drain_seconds=300.0,
                report_knee=True,
            ),
            Scenario(
                name="soak",
                description="one load for ten minutes (run it at half the knee: --rate): SLO kept, no alarm",
                shape="soak",
                users=10,
                rate=20.0,
                duration=600.0,
                mix=_mix(IngestUser=1),
                expectations=Expectations(must_stay_ok=frozenset({ALL_OTHERS})),
            ),
        )
    }
)


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise LoadTestError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})") from None
