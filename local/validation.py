"""API Gateway's request validator: the body checked against the method's model (JSON Schema draft 4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jsonschema import Draft4Validator


def body_validator(schema: dict[str, Any]) -> Callable[[str | None], bool]:
    """Like API Gateway: a body that is not JSON, or does not match the model, is rejected (400)."""
    validator = Draft4Validator(schema)

    def valid(body: str | None) -> bool:
        if body is None:
            return False
        try:
            document = json.loads(body)
        except ValueError:
            return False
        return validator.is_valid(document)

    return valid
