"""The markdown this project writes (text widgets, docs/runbook.md) as HTML: headings with anchors, bullet
lists, paragraphs, bold, inline code and links.

Links relative to the repository go through `link`: the static dashboard page inlines the runbook and
points at its own anchors, the console serves the runbook at /runbook — never a file:// path of one machine.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
RUNBOOK = REPOSITORY / "docs" / "runbook.md"
RUNBOOK_PATH = "docs/runbook.md"

Linker = Callable[[str], str]


def runbook_anchor_link(prefix: str) -> Linker:
    """Runbook links become `prefix#section`; other repository paths are kept as written, web links too."""

    def link(url: str) -> str:
        path, _, anchor = url.partition("#")
        if path == RUNBOOK_PATH:
            return f"{prefix}#{anchor}" if anchor else prefix or "#"
        return url

    return link


def _inline(text: str, link: Linker) -> str:
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(
        r"\[([^\]]+)\]\(([^)]+)\)",
        lambda match: f'<a href="{html.escape(link(html.unescape(match.group(2))))}">{match.group(1)}</a>',
        escaped,
    )


def markdown_to_html(markdown: str, link: Linker) -> str:
    parts: list[str] = []
    in_list = False
    for line in markdown.splitlines():
        bullet = re.match(r"^[-*]\s+(.*)", line)
        if in_list and not bullet:
            parts.append("</ul>")
            in_list = False
        heading = re.match(r"^(#{1,6})\s+(.*)", line)
        if heading:
            level, title = len(heading.group(1)), heading.group(2)
            anchor = re.sub(r"[^\w-]+", "-", title.strip().lower()).strip("-")
            parts.append(f'<h{level} id="{anchor}">{_inline(title, link)}</h{level}>')
        elif bullet:
            if not in_list:
                parts.append("<ul>")
                in_list = True
            parts.append(f"<li>{_inline(bullet.group(1), link)}</li>")
        elif line.strip():
            parts.append(f"<p>{_inline(line, link)}</p>")
    if in_list:
        parts.append("</ul>")
    return "\n".join(parts)


def runbook_html(link: Linker) -> str:
    """docs/runbook.md as HTML, one anchor per alarm section."""
    return markdown_to_html(RUNBOOK.read_text(encoding="utf-8"), link)
