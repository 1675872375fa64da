"""ops/README.md states facts about the code; they must stay true."""

import re
from pathlib import Path

from cloudformation.config import load_config
from cloudformation.synth import full_template
from cloudformation.template import render
from ops.changeset import MAX_TEMPLATE_BODY_BYTES

README = Path(__file__).resolve().parents[2] / "ops" / "README.md"


def test_the_template_size_the_readme_states_is_the_real_one():
    # GIVEN the size the README gives for the template deploy uploads
    stated = re.search(r"\(ours is ~(\d+) KB\)", README.read_text(encoding="utf-8"))
    assert stated, "the README no longer states the template's size"
    # WHEN the prod template is rendered as deploy renders it
    actual_kb = len(render(full_template(load_config("prod"))).encode()) / 1000
    # THEN the README is right within 10 %, and the template is indeed too large to send inline
    assert abs(int(stated.group(1)) - actual_kb) <= 0.1 * actual_kb, f"the template is {actual_kb:.0f} KB"
    assert actual_kb * 1000 > MAX_TEMPLATE_BODY_BYTES
