"""`pods/{name}/log?follow=true`: the log so far, then what the container writes until it stops."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from localcluster.objects import Obj
from localcluster.store import Store

LogPath = Callable[[str, str, str], Path]  # (namespace, pod, container) -> file
POLL_SECONDS = 0.2


def container_done(pod: Obj | None, container: str) -> bool:
    """True once the pod is gone or terminal, or this container has terminated."""
    if pod is None or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return True
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return "terminated" in (status.get("state") or {})
    return False


def follow(store: Store, log_path: LogPath, namespace: str, pod: str, container: str, start: str | None,
           alive: Callable[[], bool]) -> Iterator[bytes]:
    """Yield the whole file then what gets appended (`start=None`), or `start` (a tail already
    cut by tailLines/sinceSeconds) then what gets appended after this call."""
    path = log_path(namespace, pod, container)
    offset = 0
    if start is not None:
        try:
            offset = path.stat().st_size
        except OSError:
            offset = 0
        if start:
            yield start.encode()
    while alive():
        done = container_done(store.get_ref("pods", namespace, pod), container)
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            data = b""
        if data:
            offset += len(data)
            yield data
        elif done:
            return
        else:
            time.sleep(POLL_SECONDS)
