"""The seam between the API server's store and the controllers.

Controllers never touch HTTP: they read and write through a `ClusterAPI`, which the store
implements with the same semantics as the REST API (defaulting, validation, resourceVersion,
watch events, finalizers, graceful pod deletion). Objects are plain dicts in their JSON form;
what a call returns is a copy the caller may keep.

Resources are named by their plural: "namespaces", "pods", "services",
"persistentvolumeclaims", "nodes", "events", "jobs", "leases".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

Obj = dict[str, Any]
# (event type "ADDED" | "MODIFIED" | "DELETED", resource plural, object after the change)
Listener = Callable[[str, str, Obj], None]


class ClusterAPI(Protocol):
    def get(self, resource: str, namespace: str | None, name: str) -> Obj | None: ...

    def list(
        self, resource: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[Obj]: ...

    def create(self, resource: str, obj: Obj) -> Obj:
        """POST semantics; raises localcluster.errors.ApiError (409, 422, ...) like the API."""

    def update(self, resource: str, obj: Obj) -> Obj:
        """PUT of the main resource; obj carries metadata.resourceVersion (409 when stale)."""

    def update_status(self, resource: str, obj: Obj) -> Obj:
        """PUT of the /status subresource: only .status changes; 409 when stale."""

    def remove_finalizer(self, resource: str, namespace: str | None, name: str, finalizer: str) -> None:
        """Drop one finalizer; the object goes away when it was the last on a deleted object."""

    def delete(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        propagation: str | None = None,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
    ) -> None:
        """DELETE semantics (policy defaults per kind, uid precondition → 409); 404 is ignored."""

    def record_event(
        self, involved: Obj, event_type: str, reason: str, message: str, component: str
    ) -> None:
        """Create (or bump the count of) a core/v1 Event about `involved`."""

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` after every committed change, outside the store's lock."""


class Controller:
    """A controller: reacts to store events and re-checks everything every `resync_seconds`.

    Subclasses implement `sync()` (idempotent, level-based) and may narrow `interested_in`.
    Events only wake the loop; `sync()` always looks at the current state.
    """

    name = "controller"
    interested_in: frozenset[str] = frozenset()
    resync_seconds = 1.0
    min_interval_seconds = 0.0  # at least this long between passes (bursts of events coalesce)

    def __init__(self, api: ClusterAPI) -> None:
        self.api = api
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        api.add_listener(self._on_event)

    def _on_event(self, event_type: str, resource: str, obj: Obj) -> None:
        if not self.interested_in or resource in self.interested_in:
            self._wake.set()

    def sync(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        import logging

        log = logging.getLogger(f"localcluster.{self.name}")
        while not self._stop.is_set():
            self._wake.wait(self.resync_seconds)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.sync()
            except Exception:  # one bad pass must not kill the controller
                log.exception("%s sync failed", self.name)
            if self.min_interval_seconds:
                self._stop.wait(self.min_interval_seconds)
