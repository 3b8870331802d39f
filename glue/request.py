"""The configure request: Focus JSON body → validated view + `create.yml` extra vars + response fields.

The field rules are the streamer's (`streamer.dsp.params.validate_focus_request`), so the API
and the streamer can never disagree on a view. What the API adds: the source the view reads,
whose pulse rate and channel count take part in the rules (frequency ≤ Nyquist, channels within
the fibre):
- historic (`start_time`/`end_time` given): the recordings covering the range
  (`streamer.sources.recording`); no recording in the range is a 422 on `start_time`;
- live (both null): the live fibre's metadata (`LIVE_METADATA` setting, also `GET /live_metadata`).

Every violation is reported at once, one entry per field: `{field, value, rule}`.
Only numbers and the fixed `job_kind`/`stream_source` words reach the playbook: no string of
the request is ever passed on, so nothing in a request can reach a shell or a template.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glue.errors import InvalidRequest
from streamer.dsp.coerce import error
from streamer.dsp.params import ParamError, ViewRequest, validate_focus_request, view_metadata
from streamer.errors import SourceError
from streamer.sources.recording import files_in_range

RESPONSE_FIELDS = ("view_type", "frequencies_list", "frequencies_amount", "lines_dt", "channel_amount",
                   "stream_amount", "channel_to_stream_index")


@dataclass(frozen=True)
class SourceInfo:
    sample_rate_hz: float
    channels: int


@dataclass(frozen=True)
class ConfigureRequest:
    view: ViewRequest
    source: SourceInfo

    @property
    def mode(self) -> str:
        return "live" if self.view.live else "historic"

    def extravars(self) -> dict[str, Any]:
        """Flat `create.yml` variables (docs/contracts.md); numbers only, never request strings."""
        p = self.view.params
        return {
            "job_kind": "stream",
            "view_type": int(p.view_type),
            "nfft": p.nfft,
            "channel_min": p.channel_min,
            "channel_max": p.channel_max,
            "freq_min": p.freq_min,
            "freq_max": p.freq_max,
            "display_time_axis_duration": p.display_duration_s,
            "display_height": p.display_height,
            "start_time": self.view.start_time,
            "end_time": self.view.end_time,
            "stream_source": "auto",
            "wait_ready": True,
        }

    def response_fields(self) -> dict[str, Any]:
        meta = view_metadata(self.view.params)
        return {key: meta[key] for key in RESPONSE_FIELDS}


def _epoch(value: Any) -> float | None:
    """A finite float from a JSON number or numeric string, else None (the rules report it)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def historic_source(recordings_dir: Path, start: float, end: float) -> SourceInfo:
    """Pulse rate and channel count of the recordings covering [start, end]; InvalidRequest if none."""
    try:
        headers = files_in_range(recordings_dir, round(start * 1e9), round(end * 1e9))
    except (ValueError, OSError, SourceError) as exc:
        raise InvalidRequest([error("start_time", start, f"recordings cannot be read: {exc}")]) from exc
    if not headers:
        raise InvalidRequest([error("start_time", start, f"no recording covers [{start:g}, {end:g}] "
                                                         "(see POST /recordings_in_time_range)")])
    first = headers[0]
    return SourceInfo(first.sample_rate_hz, first.start_locus + first.n_loci)


def live_source(live_metadata: dict[str, Any]) -> SourceInfo:
    return SourceInfo(float(live_metadata.get("prr") or 0), int(live_metadata.get("number_of_channels") or 0))


def parse_configure(body: Any, recordings_dir: Path, live_metadata: dict[str, Any]) -> ConfigureRequest:
    """Validate a configure body; raises InvalidRequest listing every offending field."""
    source, errors = live_source(live_metadata), []
    if isinstance(body, dict):
        start, end = _epoch(body.get("start_time")), _epoch(body.get("end_time"))
        if start is not None and end is not None and end > start >= 0:
            try:
                source = historic_source(recordings_dir, start, end)
            except InvalidRequest as exc:  # still check every other field against the live source
                errors += exc.errors
    try:
        view = validate_focus_request(
            body, sample_rate_hz=source.sample_rate_hz, source_channels=source.channels or None
        )
    except ParamError as exc:
        errors += exc.errors
    if errors:
        raise InvalidRequest(errors)
    return ConfigureRequest(view, source)
