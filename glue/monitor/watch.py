"""Watches that only shorten the reaction time: an interesting event wakes the reconcile loop.

The periodic list-based reconcile stays the truth; a watch that breaks is re-opened (counted in
`watch_restarts_total`) and nothing is lost meanwhile because the next pass lists everything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client, watch

from glue import labels
from glue.monitor import objects as o
from glue.monitor.metrics import MonitorMetrics

logger = logging.getLogger(__name__)

WATCH_TIMEOUT_S = 300


def wants_reconcile(event_type: str, kind: str, obj: Mapping[str, Any]) -> bool:
    """True for a change that may give a decision right now (pure; the watch's filter)."""
    if event_type == "DELETED":
        return kind == "Job"  # its Service, lease and queue may now be orphans
    if kind == "Job":
        return bool(o.job_failed(obj) or o.job_complete(obj) or o.cancel_requested(obj))
    if kind == "Pod":
        return o.pod_terminal(obj)
    return False


class Watcher:
    """A thread per watched kind; `wake` is set on an interesting event."""

    def __init__(self, api_client: client.ApiClient, namespace: str, wake: threading.Event,
                 metrics: MonitorMetrics, clock: Callable[[], float] = time.time,
                 timeout_s: int = WATCH_TIMEOUT_S) -> None:
        batch, core = client.BatchV1Api(api_client), client.CoreV1Api(api_client)
        self.streams = {
            "Job": (batch.list_namespaced_job, {"label_selector": labels.LABEL_JOB_ID}),
            "Pod": (core.list_namespaced_pod, {}),
        }
        self.namespace = namespace
        self.wake = wake
        self.metrics = metrics
        self.clock = clock
        self.timeout_s = timeout_s  # the server ends each watch after this; it is then re-opened
        self._stop = threading.Event()
        self._watches: list[watch.Watch] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for kind in self.streams:
            thread = threading.Thread(target=self._run, args=(kind,), name=f"watch-{kind}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for w in list(self._watches):
            w.stop()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self, kind: str) -> None:
        list_fn, kwargs = self.streams[kind]
        first = True
        while not self._stop.is_set():
            if not first:
                self.metrics.watch_restarts.inc()
            first = False
            w = watch.Watch()
            self._watches.append(w)
            try:
                for event in w.stream(list_fn, self.namespace, timeout_seconds=self.timeout_s, **kwargs):
                    self.metrics.watch_last_event.set(self.clock())
                    obj = event.get("raw_object") or {}
                    if wants_reconcile(event.get("type", ""), kind, obj):
                        logger.debug("watch %s %s %s: reconcile now", kind, event.get("type"), o.name_of(obj))
                        self.wake.set()
                    if self._stop.is_set():
                        break
            except Exception as exc:  # the watch's own boundary: log, back off, re-open
                if self._stop.is_set():
                    break
                logger.warning("watch %s broke: %s; re-opening", kind, exc)
                self._stop.wait(1.0)
            finally:
                w.stop()
                self._watches.remove(w)
