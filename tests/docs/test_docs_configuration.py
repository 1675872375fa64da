"""docs/configuration.md explains every key sluice.toml ships with."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from typing import Any

from core.paths import PROJECT_ROOT

PROJECT = PROJECT_ROOT
DOC = (PROJECT / "docs" / "configuration.md").read_text(encoding="utf-8")


def keys(table: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """`section.key` for every value of a table, nested tables joined with dots."""
    for name, value in table.items():
        if isinstance(value, dict):
            yield from keys(value, f"{prefix}{name}.")
        else:
            yield prefix + name


def documented(key: str) -> bool:
    """The key, or its last part beside its section in a row (`table.billing` … `read_capacity`), or a wildcard
    row (`monitoring.*`, `archive.*_days`, `functions.<name>.memory_mb`)."""
    section, _, name = key.rpartition(".")
    rows = [line for line in DOC.splitlines() if line.startswith("| `")]
    for row in rows:
        first_cell = row[2:].split(" | ")[0]  # `<consumer|archiver>` holds a bare pipe
        names = [re.sub(r"<[^>]+>", "<name>", part) for part in re.findall(r"`([^`]+)`", first_cell)]
        patterns = [re.escape(part).replace(r"\*", r"[^.`]*") for part in names]
        if any(re.fullmatch(pattern, key) for pattern in patterns):
            return True
        if f"`{section.split('.')[0]}." in first_cell and f"`{name}`" in row:
            return True
    return False


def test_every_key_sluice_toml_ships_is_documented() -> None:
    # GIVEN every key of the shipped defaults (functions, mappings and producers.<name> as their rows name them)
    config = tomllib.loads((PROJECT / "sluice.toml").read_text(encoding="utf-8"))
    shipped = {
        re.sub(r"^(functions|mappings|producers)\.[a-z-]+\.", r"\1.<name>.", key) for key in keys(config["defaults"])
    } | {key for key in keys(config["defaults"]) if key.count(".") == 0}
    # THEN docs/configuration.md's table explains each
    missing = sorted(key for key in shipped if not documented(key))
    assert missing == []
