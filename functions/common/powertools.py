"""The Powertools logger, tracer and metrics every handler uses, set up one way."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics

from functions.common import env


def handler_tools() -> tuple[Logger, Tracer, EphemeralMetrics]:
    """Logger, tracer (botocore calls traced) and metrics, named POWERTOOLS_SERVICE_NAME (set by the template).

    EphemeralMetrics keeps its own metric set: locally the functions share one process, and Metrics' class-level
    set would mix their metrics.
    """
    service = env.service_name()
    return (
        Logger(service=service),
        Tracer(service=service, patch_modules=("botocore",)),
        EphemeralMetrics(service=service, namespace=env.metrics_namespace()),
    )
