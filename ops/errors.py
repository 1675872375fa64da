"""The one exception operators see: a one-line message that names what is wrong and, where it can, the fix."""

from __future__ import annotations


class OpsError(Exception):
    """A user-facing failure; the tasks (tasks/) turn it into `Exit("error: <message>")`, never a traceback."""
