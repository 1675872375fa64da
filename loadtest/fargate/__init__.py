"""Locust workers on ECS Fargate: the load generator's own stack (never part of the product's) and the flow
of `invoke load --fargate-workers N`."""
