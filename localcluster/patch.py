"""The three patch engines (contract §7). Pure: inputs are never mutated.

- `apply_merge_patch`: RFC 7386 (maps merge, `null` deletes, lists replace).
- `apply_json_patch`: RFC 6902 through the `jsonpatch` package; any failure is a 422.
- `apply_strategic_merge_patch`: merge patch plus the list merge keys of the built-in kinds
  (by field path), the `$patch`, `$retainKeys` and `$deleteFromPrimitiveList/` directives, and
  `$setElementOrder/` accepted and ignored. Ansible sends the full object as an SMP, so merging
  lists by key is what keeps server-defaulted fields inside list items.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from localcluster.errors import ApiError, bad_request

PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE = "$deleteFromPrimitiveList/"
SET_ELEMENT_ORDER = "$setElementOrder/"
SET = "<set>"  # merge strategy of primitive lists that merge as a set

_CONTAINER_LISTS = {"env": "name", "ports": "containerPort", "volumeMounts": "mountPath",
                    "volumeDevices": "devicePath"}
_POD_SPEC_LISTS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name",
                   "volumes": "name", "imagePullSecrets": "name", "schedulingGates": "name",
                   "resourceClaims": "name", "hostAliases": "ip"}
_CONTAINER_FIELDS = ("containers", "initContainers", "ephemeralContainers")


def merge_key(path: tuple[str, ...]) -> str | None:
    """The merge key of the list at `path` (field names from the root, list indices dropped):
    a field name, `SET` for a primitive set, or None for a list that replaces."""
    if not path:
        return None
    field, parent = path[-1], path[:-1]
    if parent and parent[-1] in _CONTAINER_FIELDS and field in _CONTAINER_LISTS:
        return _CONTAINER_LISTS[field]
    if parent and parent[-1] == "spec" and field in _POD_SPEC_LISTS:
        return _POD_SPEC_LISTS[field]
    if path == ("spec", "ports"):  # Service (pod ports live under containers)
        return "port"
    if parent and parent[-1] == "metadata":
        return {"ownerReferences": "uid", "finalizers": SET}.get(field)
    if parent and parent[-1] == "status":
        return {"conditions": "type", "addresses": "type", "podIPs": "ip", "hostIPs": "ip"}.get(field)
    return None


def apply_merge_patch(obj: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; returns a new document."""
    return _merge_owned(copy.deepcopy(obj), patch)


def _merge_owned(target: Any, patch: Any) -> Any:
    """Merge into `target`, a private copy that may be changed in place."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_owned(result.get(key), value)
    return result


def apply_json_patch(obj: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch; a malformed patch or a failing operation (including `test`) is a 422."""
    if not isinstance(ops, list):
        raise _unprocessable(f"json patch must be a list of operations, got {type(ops).__name__}")
    try:
        return jsonpatch.JsonPatch(ops).apply(obj, in_place=False)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError,
            KeyError, IndexError, ValueError) as e:
        raise _unprocessable(f"the json patch could not be applied: {e}") from e


def apply_strategic_merge_patch(obj: Any, patch: Any) -> dict[str, Any]:
    """Strategic merge patch of `patch` into `obj`; returns a new document."""
    if not isinstance(patch, dict):
        raise bad_request(f"strategic merge patch body must be a JSON object, got {type(patch).__name__}")
    base = copy.deepcopy(obj) if isinstance(obj, dict) else {}
    merged = _merge_map(base, patch, ())
    return merged if merged is not None else {}


# Below, `original` is always a private copy of the live object: merging changes it in place,
# and values taken from the patch are copied, so neither input is ever shared with the result.

def _merge_map(original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]) -> dict | None:
    """Merge one map; returns None when the patch says `$patch: delete`."""
    directive = patch.get(PATCH)
    if directive == "delete":
        return None
    if directive == "replace":
        return _strip_directives(patch)
    if directive not in (None, "merge"):
        raise bad_request(f"{_where(path)}: unknown patch directive {PATCH}: {directive!r}")
    result = original
    deletions: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in (PATCH, RETAIN_KEYS) or key.startswith(SET_ELEMENT_ORDER):
            continue
        if key.startswith(DELETE_FROM_PRIMITIVE):
            if not isinstance(value, list):
                raise bad_request(f"{_where(path)}: {key} must be a list")
            deletions[key[len(DELETE_FROM_PRIMITIVE):]] = value
            continue
        if value is None:
            result.pop(key, None)
            continue
        merged = _merge_value(result.get(key), value, path + (key,))
        if merged is _DELETE:
            result.pop(key, None)
        else:
            result[key] = merged
    for field, values in deletions.items():
        current = result.get(field)
        if isinstance(current, list):
            result[field] = [v for v in current if v not in values]
    retain = patch.get(RETAIN_KEYS)
    if retain is not None:
        if not isinstance(retain, list):
            raise bad_request(f"{_where(path)}: {RETAIN_KEYS} must be a list of field names")
        result = {k: v for k, v in result.items() if k in retain}
    return result


