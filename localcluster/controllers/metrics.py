"""metrics.k8s.io from the pods' process trees (contract §13 "metrics.k8s.io").

CPU is the rate of the tree's CPU time over up to the last 30 s (samples are taken on every
request; the first request falls back to the average over the process's lifetime), in
nanocores; memory is the tree's RSS in Ki. Only Running pods with live processes have metrics.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import psutil

from localcluster.controllers.base import ClusterAPI, Obj
from localcluster.controllers.quantity import format_cpu_nanocores, format_kibibytes
from localcluster.timefmt import now_time

WINDOW_SECONDS = 30.0
MIN_SPAN_SECONDS = 1.0


class PgidSource(Protocol):
    def running_pgids(self, namespace: str, name: str) -> dict[str, int]: ...


def tree_usage(pid: int) -> tuple[float, int, float]:
    """(CPU seconds incl. reaped children, RSS bytes, create time) of `pid` and its descendants."""
    root = psutil.Process(pid)
    cpu, rss = 0.0, 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            cpu += times.user + times.system + times.children_user + times.children_system
            rss += proc.memory_info().rss
        except psutil.Error:
            continue
    return cpu, rss, root.create_time()


class RateTracker:
    """Per-key (time, counter) samples → a rate over the recent window."""

    def __init__(self) -> None:
        self._samples: dict[Any, list[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def rate(self, key: Any, now: float, value: float, since: float) -> float:
        with self._lock:
            samples = [s for s in self._samples.get(key, []) if now - s[0] <= WINDOW_SECONDS]
            old = [s for s in samples if now - s[0] >= MIN_SPAN_SECONDS]
            if old:
                t0, v0 = old[0]
                result = (value - v0) / (now - t0)
            else:
                result = value / max(now - since, 1e-3)
            samples.append((now, value))
            self._samples[key] = samples
            return max(result, 0.0)

    def forget_except(self, keys: set[Any]) -> None:
        with self._lock:
            for key in [k for k in self._samples if k not in keys and k != "node"]:
                del self._samples[key]


class MetricsProvider:
    def __init__(self, api: ClusterAPI, pgids: PgidSource, node_name: str) -> None:
        self.api = api
        self.pgids = pgids
        self.node_name = node_name
        self._rates = RateTracker()

    def _pod(self, pod: Obj) -> dict | None:
        meta = pod["metadata"]
        if pod.get("status", {}).get("phase") != "Running":
            return None
        groups = self.pgids.running_pgids(meta["namespace"], meta["name"])
        if not groups:
            return None
        containers = []
        now = time.time()
        for name, pid in groups.items():
            try:
                cpu, rss, created = tree_usage(pid)
            except psutil.Error:
                continue
            rate = self._rates.rate((meta["uid"], name, pid), now, cpu, created)
            containers.append({"name": name, "usage": {"cpu": format_cpu_nanocores(rate * 1e9),
                                                       "memory": format_kibibytes(rss)}})
        if not containers:
            return None
        return {
            "kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "creationTimestamp": now_time(), "labels": dict(meta.get("labels") or {})},
            "timestamp": now_time(), "window": f"{WINDOW_SECONDS:g}s", "containers": containers,
        }

    def pod_metrics(self, namespace: str, name: str) -> dict | None:
        pod = self.api.get("pods", namespace, name)
        return None if pod is None else self._pod(pod)

    def list_pod_metrics(self, namespace: str | None = None, label_selector: str | None = None) -> list[dict]:
        out = [m for m in (self._pod(p) for p in self.api.list("pods", namespace, label_selector)) if m]
        return out

    def node_metrics(self, name: str) -> dict | None:
        node = self.api.get("nodes", None, name)
        if node is None:
            return None
        times = psutil.cpu_times()
        busy = sum(times) - times.idle - getattr(times, "iowait", 0.0)
        now = time.time()
        rate = self._rates.rate("node", now, busy, psutil.boot_time())
        memory = psutil.virtual_memory()
        return {
            "kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": name, "creationTimestamp": now_time(),
                         "labels": dict(node["metadata"].get("labels") or {})},
            "timestamp": now_time(), "window": f"{WINDOW_SECONDS:g}s",
            "usage": {"cpu": format_cpu_nanocores(rate * 1e9), "memory": format_kibibytes(memory.total - memory.available)},
        }

    def list_node_metrics(self) -> list[dict]:
        return [m for m in (self.node_metrics(n["metadata"]["name"]) for n in self.api.list("nodes")) if m]
