"""Sluice operator tasks. `invoke --list` shows them; `invoke --help TASK` shows a task's options.

Each module holds the tasks of one concern; a task parses its options, calls the package that owns the work
(cloudformation/, local/, ops/, loadtest/, benchmarks/) and prints. Heavy imports stay inside the tasks, so
`invoke --list` is quick.
"""

from __future__ import annotations

from invoke import Collection

from tasks.backtest import alarms
from tasks.benchmarking import bench
from tasks.cli import install as install_cli_errors
from tasks.deployment import deploy, destroy, diff, package, preflight
from tasks.keys import keys
from tasks.load_tests import load
from tasks.local_stack import chaos, dashboard, demo, down, logs, status, up
from tasks.operate import reconcile, redrive, replay, send
from tasks.pricing import cost
from tasks.stored_events import events
from tasks.template import synth, validate

# Argument errors in our words (one line, the usage when something is missing); `| head` ends quietly.
install_cli_errors()

namespace = Collection(
    synth,
    validate,
    up,
    down,
    status,
    chaos,
    demo,
    dashboard,
    logs,
    bench,
    package,
    diff,
    preflight,
    deploy,
    destroy,
    send,
    replay,
    redrive,
    reconcile,
    cost,
    load,
    alarms,
    events,
    keys,
)
