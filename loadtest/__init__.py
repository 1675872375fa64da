"""Load tests: Locust users and shapes, scenarios with expectations, and the capacity report.

This package talks to the API over HTTP and to the stack through its outputs (the local stack's
control API, or AWS APIs for a deployed one), like a user would; it never imports handlers or `local/`.
"""
