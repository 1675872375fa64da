"""The load profile: event sizes, batch sizes, idempotency and the SLO, from loadtest/profiles.toml."""

from __future__ import annotations

import random
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.errors import LoadTestError

PROFILES_PATH = Path(__file__).resolve().parent / "profiles.toml"


@dataclass(frozen=True)
class Weighted:
    value: int
    weight: float


@dataclass(frozen=True)
class Slo:
    p99_ms: float
    error_ratio: float


@dataclass(frozen=True)
class LoadProfile:
    event_sizes: tuple[Weighted, ...]
    batch_sizes: tuple[Weighted, ...]
    idempotency_share: float
    retry_share: float
    think_seconds: float
    slo: Slo

    def event_size(self, rng: random.Random) -> int:
        return _pick(rng, self.event_sizes)

    def batch_size(self, rng: random.Random) -> int:
        return _pick(rng, self.batch_sizes)

    def mean_events_per_request(self) -> float:
        total = sum(item.weight for item in self.batch_sizes)
        return sum(item.value * item.weight for item in self.batch_sizes) / total


def _pick(rng: random.Random, table: Sequence[Weighted]) -> int:
    return rng.choices([item.value for item in table], weights=[item.weight for item in table])[0]


def load_profile(env: str, path: Path = PROFILES_PATH) -> LoadProfile:
    """The `[default]` profile with the table named `env` (if any) merged over it."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LoadTestError(f"{path}: load profile file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise LoadTestError(f"{path.name}: not valid TOML: {error}") from None
    merged = _merge(document.get("default", {}), document.get(env, {}))
    return _build(merged, f"{path.name}: {env}")


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _number(data: Mapping[str, Any], key: str, where: str, low: float, high: float) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise LoadTestError(f"{where}.{key}: expected a number in [{low}, {high}], got {value!r}")
    return float(value)


def _table(data: Mapping[str, Any], key: str, field: str, where: str) -> tuple[Weighted, ...]:
    rows = data.get(key)
    if not isinstance(rows, list) or not rows:
        raise LoadTestError(f"{where}.{key}: expected a non-empty array of tables")
    table = []
    for index, row in enumerate(rows):
        place = f"{where}.{key}[{index}]"
        if not isinstance(row, Mapping):
            raise LoadTestError(f"{place}: expected a table with {field} and weight")
        table.append(Weighted(int(_number(row, field, place, 1, 10_000_000)), _number(row, "weight", place, 0, 1e9)))
    if sum(item.weight for item in table) <= 0:
        raise LoadTestError(f"{where}.{key}: the weights add up to zero")
    return tuple(table)


def _build(data: Mapping[str, Any], where: str) -> LoadProfile:
    slo = data.get("slo")
    if not isinstance(slo, Mapping):
        raise LoadTestError(f"{where}.slo: missing table")
    return LoadProfile(
        event_sizes=_table(data, "event_sizes", "bytes", where),
        batch_sizes=_table(data, "batch_sizes", "events", where),
        idempotency_share=_number(data, "idempotency_share", where, 0, 1),
        retry_share=_number(data, "retry_share", where, 0, 1),
        think_seconds=_number(data, "think_seconds", where, 0, 3600),
        slo=Slo(
            p99_ms=_number(slo, "p99_ms", f"{where}.slo", 1, 600_000),
            error_ratio=_number(slo, "error_ratio", f"{where}.slo", 0, 1),
        ),
    )
