"""One reconcile pass: snapshot → decide → publish → one cleanup.yml run → Kubernetes Events → history.

Order of work for the cleanups of a pass (design §7):
1. publish each lifecycle event on `spectrojobs.events` (a job whose event cannot be published is
   not cleaned in this pass; the next pass retries it);
2. clean every published job in ONE `cleanup.yml` run (`job_ids`, `job_uids` for uid
   preconditions, `cleanup_reason`);
3. a Kubernetes Event on each cleaned object (the Job, else the orphan Service/PVC/Lease);
4. the history, idempotent per (job_id, uid, what, reason).
Warnings (an Idle, ClientGone or max-age cleanup is `warn_before` seconds away) are recorded in
the history first and emitted as Kubernetes Events once per (job, uid, reason).
Dry-run (and reaper off) only reports.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from glue.errors import SpectrojobsError
from glue.monitor import objects as o
from glue.monitor.config import MonitorConfig
from glue.monitor.metrics import MonitorMetrics, cluster_gauges
from glue.monitor.policies import QUEUE_RE, Decision, Snapshot, decide

logger = logging.getLogger(__name__)

COMPONENT = "spectrojobs-monitor"
INTENT_LOOKBACK_S = 86400.0
API_VERSIONS = {"Job": "batch/v1", "Lease": "coordination.k8s.io/v1"}


class Cleaner(Protocol):
    def __call__(self, decisions: Sequence[Decision], reason: str) -> set[str]:
        """Clean up the decisions' jobs; return the job ids that are gone."""


@dataclass(frozen=True)
class PassReport:
    dry_run: bool
    decisions: tuple[Decision, ...]  # cleanups decided
    warnings: tuple[Decision, ...]
    cleaned: tuple[str, ...]
    skipped: tuple[str, ...]  # decided but not cleaned (publish or cleanup failed)
    duration_s: float

    def to_json(self) -> dict[str, Any]:
        """The shape `reap.yml` reads from `spectrojobs monitor --once --json`."""
        return {
            "dry_run": self.dry_run,
            "decisions": [d.to_json() for d in self.decisions],
            "cleaned": list(self.cleaned),
        }

    def counters(self) -> dict[str, int]:
        return {
            "decided": len(self.decisions), "warned": len(self.warnings),
            "cleaned": len(self.cleaned), "skipped": len(self.skipped),
        }


def job_ids_present(snap: Snapshot) -> set[str]:
    """Job ids with anything left: a Job, pod, Service, PVC, held lease or queue."""
    present = {o.job_id_of(x) for x in (*snap.jobs, *snap.pods, *snap.services, *snap.pvcs)}
    present |= {o.lease_holder(lease) for lease in snap.leases}
    present |= {m.group(1) for m in (QUEUE_RE.match(name) for name in snap.queues) if m}
    return present - {""}


def event_name(decision: Decision, action: str) -> str:
    """Deterministic, so a repeated emission is a 409, not a duplicate Event."""
    digest = hashlib.sha256(f"{decision.object_uid}|{decision.reason}|{action}".encode()).hexdigest()[:12]
    return f"{decision.name}.{action}.{digest}"[:253]


def cleanup_reason(decisions: Iterable[Decision]) -> str:
    reasons = sorted({d.reason for d in decisions})
    return reasons[0] if len(reasons) == 1 else "Reconcile:" + ",".join(reasons)


class EventRecorder:
    """Kubernetes Events about the objects the monitor acts on."""

    def __init__(self, api_client: client.ApiClient, namespace: str, clock: Callable[[], float]) -> None:
        self.core = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.clock = clock

    def emit_all(self, items: Sequence[tuple[Decision, str, str]], workers: int = 4) -> None:
        """Many Events at once (a pass may clean hundreds of jobs)."""
        if not items:
            return
        with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
            list(pool.map(lambda item: self.emit(*item), items))

    def emit(self, decision: Decision, action: str, message: str) -> bool:
        if decision.kind == "Queue" or not decision.name:
            return False  # a queue is no Kubernetes object
        stamp = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": event_name(decision, action), "namespace": self.namespace},
            "involvedObject": {
                "kind": decision.kind, "name": decision.name, "namespace": self.namespace,
                "uid": decision.object_uid, "apiVersion": API_VERSIONS.get(decision.kind, "v1"),
            },
            "reason": decision.reason if action == "cleanup" else f"{decision.reason}Soon",
            "message": message[:1024],
            "type": "Normal" if decision.reason == "Completed" else "Warning",
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        }
        try:
            self.core.create_namespaced_event(self.namespace, body, _request_timeout=10)
        except ApiException as exc:
            if exc.status == 409:
                return False
            logger.warning("event for %s %s: %s %s", decision.kind, decision.name, exc.status, exc.reason)
            return False
        except OSError as exc:
            logger.warning("event for %s %s: %s", decision.kind, decision.name, exc)
            return False
        return True


