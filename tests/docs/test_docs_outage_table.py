"""docs/configuration.md's "Retries: outages of any length" shows what `python -m benchmarks.outage_sim
--markdown` prints for the configuration and prices the repository has now."""

from __future__ import annotations

import re

import pytest

from benchmarks.outage_sim import main
from core.paths import PROJECT_ROOT

CONFIGURATION_DOC = PROJECT_ROOT / "docs/configuration.md"
GENERATED = re.compile(
    r"```sh\n(?P<command>python -m benchmarks\.outage_sim[^\n]*)\n```\n\n"
    r"<!-- python -m benchmarks\.outage_sim --markdown: begin [^\n]*-->\n(?P<output>.*?)\n"
    r"<!-- python -m benchmarks\.outage_sim --markdown: end -->",
    re.DOTALL,
)


def test_the_outage_table_in_the_docs_is_what_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the section's command and the output shown under it
    section = GENERATED.search(CONFIGURATION_DOC.read_text(encoding="utf-8"))
    assert section is not None, "docs/configuration.md: the generated outage table's markers are missing"
    arguments = section.group("command").split()[3:]
    # WHEN the command runs
    main(arguments)
    printed = capsys.readouterr().out.rstrip("\n")
    # THEN the docs show exactly its output (rerun it and paste when the model, configuration or prices change)
    assert section.group("output") == printed
