"""The garbage collector: ownerReferences → dependents (contract §13 "Garbage collector").

`gc_actions` is a pure function of a snapshot of every object; the controller re-checks an
owner that looks gone with a live GET before acting (the snapshot is not atomic).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from localcluster.controllers.base import Controller, Obj
from localcluster.controllers.jobs import TRACKING_FINALIZER
from localcluster.errors import ApiError
from localcluster.resources import RESOURCES

log = logging.getLogger(__name__)
KINDS = ("namespaces", "nodes", "jobs", "pods", "services", "persistentvolumeclaims", "leases")
_PLURAL = {(r.group, r.kind): r.plural for r in RESOURCES if r.group != "metrics.k8s.io"}


@dataclass(frozen=True)
class Action:
    verb: str  # "delete" | "drop_refs" | "remove_finalizer"
    resource: str
    obj: Obj
    owner_uids: tuple[str, ...] = ()  # drop_refs: the refs to drop; else the owners found gone
    finalizer: str = ""
    recheck: bool = False  # True when the action rests on owners missing from the snapshot


def plural_of(ref: Obj) -> str | None:
    group = ref.get("apiVersion", "").rpartition("/")[0]
    return _PLURAL.get((group, ref.get("kind", "")))


def _deleting(obj: Obj) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def _valid_owner(owner: Obj | None, dependent: Obj) -> bool:
    if owner is None:
        return False
    owner_ns = owner["metadata"].get("namespace")
    return not owner_ns or owner_ns == dependent["metadata"].get("namespace")


def gc_actions(snapshot: dict[str, list[Obj]]) -> list[Action]:
    by_uid = {o["metadata"]["uid"]: o for objs in snapshot.values() for o in objs}
    dependents: dict[str, list[tuple[str, Obj, Obj]]] = {}
    actions: list[Action] = []
    for resource, objs in snapshot.items():
        for obj in objs:
            refs = obj["metadata"].get("ownerReferences") or []
            dead = tuple(r["uid"] for r in refs if not _valid_owner(by_uid.get(r.get("uid", "")), obj))
            for ref in refs:
                if ref["uid"] not in dead:
                    dependents.setdefault(ref["uid"], []).append((resource, obj, ref))
            if dead and not _deleting(obj):
                verb = "delete" if len(dead) == len(refs) else "drop_refs"
                actions.append(Action(verb, resource, obj, dead, recheck=True))
            if resource == "pods" and TRACKING_FINALIZER in (obj["metadata"].get("finalizers") or []):
                live_job = any(r.get("kind") == "Job" and r.get("controller") and r["uid"] not in dead for r in refs)
                if not live_job:
                    actions.append(Action("remove_finalizer", resource, obj, dead, TRACKING_FINALIZER, bool(dead)))
    for resource, objs in snapshot.items():
        for owner in objs:
            if not _deleting(owner):
                continue
            finalizers = owner["metadata"].get("finalizers") or []
            deps = dependents.get(owner["metadata"]["uid"], [])
            if "orphan" in finalizers:
                actions.extend(Action("drop_refs", r, d, (owner["metadata"]["uid"],)) for r, d, _ in deps)
                if not deps:
                    actions.append(Action("remove_finalizer", resource, owner, finalizer="orphan"))
            elif "foregroundDeletion" in finalizers:
                actions.extend(Action("delete", r, d) for r, d, _ in deps if not _deleting(d))
                if not any(ref.get("blockOwnerDeletion") for _, _, ref in deps):
                    actions.append(Action("remove_finalizer", resource, owner, finalizer="foregroundDeletion"))
    return actions


class GarbageCollector(Controller):
    name = "garbage-collector"
    interested_in = frozenset(KINDS)
    resync_seconds = 1.0
    min_interval_seconds = 0.1

    def sync(self) -> None:
        snapshot = {kind: self.api.list(kind) for kind in KINDS}
        for action in gc_actions(snapshot):
            try:
                self._apply(action)
            except ApiError as e:
                if e.code not in (404, 409):
                    raise
                self._wake.set()

    def _owner_alive(self, dependent: Obj, uid: str) -> bool:
        """Live re-check of an owner that the snapshot did not contain."""
        for ref in dependent["metadata"].get("ownerReferences") or []:
            if ref.get("uid") != uid:
                continue
            plural = plural_of(ref)
            if plural is None:
                return False
            namespaced = next((r.namespaced for r in RESOURCES if r.plural == plural), True)
            owner = self.api.get(plural, dependent["metadata"].get("namespace") if namespaced else None, ref["name"])
            return owner is not None and owner["metadata"]["uid"] == uid
        return False

    def _apply(self, action: Action) -> None:
        meta = action.obj["metadata"]
        namespace, name = meta.get("namespace"), meta["name"]
        if action.recheck and any(self._owner_alive(action.obj, uid) for uid in action.owner_uids):
            return
        if action.verb == "delete":
            log.info("gc: deleting %s %s/%s (owner gone or deleting)", action.resource, namespace, name)
            self.api.delete(action.resource, namespace, name, propagation="Background", uid=meta["uid"])
        elif action.verb == "drop_refs":
            current = self.api.get(action.resource, namespace, name)
            if current is None or current["metadata"]["uid"] != meta["uid"]:
                return
            refs = [r for r in current["metadata"].get("ownerReferences") or [] if r.get("uid") not in action.owner_uids]
            self.api.update(action.resource, {**current, "metadata": {**current["metadata"], "ownerReferences": refs}})
        else:
            self.api.remove_finalizer(action.resource, namespace, name, action.finalizer)

