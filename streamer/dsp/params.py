"""The view a streamer computes, its Focus limits, and the metadata a client needs to read rows.

Pure: no I/O, no array module beyond NumPy for the frequency axis. The trigger API uses
`validate_focus_request` on the Focus JSON body; the streamer CLI uses `validate_view` with
Python names. Both report *every* violation at once (`ParamError.errors`), each naming the
request's field, the value received and the rule.

Python name -> Focus field (`FOCUS_FIELDS`):
    view_type -> view_type, nfft -> nfftSelection, display_duration_s -> displayTimeAxisDuration,
    display_height -> displayInfo.height, channel_min/max -> channels.min/max,
    freq_min/max -> frequencyRange.min/max, start_time/end_time -> start_time/end_time.
Fields that are not in a Focus request keep their Python name: sample_rate_hz (the source's
pulse rate), display_bins, channels_per_stream, source_channels.

Decisions (documented here because the Focus API is silent):
- Row timing: `lines_dt = displayTimeAxisDuration / displayInfo.height` and
  `hop = round(sample_rate * lines_dt)` (halves round up). When hop > nfft each window still has
  nfft samples and the samples between windows are skipped (nfft is not escalated).
- Frequencies: FFT bins `k * sample_rate / nfft` inside [freq_min, freq_max] (both inclusive),
  then pooled into at most `display_bins` groups of adjacent bins (the first n mod groups groups
  hold one bin more; a group's power is the mean power of its bins; its frequency the mean of
  its bins' frequencies). `display_bins=None` means DEFAULT_DISPLAY_BINS of the view (32 multichannel,
  as measured on a Focus response, 512 single channel). A range holding no bin is refused.
  `display_bins` is ignored by the waterfall, which has no frequency bins.
- Waterfall (view_type 2, nfft 1): no frequency range (refused when given). A row is, per
  channel, the energy of the band above DC: the mean square of the line's samples after removing
  the line's mean (10*log10, i.e. RMS in dB). Lines are contiguous blocks of `hop` samples
  (nothing skipped). The line rate is `display_height` lines per `displayTimeAxisDuration`
  when given, else per WATERFALL_DEFAULT_DURATION_S (30 s, the Focus default canvas).
- Streams: channels are grouped `channels_per_stream` at a time from channels.min;
  `channel_to_stream_index` maps the 1-based channel (as a string key, JSON-stable) to its stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import Any

import numpy as np

from .coerce import as_float, as_int, error, is_power_of_two


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
_VIEW_NAMES = {"multichannel": 0, "singlechannel": 1, "single_channel": 1, "waterfall": 2}


@dataclass(frozen=True)
class ViewParams:
    """A validated view. Construct through `validate_view`; direct construction re-checks rules."""

    view_type: ViewType
    nfft: int
    channel_min: int
    channel_max: int
    freq_min: float | None
    freq_max: float | None
    display_duration_s: float | None
    display_height: int
    sample_rate_hz: float
    display_bins: int | None = None
    channels_per_stream: int = DEFAULT_CHANNELS_PER_STREAM

    def __post_init__(self) -> None:
        object.__setattr__(self, "view_type", ViewType(self.view_type))
        errors = _required_errors(vars(self), set()) + _rule_errors(vars(self))
        if errors:
            raise ParamError(errors)

    @property
    def n_channels(self) -> int:
        return self.channel_max - self.channel_min + 1

    @property
    def is_waterfall(self) -> bool:
        return self.view_type == ViewType.WATERFALL

    @property
    def lines_dt(self) -> float:
        """Seconds between rows."""
        return _line_duration(self.view_type, self.display_duration_s) / self.display_height

    @property
    def hop(self) -> int:
        """Samples between the starts of consecutive rows' windows."""
        return _hop(self.sample_rate_hz, self.lines_dt)

    @property
    def frame_length(self) -> int:
        """Samples that make one row: nfft (STFT views) or hop (waterfall lines)."""
        return self.hop if self.is_waterfall else self.nfft

    @cached_property
    def bin_slice(self) -> slice:
        """The rfft bins inside [freq_min, freq_max] (empty for the waterfall)."""
        if self.is_waterfall:
            return slice(0, 0)
        lo, hi = _bin_bounds(self.freq_min, self.freq_max, self.nfft, self.sample_rate_hz)
        return slice(lo, hi + 1)

    @property
    def n_cropped_bins(self) -> int:
        return self.bin_slice.stop - self.bin_slice.start

    @cached_property
    def pool_edges(self) -> np.ndarray:
        """Group boundaries (relative to the first cropped bin), length n_bins + 1: the first
        (n mod groups) groups hold one bin more than the others."""
        n = self.n_cropped_bins
        groups = min(self.display_bins or DEFAULT_DISPLAY_BINS.get(self.view_type, n), n)
        if not groups:
            return np.zeros(1, dtype=np.int64)
        q, r = divmod(n, groups)
        return np.concatenate([[0], np.cumsum([q + 1] * r + [q] * (groups - r))]).astype(np.int64)

    @property
    def pooled(self) -> bool:
        return len(self.pool_edges) - 1 != self.n_cropped_bins

    @cached_property
    def frequencies(self) -> np.ndarray:
        """Hz of the displayed bins after crop and pooling (empty for the waterfall)."""
        freqs = np.arange(self.bin_slice.start, self.bin_slice.stop) * (self.sample_rate_hz / self.nfft)
        edges = self.pool_edges
        return np.array([freqs[a:b].mean() for a, b in zip(edges[:-1], edges[1:], strict=True)])

    @property
    def n_bins(self) -> int:
        return len(self.frequencies)

    @property
    def row_shape(self) -> tuple[int, ...]:
        if self.view_type == ViewType.MULTICHANNEL:
            return (self.n_channels, self.n_bins)
        if self.view_type == ViewType.SINGLECHANNEL:
            return (self.n_bins,)
        return (self.n_channels,)

    @property
    def stream_amount(self) -> int:
        return -(-self.n_channels // self.channels_per_stream)

    def channel_to_stream_index(self) -> dict[str, int]:
        return {
            str(ch): (ch - self.channel_min) // self.channels_per_stream
            for ch in range(self.channel_min, self.channel_max + 1)
        }


def view_metadata(params: ViewParams) -> dict[str, Any]:
    """The Focus configure-response fields of a view, plus what a client needs to decode rows."""
    return {
        "view_type": int(params.view_type),
        "frequencies_list": [float(f) for f in params.frequencies],
        "frequencies_amount": params.n_bins,
        "lines_dt": params.lines_dt,
        "channel_amount": params.n_channels,
        "stream_amount": params.stream_amount,
        "channel_to_stream_index": params.channel_to_stream_index(),
        "nfft": params.nfft,
        "hop": params.hop,
        "sample_rate_hz": params.sample_rate_hz,
        "row_shape": list(params.row_shape),
    }


@dataclass(frozen=True)
class ViewRequest:
    """A validated Focus request: the view plus the time range (both None = live)."""

    params: ViewParams
    start_time: float | None
    end_time: float | None

    @property
    def live(self) -> bool:
        return self.start_time is None


def validate_view(
    *,
    view_type: Any,
    nfft: Any,
    channel_min: Any,
    channel_max: Any,
    display_height: Any,
    sample_rate_hz: Any,
    display_duration_s: Any = None,
    freq_min: Any = None,
    freq_max: Any = None,
    start_time: Any = None,
    end_time: Any = None,
    display_bins: Any = None,
    channels_per_stream: Any = None,
    source_channels: Any = None,
) -> ViewParams:
    """Check a view given with Python names (mapping in FOCUS_FIELDS); raise ParamError listing
    every violation under the Focus field names."""
    return _validate(dict(locals())).params


def validate_focus_request(
    body: Any, *, sample_rate_hz: Any, source_channels: Any = None, channels_per_stream: Any = None
) -> ViewRequest:
    """Check a Focus configure body (`displayInfo: {height}`, `channels: {min, max}`, ...).

    Keys the rules don't read are ignored; a nested field that is not an object is refused."""
    if not isinstance(body, dict):
        raise ParamError([error("body", body, "must be a JSON object")])
    errors: list[dict] = []
    nested = {key: _nested(body, key, errors) for key in ("displayInfo", "channels", "frequencyRange")}
    fields = {
        "view_type": body.get("view_type"),
        "nfft": body.get("nfftSelection"),
        "display_duration_s": body.get("displayTimeAxisDuration"),
        "display_height": nested["displayInfo"].get("height"),
        "channel_min": nested["channels"].get("min"),
        "channel_max": nested["channels"].get("max"),
        "freq_min": nested["frequencyRange"].get("min"),
        "freq_max": nested["frequencyRange"].get("max"),
        "start_time": body.get("start_time"),
        "end_time": body.get("end_time"),
        "sample_rate_hz": sample_rate_hz,
        "display_bins": None,
        "channels_per_stream": channels_per_stream,
        "source_channels": source_channels,
    }
    return _validate(fields, errors)


def _nested(body: dict, key: str, errors: list[dict]) -> dict:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(error(key, value, "must be an object"))
        return {}
    return value


def _validate(raw: dict[str, Any], errors: list[dict] | None = None) -> ViewRequest:
    errors = list(errors or [])
    v = _coerce(raw, errors)
    invalid = {name for name, value in raw.items() if value is not None and v.get(name) is None}
    errors += _required_errors(v, invalid)
    errors += _time_errors(v)
    errors += _rule_errors(v)
    if errors:
        received = {_F[name]: value for name, value in raw.items()}  # report values as received
        raise ParamError([dict(e, value=received.get(e["field"], e["value"])) for e in errors])
    fields = {k: v.get(k) for k in ViewParams.__dataclass_fields__}
    if fields["channels_per_stream"] is None:
        del fields["channels_per_stream"]
    return ViewRequest(ViewParams(**fields), v["start_time"], v["end_time"])


def _coerce(raw: dict[str, Any], errors: list[dict]) -> dict[str, Any]:
    v: dict[str, Any] = {"view_type": _view_type(raw["view_type"], errors)}
    for name in ("nfft", "channel_min", "channel_max", "display_height", "display_bins",
                 "channels_per_stream", "source_channels"):
        v[name] = as_int(_F[name], raw[name], errors)
    for name in ("sample_rate_hz", "display_duration_s", "freq_min", "freq_max", "start_time", "end_time"):
        v[name] = as_float(_F[name], raw[name], errors)
    return v


def _view_type(value: Any, errors: list[dict]) -> ViewType | None:
    if value is None:
        return None
    key = value.strip().lower() if isinstance(value, str) else value
    key = _VIEW_NAMES.get(key, key) if isinstance(key, str) else key
    number = as_int("view_type", key, [])
    if number is None or number not in ViewType._value2member_map_:
        errors.append(error("view_type", value, "must be 0 (multichannel), 1 (single channel) or 2 (waterfall)"))
        return None
    return ViewType(number)


def _required_errors(v: dict[str, Any], invalid: set[str]) -> list[dict]:
    required = ["view_type", "nfft", "channel_min", "channel_max", "display_height", "sample_rate_hz"]
    if v["view_type"] is not None and v["view_type"] != ViewType.WATERFALL:
        required += ["display_duration_s", "freq_min", "freq_max"]
    return [error(_F[n], None, "is required") for n in required if v.get(n) is None and n not in invalid]


def _time_errors(v: dict[str, Any]) -> list[dict]:
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


def _rule_errors(v: dict[str, Any]) -> list[dict]:
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
        lo, hi = _bin_bounds(fmin, fmax, nfft, fs)
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
    lines_dt = _line_duration(view, duration) / height
    if _hop(fs, lines_dt) >= 1:
        return []
    name = "display_duration_s" if duration is not None else "display_height"
    return [error(_F[name], v[name], f"one row every {lines_dt:g} s is shorter than one sample "
                                     f"(1/{fs:g} Hz): lower displayInfo.height or raise the duration")]


def _line_duration(view: ViewType, duration: float | None) -> float:
    if duration is None and view == ViewType.WATERFALL:
        return WATERFALL_DEFAULT_DURATION_S
    return duration


def _hop(sample_rate_hz: float, lines_dt: float) -> int:
    return math.floor(sample_rate_hz * lines_dt + 0.5)


def _bin_bounds(fmin: float, fmax: float, nfft: int, fs: float) -> tuple[int, int]:
    """First and last rfft bin inside [fmin, fmax] (last < first: none); tolerant to rounding."""
    df = fs / nfft
    lo = math.ceil(fmin / df - 1e-9)
    hi = min(math.floor(fmax / df + 1e-9), nfft // 2)
    return max(lo, 0), hi
