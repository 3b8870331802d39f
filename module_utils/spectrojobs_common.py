"""Pure helpers shared by the spectrojobs modules (no I/O here; unit-tested directly).

Job ids, window choice, label formatting, pod/job classification and the queue arguments.
Every function takes plain dicts (Kubernetes objects as JSON) and returns new values; inputs
are never mutated.
"""

from __future__ import annotations

import re

JOB_ID_RE = re.compile(r"^(0|[1-9][0-9]{0,3})-([0-9]{5})$")
IMAGE_PULL_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
UNBOUND_PVC_MARKERS = ("unbound immediate PersistentVolumeClaims", "persistentvolumeclaim", "PersistentVolumeClaim")


class SpectrojobsModuleError(Exception):
    """An expected failure with a contract reason (`NoWindowFree`, `Unschedulable:...`, ...)."""

    def __init__(self, reason, message, **details):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details


def parse_job_id(job_id, max_windows):
    """Return (window, unique) or raise SpectrojobsModuleError naming the value and the rule."""
    match = JOB_ID_RE.match(job_id) if isinstance(job_id, str) else None
    if not match:
        raise SpectrojobsModuleError(
            "Invalid:job_id",
            f"job_id {job_id!r} must look like '<window>-<5 digits>', e.g. '12-70788'",
        )
    window = int(match.group(1))
    if window >= max_windows:
        raise SpectrojobsModuleError(
            "Invalid:job_id", f"job_id {job_id!r}: window {window} must be below max_windows {max_windows}"
        )
    return window, match.group(2)


def free_windows(held, max_windows):
    """Windows 0..max_windows-1 not in `held` (an iterable of ints), lowest first."""
    taken = set(held)
    return [w for w in range(max_windows) if w not in taken]


def window_of_lease_name(name, prefix="window-"):
    """`window-12` -> 12; anything else -> None."""
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix):]
    return int(rest) if rest.isdigit() else None


def format_labels(labels, job_id, window):
    """Fill `{job_id}` and `{window}` placeholders in label values."""
    return {key: str(value).format(job_id=job_id, window=window) for key, value in labels.items()}


def _condition(obj, ctype):
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def job_finished(job):
    """('Complete'|'Failed', reason) when the Job has a terminal condition, else None."""
    for ctype in ("Complete", "Failed"):
        cond = _condition(job, ctype)
        if cond and cond.get("status") == "True":
            return ctype, cond.get("reason") or ctype
    return None


def classify_pending(pod, pvc_phases=None):
    """Why a Pending pod does not run: a contract reason string, or None while it just starts.

    `pvc_phases` maps the pod's claim names to their phase (from the PVC objects).
    """
    if any(phase != "Bound" for phase in (pvc_phases or {}).values()):
        return "PVCUnbound"
    scheduled = _condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        message = scheduled.get("message") or scheduled.get("reason") or "unschedulable"
        if any(marker in message for marker in UNBOUND_PVC_MARKERS):
            return "PVCUnbound"
        return f"Unschedulable:{message}"
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in IMAGE_PULL_REASONS:
            return "ImagePullError"
    return None


def pod_failure(pod):
    """`Failed:<cause>` for a Failed pod (exit code, OOMKilled, Evicted), else None."""
    status = pod.get("status") or {}
    if status.get("phase") != "Failed":
        return None
    if status.get("reason"):
        return "Failed:{}".format(status["reason"])
    for cstatus in status.get("containerStatuses") or []:
        term = (cstatus.get("state") or {}).get("terminated") or {}
        if term.get("reason") == "OOMKilled":
            return "Failed:OOMKilled"
        if term:
            return "Failed:exit code {}".format(term.get("exitCode"))
    return "Failed:unknown"


def pod_state(pod):
    """A short summary of one pod for reports."""
    status = pod.get("status") or {}
    containers = []
    for cstatus in status.get("containerStatuses") or []:
        state = cstatus.get("state") or {}
        name = next(iter(state), "unknown")
        detail = state.get(name) or {}
        containers.append(
            {
                "name": cstatus.get("name"),
                "state": name,
                "reason": detail.get("reason"),
                "exit_code": detail.get("exitCode"),
                "restarts": cstatus.get("restartCount", 0),
            }
        )
    return {
        "name": pod["metadata"]["name"],
        "uid": pod["metadata"].get("uid"),
        "phase": status.get("phase", "Unknown"),
        "pod_ip": status.get("podIP"),
        "node": (pod.get("spec") or {}).get("nodeName"),
        "containers": containers,
        "pending_reason": classify_pending(pod) if status.get("phase") == "Pending" else None,
    }


def job_phase(job, pods):
    """(phase, reason) of a job from its Job object (or None) and its pods."""
    if job is None:
        return ("Absent", "Orphan") if pods else ("Absent", None)
    finished = job_finished(job)
    if finished:
        kind, reason = finished
        return ("Succeeded", "Completed") if kind == "Complete" else ("Failed", reason)
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    for pod in live:
        failure = pod_failure(pod)
        if failure:
            return "Failed", failure
    if any((p.get("status") or {}).get("phase") == "Running" for p in live):
        return "Running", None
    for pod in live:
        reason = classify_pending(pod)
        if reason:
            return "Pending", reason
    return "Pending", None


def queue_arguments(expires_ms, max_length, overflow="drop-head"):
    """The x-arguments of a job's live queue (design §3)."""
    return {"x-expires": int(expires_ms), "x-max-length": int(max_length), "x-overflow": overflow}


def is_subset(desired, live):
    """True when every field of `desired` is present with the same value in `live`.

    Maps compare key by key, lists element by element (same length), scalars by value with
    numbers and numeric strings compared as strings (the API may echo quantities either way).
    """
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and is_subset(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(desired) == len(live) and all(
            is_subset(d, item) for d, item in zip(desired, live, strict=True))
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired == live
    return desired == live or str(desired) == str(live)


def fill_owner_uids(manifest, uids):
    """A copy of `manifest` whose ownerReferences with an empty uid get the uid of the object
    of that kind and name in `uids` ({(kind, name): uid}); raises when that object is unknown."""
    refs = (manifest.get("metadata") or {}).get("ownerReferences")
    if not refs:
        return manifest
    filled = []
    for ref in refs:
        if not ref.get("uid"):
            key = (ref.get("kind"), ref.get("name"))
            if key not in uids:
                raise SpectrojobsModuleError(
                    "Invalid:ownerReferences",
                    f"ownerReference to {key[0]} {key[1]} has no uid and no earlier manifest creates it")
            ref = dict(ref, uid=uids[key])
        filled.append(ref)
    return dict(manifest, metadata=dict(manifest["metadata"], ownerReferences=filled))
