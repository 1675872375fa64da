"""Operator tools: package and deploy the stack, then operate it (send, replay, redrive, reconcile, events, cost).

Plain Python functions that take boto3 clients and return results; `tasks.py` only parses arguments, calls
them and prints. Every error meant for a person is an `OpsError` with a one-line message.
"""
