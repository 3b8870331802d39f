"""Scheduling decisions as pure functions of (pod, node, pods on the node) — contract §12.

Filters run in the real scheduler's order and a node fails at the first filter that rejects
it (NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit); resource
fit reports every insufficient resource. Messages follow `FitError.Error()`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from localcluster.controllers.quantity import to_units

Obj = dict[str, Any]
TERMINAL_PHASES = ("Succeeded", "Failed")
NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
UNSCHEDULABLE = "node(s) were unschedulable"
AFFINITY_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
PORTS_TAKEN = "node(s) didn't have free ports for the requested pod ports"
TOO_MANY_PODS = "Too many pods"
UNBOUND_CLAIMS = "pod has unbound immediate PersistentVolumeClaims"
# Reasons that preemption could resolve (the others are "UnschedulableAndUnresolvable").
_RESOLVABLE_PREFIXES = ("Insufficient ", TOO_MANY_PODS, PORTS_TAKEN)


def is_terminal(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") in TERMINAL_PHASES


def _container_requests(container: Mapping[str, Any]) -> dict[str, int]:
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = {**limits, **(resources.get("requests") or {})}  # limits default the requests
    return {name: to_units(name, value) for name, value in requests.items()}


def pod_requests(pod: Obj) -> dict[str, int]:
    """max(Σ containers, max init container) + overhead, plus one `pods` slot."""
    spec = pod.get("spec", {})
    total: Counter[str] = Counter()
    for container in spec.get("containers") or []:
        total.update(_container_requests(container))
    for init in spec.get("initContainers") or []:
        for name, amount in _container_requests(init).items():
            total[name] = max(total[name], amount)
    for name, value in (spec.get("overhead") or {}).items():
        total[name] += to_units(name, value)
    total["pods"] = 1
    return dict(total)


def node_allocatable(node: Obj) -> dict[str, int]:
    status = node.get("status", {})
    allocatable = status.get("allocatable") or status.get("capacity") or {}
    return {name: to_units(name, value) for name, value in allocatable.items()}


def node_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in node.get("status", {}).get("conditions") or [])


def tolerates(tolerations: Iterable[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for tol in tolerations:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if tol.get("key") and tol["key"] != taint.get("key"):
            continue
        if not tol.get("key") and tol.get("operator") != "Exists":
            continue
        if tol.get("operator") == "Exists" or tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def _expression_matches(expr: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    key, op, wanted = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    present = key in values
    if op == "In":
        return present and values[key] in wanted
    if op == "NotIn":
        return not present or values[key] not in wanted
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            have, bound = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def _term_matches(term: Mapping[str, Any], node: Obj) -> bool:
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = node.get("metadata", {}).get("labels") or {}
    node_fields = {"metadata.name": node.get("metadata", {}).get("name", "")}
    return (all(_expression_matches(e, labels) for e in exprs)
            and all(_expression_matches(f, node_fields) for f in fields))


def matches_node_selector(pod: Obj, node: Obj) -> bool:
    spec = pod.get("spec", {})
    labels = node.get("metadata", {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(_term_matches(t, node) for t in required.get("nodeSelectorTerms") or [])


def _host_ports(pod: Obj) -> set[tuple[str, str, int]]:
    ports = set()
    for container in pod.get("spec", {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ports.add((port.get("hostIP") or "0.0.0.0", port.get("protocol") or "TCP",
                           int(port["hostPort"])))
    return ports


def _ports_conflict(wanted: set[tuple[str, str, int]], used: set[tuple[str, str, int]]) -> bool:
    return any(port == used_port and proto == used_proto and (ip == used_ip or "0.0.0.0" in (ip, used_ip))
               for ip, proto, port in wanted for used_ip, used_proto, used_port in used)


def untolerated_taint(pod: Obj, node: Obj) -> Mapping[str, Any] | None:
    taints = list(node.get("spec", {}).get("taints") or [])
    if not node_ready(node):
        taints.append(NOT_READY_TAINT)
    tolerations = pod.get("spec", {}).get("tolerations") or []
    for taint in taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return taint
    return None


def insufficient(request: Mapping[str, int], allocatable: Mapping[str, int],
                 used: Mapping[str, int]) -> list[str]:
    reasons = []
    if used.get("pods", 0) + 1 > allocatable.get("pods", 0):
        reasons.append(TOO_MANY_PODS)
    for name, amount in sorted(request.items()):
        if name == "pods" or amount <= 0:
            continue
        if used.get(name, 0) + amount > allocatable.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def fit_failures(pod: Obj, node: Obj, node_pods: Iterable[Obj]) -> list[str]:
    """Why `pod` cannot run on `node` given the other pods bound there ([] = it fits)."""
    if node.get("spec", {}).get("unschedulable"):
        return [UNSCHEDULABLE]
    taint = untolerated_taint(pod, node)
    if taint is not None:
        return [f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"]
    if not matches_node_selector(pod, node):
        return [AFFINITY_MISMATCH]
    active = [p for p in node_pods if not is_terminal(p)
              and p.get("metadata", {}).get("uid") != pod.get("metadata", {}).get("uid")]
    used_ports: set[tuple[str, str, int]] = set()
    used: Counter[str] = Counter()
    for other in active:
        used_ports |= _host_ports(other)
        used.update(pod_requests(other))
    if _ports_conflict(_host_ports(pod), used_ports):
        return [PORTS_TAKEN]
    return insufficient(pod_requests(pod), node_allocatable(node), used)


def claim_problem(pod: Obj, claims: Mapping[str, Obj]) -> str | None:
    """The PreFilter verdict of VolumeBinding: a missing or unbound claim blocks every node."""
    for volume in pod.get("spec", {}).get("volumes") or []:
        source = volume.get("persistentVolumeClaim")
        if not source:
            continue
        name = source.get("claimName", "")
        claim = claims.get(name)
        if claim is None:
            return f'persistentvolumeclaim "{name}" not found'
        if claim.get("metadata", {}).get("deletionTimestamp"):
            return f'persistentvolumeclaim "{name}" is being deleted'
        if claim.get("status", {}).get("phase") != "Bound":
            return UNBOUND_CLAIMS
    return None


def _histogram(reasons: Iterable[str]) -> str:
    return ", ".join(sorted(f"{count} {reason}" for reason, count in Counter(reasons).items()))


def unschedulable_message(node_count: int, failures: Mapping[str, list[str]],
                          prefilter: str | None = None) -> str:
    """`0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are
    available: 1 No preemption victims found for incoming pod.`"""
    head = f"0/{node_count} nodes are available:"
    if prefilter:
        message = f"{head} {prefilter}."
        verdicts = ["Preemption is not helpful for scheduling"] * node_count
    else:
        message = f"{head} {_histogram(r for rs in failures.values() for r in rs)}."
        verdicts = [
            "No preemption victims found for incoming pod"
            if rs and all(r.startswith(_RESOLVABLE_PREFIXES) for r in rs)
            else "Preemption is not helpful for scheduling"
            for rs in failures.values()
        ]
    return f"{message} preemption: {head} {_histogram(verdicts)}."
