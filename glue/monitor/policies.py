"""Cleanup policies: pure functions of (snapshot, now, config) → decisions with reasons (design §7).

Reasons: `Completed`, `Failed:<cause>` (ExitCode<n>, OOMKilled, Evicted, BackoffLimitExceeded),
`DeadlineExceeded` (the Job's activeDeadlineSeconds, or the monitor's max age), `PendingTimeout:<cause>`
(Unschedulable, ImagePullError, PVCUnbound, Suspended, ...), `Idle` (no gRPC client ever,
for the idle window), `ClientGone` (the last client left an idle window ago), `Orphan` (a Service,
PVC, lease or queue without its Job), `Lost` (a running Job without its pod, Service, window lease
or queue consumer), `UserCancel` (the Job carries the cancel annotation).

At most one decision per job id and pass; `action` is "cleanup" or "warn" (a warning comes
`warn_before` seconds ahead of an Idle, ClientGone or max-age cleanup).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from glue import labels
from glue.ids import JOB_ID_RE
from glue.monitor import objects as o
from glue.monitor.config import MonitorConfig

QUEUE_RE = re.compile(r"^grpc-job-(.+)-live$")


@dataclass(frozen=True)
class QueueInfo:
    name: str
    messages: int
    consumers: int


@dataclass(frozen=True)
class Snapshot:
    """What one pass sees. Objects are the API's JSON dicts; never mutated."""

    jobs: tuple[Any, ...] = ()
    pods: tuple[Any, ...] = ()
    services: tuple[Any, ...] = ()
    pvcs: tuple[Any, ...] = ()
    leases: tuple[Any, ...] = ()
    nodes: tuple[Any, ...] = ()
    queues: Mapping[str, QueueInfo] = field(default_factory=dict)
    queues_known: bool = False  # False: no broker view this pass (no broker, or it failed)
    streams: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # job_id → GetStatus
    cpu_samples: Mapping[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    idle_queues_since: Mapping[str, float] = field(default_factory=dict)  # queue → first seen idle


@dataclass(frozen=True)
class Decision:
    job_id: str
    reason: str
    uid: str | None  # the Job's uid (cleanup passes it as a delete precondition); None: no Job
    action: str = "cleanup"  # or "warn"
    detail: str = ""
    kind: str = "Job"  # the object the Kubernetes Event is about
    name: str = ""
    object_uid: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "reason": self.reason, "uid": self.uid}


@dataclass(frozen=True)
class _Ctx:
    snap: Snapshot
    now: float
    cfg: MonitorConfig
    pods_by_owner: Mapping[str, list]
    pvc_phases: Mapping[str, str]
    services: frozenset[str]
    leases: Mapping[str, Any]


def decide(snap: Snapshot, now: float, cfg: MonitorConfig) -> list[Decision]:
    """Every decision of one pass, sorted by job id (deterministic for tests and batching)."""
    ctx = _Ctx(
        snap=snap,
        now=now,
        cfg=cfg,
        pods_by_owner=o.pods_by_owner(snap.pods),
        pvc_phases={o.name_of(p): (p.get("status") or {}).get("phase", "") for p in snap.pvcs},
        services=frozenset(o.name_of(s) for s in snap.services),
        leases={o.name_of(lease): lease for lease in snap.leases},
    )
    decisions = {}
    for job in snap.jobs:
        job_id = o.job_id_of(job)
        if not valid_job_id(job_id) or o.is_deleting(job):
            continue
        decision = decide_job(job, ctx)
        if decision:
            decisions[job_id] = decision
    job_ids = {o.job_id_of(job) for job in snap.jobs}
    for decision in orphans(snap, now, cfg, job_ids):
        decisions.setdefault(decision.job_id, decision)
    return [decisions[k] for k in sorted(decisions)]


def decide_job(job: Any, ctx: _Ctx) -> Decision | None:
    """The first cleanup in rule order; else the first warning."""
    warning = None
    for rule in (cancel_rule, finished_rule, pending_rule, lost_rule, max_age_rule, idle_rule):
        decision = rule(job, ctx)
        if decision and decision.action == "cleanup":
            return decision
        warning = warning or decision
    return warning


def _job_decision(job: Any, reason: str, detail: str, action: str = "cleanup") -> Decision:
    return Decision(
        job_id=o.job_id_of(job), reason=reason, uid=o.uid_of(job), action=action, detail=detail,
        kind="Job", name=o.name_of(job), object_uid=o.uid_of(job),
    )


def cancel_rule(job: Any, ctx: _Ctx) -> Decision | None:
    if o.cancel_requested(job):
        return _job_decision(job, "UserCancel", f"annotation {o.CANCEL_ANNOTATION} set")
    return None


