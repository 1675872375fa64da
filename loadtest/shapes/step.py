"""step: six equal steps up to the full user count; stops at the first step that breaks the SLO.

The knee is the throughput of the last step that held the SLO (loadtest/knee.py).
"""

from loadtest.shapes.base import StagedShape

STEPS = 6


class StepShape(StagedShape):
    ROWS = tuple((step / STEPS, step / STEPS, 2.0) for step in range(1, STEPS + 1))
    DEFAULT_USERS = 60
    DEFAULT_DURATION = 180.0
    stop_when_slo_broken = True
