"""One process: API server + snapshots + controllers, with its state dir files.

`<state dir>/kubeconfig` (server URL and a fresh token), `cluster.pid`, `store.json` (the
snapshot), `pods.pids` (written by the kubelet), `logs/` (container output), `cluster.log`
(when started by `spectrojobs cluster up`).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from localcluster import errors
from localcluster.persistence import Snapshotter
from localcluster.server import LocalApiServer
from localcluster.store import Store

log = logging.getLogger("localcluster")

KUBECONFIG = "kubeconfig"
PID_FILE = "cluster.pid"
SNAPSHOT = "store.json"
DEFAULT_PORT = 6443


def default_state_dir() -> Path:
    home = os.environ.get("SPECTROJOBS_HOME") or str(Path.home() / ".spectrojobs")
    return Path(home) / "cluster"


@dataclass(frozen=True)
class ClusterConfig:
    state_dir: Path
    port: int = DEFAULT_PORT
    gpus_shared: int = 0
    gpus: int | None = None  # None: detect with nvidia-smi
    node_name: str = "localnode"
    bookmark_interval: float = 60.0
    event_window: int = 10000
    controllers: bool = True
    job_backoff_base_seconds: float | None = None


def kubeconfig_text(url: str, token: str) -> str:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "localcluster", "cluster": {"server": url}}],
        "users": [{"name": "localcluster", "user": {"token": token}}],
        "contexts": [{"name": "localcluster",
                      "context": {"cluster": "localcluster", "user": "localcluster", "namespace": "default"}}],
        "current-context": "localcluster",
    }, sort_keys=False)


def write_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Cluster:
    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.state_dir = Path(config.state_dir)
        self.store = Store(config.event_window)
        self.snapshots = Snapshotter(self.store, self.state_dir / SNAPSHOT)
        self.server: LocalApiServer | None = None
        self.controllers: Any = None
        self._snapshotting = False  # a failed restore must not be saved over the snapshot

    def start(self) -> None:
        """Restore, start the controllers and the snapshots, serve; the kubeconfig is written
        only once /version answers (clients wait for that file). On an exception, `stop()`
        undoes whatever part already started."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.snapshots.load()
        self.server = LocalApiServer(self.store, port=self.config.port,
                                     bookmark_interval=self.config.bookmark_interval)
        if self.config.controllers:
            self._start_controllers()
        self.snapshots.start()
        self._snapshotting = True
        self.server.start()
        write_atomically(self.state_dir / PID_FILE, f"{os.getpid()}\n", 0o644)
        write_atomically(self.state_dir / KUBECONFIG, kubeconfig_text(self.server.url, secrets.token_hex(16)))
        log.info("local cluster serving %s (state dir %s)", self.server.url, self.state_dir)

    def _start_controllers(self) -> None:
        from localcluster import controllers

        assert self.server is not None
        if not hasattr(controllers, "build"):
            log.warning("localcluster.controllers provides no build(): running the API server alone")
            return
        options: dict[str, Any] = {"node_name": self.config.node_name, "gpus_shared": self.config.gpus_shared,
                                   "state_dir": self.state_dir, "api_port": self.server.port}
        if self.config.gpus is not None:
            options["gpus"] = self.config.gpus
        if self.config.job_backoff_base_seconds is not None:
            options["job_backoff_base_seconds"] = self.config.job_backoff_base_seconds
        config = controllers.ControllerConfig(**options)
        registry = self.server.registry
        for resource, obj in controllers.initial_objects(config):
            _create_or_refresh(registry, resource, obj)
        self.controllers = controllers.build(registry, config)
        self.server.httpd.metrics = getattr(self.controllers, "metrics", None)
        self.server.httpd.log_reader = getattr(self.controllers, "read_log", None)
        self.server.httpd.log_path = getattr(self.controllers, "log_path", None)
        self.controllers.start()

    def stop(self) -> None:
        if self.controllers is not None:
            self.controllers.stop()
            self.controllers = None
        if self.server is not None:
            self.server.stop()
        if self._snapshotting:
            self.snapshots.stop()
            self._snapshotting = False
        (self.state_dir / PID_FILE).unlink(missing_ok=True)


def _create_or_refresh(registry: Any, resource: str, obj: dict[str, Any]) -> None:
    """Create a system object, or bring the status of an existing one (after a restart) up to date."""
    metadata = obj.get("metadata") or {}
    existing = registry.get(resource, metadata.get("namespace"), metadata["name"])
    if existing is None:
        created = registry.create(resource, obj)
        if "status" in obj and created.get("status") != obj["status"]:
            registry.update_status(resource, {**created, "status": obj["status"]})
        return
    try:
        registry.update_status(resource, {**existing, "status": obj.get("status") or {}})
    except errors.ApiError as e:
        log.warning("could not refresh %s %s: %s", resource, metadata["name"], e.message)


def run(config: ClusterConfig) -> int:
    """Run until SIGTERM or SIGINT; stop the controllers (and pod processes) before exiting."""
    done = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    cluster = Cluster(config)
    try:
        cluster.start()
        while not done.wait(1.0):
            pass
    except Exception:  # the process boundary: say why before stopping what had started
        log.exception("the cluster failed (state dir %s); stopping", config.state_dir)
        return 1
    finally:
        cluster.stop()
    return 0
