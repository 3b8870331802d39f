"""Pods and pod templates: API defaulting, `status.qosClass`, pod-spec validation (contract §6).

Defaults follow `k8s.io/kubernetes/pkg/apis/core/v1/defaults.go`: `SetDefaults_PodSpec` and
`SetDefaults_Container` apply to pods and to Job templates alike; `SetDefaults_Pod` (requests
from limits, `enableServiceLinks`) applies to pods only. All functions return new objects.
"""

from __future__ import annotations

import copy
from typing import Any

from localcluster.controllers.quantity import parse_quantity
from localcluster.strategy_common import (
    FieldErrors,
    check_name,
    go_value,
    is_dns1123_label,
    is_extended_resource,
)

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
# Pod spec fields a pod update may change (ValidatePodUpdate), besides container images.
_MUTABLE_POD_SPEC = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds",
                     "schedulingGates")


def image_pull_policy(image: str) -> str:
    """Always for `:latest` or an untagged image, else IfNotPresent (digests count as tags)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def default_container(container: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(container)
    if "imagePullPolicy" not in out and isinstance(out.get("image"), str):
        out["imagePullPolicy"] = image_pull_policy(out["image"])
    out.setdefault("terminationMessagePath", "/dev/termination-log")
    out.setdefault("terminationMessagePolicy", "File")
    out.setdefault("resources", {})
    for port in out.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in out.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")
    for probe_name in _PROBES:
        probe = out.get(probe_name)
        if isinstance(probe, dict):
            for key, value in _PROBE_DEFAULTS.items():
                probe.setdefault(key, value)
            if isinstance(probe.get("httpGet"), dict):
                probe["httpGet"].setdefault("path", "/")
                probe["httpGet"].setdefault("scheme", "HTTP")
    return out


def default_pod_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """`SetDefaults_PodSpec` plus container and volume defaults; returns a new spec."""
    out = copy.deepcopy(spec)
    out.setdefault("restartPolicy", "Always")
    out.setdefault("dnsPolicy", "ClusterFirst")
    out.setdefault("schedulerName", "default-scheduler")
    out.setdefault("terminationGracePeriodSeconds", 30)
    out.setdefault("securityContext", {})
    for field in CONTAINER_LISTS:
        if isinstance(out.get(field), list):
            out[field] = [default_container(c) if isinstance(c, dict) else c for c in out[field]]
    if isinstance(out.get("volumes"), list):
        out["volumes"] = [_default_volume(v) if isinstance(v, dict) else v for v in out["volumes"]]
    return out


def _default_volume(volume: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(volume)
    if len([k for k in out if k != "name"]) == 0:
        out["emptyDir"] = {}
    if isinstance(out.get("hostPath"), dict):
        out["hostPath"].setdefault("type", "")
    for source in ("configMap", "secret"):
        if isinstance(out.get(source), dict):
            out[source].setdefault("defaultMode", 420)
    return out


def default_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """A Pod's spec defaults (`SetDefaults_Pod` + `SetDefaults_PodSpec`); returns a new pod."""
    out = copy.deepcopy(pod)
    spec = default_pod_spec(out.get("spec") or {})
    spec.setdefault("enableServiceLinks", True)
    for field in ("initContainers", "containers"):
        if isinstance(spec.get(field), list):
            spec[field] = [_requests_from_limits(c) if isinstance(c, dict) else c for c in spec[field]]
    out["spec"] = spec
    return out


def _requests_from_limits(container: dict[str, Any]) -> dict[str, Any]:
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    if not isinstance(limits, dict) or not limits:
        return container
    requests = dict(resources.get("requests") or {})
    for name, value in limits.items():
        requests.setdefault(name, value)
    return {**container, "resources": {**resources, "requests": requests}}


