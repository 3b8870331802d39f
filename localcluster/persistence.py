"""Snapshots of the store to `<state dir>/store.json`: debounced, written by atomic rename.

What survives a restart: every object with its uid, resourceVersion and status, and the global
resourceVersion counter. What does not: the watch event log (a watch resuming from an older
revision gets 410 and relists) and, on the controllers' side, the pod processes.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from localcluster.store import Store

log = logging.getLogger("localcluster.persistence")


class Snapshotter:
    def __init__(self, store: Store, path: Path, delay_seconds: float = 1.0) -> None:
        self.store = store
        self.path = Path(path)
        self.delay = delay_seconds
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> bool:
        """Restore the store from the snapshot, if there is one; True when restored."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return False
        except ValueError as e:
            broken = self.path.with_suffix(".json.broken")
            log.error("snapshot %s is unreadable (%s); moved to %s, starting empty", self.path, e, broken)
            os.replace(self.path, broken)
            return False
        self.store.restore(data)
        log.info("restored %s at resourceVersion %s", self.path, data.get("resourceVersion"))
        return True

    def mark_dirty(self) -> None:
        self._dirty.set()

    def start(self) -> None:
        self.store.on_commit = self.mark_dirty
        self._thread = threading.Thread(target=self._run, name="snapshotter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.save()

    def save(self) -> None:
        self._dirty.clear()
        snapshot = self.store.snapshot()
        parts = [b'{"resourceVersion":%d,"objects":{' % snapshot["resourceVersion"]]
        for i, (plural, items) in enumerate(snapshot["objects"].items()):
            encoded = b",".join(self.store.encoded(plural, obj) for obj in items)
            parts.append(b'%s"%s":[%s]' % (b"," if i else b"", plural.encode(), encoded))
        parts.append(b"}}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(b"".join(parts))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.is_set():
                return
            self._stop.wait(self.delay)
            try:
                self.save()
            except OSError:
                log.exception("snapshot to %s failed", self.path)
