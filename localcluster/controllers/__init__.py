"""The controllers that make the local cluster run jobs (contract §12–13, design §9).

LC-CORE's entry points: `ControllerConfig`, `initial_objects(config)` (objects to store before
serving: the Node, with its status) and `build(api, config) -> ControllerSet`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localcluster.controllers.base import ClusterAPI, Controller
from localcluster.controllers.config import ControllerConfig, detect_gpus
from localcluster.controllers.gc import GarbageCollector
from localcluster.controllers.job import JobController
from localcluster.controllers.kubelet import Kubelet
from localcluster.controllers.logs import container_for_log, read_log
from localcluster.controllers.metrics import MetricsProvider
from localcluster.controllers.node import build_node
from localcluster.controllers.nodeport import NodePortProxy
from localcluster.controllers.processes import kill_leftovers
from localcluster.controllers.pvc import PVCBinder
from localcluster.controllers.scheduler import Scheduler
from localcluster.controllers.ttl import TTLController
from localcluster.errors import bad_request

__all__ = ["ControllerConfig", "ControllerSet", "build", "detect_gpus", "initial_objects", "kill_leftovers"]
log = logging.getLogger(__name__)


def initial_objects(config: ControllerConfig) -> list[tuple[str, dict]]:
    """(resource plural, object) pairs to store as they are, status included."""
    return [("nodes", build_node(config))]


@dataclass
class ControllerSet:
    api: ClusterAPI
    config: ControllerConfig
    kubelet: Kubelet
    controllers: list[Controller]
    metrics: MetricsProvider
    started: bool = field(default=False)

    def start(self) -> None:
        """Kill leftovers of an earlier run (pods.pids), then start every controller."""
        kill_leftovers(self.config.state_dir)
        for controller in self.controllers:
            controller.start()
        self.started = True

    def stop(self) -> None:
        """Stop every controller; the kubelet SIGTERMs every pod's process group, waits
        `shutdown_grace_seconds`, then SIGKILLs what is left."""
        for controller in reversed(self.controllers):
            controller.stop()
        self.started = False

    def log_path(self, namespace: str, pod: str, container: str) -> Path:
        return self.kubelet.log_path(namespace, pod, container)

    def read_log(self, namespace: str, pod: str, container: str | Mapping[str, str] | None = None,
                 tail_lines: int | None = None, since_seconds: int | None = None) -> str:
        """Text for `GET pods/{pod}/log`; raises ApiError (404 no pod, 400 bad or missing
        container, 400 container not started yet). `container` may also be the request's query
        parameters (`container`, `tailLines`, `sinceSeconds`), as the HTTP layer passes them."""
        if isinstance(container, Mapping):
            query = container
            container = query.get("container")
            tail_lines = _int_param(query, "tailLines")
            since_seconds = _int_param(query, "sinceSeconds")
        container = container_for_log(self.api.get("pods", namespace, pod), namespace, pod, container)
        return read_log(self.log_path(namespace, pod, container), pod, container, tail_lines, since_seconds,
                        self.kubelet.log_marks)


def _int_param(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{name} {value!r}: expected an integer") from None


def build(api: ClusterAPI, config: ControllerConfig) -> ControllerSet:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    kubelet = Kubelet(api, config)
    controllers: list[Controller] = [
        Scheduler(api),
        kubelet,
        JobController(api, config.job_backoff_base_seconds, config.job_backoff_max_seconds),
        TTLController(api),
        GarbageCollector(api),
        PVCBinder(api, config.state_dir),
        NodePortProxy(api, config.nodeport_host),
    ]
    return ControllerSet(api, config, kubelet, controllers, MetricsProvider(api, kubelet, config.node_name))
