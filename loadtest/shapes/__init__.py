"""One LoadTestShape per file, its stages as data; `base.py` turns a stage table into ticks."""

SHAPES = ("smoke", "steady", "step", "spike", "soak")
