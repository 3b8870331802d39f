"""Job decisions as a pure function of (job, its pods, now) — contract §13 "Job controller".

Pods are tracked with the `batch.kubernetes.io/job-tracking` finalizer in two steps that survive
a crash: a terminal pod's uid goes to `status.uncountedTerminatedPods`, then its finalizer is
removed, then the uid moves into the `succeeded`/`failed` counters.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from localcluster.controllers.scheduling import is_terminal
from localcluster.timefmt import format_time, parse_time

Obj = dict[str, Any]
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
BACKOFF_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE = "Job was active longer than specified deadline"
SUCCESS_MESSAGE = "Reached expected number of succeeded pods"


@dataclass
class JobPlan:
    status: Obj
    create: list[int | None] = field(default_factory=list)  # one entry per pod (its index if Indexed)
    delete: list[Obj] = field(default_factory=list)
    release: list[Obj] = field(default_factory=list)  # pods whose tracking finalizer may go now
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    requeue_after: float | None = None


def condition_true(job: Obj, kind: str) -> Obj | None:
    for cond in job.get("status", {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


def job_finished(job: Obj) -> Obj | None:
    """The Complete or Failed condition that is True, if any."""
    return condition_true(job, "Complete") or condition_true(job, "Failed")


def parse_indexes(text: str) -> set[int]:
    """`"0-2,4"` → {0, 1, 2, 4}."""
    out: set[int] = set()
    for part in filter(None, (text or "").split(",")):
        low, _, high = part.partition("-")
        out.update(range(int(low), int(high or low) + 1))
    return out


def format_indexes(indexes: set[int]) -> str:
    runs: list[list[int]] = []
    for i in sorted(indexes):
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def backoff_seconds(failures: int, base: float, cap: float) -> float:
    return 0.0 if failures <= 0 else min(base * 2 ** (failures - 1), cap)


def _pod_index(pod: Obj) -> int | None:
    value = (pod.get("metadata", {}).get("annotations") or {}).get(INDEX_KEY)
    return int(value) if value is not None and str(value).isdigit() else None


def _last_failure(pods: list[Obj]) -> datetime | None:
    times = []
    for pod in pods:
        if pod.get("status", {}).get("phase") != "Failed":
            continue
        for cs in pod.get("status", {}).get("containerStatuses") or []:
            finished = cs.get("state", {}).get("terminated", {}).get("finishedAt")
            if finished:
                times.append(parse_time(finished))
    return max(times, default=None)


def _is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions") or [])


def _condition(kind: str, reason: str, message: str, now: str) -> Obj:
    return {"type": kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def plan_job(job: Obj, pods: list[Obj], now: datetime, backoff_base: float = 10.0,
             backoff_max: float = 360.0) -> JobPlan:
    spec, old = job.get("spec", {}), job.get("status", {})
    stamp = format_time(now)
    indexed = spec.get("completionMode") == "Indexed"
    by_uid = {p["metadata"]["uid"]: p for p in pods}
    uncounted = old.get("uncountedTerminatedPods") or {}
    persisted = {k: list(uncounted.get(k) or []) for k in ("succeeded", "failed")}
    counts = {"succeeded": old.get("succeeded", 0), "failed": old.get("failed", 0)}
    pending: dict[str, list[str]] = {"succeeded": [], "failed": []}
    for key, uids in persisted.items():  # step 3: finalizer gone → count
        for uid in uids:
            pod = by_uid.get(uid)
            if pod is None or TRACKING_FINALIZER not in (pod["metadata"].get("finalizers") or []):
                counts[key] += 1
            else:
                pending[key].append(uid)
    completed = parse_indexes(old.get("completedIndexes", ""))
    for pod in pods:  # step 1: terminal and tracked → uncounted
        uid = pod["metadata"]["uid"]
        if (is_terminal(pod) and TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])
                and uid not in persisted["succeeded"] and uid not in persisted["failed"]):
            key = "succeeded" if pod["status"]["phase"] == "Succeeded" else "failed"
            pending[key].append(uid)
            if key == "succeeded" and indexed and _pod_index(pod) is not None:
                completed.add(_pod_index(pod))
    plan = JobPlan(status={})
    plan.release = [by_uid[u] for k in persisted for u in persisted[k] if u in pending[k]]
    total_s = counts["succeeded"] + len(pending["succeeded"])
    total_f = counts["failed"] + len(pending["failed"])
    active = [p for p in pods if not is_terminal(p) and not p["metadata"].get("deletionTimestamp")]
    terminating = [p for p in pods if not is_terminal(p) and p["metadata"].get("deletionTimestamp")]
    conditions = copy.deepcopy(old.get("conditions") or [])
    kinds = {c["type"] for c in conditions if c.get("status") == "True"}
    start = old.get("startTime")
    suspended = bool(spec.get("suspend"))
    start = _suspension(plan, conditions, kinds, suspended, start, stamp)
    if start is None and not suspended:
        start = stamp
    completions = spec.get("completions")
    if indexed:
        succeeded_enough = completions is not None and len(completed) >= completions
    elif completions is None:
        succeeded_enough = total_s >= 1 and not active
    else:
        succeeded_enough = total_s >= completions

    def finish(target: str, final: str, reason: str, message: str, event_type: str, event_reason: str,
               event_message: str) -> None:
        if target not in kinds:
            conditions.append(_condition(target, reason, message, stamp))
            kinds.add(target)
        plan.delete.extend(active)
        # the final condition waits for every terminated pod to be counted (as the real controller)
        if not active and not terminating and not any(pending.values()) and final not in kinds:
            conditions.append(_condition(final, reason, message, stamp))
            kinds.add(final)
            plan.events.append((event_type, event_reason, event_message))

    if "Complete" in kinds or "Failed" in kinds:
        plan.delete.extend(active)
    elif "FailureTarget" in kinds:
        target = next(c for c in conditions if c["type"] == "FailureTarget")
        finish("FailureTarget", "Failed", target.get("reason", ""), target.get("message", ""), "Warning",
               target.get("reason", ""), target.get("message", ""))
    elif "SuccessCriteriaMet" in kinds:
        finish("SuccessCriteriaMet", "Complete", "CompletionsReached", SUCCESS_MESSAGE, "Normal", "Completed",
               "Job completed")
    elif (spec.get("activeDeadlineSeconds") is not None and start is not None and not suspended
          and now >= parse_time(start) + timedelta(seconds=spec["activeDeadlineSeconds"])):
        finish("FailureTarget", "Failed", "DeadlineExceeded", DEADLINE_MESSAGE, "Warning", "DeadlineExceeded",
               DEADLINE_MESSAGE)
    elif total_f > spec.get("backoffLimit", 6) or _restarts_exceed(spec, active):
        finish("FailureTarget", "Failed", "BackoffLimitExceeded", BACKOFF_MESSAGE, "Warning",
               "BackoffLimitExceeded", BACKOFF_MESSAGE)
    elif succeeded_enough:
        finish("SuccessCriteriaMet", "Complete", "CompletionsReached", SUCCESS_MESSAGE, "Normal", "Completed",
               "Job completed")
    elif suspended:
        plan.delete.extend(active)
    else:
        _plan_creation(plan, spec, active, completed, total_s, total_f, pods, now, backoff_base, backoff_max)
    plan.delete = [p for i, p in enumerate(plan.delete) if p not in plan.delete[:i]]
    status: Obj = {"startTime": start} if start else {}
    if "Complete" in kinds:
        status["completionTime"] = old.get("completionTime") or stamp
    n_active = len(active) - len(plan.delete) + len(plan.create)
    for key, value in (("active", n_active), ("succeeded", counts["succeeded"]), ("failed", counts["failed"])):
        if value:
            status[key] = value
    if indexed:
        status["completedIndexes"] = format_indexes(completed)
    status["ready"] = sum(1 for p in active if _is_ready(p) and p not in plan.delete)
    status["terminating"] = len(terminating) + len(plan.delete)
    status["uncountedTerminatedPods"] = {k: v for k, v in pending.items() if v}
    if conditions:
        status["conditions"] = conditions
    plan.status = status
    return plan


def _suspension(plan: JobPlan, conditions: list[Obj], kinds: set[str], suspended: bool, start: str | None,
                stamp: str) -> str | None:
    """Suspended=True on suspend; Suspended=False (JobResumed) and a new startTime on resume."""
    current = next((c for c in conditions if c["type"] == "Suspended"), None)
    if "Complete" in kinds or "Failed" in kinds:
        return start
    if suspended and "Suspended" not in kinds:
        if current is not None:
            conditions.remove(current)
        conditions.append(_condition("Suspended", "JobSuspended", "Job suspended", stamp))
        kinds.add("Suspended")
        plan.events.append(("Normal", "Suspended", "Job suspended"))
    elif not suspended and "Suspended" in kinds and current is not None:
        current.update(status="False", reason="JobResumed", message="Job resumed", lastProbeTime=stamp,
                       lastTransitionTime=stamp)
        kinds.discard("Suspended")
        plan.events.append(("Normal", "Resumed", "Job resumed"))
        return stamp
    return start


def _restarts_exceed(spec: Obj, active: list[Obj]) -> bool:
    """restartPolicy OnFailure: container restarts of active pods count against backoffLimit."""
    if (spec.get("template", {}).get("spec", {}).get("restartPolicy")) != "OnFailure":
        return False
    restarts = sum(cs.get("restartCount", 0) for p in active
                   for cs in (p.get("status", {}).get("containerStatuses") or [])
                   + (p.get("status", {}).get("initContainerStatuses") or []))
    limit = spec.get("backoffLimit", 6)
    return restarts > 0 if limit == 0 else restarts >= limit


def _plan_creation(plan: JobPlan, spec: Obj, active: list[Obj], completed: set[int], total_s: int,
                   total_f: int, pods: list[Obj], now: datetime, base: float, cap: float) -> None:
    parallelism = spec.get("parallelism", 1)
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed":
        busy = {_pod_index(p) for p in active}
        free = [i for i in range(completions or 0) if i not in completed and i not in busy]
        wanted: list[int | None] = list(free[: max(0, parallelism - len(active))])
    else:
        remaining = parallelism if completions is None else completions - total_s
        wanted = [None] * max(0, min(parallelism, remaining) - len(active))
    if not wanted:
        return
    last = _last_failure(pods)
    delay = backoff_seconds(total_f, base, cap)
    if last is not None and delay > 0:
        wait = (last + timedelta(seconds=delay) - now).total_seconds()
        if wait > 0:
            plan.requeue_after = wait
            return
    plan.create = wanted


def job_pod(job: Obj, index: int | None) -> Obj:
    """A pod for `job` from its template: generateName, labels, ownerReference, finalizer."""
    meta, template = job["metadata"], job["spec"]["template"]
    tmeta = template.get("metadata") or {}
    labels = {**(tmeta.get("labels") or {}),
              "batch.kubernetes.io/controller-uid": meta["uid"], "batch.kubernetes.io/job-name": meta["name"],
              "controller-uid": meta["uid"], "job-name": meta["name"]}
    annotations = dict(tmeta.get("annotations") or {})
    generate = f"{meta['name']}-"
    if index is not None:
        labels[INDEX_KEY] = annotations[INDEX_KEY] = str(index)
        generate = f"{meta['name']}-{index}-"
    pod_meta: Obj = {
        "generateName": generate, "namespace": meta["namespace"], "labels": labels,
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "uid": meta["uid"],
                             "controller": True, "blockOwnerDeletion": True}],
        "finalizers": [TRACKING_FINALIZER],
    }
    if annotations:
        pod_meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": copy.deepcopy(template.get("spec", {}))}
