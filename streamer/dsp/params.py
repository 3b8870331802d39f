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

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .coerce import as_float, as_int, error
from .limits import (
    DEFAULT_CHANNELS_PER_STREAM,
    DEFAULT_DISPLAY_BINS,
    FOCUS_FIELDS,
    MAX_CHANNELS,
    MAX_FREQUENCY_HZ,
    MAX_NFFT,
    MIN_FREQUENCY_SPAN_HZ,
    WATERFALL_DEFAULT_DURATION_S,
    ParamError,
    ViewType,
    bin_bounds,
    hop_samples,
    line_duration,
    required_errors,
    rule_errors,
    time_errors,
)

__all__ = [
    "DEFAULT_CHANNELS_PER_STREAM", "DEFAULT_DISPLAY_BINS", "FOCUS_FIELDS", "MAX_CHANNELS", "MAX_FREQUENCY_HZ",
    "MAX_NFFT", "MIN_FREQUENCY_SPAN_HZ", "WATERFALL_DEFAULT_DURATION_S", "ParamError", "ViewParams",
    "ViewRequest", "ViewType", "validate_focus_request", "validate_view", "view_metadata",
]
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
        errors = required_errors(vars(self), set()) + rule_errors(vars(self))
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
        return line_duration(self.view_type, self.display_duration_s) / self.display_height

    @property
    def hop(self) -> int:
        """Samples between the starts of consecutive rows' windows."""
        return hop_samples(self.sample_rate_hz, self.lines_dt)

    @property
    def frame_length(self) -> int:
        """Samples that make one row: nfft (STFT views) or hop (waterfall lines)."""
        return self.hop if self.is_waterfall else self.nfft

    @cached_property
    def bin_slice(self) -> slice:
        """The rfft bins inside [freq_min, freq_max] (empty for the waterfall)."""
        if self.is_waterfall:
            return slice(0, 0)
        lo, hi = bin_bounds(self.freq_min, self.freq_max, self.nfft, self.sample_rate_hz)
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
    errors += required_errors(v, invalid)
    errors += time_errors(v)
    errors += rule_errors(v)
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
