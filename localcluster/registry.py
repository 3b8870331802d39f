"""Write semantics of the API (contract §3, §6, §7, §8) over the Store; also the ClusterAPI.

Every write goes: resolve → (patch) → system metadata and status rules → strategy defaulting
and validation → allocation → no-op check → managedFields → commit. Dry runs stop before the
commit. The HTTP layer and the controllers share these methods, so both see the same rules.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from localcluster import errors, strategies
from localcluster.deletion import DeleteOptions, plan_delete
from localcluster.events import EventRecorder
from localcluster.managed import (
    DEFAULT_MANAGER,
    apply_conflicts,
    apply_to,
    changed_paths,
    conflict_error,
    paths_of,
    record_manager,
)
from localcluster.namespaces import NamespaceRules
from localcluster.objects import (
    STATUS_RESET_ON_CREATE,
    SYSTEM_METADATA,
    Obj,
    deep,
    deleting,
    finalizers_of,
    meta,
    rv_of,
    same_content,
    with_metadata,
    with_type,
)
from localcluster.patch import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from localcluster.resources import STORED, ResourceType
from localcluster.selectors import parse_label_selector
from localcluster.service_alloc import ServiceAllocations
from localcluster.store import Listener, Store
from localcluster.timefmt import CLOCK, format_time

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)


def resource_type(resource: str) -> ResourceType:
    rtype = STORED.get(resource)
    if rtype is None:
        raise errors.path_not_found()
    return rtype


class Registry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.services = ServiceAllocations()
        self.namespaces = NamespaceRules(self)
        self.events = EventRecorder(self)
        self.detached = True  # writes copy their input and return copies the caller may keep

    def attached(self) -> Registry:
        """A view for callers that neither keep nor mutate what they pass and get (the HTTP
        layer): no defensive copies."""
        view = copy.copy(self)
        view.detached = False
        return view

    def _in(self, obj: Obj) -> Obj:
        return deep(obj) if self.detached else obj

    def _out(self, obj: Obj) -> Obj:
        return deep(obj) if self.detached else obj

    def bootstrap(self) -> None:
        """After a fresh start or a restore: system namespaces, allocator state."""
        self.services.reload(self.store.list_refs("services")[0])
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            if self.store.get_ref("namespaces", None, name) is None:
                self.create("namespaces", {"metadata": {"name": name}})

    # ---- ClusterAPI reads ----------------------------------------------------------------

    def get(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        obj = self.store.get_ref(resource, namespace if resource_type(resource).namespaced else None, name)
        return deep(obj) if obj is not None else None

    def list(self, resource: str, namespace: str | None = None, label_selector: str | None = None) -> list[Obj]:
        selector = parse_label_selector(label_selector) if label_selector else None
        predicate = (lambda o: selector.matches(meta(o).get("labels") or {})) if selector else None
        return deep(self.store.list_refs(resource, namespace, predicate)[0])

    def add_listener(self, listener: Listener) -> None:
        self.store.add_listener(listener)

    # ---- create ----------------------------------------------------------------------------

    def create(self, resource: str, obj: Obj, *, namespace: str | None = None, dry_run: bool = False,
               manager: str = DEFAULT_MANAGER, operation: str = "Update") -> Obj:
        rtype = resource_type(resource)
        body = with_type(self._in(obj), rtype)
        metadata = dict(meta(body))
        ns = (namespace or metadata.get("namespace") or "") if rtype.namespaced else ""
        if rtype.namespaced and not ns:
            raise errors.bad_request("the server could not find the requested resource: namespace is required")
        with self.store.writing():
            if rtype.namespaced:
                self.namespaces.check_open(ns)
            name = metadata.get("name") or ""
            if not name:
                if not metadata.get("generateName"):
                    raise errors.invalid(rtype.kind, "", [(
                        "metadata.name", "FieldValueRequired",
                        "Required value: name or generateName is required")])
                name = self._free_name(resource, ns, metadata["generateName"])
            if self.store.get_ref(resource, ns, name) is not None:
                raise errors.already_exists(rtype.qualified, name)
            new = self._prepare_create(rtype, body, ns, name, manager, operation)
            new = self.services.on_create(new, dry_run) if resource == "services" else new
            if dry_run:
                return new
            return self._out(self.store.put(resource, new, None))

    def _free_name(self, resource: str, ns: str, prefix: str) -> str:
        for _ in range(16):
            name = strategies.generate_name(prefix)
            if self.store.get_ref(resource, ns, name) is None:
                return name
        raise errors.internal(f"could not generate a free name with prefix {prefix!r}")

    def _prepare_create(self, rtype: ResourceType, body: Obj, ns: str, name: str, manager: str,
                        operation: str) -> Obj:
        now = CLOCK.utcnow()
        metadata = {k: v for k, v in meta(body).items()
                    if k not in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                                 "generation", "managedFields", "selfLink", "uid", "creationTimestamp")}
        metadata.update(name=name, uid=_uuid(), creationTimestamp=format_time(now))
        if ns:
            metadata["namespace"] = ns
        else:
            metadata.pop("namespace", None)
        new = {**body, "metadata": metadata}
        if rtype.plural in STATUS_RESET_ON_CREATE:
            new.pop("status", None)
        new = strategies.prepare_for_create(rtype.plural, new, now, metadata["uid"])
        strategies.validate(rtype.plural, new)
        return record_manager(new, manager, operation, rtype.group_version, paths_of(body), set(), None,
                              format_time(now))

    # ---- update (PUT) ----------------------------------------------------------------------

    def update(self, resource: str, obj: Obj, *, namespace: str | None = None, name: str | None = None,
               subresource: str | None = None, dry_run: bool = False,
               manager: str = DEFAULT_MANAGER) -> Obj:
        rtype = resource_type(resource)
        body = with_type(self._in(obj), rtype)
        ns = (namespace or meta(body).get("namespace") or "") if rtype.namespaced else ""
        name = name or meta(body).get("name") or ""
        with self.store.writing():
            old = self._existing(rtype, ns, name)
            given = rv_of(body)
            if not given and resource == "leases" and subresource is None:
                raise errors.invalid_object(rtype.kind, rtype.group, name, [(
                    "metadata.resourceVersion", "FieldValueInvalid",
                    "Invalid value: 0x0: must be specified for an update")])
            if given and given != rv_of(old):
                raise errors.conflict(rtype.qualified, name)
            new = self._apply_write_rules(rtype, old, body, subresource)
            return self._commit_update(rtype, old, new, dry_run=dry_run, manager=manager,
                                       subresource=subresource)

    def update_status(self, resource: str, obj: Obj, **kwargs: Any) -> Obj:
        return self.update(resource, obj, subresource="status", **kwargs)

    # ---- patch -----------------------------------------------------------------------------

    def patch(self, resource: str, namespace: str | None, name: str, patch_type: str, body: Any, *,
              subresource: str | None = None, dry_run: bool = False, manager: str = DEFAULT_MANAGER,
              force: bool = False) -> tuple[Obj, bool]:
        """Returns (object, created): an apply-patch creates when the object is absent."""
        rtype = resource_type(resource)
        ns = (namespace or "") if rtype.namespaced else ""
        if patch_type not in PATCH_TYPES:
            raise errors.unsupported_media_type(patch_type)
        if patch_type != JSON_PATCH and not isinstance(body, dict):
            raise errors.bad_request(f"the patch body for {patch_type} must be a JSON object")
        with self.store.writing():
            old = self.store.get_ref(resource, ns, name)
            if old is None and patch_type == APPLY_PATCH and subresource is None:
                _check_apply_identity(body, name, ns)
                body = with_metadata(body, name=name)
                return self.create(resource, body, namespace=ns or None, dry_run=dry_run,
                                   manager=manager, operation="Apply"), True
            if old is None:
                raise errors.not_found(rtype.qualified, name)
            if patch_type == JSON_PATCH:
                patched = apply_json_patch(old, body)
            elif patch_type == MERGE_PATCH:
                patched = apply_merge_patch(old, body)
            elif patch_type == STRATEGIC_PATCH:
                patched = apply_strategic_merge_patch(old, body)
            else:
                _check_apply_identity(body, name, ns)
                patched = apply_to(old, body, manager)
                conflicts = [] if force else apply_conflicts(old, patched, body, manager)
                if conflicts:
                    raise conflict_error(rtype.plural, rtype.group, name, conflicts)
            patched = with_type(patched, rtype)
            if meta(patched).get("name") != name:
                raise errors.bad_request("metadata.name: the name of a patched object cannot change")
            given = rv_of(patched)
            if given and given != rv_of(old):
                raise errors.conflict(rtype.qualified, name)
            new = self._apply_write_rules(rtype, old, patched, subresource)
            applied = body if patch_type == APPLY_PATCH else None
            return self._commit_update(rtype, old, new, dry_run=dry_run, manager=manager,
                                       subresource=subresource, applied=applied), False

    # ---- shared update path --------------------------------------------------------------

    def _existing(self, rtype: ResourceType, ns: str, name: str) -> Obj:
        old = self.store.get_ref(rtype.plural, ns, name)
        if old is None:
            raise errors.not_found(rtype.qualified, name)
        return old

    @staticmethod
    def _apply_write_rules(rtype: ResourceType, old: Obj, body: Obj, subresource: str | None) -> Obj:
        """System metadata and managedFields come from the stored object (the strategies then
        apply the status rules of §6); a status write passes the body through."""
        if subresource == "status":
            return body
        if subresource is not None:
            raise errors.method_not_allowed()
        metadata = dict(meta(body))
        for key in SYSTEM_METADATA:
            if key in meta(old):
                metadata[key] = meta(old)[key]
            else:
                metadata.pop(key, None)
        if meta(old).get("managedFields") is not None:
            metadata["managedFields"] = meta(old)["managedFields"]
        else:
            metadata.pop("managedFields", None)
        return {**body, "metadata": metadata}

    def _commit_update(self, rtype: ResourceType, old: Obj, new: Obj, *, dry_run: bool, manager: str,
                       subresource: str | None, applied: Obj | None = None) -> Obj:
        """Strategies, allocation, no-op check, field ownership, commit. `applied`: the
        configuration of an apply-patch (None for every other write)."""
        resource = rtype.plural
        if subresource == "status":
            new = strategies.prepare_status_update(resource, old, new)
        else:
            new = strategies.prepare_for_update(resource, old, new)
        strategies.validate(resource, new, old)
        if resource == "services" and subresource is None:
            new = self.services.on_update(old, new, dry_run)
        if same_content(old, new):
            return self._out(old)
        changed = changed_paths(old, new)
        if applied is not None:
            owned, taken, operation = paths_of(applied), changed & paths_of(applied), "Apply"
        else:
            owned, taken, operation = changed, changed, "Update"
        new = record_manager(new, manager, operation, rtype.group_version, owned, taken, subresource,
                             format_time(CLOCK.utcnow()))
        if dry_run:
            return new
        stored = self.store.put(resource, new, old)
        if deleting(stored) and not finalizers_of(stored) and (
                resource != "pods" or not meta(stored).get("deletionGracePeriodSeconds")):
            return self._out(self._remove(resource, stored))
        return self._out(stored)

    def _remove(self, resource: str, obj: Obj) -> Obj:
        last = self.store.remove(resource, obj)
        if resource == "services":
            self.services.on_remove(last)
        if resource != "namespaces" and meta(last).get("namespace"):
            self.namespaces.maybe_finalize(meta(last)["namespace"])
        return last

    # ---- delete ----------------------------------------------------------------------------

    def delete_object(self, resource: str, namespace: str | None, name: str, options: DeleteOptions,
                      dry_run: bool = False) -> tuple[Obj, bool, tuple[str, ...]]:
        """Returns (object or its last state, removed now, warnings)."""
        rtype = resource_type(resource)
        ns = (namespace or "") if rtype.namespaced else ""
        with self.store.writing():
            old = self._existing(rtype, ns, name)
            if resource == "namespaces":
                return self.namespaces.delete(old, options, dry_run), False, ()
            plan = plan_delete(resource, rtype.qualified, old, options, CLOCK.utcnow())
            if dry_run:
                return plan.obj, plan.remove, plan.warnings
            if plan.remove:
                return self._out(self._remove(resource, plan.obj)), True, plan.warnings
            if plan.obj is old or same_content(old, plan.obj):
                return self._out(old), False, plan.warnings
            return self._out(self.store.put(resource, plan.obj, old)), False, plan.warnings

    def delete(self, resource: str, namespace: str | None, name: str, propagation: str | None = None,
               grace_period_seconds: int | None = None, uid: str | None = None) -> None:
        """ClusterAPI delete: 404 is ignored."""
        options = DeleteOptions(propagation=propagation, grace_period_seconds=grace_period_seconds, uid=uid)
        try:
            self.delete_object(resource, namespace, name, options)
        except errors.ApiError as e:
            if e.code != 404:
                raise

    def remove_finalizer(self, resource: str, namespace: str | None, name: str, finalizer: str) -> None:
        rtype = resource_type(resource)
        with self.store.writing():
            old = self.store.get_ref(resource, (namespace or "") if rtype.namespaced else "", name)
            if old is None or finalizer not in finalizers_of(old):
                return
            kept = [f for f in finalizers_of(old) if f != finalizer]
            new = with_metadata(old, finalizers=kept or None)
            self._commit_update(rtype, old, new, dry_run=False, manager=DEFAULT_MANAGER, subresource=None)

    # ---- subresources and events -----------------------------------------------------------

    def bind(self, namespace: str, name: str, node: str, dry_run: bool = False) -> None:
        """pods/binding: set spec.nodeName once (409 when already bound)."""
        rtype = resource_type("pods")
        with self.store.writing():
            old = self._existing(rtype, namespace, name)
            current = (old.get("spec") or {}).get("nodeName")
            if current:
                raise errors.conflict("pods", name, f'pod {name} is already assigned to node "{current}"')
            if deleting(old):
                raise errors.conflict("pods", name, f"pod {name} is being deleted, cannot be assigned to a host")
            new = deep(old)
            new.setdefault("spec", {})["nodeName"] = node
            if not dry_run:
                self.store.put("pods", new, old)

    def record_event(self, involved: Obj, event_type: str, reason: str, message: str, component: str) -> None:
        """Create (or bump the count of) an Event; best effort, never raises (events.py)."""
        self.events.record(involved, event_type, reason, message, component)


def _check_apply_identity(body: Obj, name: str, ns: str) -> None:
    metadata = meta(body)
    if metadata.get("name") not in (None, name):
        raise errors.bad_request(
            f"metadata.name: the name of the object ({metadata.get('name')}) does not match the name on the URL ({name})")
    if ns and metadata.get("namespace") not in (None, ns):
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request")


def _uuid() -> str:
    return str(uuid.uuid4())
