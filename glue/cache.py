"""A watch-fed cache of the objects spectrojobs manages (Jobs, Pods, Services, Leases).

One thread per kind lists the namespace with the label selector
`app.kubernetes.io/managed-by=spectrojobs`, then watches from the list's resourceVersion,
resuming from the last seen version (bookmarks included) when a watch ends, and relisting when
the server answers 410 Gone. Objects are kept as the plain dicts the API server sent; they are
replaced on every event, never mutated, so readers may hold them without copying.

The API serves `GET /job/<id>` and `GET /jobs` from here: no playbook, no API call per read.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes import client

from glue.labels import LABEL_JOB_ID, LABEL_WINDOW, MANAGED_SELECTOR

logger = logging.getLogger(__name__)

KIND_PATHS = {
    "jobs": "/apis/batch/v1/namespaces/{ns}/jobs",
    "pods": "/api/v1/namespaces/{ns}/pods",
    "services": "/api/v1/namespaces/{ns}/services",
    "leases": "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
}


class Gone(Exception):
    """The watch's resourceVersion is too old (410): relist."""


def iter_lines(response: Any) -> Iterator[bytes]:
    """Newline-delimited chunks of a streaming urllib3 response."""
    buffer = b""
    for chunk in response.stream(65536, decode_content=True):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer


def job_id_of(obj: dict) -> str | None:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(LABEL_JOB_ID)


class ClusterCache:
    """List+watch cache of one namespace; `start()` it, `stop()` it."""

    def __init__(
        self,
        api_client: client.ApiClient,
        namespace: str,
        selector: str = MANAGED_SELECTOR,
        watch_timeout_s: int = 60,
    ) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.selector = selector
        self.watch_timeout_s = watch_timeout_s
        self._objects: dict[str, dict[str, dict]] = {kind: {} for kind in KIND_PATHS}
        self._synced: set[str] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._responses: dict[str, Any] = {}
        self._threads: list[threading.Thread] = []
        self.last_event_at: float | None = None
        self.relists = 0
        self.expired = 0  # watches answered 410 Gone (each followed by a relist)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ClusterCache:
        for kind in KIND_PATHS:
            thread = threading.Thread(target=self._run, args=(kind,), name=f"cache-{kind}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, wait_s: float = 5.0) -> None:
        self._stop.set()
        for response in list(self._responses.values()):
            try:
                response.shutdown()
            except Exception:  # already closed
                logger.debug("watch response already closed")
        deadline = time.monotonic() + wait_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- reads -------------------------------------------------------------------------------
    def synced(self) -> bool:
        with self._cond:
            return len(self._synced) == len(KIND_PATHS)

    def wait_synced(self, timeout_s: float) -> bool:
        return self.wait_for(lambda cache: cache.synced(), timeout_s)

    def snapshot(self, kind: str) -> list[dict]:
        with self._cond:
            return list(self._objects[kind].values())

    def objects_of(self, job_id: str) -> dict[str, list[dict]]:
        """Every cached object of one job, by kind."""
        with self._cond:
            return {
                kind: [obj for obj in objs.values() if job_id_of(obj) == job_id]
                for kind, objs in self._objects.items()
            }

    def job_ids(self) -> set[str]:
        with self._cond:
            return {jid for objs in self._objects.values() for obj in objs.values() if (jid := job_id_of(obj))}

    def held_windows(self) -> set[int]:
        """Windows whose Lease exists with a holder (the admission state of the cluster)."""
        windows = set()
        for lease in self.snapshot("leases"):
            if not (lease.get("spec") or {}).get("holderIdentity"):
                continue
            labels = (lease.get("metadata") or {}).get("labels") or {}
            name = (lease.get("metadata") or {}).get("name", "")
            raw = labels.get(LABEL_WINDOW) or name.removeprefix("window-")
            if raw.isdigit():
                windows.add(int(raw))
        return windows

    def wait_for(self, predicate: Callable[[ClusterCache], bool], timeout_s: float) -> bool:
        """Block until `predicate(cache)` holds (re-checked on every event) or the timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                if predicate(self):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 1.0))

    # -- list + watch ------------------------------------------------------------------------
    def _run(self, kind: str) -> None:
        resource_version: str | None = None
        while not self._stop.is_set():
            try:
                if resource_version is None:
                    resource_version = self._relist(kind)
                resource_version = self._watch(kind, resource_version)
            except Gone:
                logger.info("watch of %s expired (410): relisting", kind)
                self.expired += 1
                resource_version = None
            except Exception as exc:  # the loop's one boundary: log, back off, relist
                if self._stop.is_set():
                    return
                logger.warning("watch of %s failed: %s; relisting in 1 s", kind, exc)
                resource_version = None
                self._stop.wait(1.0)

    def _get(self, kind: str, query: list[tuple[str, str]], stream: bool) -> Any:
        """GET a collection (or its watch) as a raw urllib3 response; raises on an error status."""
        path = KIND_PATHS[kind].format(ns=self.namespace)
        method, url, headers, _, _ = self.api_client.param_serialize(
            "GET", path, query_params=query, header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        timeout = (10, self.watch_timeout_s + 30) if stream else 30
        response = self.api_client.call_api(method, url, headers, _request_timeout=timeout).response
        if response.status >= 400:
            detail = response.data[:300]
            response.release_conn()
            if response.status == 410:
                raise Gone(detail)
            raise RuntimeError(f"GET {path}: HTTP {response.status}: {detail!r}")
        return response

    def _relist(self, kind: str) -> str:
        response = self._get(kind, [("labelSelector", self.selector)], stream=False)
        try:
            body = json.loads(response.data)
        finally:
            response.release_conn()
        items = {item["metadata"]["name"]: item for item in body.get("items") or []}
        with self._cond:
            self._objects[kind] = items
            self._synced.add(kind)
            self.relists += 1
            self.last_event_at = time.time()
            self._cond.notify_all()
        return body["metadata"]["resourceVersion"]

    def _watch(self, kind: str, resource_version: str) -> str:
        query = [
            ("labelSelector", self.selector), ("watch", "true"), ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(self.watch_timeout_s)),
        ]
        response = self._get(kind, query, stream=True)
        self._responses[kind] = response
        try:
            for line in iter_lines(response):
                if self._stop.is_set():
                    break
                resource_version = self._apply(kind, json.loads(line)) or resource_version
        finally:
            self._responses.pop(kind, None)
            response.release_conn()
        return resource_version

    def _apply(self, kind: str, event: dict) -> str | None:
        kind_of_event = event.get("type")
        obj = event.get("object") or {}
        if kind_of_event == "ERROR":
            if obj.get("code") == 410:
                raise Gone(obj.get("message"))
            raise RuntimeError(f"watch error: {obj.get('message')}")
        metadata = obj.get("metadata") or {}
        if kind_of_event in ("ADDED", "MODIFIED", "DELETED"):
            with self._cond:
                objects = dict(self._objects[kind])
                if kind_of_event == "DELETED":
                    objects.pop(metadata.get("name"), None)
                else:
                    objects[metadata.get("name")] = obj
                self._objects[kind] = objects
                self.last_event_at = time.time()
                self._cond.notify_all()
        return metadata.get("resourceVersion")
