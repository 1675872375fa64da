"""API Gateway's request validator: the body checked against the method's model (JSON Schema draft 4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from jsonschema import Draft4Validator

_DECODER = json.JSONDecoder(parse_int=Decimal)


def body_validator(schema: dict[str, Any]) -> Callable[[str | None], bool]:
    """Like API Gateway: a body that is not JSON, or does not match the model, is rejected (400)."""
    validator = Draft4Validator(schema)

    def valid(body: str | None) -> bool:
        if body is None:
            return False
        try:
            # Integers of any length are JSON (RFC 8259 sets no range): Decimal has no digit limit.
            document = _DECODER.decode(body)
            return validator.is_valid(document)
        except ValueError:
            return False
        except RecursionError:  # nested too deeply for the parser or the validator: unreadable, so invalid
            return False

    return valid
