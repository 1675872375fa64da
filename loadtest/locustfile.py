"""Sluice's Locust entry: `locust -f loadtest/locustfile.py,loadtest/shapes/<shape>.py ...`.

`invoke load` builds this command line (loadtest/locust_process.py); run by hand, pass the same
`--sluice-*` options and set SLUICE_API_KEY. The user classes and their weights come from the
scenario named by `--sluice-scenario`; the shape from the second file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from locust import events
from locust.runners import WorkerRunner

from loadtest.markers import LOAD_STARTED, LOAD_STOPPED, write_marker
from loadtest.scenarios import get_scenario
from loadtest.shapes.base import StagedShape
from loadtest.stages import STAGES_FILE, StageRecorder
from loadtest.users import RUN, BadInputUser, IngestUser, profile_for

__all__ = ["BadInputUser", "IngestUser"]
USER_CLASSES = {"IngestUser": IngestUser, "BadInputUser": BadInputUser}


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("sluice")
    group.add_argument("--sluice-scenario", default="smoke", help="scenario whose user mix to run")
    group.add_argument("--sluice-env", default="local", help="environment: load profile and API limits")
    group.add_argument("--sluice-users", type=int, default=0, help="users at full load (0: the shape's default)")
    group.add_argument("--sluice-rate", type=float, default=0.0, help="requests/s at full load (0: think time)")
    group.add_argument("--sluice-duration", type=float, default=0.0, help="seconds (0: the shape's default)")
    group.add_argument("--sluice-run-dir", default="", help="folder for accepted ids and stage statistics")


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    if options is None or isinstance(environment.runner, WorkerRunner):
        return  # workers get their user counts from the master; the shape runs there too
    for name, weight in get_scenario(options.sluice_scenario).mix.items():
        USER_CLASSES[name].weight = weight
    if not options.sluice_run_dir:
        return
    folder = Path(options.sluice_run_dir)
    environment.events.test_start.add_listener(lambda **_: write_marker(folder, LOAD_STARTED))
    environment.events.test_stop.add_listener(lambda **_: write_marker(folder, LOAD_STOPPED))
    shape = environment.shape_class
    if isinstance(shape, StagedShape):
        _record_stages(environment, shape, folder)


def _record_stages(environment: Any, shape: StagedShape, folder: Path) -> None:
    recorder = StageRecorder(
        total=lambda: environment.runner.stats.total,
        users_of=lambda index: shape.stages[index].users,
        slo=profile_for(environment.parsed_options.sluice_env).slo,
    )
    shape.stage_listeners.append(recorder.on_stage_change)
    shape.stop_condition = recorder.breached

    def finish(**_: Any) -> None:
        recorder.finish(shape.get_run_time())
        folder.mkdir(parents=True, exist_ok=True)
        recorder.write(folder / STAGES_FILE)

    environment.events.test_stop.add_listener(finish)


@events.quitting.add_listener
def _close(**_: Any) -> None:
    RUN.close()


@events.test_stop.add_listener
def _flush(**_: Any) -> None:
    RUN.close()  # reopened (appending) if the run starts again, e.g. from the web UI
