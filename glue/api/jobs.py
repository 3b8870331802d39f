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
    pending, result = service().configure(identity.name, extravars, parsed.mode, prefers_async())
    fields = parsed.response_fields()
    if result is None:
        response = jsonify({"status": "Creating", "job_id": pending.job_id, "run_id": pending.handle.ident,
                            **fields})
        response.status_code = 202
        response.headers["Location"] = url_for("jobs.get_job", job_id=pending.job_id)
        return response
    stats = result.stats
    body = {
        "status": stats.get("phase") or "Running",
        "job_id": pending.job_id,
        "stream_url": stats.get("stream_host") or config["STREAM_HOST"],
        "stream_port": int(stats["stream_port"]) if stats.get("stream_port") else None,
        **fields,
    }
    service().remember_metadata(pending.job_id, {**body, "mode": parsed.mode,
                                                 "sample_rate_hz": parsed.source.sample_rate_hz})
    return jsonify(body), 200


@bp.get("/job/<job_id>")
def get_job(job_id: str):
    current_identity()
    return jsonify(get_job_or_404(job_id))


@bp.get("/jobs")
def list_jobs():
    current_identity()
    return jsonify({"jobs": service().views()})


@bp.get("/metadata/<job_id>")
def get_metadata(job_id: str):
    current_identity()
    view = get_job_or_404(job_id)
    metadata = service().metadata(job_id)
    if metadata is None:
        raise ApiError(404, "NotFound", f"no stream metadata known for job {job_id!r} "
                       f"(phase {view.get('phase')}); it is kept for jobs configured through this API")
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
