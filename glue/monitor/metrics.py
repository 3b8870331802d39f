"""Prometheus metrics of the monitor; the values come from a pure function of the snapshot.

Families (prefix `spectrojobs_monitor_`): gpu_allocation_ratio, gpu_requested, gpu_allocatable,
windows_in_use, jobs{phase}, oldest_pending_seconds, cleanups_total{reason},
warnings_total{reason}, reconcile_duration_seconds, last_reconcile_success_timestamp_seconds,
reconcile_errors_total, watch_restarts_total, watch_last_event_timestamp_seconds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server
from prometheus_client import Counter as PromCounter

from glue.monitor import objects as o
from glue.monitor.policies import Snapshot

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Terminating")


@dataclass(frozen=True)
class ClusterGauges:
    gpu_requested: int
    gpu_allocatable: int
    windows_in_use: int
    jobs_by_phase: dict[str, int] = field(default_factory=dict)
    oldest_pending_seconds: float = 0.0

    @property
    def gpu_allocation_ratio(self) -> float:
        return self.gpu_requested / self.gpu_allocatable if self.gpu_allocatable else 0.0


def job_phase(job: dict, pods: list) -> str:
    if o.is_deleting(job):
        return "Terminating"
    if o.job_failed(job):
        return "Failed"
    if o.job_complete(job):
        return "Succeeded"
    return "Running" if any(o.pod_running(p) for p in pods) else "Pending"


def cluster_gauges(snap: Snapshot, now: float, gpu_resource: str) -> ClusterGauges:
    by_owner = o.pods_by_owner(snap.pods)
    phases: Counter[str] = Counter()
    oldest = 0.0
    for job in snap.jobs:
        phase = job_phase(job, by_owner.get(o.uid_of(job), []))
        phases[phase] += 1
        if phase == "Pending":
            oldest = max(oldest, o.age(job, now))
    allocatable = sum(
        int(((n.get("status") or {}).get("allocatable") or {}).get(gpu_resource) or 0) for n in snap.nodes
    )
    requested = sum(
        o.gpu_request(p, gpu_resource) for p in snap.pods if p.get("spec", {}).get("nodeName") and not o.pod_terminal(p)
    )
    return ClusterGauges(
        gpu_requested=requested,
        gpu_allocatable=allocatable,
        windows_in_use=sum(1 for lease in snap.leases if o.lease_holder(lease)),
        jobs_by_phase={phase: phases.get(phase, 0) for phase in PHASES},
        oldest_pending_seconds=oldest,
    )


class MonitorMetrics:
    """The monitor's families in their own registry (tests create as many as they like)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        p = "spectrojobs_monitor_"
        r = self.registry
        self.gpu_ratio = Gauge(p + "gpu_allocation_ratio", "GPU resource requested / allocatable", registry=r)
        self.gpu_requested = Gauge(p + "gpu_requested", "GPU resource requested by scheduled pods", registry=r)
        self.gpu_allocatable = Gauge(p + "gpu_allocatable", "GPU resource allocatable on nodes", registry=r)
        self.windows = Gauge(p + "windows_in_use", "window leases with a holder", registry=r)
        self.jobs = Gauge(p + "jobs", "jobs by phase", ["phase"], registry=r)
        self.oldest_pending = Gauge(p + "oldest_pending_seconds", "age of the oldest pending job", registry=r)
        self.cleanups = PromCounter(p + "cleanups", "jobs cleaned up, by reason", ["reason"], registry=r)
        self.warnings = PromCounter(p + "warnings", "cleanup warnings emitted, by reason", ["reason"], registry=r)
        self.duration = Histogram(
            p + "reconcile_duration_seconds", "duration of one reconcile pass",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=r,
        )
        self.last_success = Gauge(
            p + "last_reconcile_success_timestamp_seconds", "end of the last successful pass", registry=r
        )
        self.errors = PromCounter(p + "reconcile_errors", "passes that failed", registry=r)
        self.watch_restarts = PromCounter(p + "watch_restarts", "watch streams re-opened", registry=r)
        self.watch_last_event = Gauge(
            p + "watch_last_event_timestamp_seconds", "time of the last watch event", registry=r
        )

    def observe_cluster(self, gauges: ClusterGauges) -> None:
        self.gpu_ratio.set(gauges.gpu_allocation_ratio)
        self.gpu_requested.set(gauges.gpu_requested)
        self.gpu_allocatable.set(gauges.gpu_allocatable)
        self.windows.set(gauges.windows_in_use)
        for phase, count in gauges.jobs_by_phase.items():
            self.jobs.labels(phase=phase).set(count)
        self.oldest_pending.set(gauges.oldest_pending_seconds)

    def serve(self, port: int, addr: str = "127.0.0.1"):
        """Start the HTTP endpoint; returns (server, thread) so the caller can shut it down."""
        return start_http_server(port, addr=addr, registry=self.registry)
