"""SQS queues for the local stack's moto server whose per-call cost does not grow with their depth, and
which hold at most a limit of messages in flight, as SQS's standard queues do.

`install()` (before moto creates any SQS backend) swaps moto's SQS backend for one that keeps standard
queues in an index; `python -m local.emulation.server` is moto server with it installed.
"""

from local.emulation.fast_sqs.backend import MOTO_VERSION, SQS_IN_FLIGHT_LIMIT, MotoVersionError, install

__all__ = ["MOTO_VERSION", "SQS_IN_FLIGHT_LIMIT", "MotoVersionError", "install"]
