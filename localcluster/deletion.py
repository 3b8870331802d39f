"""Delete decisions (contract §8), as pure functions over the stored object and the options.

Mirrors the real registry (`apiserver/pkg/registry/generic/registry/store.go::Delete`,
`rest/delete.go::BeforeDelete`, `pod/strategy.go::CheckGracefulDelete`): preconditions, the
garbage-collection finalizers (`orphan`, `foregroundDeletion`), graceful pod deletion and the
default policy per kind (Orphan for batch/v1 Jobs, with a Warning header).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from localcluster import errors
from localcluster.objects import Obj, deleting, finalizers_of, meta, with_metadata
from localcluster.timefmt import format_time, parse_time

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
POLICIES = ("Orphan", "Background", "Foreground")
JOB_WARNING = (
    '299 - "child pods are preserved by default when jobs are deleted; set '
    "propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress "
    'this warning"'
)


@dataclass(frozen=True)
class DeleteOptions:
    propagation: str | None = None
    grace_period_seconds: int | None = None
    orphan_dependents: bool | None = None
    uid: str | None = None
    resource_version: str | None = None


@dataclass(frozen=True)
class DeletePlan:
    remove: bool  # drop it from storage now
    obj: Obj  # the object to store when not removing (equal to the stored one: nothing to write)
    warnings: tuple[str, ...] = ()


def parse_delete_options(body: Mapping[str, Any] | None, query: Mapping[str, str]) -> DeleteOptions:
    """Options from the DeleteOptions body when there is one, else from the query (trap 2)."""
    if body:
        preconditions = body.get("preconditions") or {}
        return _checked(DeleteOptions(
            propagation=body.get("propagationPolicy"),
            grace_period_seconds=_int(body.get("gracePeriodSeconds"), "gracePeriodSeconds"),
            orphan_dependents=body.get("orphanDependents"),
            uid=preconditions.get("uid"),
            resource_version=preconditions.get("resourceVersion"),
        ))
    orphan = query.get("orphanDependents")
    return _checked(DeleteOptions(
        propagation=query.get("propagationPolicy") or None,
        grace_period_seconds=_int(query.get("gracePeriodSeconds"), "gracePeriodSeconds"),
        orphan_dependents=None if orphan is None else orphan == "true",
    ))


def _int(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as e:
        raise errors.bad_request(f"{field}: invalid value {value!r}: must be an integer") from e


def _checked(options: DeleteOptions) -> DeleteOptions:
    if options.propagation is not None and options.propagation not in POLICIES:
        raise errors.bad_request(
            f'propagationPolicy: Unsupported value: "{options.propagation}": supported values: '
            + ", ".join(f'"{p}"' for p in POLICIES))
    if options.propagation is not None and options.orphan_dependents is not None:
        raise errors.bad_request("orphanDependents and propagationPolicy cannot both be set")
    return options


def check_preconditions(qualified: str, obj: Obj, options: DeleteOptions) -> None:
    metadata = meta(obj)
    name = metadata.get("name", "")
    if options.uid and options.uid != metadata.get("uid"):
        raise errors.conflict(qualified, name, (
            f"Precondition failed: UID in precondition: {options.uid}, "
            f"UID in object meta: {metadata.get('uid')}"))
    if options.resource_version and options.resource_version != metadata.get("resourceVersion"):
        raise errors.conflict(qualified, name, (
            f"Precondition failed: ResourceVersion in precondition: {options.resource_version}, "
            f"ResourceVersion in object meta: {metadata.get('resourceVersion')}"))


def gc_finalizers(resource: str, obj: Obj, options: DeleteOptions) -> list[str]:
    """The finalizer list after applying the propagation policy (explicit > existing > default)."""
    current = finalizers_of(obj)
    orphan = _should_orphan(resource, current, options)
    foreground = _should_foreground(current, options)
    kept = [f for f in current if f not in (ORPHAN, FOREGROUND)]
    if orphan:
        kept.append(ORPHAN)
    if foreground:
        kept.append(FOREGROUND)
    return current if set(kept) == set(current) else kept


def _should_orphan(resource: str, finalizers: list[str], options: DeleteOptions) -> bool:
    if options.orphan_dependents is not None:
        return options.orphan_dependents
    if options.propagation is not None:
        return options.propagation == "Orphan"
    for finalizer in finalizers:
        if finalizer == ORPHAN:
            return True
        if finalizer == FOREGROUND:
            return False
    return resource == "jobs"


def _should_foreground(finalizers: list[str], options: DeleteOptions) -> bool:
    if options.orphan_dependents is not None:
        return False
    if options.propagation is not None:
        return options.propagation == "Foreground"
    for finalizer in finalizers:
        if finalizer == FOREGROUND:
            return True
        if finalizer == ORPHAN:
            return False
    return False


def plan_delete(resource: str, qualified: str, obj: Obj, options: DeleteOptions, now: datetime) -> DeletePlan:
    check_preconditions(qualified, obj, options)
    warnings: tuple[str, ...] = ()
    if resource == "jobs" and options.propagation is None and options.orphan_dependents is None:
        warnings = (JOB_WARNING,)
    current = obj
    graceful = resource == "pods"
    grace = 0
    if graceful:
        outcome = _before_graceful_delete(obj, options, now)
        if outcome is None:  # graceful deletion already pending: nothing changes
            return DeletePlan(False, obj, warnings)
        graceful, current, grace = outcome
    finalizers = gc_finalizers(resource, current, options)
    if finalizers != finalizers_of(current):
        current = with_metadata(current, finalizers=finalizers or None)
    if not graceful:
        if finalizers:
            return DeletePlan(False, _mark_deleting(current, now), warnings)
        return DeletePlan(True, current, warnings)
    if finalizers or grace > 0:
        return DeletePlan(False, current, warnings)
    return DeletePlan(True, current, warnings)


def _before_graceful_delete(
    obj: Obj, options: DeleteOptions, now: datetime
) -> tuple[bool, Obj, int] | None:
    """(graceful, object, grace period) after BeforeDelete; None when deletion is pending."""
    metadata = meta(obj)
    requested = options.grace_period_seconds
    if requested is not None and requested < 0:
        requested = 1
    if deleting(obj):
        existing = metadata.get("deletionGracePeriodSeconds")
        if not existing:
            return False, obj, 0
        if requested is None or requested >= existing:
            return None
        started = parse_time(metadata["deletionTimestamp"]) - timedelta(seconds=existing)
        moved = with_metadata(obj, deletionTimestamp=format_time(started + timedelta(seconds=requested)),
                              deletionGracePeriodSeconds=requested)
        return True, moved, requested
    period = requested
    if period is None:
        period = int((obj.get("spec") or {}).get("terminationGracePeriodSeconds") or 0)
    status = obj.get("status") or {}
    if not (obj.get("spec") or {}).get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        period = 0
    changes: dict[str, Any] = {
        "deletionTimestamp": format_time(now + timedelta(seconds=period)),
        "deletionGracePeriodSeconds": period,
    }
    if metadata.get("generation"):
        changes["generation"] = int(metadata["generation"]) + 1
    return True, with_metadata(obj, **changes), period


def _mark_deleting(obj: Obj, now: datetime) -> Obj:
    if deleting(obj):
        return obj
    return with_metadata(obj, deletionTimestamp=format_time(now), deletionGracePeriodSeconds=0)


def delete_status(rtype_group: str, plural: str, obj: Obj) -> dict[str, Any]:
    """The `Status` body of a completed delete for kinds that do not return the object."""
    metadata = meta(obj)
    details: dict[str, Any] = {"name": metadata.get("name", ""), "kind": plural,
                               "uid": metadata.get("uid", "")}
    if rtype_group:
        details["group"] = rtype_group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": details}
