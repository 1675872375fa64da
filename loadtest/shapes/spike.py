"""spike: a fifth of the users, then all of them within a second, then back to a fifth."""

from loadtest.shapes.base import StagedShape


class SpikeShape(StagedShape):
    ROWS = (
        (0.3, 0.2, 2.0),  # baseline
        (0.5, 1.0, 1.0),  # the spike: everyone within a second
        (1.0, 0.2, 1.0),  # back to the baseline: does the backlog drain?
    )
    DEFAULT_USERS = 50
    DEFAULT_DURATION = 90.0
