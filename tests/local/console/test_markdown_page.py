"""The markdown of text widgets and the runbook as HTML, when the markdown is planted (issue 32): a dashboard
body is whatever the emulator stores, so no text becomes markup and no link runs script."""

from __future__ import annotations

import pytest

from local.console.markdown_page import markdown_to_html, runbook_anchor_link, safe_target

CONSOLE = runbook_anchor_link("/runbook")


@pytest.mark.parametrize(
    "target",
    [
        'javascript:fetch("/status")',
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",  # a browser drops tabs and newlines inside a URL's scheme
        "java\nscript:alert(1)",
        "\x01javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
    ],
)
def test_a_planted_script_link_is_shown_as_plain_text(target: str) -> None:
    # GIVEN a text widget whose link points at script or data
    markdown = f"Check [the runbook]({target}) now"
    # WHEN it becomes HTML
    page = markdown_to_html(markdown, CONSOLE)
    # THEN the link's text is there, as text, with no link at all
    assert "<a" not in page and "href" not in page
    assert "the runbook" in page
    assert not safe_target(target)


def test_web_links_paths_and_anchors_stay_links() -> None:
    markdown = "- [web](https://example.org/a?b=1)\n- [runbook](docs/runbook.md#dlq-visible)\n- [here](#top)\n- [p](/x)"
    page = markdown_to_html(markdown, CONSOLE)
    for href in ("https://example.org/a?b=1", "/runbook#dlq-visible", "#top", "/x"):
        assert f'<a href="{href}">' in page


def test_planted_markup_is_escaped_wherever_it_stands() -> None:
    # GIVEN markup in a heading, a bullet, code, a link's text and a link's target
    markdown = (
        "# <img src=x onerror=alert(1)>\n"
        "- <script>alert(2)</script>\n"
        "`<b>code</b>` and **<i>bold</i>**\n"
        '[<svg onload=alert(3)>](https://example.org/"onmouseover="alert.4)'
    )
    # WHEN it becomes HTML
    page = markdown_to_html(markdown, CONSOLE)
    # THEN every tag of it is text, and the target cannot leave its attribute
    for tag in ("<img", "<script", "<b>", "<i>", "<svg"):
        assert tag not in page
    assert '<a href="https://example.org/&quot;onmouseover=&quot;alert.4">' in page


def test_lines_of_one_paragraph_or_one_item_are_joined_and_autolinks_link() -> None:
    # GIVEN markdown as docs/ writes it: a paragraph over lines, an item continued on an indented line, an autolink
    markdown = "First line\nsecond line.\n\n- item one\n  continued\n- item two\n\nSee <http://127.0.0.1:3001/> now."
    # WHEN it becomes HTML
    page = markdown_to_html(markdown, CONSOLE)
    # THEN each paragraph and each item is one element, and the autolink is a link
    assert page.split("\n") == [
        "<p>First line second line.</p>",
        "<ul>",
        "<li>item one continued</li>",
        "<li>item two</li>",
        "</ul>",
        '<p>See <a href="http://127.0.0.1:3001/">http://127.0.0.1:3001/</a> now.</p>',
    ]
