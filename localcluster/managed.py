"""managedFields: who owns which field (server-side apply, contract §7).

Field sets are coarse but consistent: maps are walked down to their leaves, a list is one leaf
(the real server tracks list items by key). Ownership follows the real rules:
- create: the writer owns every field its request set;
- update (PUT, merge/strategic/json patch, status writes): the writer gains the fields whose value
  changed, and every other manager loses them;
- apply: the writer owns exactly the fields of its configuration; fields it applied before and
  dropped now are removed from the object unless another manager owns them too; a field whose
  value the apply would change and that another manager owns is a conflict (409, unless
  `force=true`, which takes the field over).
"""

from __future__ import annotations

from typing import Any

from localcluster import errors
from localcluster.objects import Obj, field_paths, fields_v1, meta, with_metadata, without_path
from localcluster.patch import apply_strategic_merge_patch

DEFAULT_MANAGER = "localcluster"
Path = tuple[str, ...]
_MISSING = object()


def manager_from_user_agent(user_agent: str | None) -> str:
    """The real server's default field manager: the User-Agent up to the first '/'."""
    text = (user_agent or "").split("/", 1)[0].strip()
    return text[:128] or "unknown"


def paths_of(value: Any) -> set[Path]:
    return field_paths(fields_v1(value))


def value_at(obj: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def changed_paths(old: Obj, new: Obj) -> set[Path]:
    return {p for p in paths_of(old) | paths_of(new) if value_at(old, p) != value_at(new, p)}


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return root


def _entry_paths(entry: dict[str, Any]) -> set[Path]:
    return field_paths(entry.get("fieldsV1") or {})


def record_manager(obj: Obj, manager: str, operation: str, api_version: str, owned: set[Path],
                   taken: set[Path], subresource: str | None, now: str) -> Obj:
    """`manager` owns `owned` (Apply: exactly; Update: in addition to what it had); every other
    manager loses `taken`; entries left without fields disappear."""
    entries = []
    previous: set[Path] = set()
    for entry in meta(obj).get("managedFields") or []:
        if (entry.get("manager"), entry.get("operation"), entry.get("subresource")) == (
                manager, operation, subresource):
            previous = _entry_paths(entry)
            continue
        paths = _entry_paths(entry)
        if paths & taken:
            paths -= taken
            if not paths:
                continue
            entry = {**entry, "fieldsV1": to_fields_v1(paths)}
        entries.append(entry)
    mine = owned if operation == "Apply" else previous | owned
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now,
             "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(mine)}
    if subresource:
        entry["subresource"] = subresource
    return with_metadata(obj, managedFields=[*entries, entry])


def _applied_paths(obj: Obj, manager: str) -> set[Path]:
    for entry in meta(obj).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            return _entry_paths(entry)
    return set()


def _paths_of_others(obj: Obj, manager: str) -> set[Path]:
    others: set[Path] = set()
    for entry in meta(obj).get("managedFields") or []:
        if entry.get("manager") != manager:
            others |= _entry_paths(entry)
    return others


def apply_to(live: Obj, applied: Obj, manager: str) -> Obj:
    """Merge an applied configuration into the live object for `manager`."""
    merged = apply_strategic_merge_patch(live, applied)
    dropped = _applied_paths(live, manager) - paths_of(applied) - _paths_of_others(live, manager)
    for path in sorted(dropped):
        merged = without_path(merged, path)
    return merged


def apply_conflicts(live: Obj, merged: Obj, applied: Obj, manager: str) -> list[tuple[str, Path]]:
    """(manager description, path) for every field the apply changes that another manager owns."""
    changing = changed_paths(live, merged) & paths_of(applied)
    found = []
    for entry in meta(live).get("managedFields") or []:
        if entry.get("manager") == manager or not changing:
            continue
        who = f'"{entry.get("manager")}"'
        if entry.get("operation") == "Update":
            who += f" using {entry.get('apiVersion')}"
        found += [(who, path) for path in sorted(_entry_paths(entry) & changing)]
    return found


def conflict_error(plural: str, group: str, name: str, conflicts: list[tuple[str, Path]]) -> errors.ApiError:
    """409 in the real wording: `Apply failed with 1 conflict: conflict with "m" using v1: .spec.x`."""
    by_manager: dict[str, list[str]] = {}
    for who, path in conflicts:
        by_manager.setdefault(who, []).append("." + ".".join(path))
    count = len(conflicts)
    lines = []
    for who, fields in by_manager.items():
        if len(fields) == 1:
            lines.append(f"conflict with {who}: {fields[0]}")
        else:
            lines.append(f"conflicts with {who}:\n- " + "\n- ".join(fields))
    message = f"Apply failed with {count} conflict{'s' if count > 1 else ''}: " + "\n".join(lines)
    details: dict[str, Any] = {"name": name, "kind": plural, "causes": [
        {"type": "FieldManagerConflict", "message": f"conflict with {who}", "field": "." + ".".join(path)}
        for who, path in conflicts]}
    if group:
        details["group"] = group
    return errors.ApiError(409, "Conflict", message, details)
