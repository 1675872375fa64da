"""The memory soak's arithmetic and options (the run itself is not a test: benchmarks/memory_soak.py)."""

from __future__ import annotations

import pytest

from benchmarks.memory_soak import Sample, main, report, slope


def test_the_slope_is_the_least_squares_one_and_zero_without_spread() -> None:
    # GIVEN / WHEN points on a line, and points at one x THEN the line's slope, and 0
    assert slope([(0, 10), (1, 12), (2, 14)]) == pytest.approx(2.0)
    assert slope([(5, 1), (5, 9)]) == 0.0


def test_the_report_shows_growth_that_stops_in_the_second_half() -> None:
    # GIVEN a warm-up sample, then 1,000 bytes per event for two minutes, then flat for two
    mib = 1024 * 1024
    rss = [
        100 * mib,
        110 * mib,
        110 * mib + 1_000_000,
        110 * mib + 2_000_000,
        110 * mib + 2_000_000,
        110 * mib + 2_000_000,
    ]
    samples = [Sample(60.0 * n, 1000 * n, value, 120 * mib, 0) for n, value in enumerate(rss)]
    # WHEN reported THEN the first half grows by 1,000 bytes per event and the second by none
    lines = report(samples).splitlines()
    assert lines[2] == "slope first half: 1,000 bytes per event (2,000 events), 976.6 KiB per minute"
    assert lines[3] == "slope second half: 0 bytes per event (2,000 events), 0.0 KiB per minute"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--minutes", "0"], "--minutes: expected more than 0 and at most 240, got 0.0"),
        (["--rate", "501"], "--rate: expected more than 0 and at most 500, got 501.0"),
        (["--events-per-request", "11"], "--events-per-request: expected 1 to 10, got 11"),
        (["--metrics-window", "60"], "--metrics-window: expected at least 900, got 60"),
        (["--minutes", "1", "--sample-seconds", "61"], "--sample-seconds: expected 1 to the run's length, got 61.0"),
    ],
)
def test_options_out_of_range_are_refused_in_one_line_before_any_stack_starts(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN / WHEN an option out of range THEN exit 2 with one line, and no stack started (it would print)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {message}\n"
    assert captured.out == ""
