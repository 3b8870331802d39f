"""Inputs of the idle rules.

- Stream activity (default): the streamer's `GetStatus` RPC (`clients`, `last_activity_unix`,
  `rows_sent`, `started_unix`), read through the job's node port on the pod's host (or
  `stream_host`). An unreachable streamer gives no status, and no status never means idle.
- Legacy CPU rule (`--idle-rule cpu`): PodMetrics samples, at most one per `cpu_idle_spacing`
  seconds per job; the policy calls a job idle after `cpu_idle_checks` samples at or below
  `cpu_idle_millicores` (default 5 checks 10 s apart at <= 4 mCPU, as the old per-job cleanup did).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from glue import labels
from glue.monitor import objects as o

logger = logging.getLogger(__name__)

STATUS_FIELDS = ("clients", "last_activity_unix", "rows_sent", "started_unix", "done")


def stream_targets(jobs: Iterable[Any], pods: Iterable[Any], services: Iterable[Any], host: str = "") -> dict:
    """job_id → "host:nodePort" for every running stream job whose Service has a node port."""
    by_owner = o.pods_by_owner(pods)
    node_ports = {}
    for svc in services:
        for port in (svc.get("spec") or {}).get("ports") or ():
            if port.get("nodePort"):
                node_ports[o.name_of(svc)] = port["nodePort"]
                break
    targets = {}
    for job in jobs:
        job_id = o.job_id_of(job)
        running = [p for p in by_owner.get(o.uid_of(job), ()) if o.pod_running(p)]
        port = node_ports.get(labels.service_name(job_id))
        if not job_id or not running or not port or o.job_kind(job) != "stream":
            continue
        node = host or (running[0].get("status") or {}).get("hostIP") or "127.0.0.1"
        targets[job_id] = f"{node}:{port}"
    return targets


def get_status(target: str, timeout: float = 1.0) -> dict[str, Any] | None:
    """The streamer's GetStatus as a dict, or None when it does not answer."""
    from streamer.protos import streamer_pb2, streamer_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        try:
            reply = streamer_pb2_grpc.StreamerStub(channel).GetStatus(
                streamer_pb2.StatusRequest(), timeout=timeout
            )
        except grpc.RpcError as exc:
            logger.debug("GetStatus %s: %s", target, exc.code())
            return None
    return {name: getattr(reply, name) for name in STATUS_FIELDS}


def read_statuses(targets: Mapping[str, str], timeout: float = 1.0, workers: int = 8) -> dict:
    """job_id → status for every target that answered (in parallel: at most `timeout` per round)."""
    if not targets:
        return {}
    with ThreadPoolExecutor(max_workers=min(workers, len(targets))) as pool:
        results = dict(zip(targets, pool.map(lambda t: get_status(t, timeout), targets.values()), strict=True))
    return {job_id: status for job_id, status in results.items() if status is not None}


def cpu_millicores(quantity: str) -> float:
    """A Kubernetes CPU quantity (`2082398n`, `250u`, `4m`, `1`, `0.5`) in millicores."""
    units = {"n": 1e-6, "u": 1e-3, "m": 1.0}
    if quantity and quantity[-1] in units:
        return float(quantity[:-1]) * units[quantity[-1]]
    return float(quantity) * 1000.0


def pod_cpu(podmetrics: Mapping[str, Any]) -> float:
    return sum(cpu_millicores((c.get("usage") or {}).get("cpu", "0")) for c in podmetrics.get("containers") or ())


def add_cpu_samples(
    previous: Mapping[str, tuple], podmetrics: Iterable[Mapping[str, Any]], pods: Iterable[Any],
    now: float, spacing: float, keep: int,
) -> dict[str, tuple]:
    """The new sample history: one sample per job per `spacing` seconds, the last `keep` kept.

    Jobs without a current sample are dropped (a pod that stopped running starts over)."""
    job_of_pod = {o.name_of(p): o.job_id_of(p) or _job_id_from_owner(p) for p in pods}
    usage: dict[str, float] = {}
    for pm in podmetrics:
        job_id = job_of_pod.get(o.name_of(pm), "")
        if job_id:
            usage[job_id] = usage.get(job_id, 0.0) + pod_cpu(pm)
    history = {}
    for job_id, mcpu in usage.items():
        samples = tuple(previous.get(job_id, ()))
        if not samples or now - samples[-1][0] >= spacing:
            samples = (*samples, (now, mcpu))
        history[job_id] = samples[-keep:]
    return history


def _job_id_from_owner(pod: Any) -> str:
    for ref in o.meta(pod).get("ownerReferences") or ():
        name = ref.get("name", "")
        if ref.get("kind") == "Job" and name.startswith("grpc-job-"):
            return name[len("grpc-job-"):]
    return ""
