"""The README's command that moves the local clock works as written against the control API (issue 28: it lacked
its Content-Type and got 415)."""

from __future__ import annotations

import re
import shlex
from datetime import datetime
from types import SimpleNamespace

import requests

from core.paths import PROJECT_ROOT
from local.console.control import ControlServer
from local.services.clock import LocalClock

PROJECT = PROJECT_ROOT


def readme_clock_command() -> list[str]:
    """The README's line that moves the clock to a moment (`curl … $CONTROL/clock … {"at": "…"}`)."""
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^(curl .*-XPOST \$CONTROL/clock .*\"at\": \".*)$", text, re.MULTILINE)
    assert found is not None, "the README's clock command is gone"
    return shlex.split(found.group(1))


def test_the_readme_clock_command_moves_the_clock() -> None:
    # GIVEN a control API over a runtime's clock, and the README's curl command
    runtime = SimpleNamespace(clock=LocalClock(), say=lambda message: None)
    server = ControlServer(runtime, port=0).start()  # type: ignore[arg-type]
    words = readme_clock_command()
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    body = words[words.index("-d") + 1]
    try:
        # WHEN it is sent as written (curl -XPOST with its -H and -d)
        url = next(word for word in words if word.startswith("$CONTROL/"))
        response = requests.post(url.replace("$CONTROL", server.url), data=body, headers=headers, timeout=10)
    finally:
        server.stop()
    # THEN the clock reads the moment it names
    assert response.status_code == 200, response.text
    assert response.json()["shifted"] is True
    moved = datetime.fromisoformat(response.json()["now"])
    assert abs((moved - datetime.fromisoformat("2026-11-29T22:00:00+01:00")).total_seconds()) < 60
