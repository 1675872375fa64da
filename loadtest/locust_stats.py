"""Reading Locust's CSV output (`--csv PREFIX`): totals, per-name rows, the per-second history, failures."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

AGGREGATED = "Aggregated"


@dataclass(frozen=True)
class Row:
    name: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p99_ms: float

    @property
    def error_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class HistoryPoint:
    time: float  # epoch seconds
    users: int
    rps: float
    failures_per_second: float
    p50_ms: float | None  # Locust's "current" percentiles: a window of the last seconds
    p99_ms: float | None


@dataclass(frozen=True)
class FailureRow:
    name: str
    error: str
    occurrences: int


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "", "N/A") else None
    except ValueError:
        return None


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        return []


def read_rows(stats_csv: Path) -> list[Row]:
    """One row per request name, and the Aggregated row last."""
    return [
        Row(
            name=row.get("Name", ""),
            requests=int(_number(row.get("Request Count")) or 0),
            failures=int(_number(row.get("Failure Count")) or 0),
            rps=_number(row.get("Requests/s")) or 0.0,
            p50_ms=_number(row.get("50%")) or _number(row.get("Median Response Time")) or 0.0,
            p99_ms=_number(row.get("99%")) or 0.0,
        )
        for row in _rows(stats_csv)
    ]


def read_totals(stats_csv: Path) -> Row:
    """The Aggregated row; all zero when the run made no request."""
    for row in read_rows(stats_csv):
        if row.name == AGGREGATED:
            return row
    return Row(AGGREGATED, 0, 0, 0.0, 0.0, 0.0)


def read_history(history_csv: Path) -> list[HistoryPoint]:
    points = []
    for row in _rows(history_csv):
        if row.get("Name") != AGGREGATED:
            continue
        points.append(
            HistoryPoint(
                time=_number(row.get("Timestamp")) or 0.0,
                users=int(_number(row.get("User Count")) or 0),
                rps=_number(row.get("Requests/s")) or 0.0,
                failures_per_second=_number(row.get("Failures/s")) or 0.0,
                p50_ms=_number(row.get("50%")),
                p99_ms=_number(row.get("99%")),
            )
        )
    return points


def read_failures(failures_csv: Path) -> list[FailureRow]:
    return [
        FailureRow(row.get("Name", ""), row.get("Error", ""), int(_number(row.get("Occurrences")) or 0))
        for row in _rows(failures_csv)
    ]
