"""ops.progress: the one progress line (a wait's text or a counter), on a terminal and into a log."""

from __future__ import annotations

import io

from ops.progress import Progress, ProgressLine, counted


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_on_a_terminal_the_line_is_rewritten_in_place_and_ended_once() -> None:
    # GIVEN a line on a terminal
    stream, clock = Terminal(), Clock()
    line = ProgressLine(stream, clock=clock)
    # WHEN it shows two states a second apart, then is done
    line.show("draining: 1/60 s")
    clock.now += 1
    line.show("draining: 2/60 s")
    line.done("draining: done in 2 s")
    # THEN each state overwrote the one before, and only the last line ends with a newline
    assert stream.getvalue() == ("\rdraining: 1/60 s\033[K\rdraining: 2/60 s\033[K\rdraining: done in 2 s\033[K\n")


def test_into_a_log_a_changing_line_is_written_at_most_every_interval() -> None:
    # GIVEN a line into a log file, written at most every 10 s
    stream, clock = io.StringIO(), Clock()
    line = ProgressLine(stream, log_every=10, clock=clock)
    # WHEN it changes every second for 12 s
    for second in range(12):
        line.show(f"waiting: {second} s")
        clock.now += 1
    # THEN the log holds the first state and the one 10 s later, each on a line of its own
    assert stream.getvalue() == "waiting: 0 s\nwaiting: 10 s\n"


def test_a_line_shows_the_same_text_once() -> None:
    # GIVEN a line on a terminal
    stream, clock = Terminal(), Clock()
    line = ProgressLine(stream, clock=clock)
    # WHEN the same state is shown twice, a second apart
    line.show("same")
    clock.now += 1
    line.show("same")
    # THEN it is drawn once
    assert stream.getvalue() == "\rsame\033[K"


def test_a_line_with_no_stream_is_quiet() -> None:
    # GIVEN a line with no stream (tests, --quiet)
    line = ProgressLine(None)
    # WHEN used
    line.show("x")
    line.done("y")
    # THEN nothing fails and nothing is written (there is nowhere to write)


def test_a_counter_into_a_log_writes_only_its_final_count() -> None:
    # GIVEN a counter of 3 messages into a log
    stream = io.StringIO()
    progress = Progress("replay", total=3, stream=stream)
    # WHEN it counts them and finishes
    for _ in range(3):
        progress.update(note="sending")
    progress.finish(note="sent")
    # THEN the log holds one line, the final count
    assert stream.getvalue() == "replay: 3/3 sent\n"
    assert progress.done == 3


def test_a_counter_on_a_terminal_draws_its_count() -> None:
    # GIVEN a counter with no total, on a terminal
    stream = Terminal()
    progress = Progress("query q: seconds", stream=stream)
    # WHEN it advances once and finishes
    progress.update(1, note="RUNNING")
    progress.finish(note="SUCCEEDED")
    # THEN the running count was drawn in place, then the final one ended the line
    assert stream.getvalue() == "\rquery q: seconds: 1 RUNNING\033[K\rquery q: seconds: 1 SUCCEEDED\033[K\n"


def test_counted_puts_the_noun_in_the_right_number() -> None:
    assert (counted(1, "request"), counted(2, "request"), counted(0, "event")) == (
        "1 request",
        "2 requests",
        "0 events",
    )
