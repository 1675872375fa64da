"""Sluice operator tasks. `invoke --list` shows them; `invoke --help TASK` shows a task's options.

Each module holds the tasks of one concern; a task parses its options, calls the package that owns the work
(cloudformation/, local/, ops/, loadtest/, benchmarks/) and prints. Heavy imports stay inside the tasks, so
`invoke --list` is quick.
"""

from __future__ import annotations

from invoke import Collection

# Each module is named for the command (or the group of commands) it defines, and imported as a module so that
# no task shadows it (`tasks.cost` is the module, `tasks.cost.cost` the task). invoke puts tasks/ itself on
# sys.path, so a module may not take a top-level package's name: the `alarms` group lives in alarms_tasks.py.
from tasks import alarms_tasks, bench, capacity, cost, deployment, events, keys, load, local_stack, operate, template
from tasks.cli import install as install_cli_errors

# Argument errors in our words (one line, the usage when something is missing); `| head` ends quietly.
install_cli_errors()

namespace = Collection(
    template.synth,
    template.validate,
    local_stack.up,
    local_stack.down,
    local_stack.status,
    local_stack.chaos,
    local_stack.demo,
    local_stack.dashboard,
    local_stack.logs,
    bench.bench,
    deployment.package,
    deployment.diff,
    deployment.preflight,
    deployment.deploy,
    deployment.destroy,
    operate.send,
    operate.replay,
    operate.redrive,
    operate.reconcile,
    cost.cost,
    capacity.capacity,
    load.load,
    alarms_tasks.alarms,
    events.events,
    keys.keys,
)
