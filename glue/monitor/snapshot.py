"""One consistent-enough look at the cluster and the broker: lists by label, queues, stream status.

Objects are read as the API's raw JSON (`_preload_content=False`), so policies see exactly the
dicts the cluster serves, the same shapes as the YAML fixtures of the unit tests.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from glue import labels
from glue.errors import SpectrojobsError
from glue.monitor import idle
from glue.monitor import objects as o
from glue.monitor.config import MonitorConfig
from glue.monitor.policies import QUEUE_RE, QueueInfo, Snapshot, track_idle_queues

logger = logging.getLogger(__name__)

LEASE_RE = re.compile(r"^window-\d+$")
JOB_ID_SELECTOR = labels.LABEL_JOB_ID  # "key exists": every object of a job carries it


class ClusterError(SpectrojobsError):
    """The Kubernetes API could not be read."""


class ClusterReader:
    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.coord = client.CoordinationV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self._nodes_forbidden = False

    def _items(self, call, *args, **kwargs) -> tuple[dict, ...]:
        try:
            response = call(*args, _preload_content=False, _request_timeout=30, **kwargs)
        except ApiException as exc:
            raise ClusterError(f"listing {call.__name__}: {exc.status} {exc.reason}") from exc
        except OSError as exc:  # urllib3 errors derive from it: API server unreachable
            raise ClusterError(f"listing {call.__name__}: {exc}") from exc
        return tuple(json.loads(response.data).get("items") or ())

    def jobs(self) -> tuple[dict, ...]:
        return self._items(self.batch.list_namespaced_job, self.namespace, label_selector=JOB_ID_SELECTOR)

    def pods(self) -> tuple[dict, ...]:
        # every pod of the namespace: a pod is matched to its Job by ownerReference uid
        return self._items(self.core.list_namespaced_pod, self.namespace)

    def services(self) -> tuple[dict, ...]:
        return self._items(self.core.list_namespaced_service, self.namespace, label_selector=JOB_ID_SELECTOR)

    def pvcs(self) -> tuple[dict, ...]:
        return self._items(
            self.core.list_namespaced_persistent_volume_claim, self.namespace, label_selector=JOB_ID_SELECTOR
        )

    def leases(self) -> tuple[dict, ...]:
        items = self._items(self.coord.list_namespaced_lease, self.namespace)
        return tuple(lease for lease in items if LEASE_RE.match(o.name_of(lease)))

    def nodes(self) -> tuple[dict, ...]:
        """Nodes for the GPU allocation rate; () when RBAC forbids (the rate then reads 0)."""
        if self._nodes_forbidden:
            return ()
        try:
            return self._items(self.core.list_node)
        except ClusterError as exc:
            if isinstance(exc.__cause__, ApiException) and exc.__cause__.status == 403:
                logger.warning("listing nodes is forbidden: GPU allocation metrics stay 0")
                self._nodes_forbidden = True
                return ()
            raise

    def pod_metrics(self) -> list[dict]:
        try:
            data = self.custom.list_namespaced_custom_object(
                "metrics.k8s.io", "v1beta1", self.namespace, "pods", _request_timeout=30
            )
        except ApiException as exc:
            raise ClusterError(f"listing PodMetrics: {exc.status} {exc.reason}") from exc
        return list(data.get("items") or ())


@dataclass
class SnapshotState:
    """What the monitor remembers between passes (lost on restart, rebuilt within one grace)."""

    idle_queues_since: dict[str, float] = field(default_factory=dict)
    cpu_samples: dict[str, tuple] = field(default_factory=dict)


def candidate_queues(job_ids: set[str]) -> set[str]:
    return {labels.queue_name(job_id) for job_id in job_ids}


class Snapshotter:
    """Builds a Snapshot per pass from the cluster, the broker and the streamers."""

    def __init__(self, cfg: MonitorConfig, reader: ClusterReader, queue_probe: Any = None,
                 known_job_ids: Any = None, sightings: Any = None) -> None:
        self.cfg = cfg
        self.reader = reader
        self.queue_probe = queue_probe  # glue.broker.QueueProbe or None (no broker)
        self.known_job_ids = known_job_ids or (lambda: set())  # e.g. recent ids from the history
        self.sightings = sightings  # History.sightings (persistent) or None (in memory)
        self.state = SnapshotState()

    def take(self, now: float) -> Snapshot:
        jobs, pods = self.reader.jobs(), self.reader.pods()
        services, pvcs, leases = self.reader.services(), self.reader.pvcs(), self.reader.leases()
        ids = {o.job_id_of(x) for x in (*jobs, *services, *pvcs)} | {o.lease_holder(x) for x in leases}
        queues = self.queues((ids | set(self.known_job_ids())) - {""})
        if queues is not None:
            self.track_idle(queues, now)
        streams: dict = {}
        if self.cfg.idle_rule == "stream":
            streams = idle.read_statuses(idle.stream_targets(jobs, pods, services, self.cfg.stream_host))
        else:
            self.state.cpu_samples = idle.add_cpu_samples(
                self.state.cpu_samples, self.reader.pod_metrics(), pods, now,
                self.cfg.cpu_idle_spacing, self.cfg.cpu_idle_checks,
            )
        return Snapshot(
            jobs=jobs, pods=pods, services=services, pvcs=pvcs, leases=leases, nodes=self.reader.nodes(),
            queues=queues or {}, queues_known=queues is not None, streams=streams,
            cpu_samples=dict(self.state.cpu_samples),
            idle_queues_since=dict(self.state.idle_queues_since),
        )

    def queues(self, job_ids: set[str]) -> dict[str, QueueInfo] | None:
        """The jobs' queues, or None without a broker view (no broker configured, or it failed:
        the pass goes on without queue rules, and the sightings are kept as they were)."""
        if self.queue_probe is None:
            return None
        from glue.broker import BrokerError, list_queues_http

        listed = list_queues_http(self.cfg.rabbitmq_api, self.cfg.amqp_url)
        if listed is not None:
            return {name: info for name, info in listed.items() if QUEUE_RE.match(name)}
        try:
            return self.queue_probe.state(candidate_queues(job_ids))
        except BrokerError as exc:
            logger.warning("no queue information this pass: %s", exc)
            return None

    def track_idle(self, queues: dict[str, QueueInfo], now: float) -> None:
        if self.sightings is not None:
            idle_names = {name for name, info in queues.items() if info.consumers == 0}
            self.state.idle_queues_since = self.sightings(idle_names, now)
        else:
            self.state.idle_queues_since = track_idle_queues(self.state.idle_queues_since, queues, now)
