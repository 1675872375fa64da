"""The embedded target: moto server plus in-process Lambdas, API gateway, pollers, metrics and faults."""
