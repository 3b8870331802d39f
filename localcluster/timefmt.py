"""Kubernetes time formats (contract §6): `Time` to the second, `MicroTime` to the microsecond.

Input is RFC 3339 with `Z` or an offset, with or without a fraction (the typed client sends
`isoformat()`). Output is always UTC with a `Z`. Read the clock through `CLOCK.utcnow()` so
tests can replace it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})?$"
)


class Clock:
    """The time seam: production reads the system clock; tests assign `CLOCK.utcnow`."""

    def utcnow(self) -> datetime:
        return datetime.now(UTC)


CLOCK = Clock()


def format_time(dt: datetime) -> str:
    """`2026-01-02T03:04:05Z` (naive datetimes are taken as UTC)."""
    return _as_utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_microtime(dt: datetime) -> str:
    """`2026-01-02T03:04:05.000006Z`, always six fraction digits."""
    return _as_utc(dt).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_time() -> str:
    return format_time(CLOCK.utcnow())


def now_microtime() -> str:
    return format_microtime(CLOCK.utcnow())


def parse_time(text: str) -> datetime:
    """Parse RFC 3339 into an aware UTC datetime; ValueError names the value and the rule.

    A missing zone is taken as UTC (lenient, like the Python clients' own parser). Fractions
    longer than microseconds (Go emits nanoseconds) are truncated.
    """
    if not isinstance(text, str):
        raise ValueError(f"time {text!r}: expected an RFC 3339 string")
    match = _RFC3339.match(text.strip())
    if match is None:
        raise ValueError(f"time {text!r}: expected RFC 3339, e.g. 2006-01-02T15:04:05Z")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                      micros, tzinfo=UTC)
    except ValueError as e:
        raise ValueError(f"time {text!r}: {e}") from e
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        dt -= sign * offset
    return dt


def normalize_time(text: str) -> str:
    """Re-emit an RFC 3339 string as a second-precision `Time`."""
    return format_time(parse_time(text))


def normalize_microtime(text: str) -> str:
    """Re-emit an RFC 3339 string as a `MicroTime`."""
    return format_microtime(parse_time(text))


def _as_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
