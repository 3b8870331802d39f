"""The other endpoints of the Focus job API: fibre description, recordings, acknowledgement."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, request

from glue.api.auth import current_identity
from glue.errors import InvalidRequest
from streamer.dsp.coerce import as_float, error
from streamer.errors import SourceError
from streamer.sources.recording import recordings_in_time_range

bp = Blueprint("focus", __name__)

MAX_EPOCH_S = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime can name

LIVE_METADATA_KEYS = ("prr", "dx", "num_samples_per_trace", "dtype", "fiber_start_meters",
                      "fiber_length_meters", "sw_version", "number_of_channels", "fiber_description")


@bp.get("/channels")
def channels():
    current_identity()
    n = int(current_app.config["LIVE_METADATA"].get("number_of_channels") or 0)
    return jsonify({"lowest_channel": 1 if n else 0, "highest_channel": n, "number_of_channels": n})


@bp.get("/live_metadata")
def live_metadata():
    current_identity()
    meta = current_app.config["LIVE_METADATA"]
    return jsonify({key: meta.get(key) for key in LIVE_METADATA_KEYS})


def parse_time_range(body: object) -> tuple[float, float]:
    """(start, end) epoch seconds of a `{start_time, end_time}` body; InvalidRequest otherwise."""
    if not isinstance(body, dict):
        raise InvalidRequest([error("body", body, "must be a JSON object with start_time and end_time")])
    errors: list[dict] = []
    start = as_float("start_time", body.get("start_time"), errors)
    end = as_float("end_time", body.get("end_time"), errors)
    for name, value in (("start_time", start), ("end_time", end)):
        if value is None and not any(e["field"] == name for e in errors):
            errors.append(error(name, None, "is required (epoch seconds)"))
        elif value is not None and not 0 <= value <= MAX_EPOCH_S:
            errors.append(error(name, value, f"must be between 0 and {MAX_EPOCH_S} (epoch seconds)"))
    if not errors and end <= start:
        errors.append(error("end_time", end, f"must be greater than start_time ({start:g})"))
    if errors:
        raise InvalidRequest(errors)
    return start, end


@bp.post("/recordings_in_time_range")
def recordings():
    current_identity()
    start, end = parse_time_range(request.get_json(silent=True))
    root = Path(current_app.config["RECORDINGS_DIR"])
    try:
        spans = recordings_in_time_range(root, start, end) if root.is_dir() else []
    except (SourceError, OSError, ValueError) as exc:
        raise InvalidRequest([error("start_time", start, f"recordings cannot be read: {exc}")]) from exc
    return jsonify(spans)


@bp.get("/ack")
def ack():
    return jsonify({"ack": True})
