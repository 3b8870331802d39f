"""Pure predicates and accessors over Kubernetes objects as plain dicts (their JSON form).

Nothing here does I/O or reads the clock: times come in as epoch seconds (`now`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from glue import labels

Obj = Mapping[str, Any]

CANCEL_ANNOTATION = "spectrojobs.io/cancel-requested"  # set (any value) to ask the monitor to clean up


def parse_time(value: str | None) -> float | None:
    """RFC 3339 (`2026-11-22T11:00:00Z`, with or without fraction or offset) → epoch seconds."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def name_of(obj: Obj) -> str:
    return meta(obj).get("name", "")


def uid_of(obj: Obj) -> str:
    return meta(obj).get("uid", "")


def labels_of(obj: Obj) -> Mapping[str, str]:
    return meta(obj).get("labels") or {}


def job_id_of(obj: Obj) -> str:
    return labels_of(obj).get(labels.LABEL_JOB_ID, "")


def created_at(obj: Obj) -> float | None:
    return parse_time(meta(obj).get("creationTimestamp"))


def age(obj: Obj, now: float) -> float:
    created = created_at(obj)
    return 0.0 if created is None else now - created


def is_deleting(obj: Obj) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def job_kind(job: Obj) -> str:
    return labels_of(job).get(labels.LABEL_KIND, "stream")


def job_mode(job: Obj) -> str:
    return labels_of(job).get(labels.LABEL_MODE, "")


def job_window(job: Obj) -> int | None:
    value = labels_of(job).get(labels.LABEL_WINDOW, "")
    return int(value) if value.isdigit() else None


def job_condition(job: Obj, *types: str) -> Obj | None:
    """The first condition of one of `types` whose status is "True"."""
    for cond in (job.get("status") or {}).get("conditions") or ():
        if cond.get("type") in types and cond.get("status") == "True":
            return cond
    return None


def job_complete(job: Obj) -> Obj | None:
    return job_condition(job, "Complete", "SuccessCriteriaMet")


def job_failed(job: Obj) -> Obj | None:
    return job_condition(job, "Failed", "FailureTarget")


def job_started_at(job: Obj) -> float | None:
    return parse_time((job.get("status") or {}).get("startTime")) or created_at(job)


def cancel_requested(job: Obj) -> bool:
    return CANCEL_ANNOTATION in (meta(job).get("annotations") or {})


def pod_phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase", "Pending")


def pod_running(pod: Obj) -> bool:
    return pod_phase(pod) == "Running" and not is_deleting(pod)


def pod_terminal(pod: Obj) -> bool:
    return pod_phase(pod) in ("Succeeded", "Failed")


def owner_uids(obj: Obj) -> tuple[str, ...]:
    return tuple(ref.get("uid", "") for ref in meta(obj).get("ownerReferences") or ())


def pods_by_owner(pods: Iterable[Obj]) -> dict[str, list[Obj]]:
    index: dict[str, list[Obj]] = {}
    for pod in pods:
        for uid in owner_uids(pod):
            index.setdefault(uid, []).append(pod)
    return index


def container_statuses(pod: Obj) -> list[Obj]:
    return list((pod.get("status") or {}).get("containerStatuses") or ())


def pod_failure_cause(pod: Obj) -> str | None:
    """`OOMKilled`, `Evicted` or `ExitCode<n>` for a failed pod; None when nothing says why."""
    status = pod.get("status") or {}
    if status.get("reason") == "Evicted":
        return "Evicted"
    for cs in container_statuses(pod):
        term = (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get("terminated")
        if not term:
            continue
        if term.get("reason") == "OOMKilled":
            return "OOMKilled"
        if term.get("exitCode", 0) != 0:
            return f"ExitCode{term['exitCode']}"
    return None


IMAGE_PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})


def pod_pending_cause(pod: Obj, pvc_phases: Mapping[str, str]) -> tuple[str, str]:
    """(cause, message) of a pod that does not run: Unschedulable, ImagePullError, PVCUnbound, ..."""
    status = pod.get("status") or {}
    for cond in status.get("conditions") or ():
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return cond.get("reason") or "Unschedulable", cond.get("message", "")
    for vol in (pod.get("spec") or {}).get("volumes") or ():
        claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
        if claim and pvc_phases.get(claim) != "Bound":
            return "PVCUnbound", f"claim {claim} is {pvc_phases.get(claim, 'missing')}"
    for cs in container_statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in IMAGE_PULL_REASONS:
            return "ImagePullError", waiting.get("message", waiting["reason"])
        if waiting.get("reason"):
            return waiting["reason"], waiting.get("message", "")
    return "NotStarted", f"pod {name_of(pod)} is {pod_phase(pod)}"


def lease_holder(lease: Obj) -> str:
    return (lease.get("spec") or {}).get("holderIdentity") or ""


def lease_time(lease: Obj) -> float | None:
    spec = lease.get("spec") or {}
    return parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime")) or created_at(lease)


def gpu_request(pod: Obj, resource: str) -> int:
    """The pod's request of an extended resource (containers summed; extended resources are integers)."""
    total = 0
    for container in (pod.get("spec") or {}).get("containers") or ():
        res = container.get("resources") or {}
        value = (res.get("requests") or {}).get(resource) or (res.get("limits") or {}).get(resource)
        total += int(value or 0)
    return total
