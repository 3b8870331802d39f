"""The scheduler: binds pending pods to the node, or marks them Unschedulable (contract §12).

A pod that does not fit is retried with a back-off of 1 s doubling to 10 s, and at once when
capacity may have freed up (a pod finished or went away, a node or a claim changed).
"""

from __future__ import annotations

import logging
import time

from localcluster.controllers.base import ClusterAPI, Controller, Obj
from localcluster.controllers.scheduling import (
    claim_problem,
    fit_failures,
    is_terminal,
    unschedulable_message,
)
from localcluster.errors import ApiError
from localcluster.timefmt import now_time

log = logging.getLogger(__name__)
COMPONENT = "default-scheduler"
BACKOFF_INITIAL, BACKOFF_MAX = 1.0, 10.0


def wants_scheduling(pod: Obj) -> bool:
    spec, meta = pod.get("spec", {}), pod.get("metadata", {})
    return (not spec.get("nodeName") and spec.get("schedulerName", "default-scheduler") == "default-scheduler"
            and not meta.get("deletionTimestamp") and not is_terminal(pod))


def with_condition(status: Obj, condition: Obj) -> Obj:
    """A copy of `status` whose condition of that type is replaced (transition time kept when the
    status is unchanged)."""
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != condition["type"]]
    old = next((c for c in status.get("conditions") or [] if c.get("type") == condition["type"]), None)
    if old is not None and old.get("status") == condition["status"]:
        condition = {**condition, "lastTransitionTime": old.get("lastTransitionTime") or condition["lastTransitionTime"]}
    return {**status, "conditions": [*conditions, condition]}


class Scheduler(Controller):
    name = "scheduler"
    interested_in = frozenset({"pods", "nodes", "persistentvolumeclaims"})
    resync_seconds = 0.5

    def __init__(self, api: ClusterAPI) -> None:
        super().__init__(api)
        self._retry: dict[str, tuple[float, float]] = {}  # uid → (monotonic retry time, back-off)
        self._capacity_changed = False

    def _on_event(self, event_type: str, resource: str, obj: Obj) -> None:
        if resource in ("nodes", "persistentvolumeclaims") or (
                resource == "pods" and (event_type == "DELETED" or is_terminal(obj))):
            self._capacity_changed = True
        super()._on_event(event_type, resource, obj)

    def sync(self) -> None:
        if self._capacity_changed:
            self._capacity_changed = False
            self._retry.clear()
        pods = self.api.list("pods")
        nodes = self.api.list("nodes")
        pending = sorted((p for p in pods if wants_scheduling(p)),
                         key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))
        self._retry = {u: r for u, r in self._retry.items() if u in {p["metadata"]["uid"] for p in pending}}
        by_node: dict[str, list[Obj]] = {n["metadata"]["name"]: [] for n in nodes}
        for pod in pods:
            node_name = pod.get("spec", {}).get("nodeName")
            if node_name in by_node:
                by_node[node_name].append(pod)
        claims: dict[str, dict[str, Obj]] = {}
        now = time.monotonic()
        for pod in pending:
            uid, namespace = pod["metadata"]["uid"], pod["metadata"]["namespace"]
            if self._retry.get(uid, (0.0, 0.0))[0] > now:
                continue
            if namespace not in claims:
                claims[namespace] = {c["metadata"]["name"]: c for c in self.api.list("persistentvolumeclaims", namespace)}
            try:
                self._schedule_one(pod, nodes, by_node, claims[namespace], now)
            except ApiError as e:
                if e.code != 404:
                    log.info("scheduling %s/%s: %s (retrying)", namespace, pod["metadata"]["name"], e.message)
                    self._wake.set()

    def _schedule_one(self, pod: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]],
                      claims: dict[str, Obj], now: float) -> None:
        if pod.get("spec", {}).get("schedulingGates"):
            self._mark(pod, "SchedulingGated", "Scheduling is blocked due to non-empty scheduling gates")
            return
        prefilter = claim_problem(pod, claims)
        failures: dict[str, list[str]] = {}
        if prefilter is None:
            for node in nodes:
                name = node["metadata"]["name"]
                reasons = fit_failures(pod, node, by_node[name])
                if not reasons:
                    self._bind(pod, name)
                    by_node[name].append({**pod, "spec": {**pod["spec"], "nodeName": name}})
                    self._retry.pop(pod["metadata"]["uid"], None)
                    return
                failures[name] = reasons
        message = unschedulable_message(len(nodes), failures, prefilter)
        self._mark_unschedulable(pod, message)
        backoff = self._retry.get(pod["metadata"]["uid"], (0.0, BACKOFF_INITIAL / 2))[1]
        backoff = min(backoff * 2, BACKOFF_MAX)
        self._retry[pod["metadata"]["uid"]] = (now + backoff, backoff)

    def _bind(self, pod: Obj, node_name: str) -> None:
        meta = pod["metadata"]
        condition = {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                     "lastTransitionTime": now_time()}
        pod = self.api.update_status("pods", {**pod, "status": with_condition(pod.get("status", {}), condition)})
        self.api.update("pods", {**pod, "spec": {**pod["spec"], "nodeName": node_name}})
        self.api.record_event(pod, "Normal", "Scheduled",
                              f"Successfully assigned {meta['namespace']}/{meta['name']} to {node_name}", COMPONENT)

    def _mark_unschedulable(self, pod: Obj, message: str) -> None:
        self._mark(pod, "Unschedulable", message)
        self.api.record_event(pod, "Warning", "FailedScheduling", message, COMPONENT)

    def _mark(self, pod: Obj, reason: str, message: str) -> None:
        condition = {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                     "lastTransitionTime": now_time(), "reason": reason, "message": message}
        status = with_condition({**pod.get("status", {}), "phase": "Pending"}, condition)
        if status != pod.get("status"):
            self.api.update_status("pods", {**pod, "status": status})
