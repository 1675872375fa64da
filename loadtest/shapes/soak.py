"""soak: one load held for a long time (default 10 minutes); run it at half the knee of `step`."""

from loadtest.shapes.base import StagedShape


class SoakShape(StagedShape):
    ROWS = ((1.0, 1.0, 30.0),)
    DEFAULT_USERS = 10
    DEFAULT_DURATION = 600.0
