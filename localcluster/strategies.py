"""Per-kind write strategies (contract §6, §13): the pure entry points the registry calls.

- `prepare_for_create(plural, obj, now, uid)`: initial status, generation, defaults, admission.
- `prepare_for_update(plural, old, new)`: stored status and system metadata, defaults, kept
  allocations, generation bumped only when `spec` changed.
- `prepare_status_update(plural, old, new)`: only `.status` changes.
- `validate(plural, obj, old=None)`: one 422 `Invalid` with every cause.
- `validate_lease_update(obj)`: a Lease PUT needs a resourceVersion.
- `semantically_equal(a, b)`: a no-op write (ignores resourceVersion and managedFields times).

Inputs are never mutated; every function returns a new object.
"""

from __future__ import annotations

import copy
import random
from datetime import datetime
from typing import Any

from localcluster import strategy_job as job
from localcluster import strategy_misc as misc
from localcluster import strategy_pod as pod
from localcluster import strategy_service as service
from localcluster.resources import STORED
from localcluster.strategy_common import FieldErrors, check_metadata, require_object
from localcluster.timefmt import format_time

GENERATIONAL = frozenset({"pods", "jobs"})
STATUS_SUBRESOURCE = frozenset({"pods", "jobs", "services", "persistentvolumeclaims", "nodes", "namespaces"})
SYSTEM_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                   "namespace")
NAME_RULES = {"services": "dns1035", "namespaces": "label"}
GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
MAX_GENERATED_PREFIX = 58


def generate_name(prefix: str, rand: random.Random | None = None) -> str:
    """`generateName` → prefix (cut to 58 characters) plus 5 characters of the API alphabet."""
    pick = (rand or random).choice
    return prefix[:MAX_GENERATED_PREFIX] + "".join(pick(GENERATE_ALPHABET) for _ in range(5))


def prepare_for_create(resource_plural: str, obj: dict[str, Any], now: datetime | str | None = None,
                       uid: str | None = None) -> dict[str, Any]:
    out = copy.deepcopy(require_object(obj, resource_plural))
    metadata = out.setdefault("metadata", {})
    metadata.pop("selfLink", None)
    if uid is not None:
        metadata["uid"] = uid
    if now is not None:
        metadata["creationTimestamp"] = now if isinstance(now, str) else format_time(now)
    if resource_plural in GENERATIONAL:
        metadata["generation"] = 1
    if resource_plural in STATUS_SUBRESOURCE and resource_plural != "nodes":
        out.pop("status", None)
    if resource_plural == "pods":
        out = pod.default_pod(out)
        out["status"] = {"phase": "Pending", "qosClass": pod.qos_class(out["spec"])}
    elif resource_plural == "jobs":
        out = job.default_job(out)
        out["status"] = job.initial_status()
    elif resource_plural == "services":
        out = service.default_service(out)
        out["status"] = service.initial_status()
    elif resource_plural == "persistentvolumeclaims":
        out = misc.default_pvc(misc.admit_pvc(out))
        out["status"] = {"phase": "Pending"}
    elif resource_plural == "namespaces":
        out = misc.initial_namespace(misc.default_namespace(out))
    else:
        out = _default_other(resource_plural, out)
    return out


def prepare_for_update(resource_plural: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(require_object(new, resource_plural))
    metadata = out.setdefault("metadata", {})
    old_meta = old.get("metadata") or {}
    metadata.pop("selfLink", None)
    for key in SYSTEM_METADATA:
        if key in old_meta:
            metadata[key] = copy.deepcopy(old_meta[key])
        else:
            metadata.pop(key, None)
    if resource_plural in STATUS_SUBRESOURCE:
        if "status" in old:
            out["status"] = copy.deepcopy(old["status"])
        else:
            out.pop("status", None)
    if resource_plural == "pods":
        out = pod.default_pod(out)
    elif resource_plural == "jobs":
        out = job.default_job(out)
    elif resource_plural == "services":
        out = service.default_service(service.patch_allocated_values(old, out))
    elif resource_plural == "persistentvolumeclaims":
        out = misc.default_pvc(out)
    elif resource_plural == "namespaces":
        out = misc.default_namespace(out)
        out["spec"] = copy.deepcopy(old.get("spec") or {})
    else:
        out = _default_other(resource_plural, out)
    if resource_plural in GENERATIONAL:
        generation = int(old_meta.get("generation") or 1)
        out["metadata"]["generation"] = generation + (1 if out.get("spec") != old.get("spec") else 0)
    return out


def prepare_status_update(resource_plural: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Only `.status` comes from `new`; a pod's `qosClass` is kept when the writer omits it."""
    out = copy.deepcopy(old)
    status = copy.deepcopy(require_object(new, resource_plural).get("status"))
    if status is None:
        out.pop("status", None)
        return out
    if resource_plural == "pods" and isinstance(status, dict):
        qos = (old.get("status") or {}).get("qosClass")
        if qos and "qosClass" not in status:
            status["qosClass"] = qos
    out["status"] = status
    return out


def _default_other(resource_plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    if resource_plural == "leases":
        return misc.default_lease(obj)
    if resource_plural == "events":
        return misc.default_event(obj)
    return obj


def validate(resource_plural: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    """Raise one 422 `Invalid` (causes named by field) if `obj` breaks the kind's rules."""
    rtype = STORED.get(resource_plural)
    kind, group = (rtype.kind, rtype.group) if rtype else (resource_plural, "")
    errs = FieldErrors()
    check_metadata(errs, obj, NAME_RULES.get(resource_plural, "subdomain"))
    checks = {
        "pods": lambda: pod.validate_pod_spec(errs, obj.get("spec"), "spec"),
        "jobs": lambda: job.validate_job(errs, obj),
        "services": lambda: service.validate_service(errs, obj),
        "persistentvolumeclaims": lambda: misc.validate_pvc(errs, obj),
        "leases": lambda: misc.validate_lease(errs, obj),
        "events": lambda: misc.validate_event(errs, obj),
        "nodes": lambda: misc.validate_node(errs, obj),
    }
    if resource_plural in checks:
        checks[resource_plural]()
    if old is not None:
        updates = {"pods": pod.validate_pod_update, "jobs": job.validate_job_update,
                   "services": service.validate_service_update,
                   "persistentvolumeclaims": misc.validate_pvc_update}
        if resource_plural in updates:
            updates[resource_plural](errs, old, obj)
    errs.raise_if_any(kind, (obj.get("metadata") or {}).get("name") or "", group)


def validate_lease_update(obj: dict[str, Any]) -> None:
    """A Lease PUT must carry `metadata.resourceVersion` (`AllowUnconditionalUpdate=false`)."""
    if not (obj.get("metadata") or {}).get("resourceVersion"):
        errs = FieldErrors()
        errs.causes.append(("metadata.resourceVersion", "FieldValueInvalid",
                            "Invalid value: 0x0: must be specified for an update"))
        errs.raise_if_any("Lease", (obj.get("metadata") or {}).get("name") or "", "coordination.k8s.io")


def semantically_equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when a write of `b` over `a` changes nothing a client can see besides bookkeeping:
    `metadata.resourceVersion` and the `time` of managedFields entries are ignored."""
    return _comparable(a) == _comparable(b)


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
    if isinstance(metadata.get("managedFields"), list):
        metadata["managedFields"] = [{k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e
                                     for e in metadata["managedFields"]]
    return {**obj, "metadata": metadata}
