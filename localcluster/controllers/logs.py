"""Container logs: `<state_dir>/logs/<ns>_<pod>_<container>.log` and the reader behind
`GET pods/{name}/log` (tailLines, sinceSeconds)."""

from __future__ import annotations

import bisect
import threading
import time
from pathlib import Path

from localcluster.errors import ApiError, bad_request, not_found

_MAX_MARKS = 2048


def log_path(state_dir: Path, namespace: str, pod: str, container: str) -> Path:
    return Path(state_dir) / "logs" / f"{namespace}_{pod}_{container}.log"


def tail(text: str, lines: int | None) -> str:
    if lines is None:
        return text
    if lines <= 0:
        return ""
    parts = text.splitlines(keepends=True)
    return "".join(parts[-lines:])


class LogMarks:
    """(time, size) samples of growing log files, taken by the kubelet on every pass, so that
    `sinceSeconds` can start at the right byte (accurate to one kubelet pass)."""

    def __init__(self) -> None:
        self._marks: dict[Path, tuple[list[float], list[int]]] = {}
        self._lock = threading.Lock()

    def sample(self, path: Path, now: float | None = None) -> None:
        try:
            size = path.stat().st_size
        except OSError:
            return
        with self._lock:
            times, sizes = self._marks.setdefault(path, ([], []))
            if sizes and sizes[-1] == size:
                return
            times.append(time.time() if now is None else now)
            sizes.append(size)
            if len(times) > _MAX_MARKS:  # thin out: keep every other sample
                times[:] = times[::2]
                sizes[:] = sizes[::2]

    def offset_since(self, path: Path, since: float) -> int:
        """Byte offset of the first output written at or after `since` (0 when unknown)."""
        with self._lock:
            times, sizes = self._marks.get(path, ([], []))
            i = bisect.bisect_left(times, since)
            if i == 0:
                return 0
            return sizes[i - 1]

    def forget(self, path: Path) -> None:
        with self._lock:
            self._marks.pop(path, None)


def read_log(path: Path, pod: str, container: str, tail_lines: int | None = None,
             since_seconds: int | None = None, marks: LogMarks | None = None) -> str:
    if since_seconds is not None and since_seconds < 1:
        raise bad_request(f"sinceSeconds {since_seconds}: must be greater than 0")
    if tail_lines is not None and tail_lines < 0:
        raise bad_request(f"tailLines {tail_lines}: must be greater than or equal to 0")
    try:
        with open(path, "rb") as f:
            if since_seconds is not None and marks is not None:
                f.seek(marks.offset_since(path, time.time() - since_seconds))
            data = f.read()
    except FileNotFoundError:
        raise ApiError(400, "BadRequest",
                       f'container "{container}" in pod "{pod}" is waiting to start: ContainerCreating') from None
    return tail(data.decode("utf-8", errors="replace"), tail_lines)


def container_for_log(pod: dict | None, namespace: str, name: str, container: str | None) -> str:
    """Resolve the `container` parameter like the API server (400 when ambiguous or unknown)."""
    if pod is None:
        raise not_found("pods", name)
    spec = pod.get("spec", {})
    names = [c.get("name", "") for c in spec.get("containers") or []]
    if container is None:
        if len(names) == 1:
            return names[0]
        raise bad_request(f"a container name must be specified for pod {name}, choose one of: "
                          f"[{' '.join(names)}]")
    if container not in names + [c.get("name", "") for c in spec.get("initContainers") or []]:
        raise bad_request(f"container {container} is not valid for pod {name}")
    return container