_DELETE = object()


def _merge_value(original: Any, patch: Any, path: tuple[str, ...]) -> Any:
    if isinstance(patch, dict):
        merged = _merge_map(original if isinstance(original, dict) else {}, patch, path)
        return _DELETE if merged is None else merged
    if isinstance(patch, list):
        key = merge_key(path)
        if key is None:
            return copy.deepcopy(patch)
        original = original if isinstance(original, list) else []
        if key == SET:
            return _merge_set(original, patch)
        return _merge_keyed_list(original, patch, key, path)
    return copy.deepcopy(patch)


def _merge_set(original: list[Any], patch: list[Any]) -> list[Any]:
    if any(isinstance(v, dict) and v.get(PATCH) == "replace" for v in patch):
        return [copy.deepcopy(v) for v in patch if not isinstance(v, dict)]
    patch_items = [v for v in patch if not isinstance(v, dict)]
    merged = list(original) + [v for v in patch_items if v not in original]
    server_only = [v for v in merged if v not in patch_items]
    return _interleave(server_only, _dedupe(patch_items), original, lambda v: v)


def _merge_keyed_list(original: list[Any], patch: list[Any], key: str, path: tuple[str, ...]) -> list:
    if not all(isinstance(v, dict) for v in patch + original):
        return copy.deepcopy(patch)
    for item in patch:
        if item.get(PATCH, "delete") not in ("delete", "replace"):
            raise bad_request(f"{_where(path)}: list items may only carry {PATCH}: delete or replace, "
                              f"got {item.get(PATCH)!r}")
    if any(v.get(PATCH) == "replace" for v in patch):  # the whole list becomes the plain items
        return _strip_list([v for v in patch if PATCH not in v])
    merged = list(original)
    patch_keys: list[Any] = []
    for i, item in enumerate(patch):
        if key not in item:
            raise bad_request(f"{_where(path)}[{i}]: map does not contain the merge key {key!r}")
        ident = item[key]
        index = next((n for n, v in enumerate(merged) if v.get(key) == ident), None)
        if item.get(PATCH) == "delete":
            merged = [v for v in merged if v.get(key) != ident]
            continue
        patch_keys.append(ident)
        if index is None:
            merged.append(_strip_directives(item))
        else:
            merged[index] = _merge_map(merged[index], item, path) or {}
    patch_items = [next(v for v in merged if v.get(key) == k) for k in _dedupe(patch_keys)]
    server_only = [v for v in merged if v.get(key) not in patch_keys]
    return _interleave(server_only, patch_items, original, lambda v: v.get(key))


def _interleave(server_only: list, patch_items: list, original: list, ident) -> list:
    """Order as the real server does (`normalizeElementOrder` + `mergeSortedSlice`): patch items
    keep the patch order, server-only items keep the server order, and a server-only item goes
    before a patch item only when both are in the live list and it came first there (so items new
    to the server land before the remaining server-only items)."""
    order = [ident(v) for v in original]

    def position(item: Any) -> int:
        value = ident(item)
        return order.index(value) if value in order else -1

    result, i, j = [], 0, 0
    while i < len(server_only) and j < len(patch_items):
        left, right = position(server_only[i]), position(patch_items[j])
        if left >= 0 and right >= 0 and left < right:
            result.append(server_only[i])
            i += 1
        else:
            result.append(patch_items[j])
            j += 1
    return result + server_only[i:] + patch_items[j:]


def _dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _strip_list(items: list[Any]) -> list[Any]:
    return [_strip_directives(v) if isinstance(v, dict) else copy.deepcopy(v) for v in items]


def _strip_directives(value: dict[str, Any]) -> dict[str, Any]:
    """A patch fragment as plain data: directives removed, nulls dropped, at every level."""
    out: dict[str, Any] = {}
    for k, v in value.items():
        if k in (PATCH, RETAIN_KEYS) or k.startswith((SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE)):
            continue
        if v is None:
            continue
        if isinstance(v, dict):
            out[k] = _strip_directives(v)
        elif isinstance(v, list):
            out[k] = _strip_list(v)
        else:
            out[k] = v
    return out


def _where(path: tuple[str, ...]) -> str:
    return ".".join(path) or "<root>"


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)
