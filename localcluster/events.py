"""core/v1 Events recorded for the controllers (`ClusterAPI.record_event`).

Like the real event recorder: a repeat of the same (object, type, reason, message) bumps `count`
and `lastTimestamp`; a rejected event (e.g. into a terminating namespace) is logged and dropped,
never raised into the controller. Events expire EVENT_TTL_SECONDS after they were last seen.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from localcluster import errors
from localcluster.objects import Obj, meta
from localcluster.timefmt import CLOCK, format_time

if TYPE_CHECKING:
    from localcluster.registry import Registry

log = logging.getLogger("localcluster.events")
EVENT_TTL_SECONDS = 3600
EVENT_SWEEP_EVERY = 100  # events created between two sweeps for expired ones


class EventRecorder:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._index: dict[tuple[str, str, str, str, str], str] = {}
        self._created = 0

    def record(self, involved: Obj, event_type: str, reason: str, message: str, component: str) -> None:
        try:
            self._record(involved, event_type, reason, message, component)
        except errors.ApiError as e:
            log.debug("event %s/%s about %s dropped: %s", event_type, reason, meta(involved).get("name"), e.message)

    def _record(self, involved: Obj, event_type: str, reason: str, message: str, component: str) -> None:
        store = self.registry.store
        imeta = meta(involved)
        ns = imeta.get("namespace") or "default"
        key = (ns, imeta.get("uid") or imeta.get("name", ""), reason, message, event_type)
        now = format_time(CLOCK.utcnow())
        with store.writing():
            existing_name = self._index.get(key)
            existing = store.get_ref("events", ns, existing_name) if existing_name else None
            if existing is not None:
                bumped = {**existing, "count": int(existing.get("count") or 1) + 1, "lastTimestamp": now}
                store.put("events", bumped, existing)
                return
            ref = {"kind": involved.get("kind"), "namespace": imeta.get("namespace"),
                   "name": imeta.get("name"), "uid": imeta.get("uid"),
                   "apiVersion": involved.get("apiVersion"), "resourceVersion": imeta.get("resourceVersion")}
            event = {
                "metadata": {"name": f"{imeta.get('name', 'object')}.{time.time_ns():x}", "namespace": ns},
                "involvedObject": {k: v for k, v in ref.items() if v},
                "reason": reason, "message": message, "type": event_type,
                "source": {"component": component},
                "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                "reportingComponent": component, "reportingInstance": "",
            }
            created = self.registry.create("events", event)
            self._index[key] = meta(created)["name"]
            self._created += 1
            if self._created % EVENT_SWEEP_EVERY == 0:
                self._expire()

    def _expire(self) -> None:
        """Drop events last seen more than EVENT_TTL_SECONDS ago (the real apiserver's 1 h TTL)."""
        store = self.registry.store
        cutoff = format_time(CLOCK.utcnow() - timedelta(seconds=EVENT_TTL_SECONDS))
        for event in store.list_refs("events")[0]:
            if (event.get("lastTimestamp") or meta(event).get("creationTimestamp") or "") < cutoff:
                self.registry.delete("events", meta(event).get("namespace"), meta(event)["name"])
        live = {meta(e)["name"] for e in store.list_refs("events")[0]}
        self._index = {k: v for k, v in self._index.items() if v in live}