class Reconciler:
    def __init__(
        self, cfg: MonitorConfig, snapshot: Callable[[float], Snapshot], cleaner: Cleaner,
        publisher: Any, history: Any, events: EventRecorder | None, metrics: MonitorMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.snapshot = snapshot
        self.cleaner = cleaner
        self.publisher = publisher  # glue.broker.EventPublisher or None (events off)
        self.history = history
        self.events = events
        self.metrics = metrics
        self.clock = clock

    def run_once(self) -> PassReport:
        started = time.monotonic()
        now = self.clock()  # one instant for the whole pass: sightings and ages agree
        snap = self.snapshot(now)
        decisions = decide(snap, now, self.cfg)
        if not (self.cfg.dry_run or not self.cfg.reaper):
            self.close_interrupted(snap, now)
        self.metrics.observe_cluster(cluster_gauges(snap, now, self.cfg.gpu_resource))
        cleanups = tuple(d for d in decisions if d.action == "cleanup")
        warnings = tuple(d for d in decisions if d.action == "warn")
        report_only = self.cfg.dry_run or not self.cfg.reaper
        if report_only:
            for d in decisions:
                logger.info("%s %s job %s: %s (%s)", "DRY-RUN would" if self.cfg.dry_run else "reaper off, would",
                            "warn" if d.action == "warn" else "clean", d.job_id, d.reason, d.detail)
            cleaned: tuple[str, ...] = ()
        else:
            self.warn(warnings, now)
            cleaned = self.clean(cleanups, now)
        duration = time.monotonic() - started
        self.metrics.duration.observe(duration)
        self.metrics.last_success.set(self.clock())
        skipped = () if report_only else tuple(d.job_id for d in cleanups if d.job_id not in cleaned)
        report = PassReport(self.cfg.dry_run, cleanups, warnings, cleaned, skipped, round(duration, 3))
        logger.info("reconcile %s in %.2fs", report.counters(), duration)
        return report

    def close_interrupted(self, snap: Snapshot, now: float) -> None:
        """Record the cleanups an interrupted pass did but could not record: its decided jobs
        that are now gone (nothing of the job id is left). Each cleanup is recorded once."""
        intents = self.history.open_intents(now - INTENT_LOOKBACK_S)
        if not intents:
            return
        present = job_ids_present(snap)
        done = [e for e in intents if e["job_id"] not in present]
        added = self.history.record_many([
            {"job_id": e["job_id"], "what": "cleaned", "reason": e["reason"], "uid": e["uid"],
             "detail": f"{e['detail']} (recorded after an interrupted pass)"} for e in done
        ])
        for e, new in zip(done, added, strict=True):
            if new:
                self.metrics.cleanups.labels(reason=e["reason"]).inc()
                logger.info("job %s is gone: recorded the interrupted cleanup (%s)", e["job_id"], e["reason"])

    def warn(self, warnings: Sequence[Decision], now: float) -> None:
        for d in warnings:
            if self.history.record(d.job_id, what="warned", reason=d.reason, uid=d.uid, at=now, detail=d.detail):
                if self.events:
                    self.events.emit(d, "warn", f"cleanup ahead: {d.detail}")
                self.metrics.warnings.labels(reason=d.reason).inc()
                logger.info("warned job %s: %s (%s)", d.job_id, d.reason, d.detail)

    def clean(self, cleanups: Sequence[Decision], now: float) -> tuple[str, ...]:
        published = [d for d in cleanups if self.publish(d, now)]
        if not published:
            return ()
        # the intent first: a pass killed after the deletes still leaves a record to close
        self.history.record_many([
            {"job_id": d.job_id, "what": "decided", "reason": d.reason, "uid": d.uid, "at": now, "detail": d.detail}
            for d in published
        ])
        try:
            gone = self.cleaner(published, cleanup_reason(published))
        except SpectrojobsError as exc:
            logger.error("cleanup of %d jobs failed: %s", len(published), exc)
            return ()
        for d in published:
            if d.job_id not in gone:
                logger.warning("job %s (%s) was not cleaned up; the next pass retries", d.job_id, d.reason)
        done = [d for d in published if d.job_id in gone]
        if self.events:
            self.events.emit_all([(d, "cleanup", f"cleaned up: {d.reason}: {d.detail}") for d in done])
        added = self.history.record_many([
            {"job_id": d.job_id, "what": "cleaned", "reason": d.reason, "uid": d.uid, "detail": d.detail}
            for d in done
        ])
        for d, new in zip(done, added, strict=True):
            if new:
                self.metrics.cleanups.labels(reason=d.reason).inc()
            logger.info("cleaned job %s: %s (%s)", d.job_id, d.reason, d.detail)
        return tuple(d.job_id for d in done)

    def publish(self, d: Decision, now: float) -> bool:
        if self.publisher is None:
            return True
        event = {
            "job_id": d.job_id, "uid": d.uid, "reason": d.reason, "detail": d.detail,
            "namespace": self.cfg.namespace, "at": now, "source": COMPONENT,
        }
        try:
            self.publisher.publish(d.reason, event, message_id=f"{d.job_id}:{d.uid or ''}:{d.reason}")
        except SpectrojobsError as exc:
            logger.error("not cleaning job %s this pass: %s", d.job_id, exc)
            return False
        return True