def finished_rule(job: Any, ctx: _Ctx) -> Decision | None:
    failed = o.job_failed(job) or _failed_pod_ends_job(job, ctx)
    if failed:
        if failed.get("reason") == "DeadlineExceeded":
            return _job_decision(job, "DeadlineExceeded", failed.get("message", ""))
        return _job_decision(job, f"Failed:{failure_cause(job, ctx)}", failed.get("message", ""))
    done = o.job_complete(job)
    if not done:
        return None
    if o.job_kind(job) == "export":
        finished = o.parse_time(done.get("lastTransitionTime")) or ctx.now
        if ctx.now - finished < ctx.cfg.export_retention:
            return None  # the output PVC is kept for the retention time
    return _job_decision(job, "Completed", done.get("message", ""))


def _failed_pod_ends_job(job: Any, ctx: _Ctx) -> dict | None:
    """With backoffLimit 0 the first failed pod fails the Job: react before the Job controller."""
    if (job.get("spec") or {}).get("backoffLimit") != 0:
        return None
    for pod in ctx.pods_by_owner.get(o.uid_of(job), ()):
        if o.pod_phase(pod) == "Failed":
            return {"reason": "BackoffLimitExceeded", "message": f"pod {o.name_of(pod)} failed (backoffLimit 0)"}
    return None


def failure_cause(job: Any, ctx: _Ctx) -> str:
    for pod in ctx.pods_by_owner.get(o.uid_of(job), ()):
        cause = o.pod_failure_cause(pod)
        if cause:
            return cause
    failed = o.job_failed(job) or _failed_pod_ends_job(job, ctx) or {}
    return failed.get("reason") or "Unknown"


def pending_rule(job: Any, ctx: _Ctx) -> Decision | None:
    pods = ctx.pods_by_owner.get(o.uid_of(job), ())
    if any(o.pod_running(p) or o.pod_terminal(p) for p in pods):
        return None
    waited = o.age(job, ctx.now)
    if waited < ctx.cfg.pending_timeout:
        return None
    if (job.get("spec") or {}).get("suspend"):
        cause, message = "Suspended", "the Job is suspended"
    elif not pods:
        return None  # a Job without any pod is Lost (lost_rule), not pending
    else:
        cause, message = o.pod_pending_cause(pods[0], ctx.pvc_phases)
    return _job_decision(job, f"PendingTimeout:{cause}", f"pending {waited:.0f}s: {message}")


def lost_rule(job: Any, ctx: _Ctx) -> Decision | None:
    """A job that ran (or should run) but lost a part it cannot stream without."""
    if o.age(job, ctx.now) < ctx.cfg.orphan_grace:
        return None
    job_id = o.job_id_of(job)
    pods = ctx.pods_by_owner.get(o.uid_of(job), ())
    if not pods:
        if (job.get("spec") or {}).get("suspend"):
            return None
        return _job_decision(job, "Lost", "its pod is gone")
    if o.job_kind(job) != "stream" or not any(o.pod_running(p) for p in pods):
        return None
    if labels.service_name(job_id) not in ctx.services:
        return _job_decision(job, "Lost", f"Service {labels.service_name(job_id)} is gone")
    window = o.job_window(job)
    lease = ctx.leases.get(labels.lease_name(window)) if window is not None else None
    if window is not None and (lease is None or o.lease_holder(lease) != job_id):
        return _job_decision(job, "Lost", f"Lease {labels.lease_name(window)} is not held by it")
    queue = labels.queue_name(job_id)
    if o.job_mode(job) == "live" and ctx.snap.queues_known:
        since = ctx.snap.idle_queues_since.get(queue)
        if queue not in ctx.snap.queues:
            return _job_decision(job, "Lost", f"queue {queue} is gone")
        if since is not None and ctx.now - since >= ctx.cfg.orphan_grace:
            return _job_decision(job, "Lost", f"queue {queue} has had no consumer for {ctx.now - since:.0f}s")
    return None


def max_age_rule(job: Any, ctx: _Ctx) -> Decision | None:
    started = o.job_started_at(job)
    if not ctx.cfg.max_age or started is None:
        return None
    ran = ctx.now - started
    if ran >= ctx.cfg.max_age:
        return _job_decision(job, "DeadlineExceeded", f"running {ran:.0f}s, max age {ctx.cfg.max_age:.0f}s")
    if ran >= ctx.cfg.max_age - ctx.cfg.warn_before:
        left = ctx.cfg.max_age - ran
        return _job_decision(job, "DeadlineExceeded", f"max age reached in {left:.0f}s", action="warn")
    return None


