"""Configuration of the controllers (the node's size, where state lives, test knobs)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psutil

log = logging.getLogger(__name__)


def detect_gpus() -> int:
    """The number of devices `nvidia-smi -L` lists; 0 without the tool or when it fails."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return 0
    try:
        listing = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        log.warning("nvidia-smi -L failed, assuming no GPU: %s", e)
        return 0
    return sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))


def default_state_dir() -> Path:
    home = os.environ.get("SPECTROJOBS_HOME") or str(Path.home() / ".spectrojobs")
    return Path(home) / "cluster"


@dataclass(frozen=True)
class ControllerConfig:
    node_name: str = "localnode"
    gpus_shared: int = 0  # capacity of nvidia.com/gpu.shared (time-sliced slots)
    gpus: int = field(default_factory=detect_gpus)  # capacity of nvidia.com/gpu (whole devices)
    cpu: int = field(default_factory=lambda: os.cpu_count() or 1)  # cores
    memory_bytes: int = field(default_factory=lambda: psutil.virtual_memory().total)
    state_dir: Path = field(default_factory=default_state_dir)
    pod_ip_network: str = "127.64.0.0/16"
    api_host: str = "127.0.0.1"  # KUBERNETES_SERVICE_HOST given to pods
    api_port: int = 6443  # KUBERNETES_SERVICE_PORT: set it to the port the server bound
    nodeport_host: str = "127.0.0.1"
    job_backoff_base_seconds: float = 10.0  # failed pod → recreate after 10 s, 20 s, 40 s ...
    job_backoff_max_seconds: float = 360.0
    restart_backoff_base_seconds: float = 10.0  # CrashLoopBackOff of restartPolicy OnFailure/Always
    restart_backoff_max_seconds: float = 300.0
    shutdown_grace_seconds: float = 5.0  # ControllerSet.stop(): SIGTERM → this → SIGKILL
    kubelet_version: str = "v1.31.0"

    def __post_init__(self) -> None:
        for name in ("gpus_shared", "gpus", "cpu", "memory_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"ControllerConfig.{name}={value!r}: must be an integer >= 0")
        if self.job_backoff_base_seconds < 0 or self.restart_backoff_base_seconds < 0:
            raise ValueError("ControllerConfig back-off bases must be >= 0 seconds")
        object.__setattr__(self, "state_dir", Path(self.state_dir))
