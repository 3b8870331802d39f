"""Pure helpers over objects in their JSON form: metadata access, copies, comparisons.

Stored objects are never mutated in place: every write builds a new dict, so readers may hold
references to what the store returned to them internally.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from localcluster.resources import ResourceType

Obj = dict[str, Any]

# Kinds whose create drops any client-supplied status (the strategy sets the initial one).
STATUS_RESET_ON_CREATE = frozenset({"pods", "jobs", "services", "persistentvolumeclaims", "namespaces"})
# Kinds whose DELETE answers with the object rather than a Status (contract §8).
RETURNS_DELETED_OBJECT = frozenset({"pods", "services", "persistentvolumeclaims"})
# Metadata the client cannot change through an update.
SYSTEM_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                   "generation", "namespace", "name")



def meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def rv_of(obj: Obj) -> str:
    return str(meta(obj).get("resourceVersion") or "")


def deep(obj: Any) -> Any:
    return copy.deepcopy(obj)


def with_metadata(obj: Obj, **changes: Any) -> Obj:
    """A shallow copy of `obj` with metadata fields replaced (None removes the field)."""
    metadata = dict(meta(obj))
    for key, value in changes.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    return {**obj, "metadata": metadata}


def with_type(obj: Obj, rtype: ResourceType) -> Obj:
    return {"apiVersion": rtype.group_version, "kind": rtype.kind,
            **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}}


def same_content(old: Obj, new: Obj) -> bool:
    """True when `new` differs from `old` only by resourceVersion/managedFields (a no-op write)."""
    return _comparable(old) == _comparable(new)


def _comparable(obj: Obj) -> Obj:
    metadata = {k: v for k, v in meta(obj).items() if k not in ("resourceVersion", "managedFields")}
    return {**obj, "metadata": metadata}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def finalizers_of(obj: Obj) -> list[str]:
    return list(meta(obj).get("finalizers") or [])


def deleting(obj: Obj) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def fields_v1(value: Any) -> dict[str, Any]:
    """A minimal `fieldsV1` set for the fields `value` sets (maps by `f:key`; lists are leaves)."""
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {}
    for key, child in value.items():
        if key in ("apiVersion", "kind") or key.startswith("$"):
            continue
        if key == "metadata" and isinstance(child, dict):
            child = {k: v for k, v in child.items()
                     if k in ("labels", "annotations", "finalizers", "ownerReferences")}
            if not child:
                continue
        out[f"f:{key}"] = fields_v1(child) if isinstance(child, dict) else {}
    return out


def field_paths(fields: dict[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Leaf paths of a fieldsV1 set, as key tuples (only `f:` segments)."""
    paths: set[tuple[str, ...]] = set()
    for key, child in fields.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        if child:
            paths |= field_paths(child, path)
        else:
            paths.add(path)
    return paths


def without_path(obj: Obj, path: tuple[str, ...]) -> Obj:
    """A copy of `obj` with the field at `path` removed (missing paths are a no-op)."""
    if not path or not isinstance(obj, dict) or path[0] not in obj:
        return obj
    if len(path) == 1:
        return {k: v for k, v in obj.items() if k != path[0]}
    child = obj[path[0]]
    if not isinstance(child, dict):
        return obj
    new_child = without_path(child, path[1:])
    if new_child is child:
        return obj
    return {**obj, path[0]: new_child}
