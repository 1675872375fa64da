"""The markdown this project writes (text widgets, docs/*.md) as HTML: headings with anchors, bullet lists,
paragraphs (joined across their lines), bold, inline code, links and autolinks (<https://…>).

Links relative to the repository go through `link`: the static dashboard page inlines the runbook and
points at its own anchors, the console serves the runbook at /runbook and the other pages of docs/ at /docs/NAME —
never a file:// path of one machine.

The markdown may be planted (a dashboard body is whatever the emulator stores): every piece of text is
escaped, and a link is drawn only to an http(s) address, a path or an anchor — any other target (`javascript:`,
`data:`, …) leaves the link's text as plain text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

from core.paths import PROJECT_ROOT

RUNBOOK = PROJECT_ROOT / "docs" / "runbook.md"
RUNBOOK_PATH = "docs/runbook.md"

Linker = Callable[[str], str]


DOCS = RUNBOOK.parent


def runbook_anchor_link(prefix: str, docs: str | None = None) -> Linker:
    """Runbook links become `prefix#section`; with `docs` (where the other pages of docs/ are served), a link
    between pages of docs/ (`recommended-alarms.md#x`, as GitHub resolves it) becomes `docs` + page; other
    paths are kept as written, web links too."""

    def link(url: str) -> str:
        path, _, anchor = url.partition("#")
        if path in (RUNBOOK_PATH, RUNBOOK.name):
            return f"{prefix}#{anchor}" if anchor else prefix or "#"
        if docs is not None and path in doc_pages():
            return f"{docs}{path}" + (f"#{anchor}" if anchor else "")
        return url

    return link


def doc_pages() -> dict[str, Path]:
    """The pages of docs/ by file name (a name, never a path)."""
    return {page.name: page for page in DOCS.glob("*.md")}


# a target that is http(s), or has no scheme at all (a path, `#anchor`, `?query`); and no character a browser
# strips or ignores inside a scheme (whitespace, controls), which would turn `java\tscript:` into a scheme
SAFE_TARGET = re.compile(r"(?i:https?://|[^:/?#\x00-\x20\x7f-\x9f]*(?:[/?#]|$))[^\x00-\x20\x7f-\x9f]*")


def safe_target(url: str) -> bool:
    """Whether a link to `url` may be drawn: http(s), a path or an anchor; never a script or data URL."""
    return SAFE_TARGET.fullmatch(url) is not None


def _anchor(text: str, url: str, link: Linker) -> str:
    target = link(url)
    return f'<a href="{html.escape(target)}">{text}</a>' if safe_target(target) else text


def _inline(text: str, link: Linker) -> str:
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
    # an autolink, <https://…>: its text is its address
    escaped = re.sub(
        r"&lt;(https?://[^\s&]+)&gt;",
        lambda match: _anchor(match.group(1), html.unescape(match.group(1)), link),
        escaped,
    )
    return re.sub(
        r"\[([^\]]+)\]\(([^)]+)\)",
        lambda match: _anchor(match.group(1), html.unescape(match.group(2)), link),
        escaped,
    )


def markdown_to_html(markdown: str, link: Linker) -> str:
    """Headings, bullet lists (a line indented under an item continues it) and paragraphs (lines up to a blank
    line, a heading or a list are one paragraph, as markdown reads them)."""
    parts: list[str] = []
    paragraph: list[str] = []
    items: list[list[str]] = []

    def flush() -> None:
        if paragraph:
            parts.append(f"<p>{_inline(' '.join(paragraph), link)}</p>")
            paragraph.clear()
        if items:
            parts.extend(["<ul>", *(f"<li>{_inline(' '.join(item), link)}</li>" for item in items), "</ul>"])
            items.clear()

    for line in markdown.splitlines():
        bullet = re.match(r"^[-*]\s+(.*)", line)
        heading = re.match(r"^(#{1,6})\s+(.*)", line)
        if heading:
            flush()
            level, title = len(heading.group(1)), heading.group(2)
            anchor = re.sub(r"[^\w-]+", "-", title.strip().lower()).strip("-")
            parts.append(f'<h{level} id="{anchor}">{_inline(title, link)}</h{level}>')
        elif bullet:
            if paragraph:
                flush()
            items.append([bullet.group(1)])
        elif not line.strip():
            flush()
        elif items and line[:1].isspace():
            items[-1].append(line.strip())
        else:
            if items:
                flush()
            paragraph.append(line.strip())
    flush()
    return "\n".join(parts)


def runbook_html(link: Linker) -> str:
    """docs/runbook.md as HTML, one anchor per alarm section."""
    return markdown_to_html(RUNBOOK.read_text(encoding="utf-8"), link)
