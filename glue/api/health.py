"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready when the cluster cache has listed every kind and the runner accepts runs."""
    cache = current_app.extensions.get("spectrojobs.cache")
    runner = current_app.extensions.get("spectrojobs.runner")
    checks = {
        "cache_synced": bool(cache and cache.synced()),
        "runner": bool(runner and not runner.closed),
    }
    ready = all(checks.values())
    return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    registry = current_app.extensions["spectrojobs.metrics"].registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