def idle_rule(job: Any, ctx: _Ctx) -> Decision | None:
    if o.job_kind(job) != "stream":
        return None
    if not any(o.pod_running(p) for p in ctx.pods_by_owner.get(o.uid_of(job), ())):
        return None
    job_id = o.job_id_of(job)
    if ctx.cfg.idle_rule == "cpu":
        samples = ctx.snap.cpu_samples.get(job_id, ())
        if cpu_idle(samples, ctx.cfg):
            detail = f"{ctx.cfg.cpu_idle_checks} checks at <= {ctx.cfg.cpu_idle_millicores:g} mCPU"
            return _job_decision(job, "Idle", detail)
        return None
    status = ctx.snap.streams.get(job_id)
    if not status or int(status.get("clients", 0)) > 0:
        return None
    reason, since = stream_idle_since(status, o.job_started_at(job) or ctx.now)
    idle_for = ctx.now - since
    window = ctx.cfg.idle_window
    if idle_for >= window:
        return _job_decision(job, reason, f"no gRPC client for {idle_for:.0f}s (window {window:.0f}s)")
    if ctx.cfg.warn_before and idle_for >= window - ctx.cfg.warn_before:
        return _job_decision(job, reason, f"idle, cleanup in {window - idle_for:.0f}s", action="warn")
    return None


def stream_idle_since(status: Mapping[str, Any], job_started: float) -> tuple[str, float]:
    """("ClientGone", last activity) when a client was ever served, else ("Idle", start time)."""
    last = float(status.get("last_activity_unix") or 0)
    started = float(status.get("started_unix") or 0) or job_started
    if int(status.get("rows_sent") or 0) > 0 and last > 0:
        return "ClientGone", last
    return "Idle", max(started, last)


def cpu_idle(samples: tuple[tuple[float, float], ...], cfg: MonitorConfig) -> bool:
    """The legacy rule: the last `cpu_idle_checks` samples, spaced at least `cpu_idle_spacing`
    apart (the tracker records no closer ones), all at or below `cpu_idle_millicores`."""
    n = cfg.cpu_idle_checks
    if len(samples) < n:
        return False
    last = samples[-n:]
    return all(mcpu <= cfg.cpu_idle_millicores for _, mcpu in last)


def orphans(snap: Snapshot, now: float, cfg: MonitorConfig, job_ids: set[str]) -> list[Decision]:
    """Decisions for job ids whose Job is gone but whose Service, PVC, lease or queue is left."""
    found: dict[str, list[tuple[str, Any]]] = {}
    for kind, items in (("Service", snap.services), ("PersistentVolumeClaim", snap.pvcs)):
        grace = cfg.export_retention if kind == "PersistentVolumeClaim" else cfg.orphan_grace
        for obj in items:
            job_id = o.job_id_of(obj)
            if job_id and job_id not in job_ids and o.age(obj, now) >= grace:
                found.setdefault(job_id, []).append((kind, obj))
    for lease in snap.leases:
        holder = o.lease_holder(lease)
        held = o.lease_time(lease)
        if holder and holder not in job_ids and held is not None and now - held >= cfg.orphan_grace:
            found.setdefault(holder, []).append(("Lease", lease))
    for queue in snap.queues.values():
        match = QUEUE_RE.match(queue.name)
        since = snap.idle_queues_since.get(queue.name)
        if match and match.group(1) not in job_ids and since is not None and now - since >= cfg.orphan_grace:
            found.setdefault(match.group(1), []).append(("Queue", {"metadata": {"name": queue.name}}))
    return [_orphan_decision(job_id, objs) for job_id, objs in sorted(found.items()) if valid_job_id(job_id)]


def valid_job_id(job_id: str) -> bool:
    """Only well-formed ids are acted on: cleanup.yml refuses the whole batch on a bad one."""
    return bool(JOB_ID_RE.match(job_id))


def _orphan_decision(job_id: str, objs: list[tuple[str, Any]]) -> Decision:
    detail = ", ".join(f"{kind} {o.name_of(obj)}" for kind, obj in objs) + " without Job"
    kind, first = next(((k, obj) for k, obj in objs if k != "Queue"), objs[0])
    return Decision(
        job_id=job_id, reason="Orphan", uid=None, detail=detail, kind=kind,
        name=o.name_of(first), object_uid=o.uid_of(first),
    )


def track_idle_queues(previous: Mapping[str, float], queues: Mapping[str, QueueInfo], now: float) -> dict:
    """First time each queue was seen without a consumer; dropped once it has one or is gone."""
    return {
        name: previous.get(name, now) for name, info in queues.items() if info.consumers == 0
    }
