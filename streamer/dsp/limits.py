"""Focus limits of a view as pure rules over coerced request values (see `params` for the API).

Every rule takes the dict of coerced values (Python names; None = missing or already refused,
which the rule then skips) and returns a list of violations naming the Focus field, the value
and the rule. `params.validate_view` / `validate_focus_request` run them all and raise one
`ParamError` with every violation.
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import Any

from .coerce import error, is_power_of_two


class ViewType(IntEnum):
    MULTICHANNEL = 0
    SINGLECHANNEL = 1
    WATERFALL = 2


class ParamError(ValueError):
    """A request broke one or more rules; `.errors` lists every violation (field, value, rule)."""

    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = list(errors)
        super().__init__("; ".join(f"{e['field']}={e['value']!r}: {e['rule']}" for e in self.errors))


MAX_CHANNELS = 2222
MAX_FREQUENCY_HZ = 1000.0
MIN_FREQUENCY_SPAN_HZ = 1.0
MAX_NFFT = {ViewType.MULTICHANNEL: 2048, ViewType.SINGLECHANNEL: 65536, ViewType.WATERFALL: 1}
DEFAULT_DISPLAY_BINS = {ViewType.MULTICHANNEL: 32, ViewType.SINGLECHANNEL: 512}
WATERFALL_DEFAULT_DURATION_S = 30.0
DEFAULT_CHANNELS_PER_STREAM = 256

FOCUS_FIELDS = {
    "view_type": "view_type",
    "nfft": "nfftSelection",
    "display_duration_s": "displayTimeAxisDuration",
    "display_height": "displayInfo.height",
    "channel_min": "channels.min",
    "channel_max": "channels.max",
    "freq_min": "frequencyRange.min",
    "freq_max": "frequencyRange.max",
    "start_time": "start_time",
    "end_time": "end_time",
    "sample_rate_hz": "sample_rate_hz",
    "display_bins": "display_bins",
    "channels_per_stream": "channels_per_stream",
    "source_channels": "source_channels",
}
_F = FOCUS_FIELDS


def required_errors(v: dict[str, Any], invalid: set[str]) -> list[dict]:
    required = ["view_type", "nfft", "channel_min", "channel_max", "display_height", "sample_rate_hz"]
    if v["view_type"] is not None and v["view_type"] != ViewType.WATERFALL:
        required += ["display_duration_s", "freq_min", "freq_max"]
    return [error(_F[n], None, "is required") for n in required if v.get(n) is None and n not in invalid]


def time_errors(v: dict[str, Any]) -> list[dict]:
    start, end = v.get("start_time"), v.get("end_time")
    errors = []
    for name, value in (("start_time", start), ("end_time", end)):
        if value is not None and value < 0:
            errors.append(error(name, value, "must be >= 0 (epoch seconds)"))
    if (start is None) != (end is None):
        missing = "end_time" if end is None else "start_time"
        errors.append(error(missing, None, "start_time and end_time go together (both null = live)"))
    elif start is not None and end <= start:
        errors.append(error("end_time", end, f"must be greater than start_time ({start})"))
    return errors


def rule_errors(v: dict[str, Any]) -> list[dict]:
    """Rules over coerced values; a None value (missing or already refused) is skipped."""
    errors: list[dict] = []
    errors += _positive(v, ("display_height", "display_duration_s", "sample_rate_hz", "display_bins",
                            "channels_per_stream", "source_channels"))
    errors += _nfft_errors(v)
    errors += _channel_errors(v)
    errors += _frequency_errors(v)
    errors += _hop_errors(v)
    return errors


def _positive(v: dict[str, Any], names: tuple[str, ...]) -> list[dict]:
    return [error(_F[n], v[n], _POSITIVE_RULES.get(n, "must be > 0"))
            for n in names if v.get(n) is not None and v[n] <= 0]


_POSITIVE_RULES = {
    "sample_rate_hz": "must be > 0 (the source reports no pulse rate: waiting for fibre?)",
    "source_channels": "must be > 0 (the source reports no channels)",
}


def _nfft_errors(v: dict[str, Any]) -> list[dict]:
    nfft, view = v.get("nfft"), v.get("view_type")
    if nfft is None:
        return []
    if not is_power_of_two(nfft):
        return [error(_F["nfft"], nfft, "must be a power of two")]
    if view == ViewType.WATERFALL and nfft != 1:
        return [error(_F["nfft"], nfft, "must be exactly 1 for the waterfall view (view_type 2)")]
    if view in (ViewType.MULTICHANNEL, ViewType.SINGLECHANNEL):
        name = "multichannel" if view == ViewType.MULTICHANNEL else "single channel"
        if nfft > MAX_NFFT[view]:
            return [error(_F["nfft"], nfft, f"must be <= {MAX_NFFT[view]} for the {name} view")]
        if nfft < 2:
            return [error(_F["nfft"], nfft, f"must be >= 2 for the {name} view (nfft 1 is the waterfall)")]
    return []


def _channel_errors(v: dict[str, Any]) -> list[dict]:
    errors = []
    lo, hi, source = v.get("channel_min"), v.get("channel_max"), v.get("source_channels")
    top = min(MAX_CHANNELS, source) if source and source > 0 else MAX_CHANNELS
    for name, value in (("channel_min", lo), ("channel_max", hi)):
        if value is not None and not 1 <= value <= top:
            errors.append(error(_F[name], value, f"must be between 1 and {top} (1-based, inclusive)"))
    if lo is not None and hi is not None and hi < lo:
        errors.append(error(_F["channel_max"], hi, f"must be >= channels.min ({lo})"))
    elif lo is not None and hi is not None and v.get("view_type") == ViewType.SINGLECHANNEL and hi != lo:
        errors.append(error(_F["channel_max"], hi, f"must equal channels.min ({lo}) for the single channel view"))
    return errors


def _frequency_errors(v: dict[str, Any]) -> list[dict]:
    fmin, fmax, view = v.get("freq_min"), v.get("freq_max"), v.get("view_type")
    if view == ViewType.WATERFALL:
        return [error(_F[n], v[n], "must be absent for the waterfall view (view_type 2)")
                for n in ("freq_min", "freq_max") if v.get(n) is not None]
    errors = []
    for name, value in (("freq_min", fmin), ("freq_max", fmax)):
        if value is not None and not 0 <= value <= MAX_FREQUENCY_HZ:
            errors.append(error(_F[name], value, f"must be between 0 and {MAX_FREQUENCY_HZ:g} Hz"))
    if errors or fmin is None or fmax is None:
        return errors
    if fmax - fmin < MIN_FREQUENCY_SPAN_HZ:
        return [error(_F["freq_max"], fmax, f"must be at least {MIN_FREQUENCY_SPAN_HZ:g} Hz above "
                                            f"frequencyRange.min ({fmin:g})")]
    fs, nfft = v.get("sample_rate_hz"), v.get("nfft")
    if fs is None or fs <= 0:
        return []
    if fmax > fs / 2:
        return [error(_F["freq_max"], fmax, f"must be <= the Nyquist frequency {fs / 2:g} Hz "
                                            f"(sample rate {fs:g} Hz)")]
    if nfft is not None and is_power_of_two(nfft) and nfft >= 2:
        lo, hi = bin_bounds(fmin, fmax, nfft, fs)
        if hi < lo:
            return [error(_F["freq_min"], fmin, f"range [{fmin:g}, {fmax:g}] Hz holds no FFT bin at "
                                                f"nfft {nfft} (bins every {fs / nfft:g} Hz)")]
    return []


def _hop_errors(v: dict[str, Any]) -> list[dict]:
    fs, height, view = v.get("sample_rate_hz"), v.get("display_height"), v.get("view_type")
    duration = v.get("display_duration_s")
    if fs is None or fs <= 0 or height is None or height <= 0 or view is None:
        return []
    if (duration is None and view != ViewType.WATERFALL) or (duration is not None and duration <= 0):
        return []
    lines_dt = line_duration(view, duration) / height
    if hop_samples(fs, lines_dt) >= 1:
        return []
    name = "display_duration_s" if duration is not None else "display_height"
    return [error(_F[name], v[name], f"one row every {lines_dt:g} s is shorter than one sample "
                                     f"(1/{fs:g} Hz): lower displayInfo.height or raise the duration")]


def line_duration(view: ViewType, duration: float | None) -> float:
    if duration is None and view == ViewType.WATERFALL:
        return WATERFALL_DEFAULT_DURATION_S
    return duration


def hop_samples(sample_rate_hz: float, lines_dt: float) -> int:
    return math.floor(sample_rate_hz * lines_dt + 0.5)


def bin_bounds(fmin: float, fmax: float, nfft: int, fs: float) -> tuple[int, int]:
    """First and last rfft bin inside [fmin, fmax] (last < first: none); tolerant to rounding."""
    df = fs / nfft
    lo = math.ceil(fmin / df - 1e-9)
    hi = min(math.floor(fmax / df + 1e-9), nfft // 2)
    return max(lo, 0), hi
