"""Which alarms a scenario means: scenarios name rows of the alarm table (alarms/table.py), never alarm names.

Every alarm of a row is named `<stack>-<row>-<tier>` (the row is also its runbook anchor), and a composite is a
row of its own, so a row finds its alarms in any stack: this module is the one place that ties the two together.
"""

from __future__ import annotations

from collections.abc import Iterable

ALL_OTHERS = "*"  # in `must_stay_ok`: every alarm that no must-fire row names
TIERS = ("high", "low")


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(" ", "-")


def alarms_of_row(row: str, alarm_names: Iterable[str]) -> list[str]:
    """The alarms of `alarm_names` that belong to `row`: its tiers (not the rows it is a prefix of)."""
    endings = tuple(f"-{row}-{tier}" for tier in TIERS)
    return sorted(name for name in alarm_names if _normal(name).endswith(endings))


def resolve(rows: Iterable[str], alarm_names: Iterable[str], exclude: Iterable[str] = ()) -> dict[str, list[str]]:
    """row → alarm names; ALL_OTHERS expands to every alarm not in `exclude`."""
    names = sorted(set(alarm_names))
    excluded = set(exclude)
    resolved: dict[str, list[str]] = {}
    for row in rows:
        found = names if row == ALL_OTHERS else alarms_of_row(row, names)
        resolved[row] = [name for name in found if name not in excluded]
    return resolved
