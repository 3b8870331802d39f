"""Names, label keys and label values of design §3, in one place.

The role defaults (roles/job_resources/defaults/main.yml) use the same keys; a test checks
they agree.
"""

from __future__ import annotations

import hashlib

MANAGED_BY = "spectrojobs"
APP_NAME = "spectrogram-streamer"

LABEL_APP = "app"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_JOB_ID = "spectrojobs.io/job-id"
LABEL_WINDOW = "spectrojobs.io/window"
LABEL_OWNER = "spectrojobs.io/owner"
LABEL_KIND = "spectrojobs.io/kind"
LABEL_MODE = "spectrojobs.io/mode"

MANAGED_SELECTOR = f"{LABEL_MANAGED_BY}={MANAGED_BY}"

STREAM_CONTAINER_PORT = 5000
SERVICE_BASE_PORT = 12301
EVENTS_EXCHANGE = "spectrojobs.events"


def job_name(job_id: str) -> str:
    return f"grpc-job-{job_id}"


def service_name(job_id: str) -> str:
    return f"grpc-service-{job_id}"


def lease_name(window: int) -> str:
    return f"window-{window}"


def queue_name(job_id: str) -> str:
    return f"grpc-job-{job_id}-live"


def pvc_names(job_id: str) -> tuple[str, str]:
    return f"{job_id}-data-pvc", f"{job_id}-output-pvc"


def owner_hash(identity: str) -> str:
    """First 16 hex characters of sha256 of the client identity (label-safe, not reversible)."""
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


def job_labels(job_id: str, window: int, owner: str, kind: str, mode: str) -> dict[str, str]:
    """Every label of design §3 for one job; `owner` is the identity, hashed here."""
    return {
        LABEL_APP: job_name(job_id),
        LABEL_NAME: APP_NAME,
        LABEL_INSTANCE: job_id,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_JOB_ID: job_id,
        LABEL_WINDOW: str(window),
        LABEL_OWNER: owner_hash(owner),
        LABEL_KIND: kind,
        LABEL_MODE: mode,
    }
