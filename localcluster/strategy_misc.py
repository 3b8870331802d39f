"""The smaller kinds: PersistentVolumeClaims, Namespaces, Leases, Events and Nodes (§6, §13)."""

from __future__ import annotations

import copy
from typing import Any

from localcluster.controllers.quantity import parse_quantity
from localcluster.strategy_common import FieldErrors, get_in
from localcluster.timefmt import normalize_microtime, normalize_time

PVC_PROTECTION = "kubernetes.io/pvc-protection"
DEFAULT_STORAGE_CLASS = "standard"
ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
VOLUME_MODES = ("Filesystem", "Block")
NAMESPACE_FINALIZER = "kubernetes"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
LEASE_MICROTIMES = ("acquireTime", "renewTime")


# ---- PersistentVolumeClaims -----------------------------------------------------------------

def admit_pvc(pvc: dict[str, Any]) -> dict[str, Any]:
    """Create-time admission: the protection finalizer and the default StorageClass."""
    out = copy.deepcopy(pvc)
    metadata = out.setdefault("metadata", {})
    finalizers = list(metadata.get("finalizers") or [])
    if PVC_PROTECTION not in finalizers:
        finalizers.append(PVC_PROTECTION)
    metadata["finalizers"] = finalizers
    spec = out.setdefault("spec", {})
    if "storageClassName" not in spec:
        spec["storageClassName"] = DEFAULT_STORAGE_CLASS
    return out


def default_pvc(pvc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(pvc)
    out.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    return out


def validate_pvc(errs: FieldErrors, pvc: dict[str, Any]) -> None:
    spec = pvc.get("spec")
    if not isinstance(spec, dict):
        errs.required("spec")
        return
    modes = spec.get("accessModes")
    if not modes:
        errs.required("spec.accessModes", "at least 1 access mode is required")
    for i, mode in enumerate(modes or []):
        if mode not in ACCESS_MODES:
            errs.not_supported(f"spec.accessModes[{i}]", mode, ACCESS_MODES)
    storage = get_in(spec, "resources", "requests", "storage")
    if storage is None:
        errs.required("spec.resources[storage]")
    else:
        try:
            if parse_quantity(storage) <= 0:
                errs.invalid("spec.resources[storage]", storage, "must be greater than zero")
        except ValueError:
            errs.invalid("spec.resources[storage]", storage, "must be a quantity, e.g. 1Gi")
    if spec.get("volumeMode") not in VOLUME_MODES:
        errs.not_supported("spec.volumeMode", spec.get("volumeMode"), VOLUME_MODES)


def validate_pvc_update(errs: FieldErrors, old: dict[str, Any], new: dict[str, Any]) -> None:
    """The spec is immutable except `resources.requests` and binding (`volumeName` once)."""
    old_spec, spec = old.get("spec") or {}, new.get("spec") or {}

    def comparable(s: dict[str, Any], keep_volume: bool) -> dict[str, Any]:
        out = {k: v for k, v in s.items() if k != "resources" and (keep_volume or k != "volumeName")}
        out["limits"] = get_in(s, "resources", "limits")
        return out

    binding = not old_spec.get("volumeName")
    if comparable(old_spec, not binding) != comparable(spec, not binding):
        errs.forbidden("spec", "spec is immutable after creation except resources.requests and "
                       "volumeAttributesClassName for bound claims")


# ---- Namespaces -----------------------------------------------------------------------------

def default_namespace(namespace: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(namespace)
    metadata = out.setdefault("metadata", {})
    if metadata.get("name"):
        metadata["labels"] = {**(metadata.get("labels") or {}), NAMESPACE_NAME_LABEL: metadata["name"]}
    return out


def initial_namespace(namespace: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(namespace)
    out["spec"] = {**(out.get("spec") or {}), "finalizers": [NAMESPACE_FINALIZER]}
    out["status"] = {"phase": "Active"}
    return out


# ---- Leases ---------------------------------------------------------------------------------

def default_lease(lease: dict[str, Any]) -> dict[str, Any]:
    """MicroTimes re-emitted with six fraction digits (the Python LeaseLock may send none)."""
    out = copy.deepcopy(lease)
    spec = out.get("spec")
    if isinstance(spec, dict):
        for field in LEASE_MICROTIMES:
            if field in spec:  # a real server omits MicroTimes the client did not send
                spec[field] = _normalized(spec[field], normalize_microtime)
    return out


def validate_lease(errs: FieldErrors, lease: dict[str, Any]) -> None:
    spec = lease.get("spec") or {}
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0):
        errs.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")
    transitions = spec.get("leaseTransitions")
    if transitions is not None and (not isinstance(transitions, int) or transitions < 0):
        errs.invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
    for field in LEASE_MICROTIMES:
        _check_time(errs, spec.get(field), f"spec.{field}")


# ---- Events and Nodes -----------------------------------------------------------------------

def default_event(event: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(event)
    for field in ("firstTimestamp", "lastTimestamp"):
        if field in out:
            out[field] = _normalized(out[field], normalize_time)
    if "eventTime" in out:
        out["eventTime"] = _normalized(out["eventTime"], normalize_microtime)
    return out


def validate_event(errs: FieldErrors, event: dict[str, Any]) -> None:
    involved = event.get("involvedObject")
    if not isinstance(involved, dict):
        errs.required("involvedObject")
    else:
        namespace = get_in(event, "metadata", "namespace")
        other = involved.get("namespace")
        if other and namespace and other != namespace:
            errs.invalid("involvedObject.namespace", other, "does not match event.namespace")
    for field in ("firstTimestamp", "lastTimestamp", "eventTime"):
        _check_time(errs, event.get(field), field)


def validate_node(errs: FieldErrors, node: dict[str, Any]) -> None:
    for i, taint in enumerate(get_in(node, "spec", "taints") or []):
        effect = taint.get("effect") if isinstance(taint, dict) else None
        if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.not_supported(f"spec.taints[{i}].effect", effect, ("NoSchedule", "PreferNoSchedule", "NoExecute"))


def _normalized(value: Any, normalize: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return normalize(value)
    except ValueError:
        return value  # left as sent; validation names it


def _check_time(errs: FieldErrors, value: Any, path: str) -> None:
    if value is None:
        return
    try:
        normalize_time(value)
    except ValueError:
        errs.invalid(path, value, "must be an RFC 3339 time, e.g. 2006-01-02T15:04:05.000000Z")
