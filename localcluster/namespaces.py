"""Namespace lifecycle: creation into a missing or terminating namespace, cascading deletion.

A deleted namespace turns `Terminating` (deletionTimestamp, `status.phase`), every object in it
is deleted with Background propagation (pods gracefully), and the namespace itself goes away
once nothing is left in it — the namespace controller's job, done inline here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcluster import errors
from localcluster.deletion import DeleteOptions
from localcluster.objects import Obj, deep, deleting, meta, with_metadata
from localcluster.resources import STORED
from localcluster.timefmt import CLOCK, format_time

IMMORTAL = ("default", "kube-system", "kube-public")

if TYPE_CHECKING:
    from localcluster.registry import Registry


class NamespaceRules:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def check_open(self, namespace: str) -> None:
        """Creating into `namespace` needs it to exist and not be terminating."""
        ns = self.registry.store.get_ref("namespaces", None, namespace)
        if ns is None:
            raise errors.not_found("namespaces", namespace)
        if deleting(ns):
            raise errors.forbidden(
                "namespaces", namespace,
                f"unable to create new content in namespace {namespace} because it is being terminated")

    def delete(self, ns_obj: Obj, options: DeleteOptions, dry_run: bool) -> Obj:
        from localcluster.deletion import check_preconditions

        check_preconditions("namespaces", ns_obj, options)
        name = meta(ns_obj)["name"]
        if name in IMMORTAL:
            raise errors.forbidden("namespaces", name, "this namespace may not be deleted")
        store = self.registry.store
        terminating = ns_obj
        if not deleting(ns_obj):
            terminating = with_metadata(ns_obj, deletionTimestamp=format_time(CLOCK.utcnow()),
                                        deletionGracePeriodSeconds=0)
            terminating = {**terminating, "status": {**(ns_obj.get("status") or {}), "phase": "Terminating"}}
            if dry_run:
                return terminating
            terminating = store.put("namespaces", terminating, ns_obj)
        elif dry_run:
            return deep(ns_obj)
        result = deep(terminating)
        for plural, rtype in STORED.items():
            if not rtype.namespaced:
                continue
            for obj in store.list_refs(plural, name)[0]:
                self.registry.delete(plural, name, meta(obj)["name"], propagation="Background")
        self.maybe_finalize(name)
        return result

    def maybe_finalize(self, namespace: str) -> None:
        """Remove a terminating namespace once it holds no objects."""
        store = self.registry.store
        ns = store.get_ref("namespaces", None, namespace)
        if ns is None or not deleting(ns) or store.namespace_has_objects(namespace):
            return
        store.remove("namespaces", ns)
