"""smoke: a few users for a few seconds; every path once, fast enough for CI."""

from loadtest.shapes.base import StagedShape


class SmokeShape(StagedShape):
    ROWS = ((1.0, 1.0, 0.0),)  # everyone at once, for the whole run
    DEFAULT_USERS = 4
    DEFAULT_DURATION = 15.0
