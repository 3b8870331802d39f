"""Pure functions that turn cached cluster objects of one job into the API's job view."""

from __future__ import annotations

from typing import Any

from glue.labels import LABEL_KIND, LABEL_MODE, LABEL_OWNER, LABEL_WINDOW


def _labels(obj: dict) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _condition(obj: dict, kind: str) -> dict | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


def pod_reason(pod: dict) -> str | None:
    """Why a pod is not running: a waiting container's reason or the scheduler's message."""
    status = pod.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return waiting["reason"]
        terminated = (cs.get("state") or {}).get("terminated")
        if terminated and terminated.get("reason"):
            return terminated["reason"]
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return f"{cond.get('reason', 'Unschedulable')}: {cond.get('message', '')}".strip()
    return None


def phase_of(job: dict | None, pods: list[dict]) -> tuple[str, str | None]:
    """(phase, reason) of a job from its Job and pods (called only when some object exists)."""
    if job is None:
        return "Orphan", "objects left without their Job (being cleaned up)"
    if cond := _condition(job, "Complete"):
        return "Succeeded", cond.get("reason") or "Completed"
    if cond := _condition(job, "Failed"):
        return "Failed", cond.get("reason") or cond.get("message")
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating", None
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    if not live:
        return "Pending", "no pod yet"
    pod = sorted(live, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")[-1]
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    return phase, None if phase == "Running" else pod_reason(pod)


def node_port(service: dict | None) -> int | None:
    for port in ((service or {}).get("spec") or {}).get("ports") or []:
        if port.get("nodePort"):
            return int(port["nodePort"])
    return None


def job_view(job_id: str, objects: dict[str, list[dict]], stream_host: str) -> dict[str, Any] | None:
    """The API's view of one job, or None when the cache holds nothing of it."""
    if not any(objects.values()):
        return None
    jobs, pods = objects.get("jobs") or [], objects.get("pods") or []
    job = jobs[0] if jobs else None
    service = (objects.get("services") or [None])[0]
    lease = (objects.get("leases") or [None])[0]
    first = job or service or lease or pods[0]
    labels = _labels(first)
    phase, reason = phase_of(job, pods)
    port = node_port(service)
    pod = pods[-1] if pods else None
    return {
        "job_id": job_id,
        "phase": phase,
        "reason": reason,
        "window": int(labels[LABEL_WINDOW]) if labels.get(LABEL_WINDOW, "").isdigit() else None,
        "owner": labels.get(LABEL_OWNER),
        "kind": labels.get(LABEL_KIND),
        "mode": labels.get(LABEL_MODE),
        "uid": (job or {}).get("metadata", {}).get("uid"),
        "created": (first.get("metadata") or {}).get("creationTimestamp"),
        "stream_url": stream_host if port else None,
        "stream_port": port,
        "pod": None if pod is None else {
            "name": pod["metadata"].get("name"),
            "phase": (pod.get("status") or {}).get("phase"),
            "ip": (pod.get("status") or {}).get("podIP"),
        },
        "objects": {kind: sorted(o["metadata"]["name"] for o in objs) for kind, objs in objects.items() if objs},
    }
