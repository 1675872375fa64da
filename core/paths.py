"""Where the project lies on disk: the one definition every tool that reads or writes a project file starts from."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
