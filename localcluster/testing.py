"""`running_cluster(...)`: a real cluster in a subprocess for tests, stopped with nothing left."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from localcluster import procs
from localcluster.cluster import KUBECONFIG


@dataclass
class ClusterHandle:
    state_dir: Path
    kubeconfig: Path
    url: str
    port: int
    pid: int
    _proc: object = field(repr=False, default=None)
    _stopped: bool = field(repr=False, default=False)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        procs.stop(self.pid, self._proc)  # type: ignore[arg-type]
        procs.kill_pod_leftovers(self.state_dir)


@contextmanager
def running_cluster(state_dir: Path | str, port: int = 0, gpus_shared: int = 0, gpus: int = 0,
                    extra_args: tuple[str, ...] = (), timeout: float = 60.0) -> Iterator[ClusterHandle]:
    """Start `python -m localcluster` (port 0: a free port) and wait until /version answers."""
    state_dir = Path(state_dir)
    log_file = state_dir / "cluster.log"
    state_dir.mkdir(parents=True, exist_ok=True)
    args = ["--port", str(port), "--gpus-shared", str(gpus_shared), "--gpus", str(gpus), *extra_args]
    proc = procs.spawn(state_dir, args, log_file)
    handle = None
    try:
        url = procs.wait_ready(state_dir, proc, timeout, log_file)
        handle = ClusterHandle(state_dir, state_dir / KUBECONFIG, url, int(url.rsplit(":", 1)[1]),
                               proc.pid, proc)
        yield handle
    finally:
        if handle is not None:
            handle.stop()
        else:
            procs.stop(proc.pid, proc)
            procs.kill_pod_leftovers(state_dir)
