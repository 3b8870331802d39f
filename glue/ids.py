"""Job identifiers: `"{window}-{unique}"` (design §3), e.g. `12-70788`."""

from __future__ import annotations

import re
import secrets

from glue.errors import InvalidJobId

DEFAULT_MAX_WINDOWS = 30
JOB_ID_RE = re.compile(r"^(0|[1-9][0-9]{0,3})-([0-9]{5})$")


def parse_job_id(job_id: object, max_windows: int = DEFAULT_MAX_WINDOWS) -> tuple[int, str]:
    """Return (window, unique) or raise InvalidJobId naming the value and the rule."""
    match = JOB_ID_RE.match(job_id) if isinstance(job_id, str) else None
    if not match:
        raise InvalidJobId(
            f"job_id {job_id!r} must look like '<window>-<5 digits>', e.g. '12-70788'"
        )
    window = int(match.group(1))
    if window >= max_windows:
        raise InvalidJobId(f"job_id {job_id!r}: window {window} must be below {max_windows}")
    return window, match.group(2)


def make_job_id(window: int, unique: str | None = None) -> str:
    unique = unique if unique is not None else f"{secrets.randbelow(100000):05d}"
    return f"{window}-{unique}"
