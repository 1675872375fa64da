"""Parsing JSON text that someone else wrote: one documented nesting limit, integers of any length.

Python's decoder recurses once per nesting level and raises RecursionError (not a ValueError) near
1,000 levels, at a depth that depends on the caller's own stack. Checking the depth first turns that
into one documented limit with a ValueError that says why. Integers are accepted at any length:
Python's 4,300-digit int-string limit is an interpreter guard, not a JSON rule (RFC 8259 sets no
range), and Sluice keeps each event's text as sent, never its numbers.
"""

import json
import re
import sys
from decimal import Decimal
from typing import Any, NoReturn

# Deeper than any real event, well inside the decoder's recursion limit.
MAX_NESTING_DEPTH = 512

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonTooDeep(ValueError):
    """The text nests arrays and objects deeper than MAX_NESTING_DEPTH."""


def check_depth(text: str, limit: int = MAX_NESTING_DEPTH) -> None:
    """Raise JsonTooDeep when `text` opens more than `limit` arrays/objects at once (strings ignored)."""
    if text.count("[") + text.count("{") <= limit:  # the common case, at C speed
        return
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            raise JsonTooDeep(f"nested deeper than {limit} levels")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _integer(text: str) -> int | Decimal:
    # Decimal has no digit limit; int() refuses more than sys.get_int_max_str_digits() digits (0: no limit).
    limit = sys.get_int_max_str_digits()
    return int(text) if not limit or len(text) <= limit else Decimal(text)


# NaN and Infinity are Python's extensions, not JSON.
DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_integer)


def loads(text: str) -> Any:
    """json.loads for untrusted text: ValueError (JsonTooDeep included) for anything it refuses."""
    check_depth(text)
    return DECODER.decode(text)
