"""steady: ramp up within five seconds, then hold one load for the whole run."""

from loadtest.shapes.base import StagedShape


class SteadyShape(StagedShape):
    ROWS = ((1.0, 1.0, 5.0),)
    DEFAULT_USERS = 10
    DEFAULT_DURATION = 60.0
