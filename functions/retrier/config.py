"""The retrier's settings, read once from the environment."""

from dataclasses import dataclass

from functions.common import env, env_names


@dataclass(frozen=True, slots=True)
class RetrierSettings:
    parking_bucket: str  # where the consumer parks events (functions/common/parked.py)
    queue_url: str  # the ingest queue: pointers to parked objects go to it
    retry_window_seconds: int  # from acceptance
    # Send pointers while the ingest queue holds fewer visible messages than this: the consumer keeps its full
    # throughput, and the queue never fills with pointers it cannot get to.
    unpark_queue_depth: int
    run_seconds: int  # the most a run works: less than the schedule's interval, so runs do not overlap
    probe_interval_seconds: int  # the consumers' breaker probe interval: how fresh a "failing" must be
    # An object pointed at is not pointed at again for this long (its pointer may still wait in the queue: two would
    # have two consumers store its events twice, and the S3 analytics store would get them twice)
    repoint_after_seconds: int


def load_settings() -> RetrierSettings:
    return RetrierSettings(
        parking_bucket=env.require(env_names.PARKING_BUCKET),
        queue_url=env.require(env_names.QUEUE_URL),
        retry_window_seconds=env.integer(env_names.RETRY_WINDOW_SECONDS, 86_400, minimum=1, maximum=14 * 86_400),
        unpark_queue_depth=env.integer(env_names.UNPARK_QUEUE_DEPTH, 2000, minimum=10, maximum=1_000_000),
        run_seconds=env.integer(env_names.RUN_SECONDS, 45, minimum=1, maximum=900),
        probe_interval_seconds=env.integer(env_names.BREAKER_PROBE_SECONDS, 30, minimum=1, maximum=3600),
        repoint_after_seconds=env.integer(env_names.REPOINT_AFTER_SECONDS, 360, minimum=1, maximum=86_400),
    )
