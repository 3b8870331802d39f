"""The object store: objects by kind and key, one global resourceVersion, an event log.

Like etcd, the store has a single revision counter shared by all kinds; every committed change
bumps it and appends an event to a bounded log, so watches can resume from any revision still
in the window (older ones get 410 Expired). Writes that change nothing never reach the store.

Locking: one re-entrant lock guards everything. Listeners (controllers) are called after the
outermost write releases the lock, in commit order per thread. Watch subscribers get events
through their own queues, filled under the lock so that a watch start sees no gap.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from localcluster import errors
from localcluster.objects import Obj, dumps, meta, with_metadata
from localcluster.resources import STORED

Listener = Callable[[str, str, Obj], None]
Key = tuple[str, str]  # (namespace or "", name)


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    resource: str
    obj: Obj  # the state after the change (DELETED: the last state, with the delete's RV)
    old: Obj | None = None  # the state before a MODIFIED (watch selector transitions)


class Subscription:
    """One watch's feed of live events for a resource (and namespace)."""

    def __init__(self, resource: str, namespace: str | None) -> None:
        self.resource = resource
        self.namespace = namespace
        self.queue: queue.SimpleQueue[Event] = queue.SimpleQueue()

    def wants(self, event: Event) -> bool:
        if event.resource != self.resource:
            return False
        return self.namespace is None or meta(event.obj).get("namespace") == self.namespace

    def next(self, timeout: float) -> Event | None:
        try:
            return self.queue.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None


class Store:
    def __init__(self, event_window: int = 10000) -> None:
        self._lock = threading.RLock()
        self._objects: dict[str, dict[Key, Obj]] = {plural: {} for plural in STORED}
        self._rv = 0
        self._log: deque[Event] = deque()
        self._window = max(1, event_window)
        self._compacted = 0  # events with rv <= this are no longer in the log
        self._subs: set[Subscription] = set()
        self._listeners: list[Listener] = []
        self._outbox: list[Event] = []
        self._depth = 0
        self.on_commit: Callable[[], None] | None = None  # persistence's dirty flag
        self._encoded: dict[int, tuple[Obj, bytes]] = {}  # JSON of stored objects, by id

    # ---- locking and notification -------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the lock for a read-modify-write; listeners run after the outermost one."""
        with self._lock:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                outbox: list[Event] = []
                if self._depth == 0 and self._outbox:
                    outbox, self._outbox = self._outbox, []
        for event in outbox:
            for listener in list(self._listeners):
                listener(event.type, event.resource, event.obj)

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    # ---- reads ---------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def get_ref(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        """The stored object itself (read-only for the caller)."""
        return self._table(resource).get((namespace or "", name))

    def list_refs(
        self,
        resource: str,
        namespace: str | None = None,
        predicate: Callable[[Obj], bool] | None = None,
    ) -> tuple[list[Obj], int]:
        """Stored objects sorted by namespace and name, and the revision they reflect."""
        with self._lock:
            table = self._table(resource)
            rv = self._rv
            if namespace:
                items = [obj for (ns, _), obj in table.items() if ns == namespace]
            else:
                items = list(table.values())
        if predicate is not None:
            items = [obj for obj in items if predicate(obj)]
        items.sort(key=lambda obj: (meta(obj).get("namespace") or "", meta(obj)["name"]))
        return items, rv

    def encoded(self, resource: str, obj: Obj) -> bytes:
        """The JSON of `obj`, cached while it is the stored version (stored dicts never change)."""
        entry = self._encoded.get(id(obj))
        if entry is not None and entry[0] is obj:
            return entry[1]
        data = dumps(obj)
        metadata = meta(obj)
        with self._lock:
            if self._table(resource).get((metadata.get("namespace") or "", metadata.get("name", ""))) is obj:
                self._encoded[id(obj)] = (obj, data)
        return data

    def namespace_has_objects(self, namespace: str) -> bool:
        with self._lock:
            return any(ns == namespace for plural, table in self._objects.items()
                       if plural != "namespaces" for ns, _ in table)

    # ---- commits (call inside `writing()`) -----------------------------------------------

    def put(self, resource: str, obj: Obj, old: Obj | None) -> Obj:
        """Store `obj` (a new dict) at the next revision; emits ADDED or MODIFIED."""
        self._rv += 1
        stored = with_metadata(obj, resourceVersion=str(self._rv))
        metadata = meta(stored)
        key = (metadata.get("namespace") or "", metadata["name"])
        previous = self._table(resource).get(key)
        if previous is not None:
            self._encoded.pop(id(previous), None)
        self._table(resource)[key] = stored
        self._emit(Event(self._rv, "MODIFIED" if old is not None else "ADDED", resource, stored, old))
        return stored

    def remove(self, resource: str, obj: Obj) -> Obj:
        """Drop the object; emits DELETED with the last state at the delete's revision."""
        metadata = meta(obj)
        previous = self._table(resource).pop((metadata.get("namespace") or "", metadata["name"]), None)
        if previous is not None:
            self._encoded.pop(id(previous), None)
        self._rv += 1
        last = with_metadata(obj, resourceVersion=str(self._rv))
        self._emit(Event(self._rv, "DELETED", resource, last))
        return last

    def _emit(self, event: Event) -> None:
        self._log.append(event)
        while len(self._log) > self._window:
            self._compacted = self._log.popleft().rv
        for sub in self._subs:
            if sub.wants(event):
                sub.queue.put(event)
        self._outbox.append(event)
        if self.on_commit is not None:
            self.on_commit()

    # ---- watch ----------------------------------------------------------------------------

    def subscribe(
        self, resource: str, namespace: str | None, since: int | None
    ) -> tuple[list[Event], Subscription, int]:
        """Start a watch: the events to send first, the live feed after them, the revision now.

        `since=None` → a synthetic ADDED per current object; else every logged event with a
        revision above `since` (410 Expired when the log no longer reaches back that far).
        """
        with self._lock:
            probe = Subscription(resource, namespace)
            if since is None:
                objects, rv = self.list_refs(resource, namespace)
                initial = [Event(rv, "ADDED", resource, obj) for obj in objects]
            else:
                if since < self._compacted:
                    raise errors.expired(since, self._compacted + 1)
                initial = [e for e in self._log if e.rv > since and probe.wants(e)]
            self._subs.add(probe)
            return initial, probe, self._rv

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    # ---- snapshot -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "resourceVersion": self._rv,
                "objects": {plural: list(table.values()) for plural, table in self._objects.items()},
            }

    def restore(self, data: dict[str, Any]) -> None:
        """Load a snapshot; the event log starts empty, so older watches get 410."""
        with self._lock:
            self._rv = int(data.get("resourceVersion", 0))
            self._compacted = self._rv
            self._log.clear()
            self._encoded.clear()
            for plural, items in (data.get("objects") or {}).items():
                if plural not in self._objects:
                    continue
                table = self._objects[plural]
                table.clear()
                for obj in items:
                    metadata = meta(obj)
                    table[(metadata.get("namespace") or "", metadata["name"])] = obj

    def _table(self, resource: str) -> dict[Key, Obj]:
        return self._objects[resource]
