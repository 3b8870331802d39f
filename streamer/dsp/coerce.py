"""Pure helpers that turn request values into numbers or record why they can't.

Every helper takes the field's public (Focus) name, the raw value and the error list it appends
to; it returns the coerced value, or None when the value is missing or invalid. JSON numbers,
numeric strings and integral floats (e.g. `12.0`) are accepted where an integer is expected;
booleans, fractions, NaN and infinities are refused.
"""

from __future__ import annotations

import math
from typing import Any


def error(field: str, value: Any, rule: str) -> dict[str, Any]:
    """One violation: the offending field, the value as received and the rule it broke."""
    return {"field": field, "value": value, "rule": rule}


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            return None
    try:  # numpy scalars and other number-likes
        return float(value) if hasattr(value, "__float__") else None
    except (TypeError, ValueError):
        return None


def as_float(field: str, value: Any, errors: list[dict]) -> float | None:
    """A finite float, or None (missing: no error; invalid: one error)."""
    if value is None:
        return None
    number = _number(value)
    if number is None:
        errors.append(error(field, value, "must be a number"))
        return None
    if not math.isfinite(number):
        errors.append(error(field, value, "must be a finite number"))
        return None
    return float(number)


def as_int(field: str, value: Any, errors: list[dict]) -> int | None:
    """An integer (integral floats accepted), or None (missing: no error; invalid: one error)."""
    if value is None:
        return None
    number = _number(value)
    if number is None:
        errors.append(error(field, value, "must be an integer"))
        return None
    if isinstance(number, float):
        if not math.isfinite(number):
            errors.append(error(field, value, "must be a finite integer"))
            return None
        if not number.is_integer():
            errors.append(error(field, value, "must be an integer (a fractional value is not allowed)"))
            return None
    return int(number)


def is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0
