"""The single Node object (contract §12): capacity from the machine, complete nodeInfo."""

from __future__ import annotations

import platform
import shutil
import uuid
from pathlib import Path
from typing import Any

from localcluster.controllers.config import ControllerConfig
from localcluster.timefmt import now_time

GPU = "nvidia.com/gpu"
GPU_SHARED = "nvidia.com/gpu.shared"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
         "s390x": "s390x"}


def _read(path: str, default: str) -> str:
    try:
        return Path(path).read_text().strip() or default
    except OSError:
        return default


def _os_image() -> str:
    for line in _read("/etc/os-release", "").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return f"{platform.system()} {platform.release()}"


def capacity(config: ControllerConfig) -> dict[str, str]:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    disk = shutil.disk_usage(config.state_dir).total
    return {
        "cpu": str(config.cpu),
        "memory": f"{config.memory_bytes // 1024}Ki",
        "ephemeral-storage": f"{disk // 1024}Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "pods": "110",
        GPU: str(config.gpus),
        GPU_SHARED: str(config.gpus_shared),
    }


def node_info(config: ControllerConfig) -> dict[str, str]:
    machine_id = _read("/etc/machine-id", uuid.uuid5(uuid.NAMESPACE_DNS, platform.node()).hex)
    return {
        "architecture": _ARCH.get(platform.machine(), platform.machine()),
        "bootID": _read("/proc/sys/kernel/random/boot_id", str(uuid.uuid4())),
        "containerRuntimeVersion": "localcluster://0.1.0",
        "kernelVersion": platform.release(),
        "kubeProxyVersion": config.kubelet_version,
        "kubeletVersion": config.kubelet_version,
        "machineID": machine_id,
        "operatingSystem": "linux",
        "osImage": _os_image(),
        "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_OID, machine_id)),
    }


def _condition(kind: str, status: str, reason: str, message: str, now: str) -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": now}


def build_node(config: ControllerConfig) -> dict[str, Any]:
    now = now_time()
    cap = capacity(config)
    info = node_info(config)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": config.node_name,
            "labels": {
                "kubernetes.io/hostname": config.node_name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": info["architecture"],
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": info["architecture"],
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": {
            "capacity": cap,
            "allocatable": dict(cap),
            "conditions": [
                _condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                           "kubelet has sufficient memory available", now),
                _condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                           "kubelet has no disk pressure", now),
                _condition("PIDPressure", "False", "KubeletHasSufficientPID",
                           "kubelet has sufficient PID available", now),
                _condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", now),
            ],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": config.node_name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": info,
            "images": [],
        },
    }
