"""What the user docs must not hold: references to the project's issue tracker, which a reader cannot follow."""

from __future__ import annotations

import re

import pytest

from core.paths import PROJECT_ROOT

PROJECT = PROJECT_ROOT
USER_DOCS = ["README.md", "docs/configuration.md", "docs/runbook.md", "docs/recommended-alarms.md"]
USER_DOCS += ["ops/README.md", "loadtest/README.md"]
ISSUE_REFERENCE = re.compile(r"\b[Ii]ssue\s+#?\d+|\(#\d+\)")


@pytest.mark.parametrize("doc", USER_DOCS)
def test_user_docs_name_no_issue_numbers(doc: str) -> None:
    # GIVEN a document an operator reads WHEN it is searched for "issue 26"-style references
    found = [line.strip() for line in (PROJECT / doc).read_text(encoding="utf-8").splitlines()]
    found = [line for line in found if ISSUE_REFERENCE.search(line)]
    # THEN there are none: say what the change does, not which ticket asked for it
    assert found == []
