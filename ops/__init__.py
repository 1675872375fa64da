"""Operator tools: package and deploy the stack, then operate it (send, replay, redrive, reconcile, events, cost).

Plain Python functions that take boto3 clients and return results; the tasks (tasks/) only parse arguments, call
them and print. Every error meant for a person is an `OpsError` with a one-line message.
"""
