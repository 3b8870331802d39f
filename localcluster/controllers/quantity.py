"""Resource quantities (`500m`, `1Gi`, `2`, `1e3`) as exact numbers, and per-resource units.

The scheduler compares integers: CPU in millicores, everything else in base units (bytes,
counts). Extended resources (`nvidia.com/gpu`, ...) are integers by definition.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$")


def parse_quantity(value: object) -> Fraction:
    """`"500m"` → 1/2; ValueError names the value and the rule."""
    if isinstance(value, bool):
        raise ValueError(f"quantity {value!r}: expected a number or a string like 500m or 1Gi")
    if isinstance(value, int | float):
        return Fraction(value)
    if not isinstance(value, str):
        raise ValueError(f"quantity {value!r}: expected a number or a string like 500m or 1Gi")
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise ValueError(f"quantity {value!r}: expected a number with an optional suffix "
                         "(n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent)")
    number, exponent, suffix = match.groups()
    amount = Fraction(number)
    if exponent is not None:
        return amount * Fraction(10) ** int(exponent)
    return amount * _SUFFIXES[suffix or ""]


def to_units(resource: str, value: object) -> int:
    """A quantity in the scheduler's integer units: millicores for cpu, base units otherwise
    (rounded up, like the API server's `Value()`/`MilliValue()`)."""
    amount = parse_quantity(value)
    if resource == "cpu":
        amount *= 1000
    return math.ceil(amount)


def format_cpu_nanocores(nanocores: float) -> str:
    return f"{max(0, round(nanocores))}n"


def format_kibibytes(num_bytes: int) -> str:
    return f"{max(0, num_bytes) // 1024}Ki"
