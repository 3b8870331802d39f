"""Pod status from container states — pure functions (contract §13, pod lifecycle docs)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Obj = dict[str, Any]


def exit_code(returncode: int) -> int:
    """Popen's returncode → a container exit code (killed by signal N → 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def terminated_reason(code: int) -> str:
    return "Completed" if code == 0 else "Error"


def pod_phase(restart_policy: str, states: Iterable[Mapping[str, Any]], stopping: bool) -> str:
    """Phase from the containers' current `state` dicts.

    Containers that are restarting (waiting CrashLoopBackOff) keep the pod Running; once the
    kubelet stops a pod (deletion), a finished pod is Succeeded only if every exit code is 0.
    """
    states = list(states)
    terminated = [s["terminated"] for s in states if "terminated" in s]
    if any("running" in s for s in states):
        return "Running"
    if states and len(terminated) == len(states):
        all_zero = all(t.get("exitCode") == 0 for t in terminated)
        if stopping or restart_policy == "Never" or (restart_policy == "OnFailure" and all_zero):
            return "Succeeded" if all_zero else "Failed"
        return "Running"
    restarting = any(s.get("waiting", {}).get("reason") == "CrashLoopBackOff" for s in states)
    return "Running" if restarting else "Pending"


def _condition(kind: str, ok: bool, now: str, reason: str = "", message: str = "") -> Obj:
    cond: Obj = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None,
                 "lastTransitionTime": now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def pod_conditions(phase: str, statuses: list[Obj], sandbox: bool, previous: list[Obj], now: str,
                   pending_init: tuple[str, ...] = ()) -> list[Obj]:
    """PodReadyToStartContainers, Initialized, ContainersReady, Ready, PodScheduled — keeping
    each condition's lastTransitionTime when its status did not change."""
    unready = [s["name"] for s in statuses if not s.get("ready")]
    ready = not unready and bool(statuses)
    if phase in ("Succeeded", "Failed"):
        reason, message = ("PodCompleted" if phase == "Succeeded" else "PodFailed"), ""
    elif ready:
        reason, message = "", ""
    else:
        reason, message = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
    wanted = [
        _condition("PodReadyToStartContainers", sandbox and phase not in ("Succeeded", "Failed"), now),
        _condition("Initialized", not pending_init, now, "ContainersNotInitialized" if pending_init else "",
                   f"containers with incomplete status: [{' '.join(pending_init)}]" if pending_init else ""),
        _condition("Ready", ready, now, reason, message),
        _condition("ContainersReady", ready, now, reason, message),
    ]
    old = {c.get("type"): c for c in previous}
    merged = []
    for cond in wanted:
        before = old.get(cond["type"])
        if before is not None and before.get("status") == cond["status"]:
            cond["lastTransitionTime"] = before.get("lastTransitionTime") or now
        merged.append(cond)
    merged.append(old.get("PodScheduled") or _condition("PodScheduled", True, now))
    return merged


def qos_class(pod: Obj) -> str:
    containers = pod.get("spec", {}).get("containers") or []
    requests_any = limits_all = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        requests_any = requests_any or bool(requests) or bool(limits)
        for name in ("cpu", "memory"):
            if name not in limits or str(requests.get(name, limits[name])) != str(limits[name]):
                guaranteed = False
        limits_all = limits_all or bool(limits)
    if guaranteed:
        return "Guaranteed"
    return "Burstable" if requests_any or limits_all else "BestEffort"
