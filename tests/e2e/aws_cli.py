"""`python -m tests.e2e.aws_cli SERVICE OPERATION [--param value | --flag | --no-flag]… [--query Q] [--output F]`:
the AWS CLI's command grammar for the documented commands the runbook test runs, on a machine that may have no
`aws` (the project does not depend on it). Each command calls the operation of the same name with botocore (the
client the CLI is built on), its options mapped to the operation's parameters by the CLI's rule (`--function-name`
is FunctionName, `--uuid` UUID, `--enabled`/`--no-enabled` a boolean), and prints what the CLI prints: JSON, or
with `--output text` the `--query` result's values separated by tabs. Endpoint, region and credentials come from
the environment (AWS_ENDPOINT_URL, …), as for the CLI. Anything else fails with one line and exit status 2.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3
import jmespath
from botocore import xform_name
from botocore.model import OperationModel


class UsageError(ValueError):
    """A command outside the grammar above; the message is one line."""


def parameters(operation: OperationModel, words: list[str]) -> tuple[dict[str, Any], str | None, str]:
    """The API parameters of the options in `words`, the --query expression and the output format."""
    members = operation.input_shape.members if operation.input_shape else {}
    by_option = {xform_name(name, "-"): name for name in members}
    found: dict[str, Any] = {}
    query, output = None, "json"
    position = 0
    while position < len(words):
        word = words[position]
        if not word.startswith("--"):
            raise UsageError(f"unexpected argument {word!r}")
        option = word[2:]
        if option in ("query", "output"):
            value = words[position + 1]
            query, output = (value, output) if option == "query" else (query, value)
            position += 2
            continue
        negated = option.startswith("no-") and by_option.get(option[3:]) is not None
        name = by_option.get(option[3:] if negated else option)
        if name is None:
            raise UsageError(f"{operation.name} has no option --{option}")
        if members[name].type_name == "boolean":
            found[name] = not negated
            position += 1
            continue
        value = words[position + 1]
        found[name] = int(value) if members[name].type_name == "integer" else value
        position += 2
    return found, query, output


def as_text(value: Any) -> str:
    if isinstance(value, list):
        return "\t".join(as_text(item) for item in value)
    return "None" if value is None else str(value)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: aws SERVICE OPERATION [options]", file=sys.stderr)
        return 2
    service, command, words = argv[0], argv[1], argv[2:]
    client = boto3.client(service)
    names = {xform_name(name, "-"): name for name in client.meta.service_model.operation_names}
    if command not in names:
        print(f"aws: {service} has no command {command}", file=sys.stderr)
        return 2
    operation = client.meta.service_model.operation_model(names[command])
    try:
        found, query, output = parameters(operation, words)
    except (UsageError, IndexError) as error:
        print(f"aws: {error or 'an option lacks its value'}", file=sys.stderr)
        return 2
    response = getattr(client, xform_name(names[command]))(**found)
    response.pop("ResponseMetadata", None)
    result = jmespath.search(query, response) if query else response
    print(as_text(result) if output == "text" else json.dumps(result, indent=4, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
