"""v1 Services: API defaults (without the allocations), update patching, validation (§13).

Follows `pkg/apis/core/v1/defaults.go` (`SetDefaults_Service`) and `pkg/registry/core/service/
strategy.go` (`patchAllocatedValues`, `dropTypeDependentFields`). The clusterIP and nodePort
allocation itself lives in `localcluster.allocators`.
"""

from __future__ import annotations

import copy
from typing import Any

from localcluster.strategy_common import FieldErrors

TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
PROTOCOLS = ("TCP", "UDP", "SCTP")
AFFINITIES = ("None", "ClientIP")
TRAFFIC_POLICIES = ("Cluster", "Local")


def needs_node_port(spec: dict[str, Any]) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def default_service(service: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(service)
    spec = out.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if not isinstance(port, dict):
            continue
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            if port.get("port") is not None:
                port["targetPort"] = port["port"]
    if spec["type"] == "ExternalName":
        return out
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    elif spec.get("clusterIPs") and not spec.get("clusterIP"):
        spec["clusterIP"] = spec["clusterIPs"][0]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if needs_node_port(spec):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    return out


def initial_status() -> dict[str, Any]:
    return {"loadBalancer": {}}


def patch_allocated_values(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """An update that omits `clusterIP`/`clusterIPs` or a `nodePort` keeps the allocated value;
    a type change away from NodePort drops untouched node ports and `externalTrafficPolicy`."""
    out = copy.deepcopy(new)
    old_spec, spec = old.get("spec") or {}, out.setdefault("spec", {})
    new_type = spec.get("type") or "ClusterIP"
    if new_type != "ExternalName" and old_spec.get("type") != "ExternalName":
        if not spec.get("clusterIP") and not spec.get("clusterIPs") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    old_ports = [p for p in old_spec.get("ports") or [] if isinstance(p, dict)]
    if needs_node_port(old_spec) and needs_node_port({"type": new_type}):
        used = {p.get("nodePort") for p in old_ports} & {p.get("nodePort") for p in ports}
        by_name = {p.get("name", ""): p.get("nodePort") for p in old_ports}
        for port in ports:
            previous = by_name.get(port.get("name", ""))
            if not port.get("nodePort") and previous and previous not in used:
                port["nodePort"] = previous
        if not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort") \
                and spec.get("externalTrafficPolicy") == "Local":
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]
    if needs_node_port(old_spec) and not needs_node_port({"type": new_type}):
        old_node_ports = {(p.get("port"), p.get("nodePort")) for p in old_ports}
        for port in ports:
            if (port.get("port"), port.get("nodePort")) in old_node_ports:
                port.pop("nodePort", None)
        if spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy"):
            spec.pop("externalTrafficPolicy", None)
        spec.pop("healthCheckNodePort", None)
    return out


def validate_service(errs: FieldErrors, service: dict[str, Any]) -> None:
    spec = service.get("spec")
    if not isinstance(spec, dict):
        errs.required("spec")
        return
    kind = spec.get("type")
    if kind not in TYPES:
        errs.not_supported("spec.type", kind, TYPES)
        return
    if kind == "ExternalName":
        if not spec.get("externalName"):
            errs.required("spec.externalName")
        return
    headless = spec.get("clusterIP") == "None"
    ports = spec.get("ports")
    if not ports and not headless:
        errs.required("spec.ports")
    _validate_ports(errs, ports or [], kind)
    if spec.get("sessionAffinity") not in AFFINITIES:
        errs.not_supported("spec.sessionAffinity", spec.get("sessionAffinity"), AFFINITIES)
    policy = spec.get("externalTrafficPolicy")
    if policy is not None and not needs_node_port(spec):
        errs.invalid("spec.externalTrafficPolicy", policy,
                     "may only be set when `type` is 'NodePort' or 'LoadBalancer'")
    elif policy is not None and policy not in TRAFFIC_POLICIES:
        errs.not_supported("spec.externalTrafficPolicy", policy, TRAFFIC_POLICIES)
    cluster_ip, cluster_ips = spec.get("clusterIP"), spec.get("clusterIPs")
    if cluster_ip and cluster_ips and cluster_ips[0] != cluster_ip:
        errs.invalid("spec.clusterIPs", cluster_ips, "element [0] must match clusterIP")
    selector = spec.get("selector")
    if selector is not None and not isinstance(selector, dict):
        errs.invalid("spec.selector", selector, "must be a map of label keys to values")


def _validate_ports(errs: FieldErrors, ports: list[Any], kind: str) -> None:
    names: set[str] = set()
    seen: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        path = f"spec.ports[{i}]"
        if not isinstance(port, dict):
            errs.invalid(path, port, "must be an object")
            continue
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            errs.required(f"{path}.name")
        elif name and name in names:
            errs.duplicate(f"{path}.name", name)
        names.add(name)
        number = port.get("port")
        if not _is_port(number):
            errs.invalid(f"{path}.port", number, "must be between 1 and 65535, inclusive")
        if port.get("protocol") not in PROTOCOLS:
            errs.not_supported(f"{path}.protocol", port.get("protocol"), PROTOCOLS)
        key = (number, port.get("protocol"))
        if key in seen:
            errs.duplicate(path, {"port": number, "protocol": port.get("protocol")})
        seen.add(key)
        target = port.get("targetPort")
        if not (_is_port(target) or (isinstance(target, str) and target and not target.isdigit())):
            errs.invalid(f"{path}.targetPort", target, "must be between 1 and 65535, inclusive")
        node_port = port.get("nodePort")
        if node_port in (None, 0):
            continue
        if kind == "ClusterIP":
            errs.forbidden(f"{path}.nodePort", "may not be used when `type` is 'ClusterIP'")
        elif not isinstance(node_port, int) or isinstance(node_port, bool):
            errs.invalid(f"{path}.nodePort", node_port, "must be an integer")


def _is_port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def validate_service_update(errs: FieldErrors, old: dict[str, Any], new: dict[str, Any]) -> None:
    """The primary clusterIP may not change once set (unless the type moves to/from ExternalName)."""
    old_spec, spec = old.get("spec") or {}, new.get("spec") or {}
    if "ExternalName" in (old_spec.get("type"), spec.get("type")):
        return
    before = old_spec.get("clusterIP")
    if not before:
        return
    for path, value in (("spec.clusterIPs[0]", (spec.get("clusterIPs") or [None])[0]),
                        ("spec.clusterIP", spec.get("clusterIP"))):
        if value != before:
            errs.invalid(path, value, "may not change once set")
            return