def qos_class(spec: dict[str, Any]) -> str:
    """`GetPodQOS`: only cpu and memory count; zero quantities are ignored."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    containers = [c for f in ("initContainers", "containers") for c in spec.get(f) or [] if isinstance(c, dict)]
    for container in containers:
        resources = container.get("resources") or {}
        c_requests = _compute(resources.get("requests"))
        c_limits = _compute(resources.get("limits"))
        for name, value in c_requests.items():
            requests[name] = requests.get(name, 0) + value
        for name, value in c_limits.items():
            limits[name] = limits.get(name, 0) + value
        if set(c_limits) != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and set(requests) == set(limits) and all(limits[n] == v for n, v in requests.items()):
        return "Guaranteed"
    return "Burstable"


def _compute(values: Any) -> dict[str, Any]:
    out = {}
    for name in ("cpu", "memory"):
        raw = (values or {}).get(name) if isinstance(values, dict) else None
        if raw is None:
            continue
        try:
            amount = parse_quantity(raw)
        except ValueError:
            continue
        if amount != 0:
            out[name] = amount
    return out


def validate_pod_spec(errs: FieldErrors, spec: Any, path: str) -> None:
    if not isinstance(spec, dict):
        errs.required(path)
        return
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        errs.required(f"{path}.containers")
    if spec.get("restartPolicy") not in RESTART_POLICIES:
        errs.not_supported(f"{path}.restartPolicy", spec.get("restartPolicy"), RESTART_POLICIES)
    names: set[str] = set()
    for field in CONTAINER_LISTS:
        for i, container in enumerate(spec.get(field) or []):
            _validate_container(errs, container, f"{path}.{field}[{i}]", names)
    volume_names: set[str] = set()
    for i, volume in enumerate(spec.get("volumes") or []):
        vpath = f"{path}.volumes[{i}]"
        name = volume.get("name") if isinstance(volume, dict) else None
        if not name:
            errs.required(f"{vpath}.name")
        elif not is_dns1123_label(name):
            check_name(errs, name, "label", f"{vpath}.name")
        elif name in volume_names:
            errs.duplicate(f"{vpath}.name", name)
        else:
            volume_names.add(name)
    for field in ("terminationGracePeriodSeconds", "activeDeadlineSeconds"):
        value = spec.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            errs.invalid(f"{path}.{field}", value, "must be greater than or equal to 0")


def _validate_container(errs: FieldErrors, container: Any, path: str, names: set[str]) -> None:
    if not isinstance(container, dict):
        errs.invalid(path, container, "must be an object")
        return
    name = container.get("name")
    if not name:
        errs.required(f"{path}.name")
    elif not isinstance(name, str) or not is_dns1123_label(name):
        check_name(errs, name, "label", f"{path}.name")
    elif name in names:
        errs.duplicate(f"{path}.name", name)
    else:
        names.add(name)
    if not container.get("image"):
        errs.required(f"{path}.image")
    policy = container.get("imagePullPolicy")
    if policy is not None and policy not in PULL_POLICIES:
        errs.not_supported(f"{path}.imagePullPolicy", policy, PULL_POLICIES)
    for i, port in enumerate(container.get("ports") or []):
        number = port.get("containerPort") if isinstance(port, dict) else None
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 65535:
            errs.invalid(f"{path}.ports[{i}].containerPort", number, "must be between 1 and 65535, inclusive")
    for i, env in enumerate(container.get("env") or []):
        if not isinstance(env, dict) or not env.get("name"):
            errs.required(f"{path}.env[{i}].name")
    validate_resources(errs, container.get("resources") or {}, f"{path}.resources")


def validate_resources(errs: FieldErrors, resources: Any, path: str) -> None:
    """Quantities parse; requests ≤ limits; extended resources are integers with requests = limits."""
    if not isinstance(resources, dict):
        errs.invalid(path, resources, "must be an object")
        return
    parsed: dict[str, dict[str, Any]] = {}
    for kind in ("limits", "requests"):
        values = resources.get(kind) or {}
        parsed[kind] = {}
        if not isinstance(values, dict):
            errs.invalid(f"{path}.{kind}", values, "must be a map of resource names to quantities")
            continue
        for name, raw in values.items():
            field = f"{path}.{kind}[{name}]"
            try:
                amount = parse_quantity(raw)
            except ValueError:
                errs.invalid(field, raw, "quantities must match the regular expression "
                             "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
                continue
            if amount < 0:
                errs.invalid(field, raw, "must be greater than or equal to 0")
            elif is_extended_resource(name) and amount.denominator != 1:
                errs.invalid(field, raw, "must be an integer")
            parsed[kind][name] = amount
    limits, requests = parsed["limits"], parsed["requests"]
    for name, amount in requests.items():
        raw = resources["requests"][name]
        field = f"{path}.requests[{name}]"
        if name in limits:
            limit_raw = go_value(resources["limits"][name]).strip('"')
            if amount > limits[name]:
                errs.invalid(field, raw, f"must be less than or equal to {name} limit of {limit_raw}")
            elif is_extended_resource(name) and amount != limits[name]:
                errs.invalid(field, raw, f"must be equal to {name} limit of {limit_raw}")
        elif is_extended_resource(name):
            errs.required(f"{path}.limits", "Limit must be set for non overcommitable resources")


def validate_pod_update(errs: FieldErrors, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Pod specs are immutable except images, a few scheduling fields and binding (nodeName once)."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if old_spec.get("nodeName") and new_spec.get("nodeName") != old_spec.get("nodeName"):
        errs.invalid("spec.nodeName", new_spec.get("nodeName"), "field is immutable")
        return
    if _comparable_spec(old_spec) != _comparable_spec(new_spec):
        errs.forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,"
                       "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
                       "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                       "(allow it to be set to 1 if it was previously negative)")


def _comparable_spec(spec: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in spec.items() if k not in _MUTABLE_POD_SPEC and k != "nodeName"}
    for field in ("containers", "initContainers"):
        if isinstance(out.get(field), list):
            out[field] = [{k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c
                          for c in out[field]]
    return out
