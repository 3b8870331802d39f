"""managedFields (server-side apply bookkeeping), minimal but consistent (contract §7).

Each write records one entry per (manager, operation, subresource) with the set of fields the
request set. An apply-patch merges like a strategic merge patch and then drops the fields this
manager applied before but no longer applies. Ownership conflicts between managers are not
detected (the contract's MAY): `force` is accepted and changes nothing.
"""

from __future__ import annotations

from typing import Any

from localcluster.objects import Obj, field_paths, fields_v1, meta, with_metadata, without_path
from localcluster.patch import apply_strategic_merge_patch

DEFAULT_MANAGER = "localcluster"


def manager_from_user_agent(user_agent: str | None) -> str:
    """The real server's default field manager: the User-Agent up to the first '/'."""
    text = (user_agent or "").split("/", 1)[0].strip()
    return text[:128] or "unknown"


def record_manager(obj: Obj, manager: str, operation: str, api_version: str, fields_source: Any,
                   subresource: str | None, now: str) -> Obj:
    fields = fields_v1(fields_source)
    entries = []
    for entry in meta(obj).get("managedFields") or []:
        same = (entry.get("manager") == manager and entry.get("operation") == operation
                and entry.get("subresource") == subresource)
        if not same:
            entries.append(entry)
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now,
             "fieldsType": "FieldsV1", "fieldsV1": fields}
    if subresource:
        entry["subresource"] = subresource
    entries.append(entry)
    return with_metadata(obj, managedFields=entries)


def applied_fields(obj: Obj, manager: str) -> dict[str, Any]:
    for entry in meta(obj).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            return entry.get("fieldsV1") or {}
    return {}


def apply_to(live: Obj, applied: Obj, manager: str) -> Obj:
    """Merge an applied configuration into the live object for `manager`."""
    merged = apply_strategic_merge_patch(live, applied)
    dropped = field_paths(applied_fields(live, manager)) - field_paths(fields_v1(applied))
    for path in sorted(dropped):
        merged = without_path(merged, path)
    return merged
