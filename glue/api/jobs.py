"""Job resources: configure, read, list, metadata, delete, events."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, url_for

from glue.api.auth import current_identity
from glue.api.errors import ApiError
from glue.api.service import JobService
from glue.ids import parse_job_id
from glue.request import parse_configure

logger = logging.getLogger(__name__)

bp = Blueprint("jobs", __name__)


def service() -> JobService:
    svc = current_app.extensions.get("spectrojobs.service")
    if svc is None:
        raise ApiError(503, "NotReady", "the job service is not running (started without a cluster)")
    return svc


def prefers_async() -> bool:
    prefer = request.headers.get("Prefer", "")
    return any(token.strip().lower() == "respond-async" for token in prefer.split(","))


def get_job_or_404(job_id: str) -> dict:
    """The job's view from the cache (and the creates in flight), or a 404."""
    parse_job_id(job_id, max_windows=current_app.config["MAX_WINDOWS"])
    return service().view(job_id)


@bp.post("/configure")
def configure():
    identity = current_identity()
    body = request.get_json(silent=True)
    config = current_app.config
    parsed = parse_configure(body, Path(config["RECORDINGS_DIR"]), config["LIVE_METADATA"])
    extravars = {**config["CREATE_EXTRAVARS"], **parsed.extravars()}
    fields = parsed.response_fields()
    pending, result = service().configure(identity.name, extravars, parsed.mode, fields, prefers_async())
    if result is None:
        response = jsonify({"status": "Creating", "job_id": pending.job_id, "run_id": pending.handle.ident,
                            **fields})
        response.status_code = 202
        response.headers["Location"] = url_for("jobs.get_job", job_id=pending.job_id)
        return response
    stats = result.stats
    return jsonify({
        "status": stats.get("phase") or "Running",
        "job_id": pending.job_id,
        "stream_url": stats.get("stream_host") or config["STREAM_HOST"],
        "stream_port": int(stats["stream_port"]) if stats.get("stream_port") else None,
        **fields,
    }), 200


@bp.get("/job/<job_id>")
def get_job(job_id: str):
    current_identity()
    return jsonify(get_job_or_404(job_id))


@bp.get("/jobs")
def list_jobs():
    current_identity()
    return jsonify({"jobs": service().views()})


def stream_metadata(host: str, port: int) -> dict:
    """The Focus metadata fields read from the job's own stream (GetMetadata over gRPC)."""
    import grpc

    from streamer.client import StreamClient

    try:
        with StreamClient(f"{host}:{port}", timeout_s=5) as stream:
            meta = stream.metadata()
    except grpc.RpcError as exc:
        raise ApiError(503, "StreamUnavailable", f"the stream {host}:{port} does not answer: "
                       f"{exc.code().name}") from exc
    channels = range(meta.channel_min, meta.channel_max + 1)
    return {"view_type": int(meta.view_type), "frequencies_list": list(meta.frequencies),
            "frequencies_amount": len(meta.frequencies), "lines_dt": meta.lines_dt,
            "channel_amount": meta.channel_amount, "stream_amount": meta.stream_amount,
            "channel_to_stream_index": {str(c): int(i) for c, i in zip(channels, meta.channel_to_stream_index,
                                                                       strict=False)},
            "stream_url": host, "stream_port": port, "sample_rate_hz": meta.sample_rate_hz, "nfft": meta.nfft}


@bp.get("/metadata/<job_id>")
def get_metadata(job_id: str):
    """Kept from the configure of this API; for other jobs read from the running stream."""
    current_identity()
    view = get_job_or_404(job_id)
    metadata = service().metadata(job_id)
    if metadata is None:
        if view.get("phase") != "Running" or not view.get("stream_port"):
            raise ApiError(404, "NotFound", f"no stream metadata for job {job_id!r} (phase {view.get('phase')})")
        metadata = stream_metadata(view["stream_url"], view["stream_port"])
        service().remember_metadata(job_id, {**metadata, "job_id": job_id})
    return jsonify({**metadata, "phase": view.get("phase")})


@bp.delete("/job/<job_id>")
def delete_job(job_id: str):
    identity = current_identity()
    parse_job_id(job_id, max_windows=current_app.config["MAX_WINDOWS"])
    answer = service().delete(identity.name, identity.admin, job_id, prefers_async())
    return jsonify(answer), 202 if answer["status"] == "Deleting" else 200


@bp.get("/job/<job_id>/events")
def job_events(job_id: str):
    current_identity()
    parse_job_id(job_id, max_windows=current_app.config["MAX_WINDOWS"])
    history = current_app.extensions.get("spectrojobs.history")
    if history is None:
        raise ApiError(503, "NotReady", "the event history is not open (started without services)")
    return jsonify({"job_id": job_id, "events": history.events(job_id)})
