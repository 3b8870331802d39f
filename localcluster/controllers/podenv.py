"""What a container's process gets: argv, environment, volumes — pure functions (contract §13,
docs/contracts.md "Volumes").

A process cannot see a container's `mountPath`, so every argument and env value that starts
with a mount path (or `--flag=<mount path>...`) is rewritten to the host directory behind it.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcluster.controllers.quantity import parse_quantity

Obj = dict[str, Any]
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
POD_UID_ENV = "LOCALCLUSTER_POD_UID"
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
UNPULLABLE_DOMAIN_SUFFIX = ".invalid"  # RFC 2606: never resolves, so a pull from it must fail
_FIELD_INDEX = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")


class PodConfigError(Exception):
    """The pod asks for something the local kubelet cannot provide (CreateContainerConfigError)."""


@dataclass(frozen=True)
class PodContext:
    """Facts about one pod that the environment depends on."""

    pod: Obj
    pod_ip: str
    host_ip: str = "127.0.0.1"
    api_host: str = "127.0.0.1"
    api_port: int = 6443
    gpu_devices: tuple[int, ...] = ()
    python_dir: str = ""
    base_env: Mapping[str, str] = field(default_factory=dict)


def parse_image(image: str) -> tuple[str, str] | None:
    """(registry host or "", repository path) of a valid image reference, else None."""
    name, _, digest = image.partition("@")
    if digest and not _DIGEST.match(digest):
        return None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _TAG.match(tag):
            return None
    parts = name.split("/")
    host = ""
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        host, parts = parts[0], parts[1:]
    if not parts or not all(_PATH_COMPONENT.match(p) for p in parts):
        return None
    return host, "/".join(parts)


def image_pull_error(image: str) -> tuple[str, str] | None:
    """(waiting reason, message) when the image "cannot be pulled": an invalid reference, or a
    registry under the reserved `.invalid` domain (the local test hook for pull errors). Every
    other image counts as present: the local kubelet runs commands, not images."""
    parsed = parse_image(image)
    if parsed is None:
        return ("InvalidImageName", f'Failed to apply default image tag "{image}": couldn\'t parse image name '
                                    f'"{image}": invalid reference format')
    host, path = parsed
    if host.split(":")[0].endswith(UNPULLABLE_DOMAIN_SUFFIX):
        return ("ErrImagePull", f'failed to pull and unpack image "{image}": failed to resolve reference '
                                f'"{image}": failed to do request: Head "https://{host}/v2/{path}/manifests/latest": '
                                f"dial tcp: lookup {host.split(':')[0]}: no such host")
    return None


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: known names are replaced, unknown ones kept, `$$` → `$`."""

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _VAR_REF.sub(repl, text)


def volume_dirs(pod: Obj, state_dir: Path, pod_dir: Path) -> dict[str, Path | None]:
    """Host directory of every volume by name; None for kinds that have no local mapping."""
    namespace = pod.get("metadata", {}).get("namespace", "default")
    dirs: dict[str, Path | None] = {}
    for volume in pod.get("spec", {}).get("volumes") or []:
        name = volume.get("name", "")
        if volume.get("persistentVolumeClaim"):
            dirs[name] = state_dir / "volumes" / namespace / volume["persistentVolumeClaim"]["claimName"]
        elif volume.get("hostPath"):
            dirs[name] = Path(volume["hostPath"]["path"])
        elif "emptyDir" in volume:
            dirs[name] = pod_dir / "volumes" / name
        else:
            dirs[name] = None
    return dirs


def prepare_volumes(pod: Obj, dirs: Mapping[str, Path | None]) -> None:
    """Create claim and emptyDir directories; check or create hostPaths by their `type`."""
    for volume in pod.get("spec", {}).get("volumes") or []:
        host = dirs.get(volume.get("name", ""))
        if host is None:
            continue
        if "hostPath" not in volume:
            host.mkdir(parents=True, exist_ok=True)
            continue
        kind = volume["hostPath"].get("type") or ""
        if kind == "DirectoryOrCreate":
            host.mkdir(parents=True, exist_ok=True)
        elif kind == "FileOrCreate" and not host.exists():
            host.touch()
        elif kind == "Directory" and not host.is_dir():
            raise PodConfigError(f"hostPath type check failed: {host} is not a directory")
        elif kind == "File" and not host.is_file():
            raise PodConfigError(f"hostPath type check failed: {host} is not a file")


def container_mounts(container: Obj, dirs: Mapping[str, Path | None]) -> dict[str, str]:
    """`{mountPath: host dir}` for the container's volumeMounts."""
    mounts: dict[str, str] = {}
    for mount in container.get("volumeMounts") or []:
        name, path = mount.get("name", ""), mount.get("mountPath", "")
        if name not in dirs:
            raise PodConfigError(f'volumeMounts "{name}": no volume of that name in the pod')
        host = dirs[name]
        if host is None:
            raise PodConfigError(f'volume "{name}": only persistentVolumeClaim, hostPath and emptyDir '
                                 "volumes can be mounted by the local kubelet")
        mounts[path] = str(host / mount["subPath"]) if mount.get("subPath") else str(host)
    return mounts


def rewrite_path(value: str, mounts: Mapping[str, str]) -> str:
    """`/data/x` → `<host dir of /data>/x`; `--out=/data/x` likewise; anything else unchanged."""
    if value.startswith("-") and "=" in value:
        flag, rest = value.split("=", 1)
        return f"{flag}={rewrite_path(rest, mounts)}"
    for mount_path in sorted(mounts, key=len, reverse=True):
        base = mount_path.rstrip("/")
        if value == mount_path or value == base or value.startswith(base + "/"):
            return mounts[mount_path] + value[len(base):]
    return value


def field_ref(ctx: PodContext, path: str) -> str:
    meta, spec = ctx.pod.get("metadata", {}), ctx.pod.get("spec", {})
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": ctx.pod_ip,
        "status.podIPs": ctx.pod_ip,
        "status.hostIP": ctx.host_ip,
        "status.hostIPs": ctx.host_ip,
    }
    if path in simple:
        return simple[path]
    match = _FIELD_INDEX.match(path)
    if match:
        return (meta.get(match.group(1)) or {}).get(match.group(2), "")
    raise PodConfigError(f"fieldRef.fieldPath {path!r}: not supported "
                         f"(supported: {', '.join(sorted(simple))}, metadata.labels['k'], "
                         "metadata.annotations['k'])")


def resource_ref(container: Obj, ref: Mapping[str, Any], allocatable: Mapping[str, str]) -> str:
    kind, _, resource = str(ref.get("resource", "")).partition(".")
    if kind not in ("limits", "requests") or resource not in ("cpu", "memory", "ephemeral-storage"):
        raise PodConfigError(f"resourceFieldRef.resource {ref.get('resource')!r}: expected "
                             "limits|requests.cpu|memory|ephemeral-storage")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(resource)
    if value is None and kind == "requests":
        value = (resources.get("limits") or {}).get(resource)
    if value is None:
        value = allocatable.get(resource, "0")
    divisor = parse_quantity(ref.get("divisor") or "1")
    if divisor <= 0:
        raise PodConfigError(f"resourceFieldRef.divisor {ref.get('divisor')!r}: must be > 0")
    return str(math.ceil(parse_quantity(value) / divisor))


def _env_value(ctx: PodContext, container: Obj, item: Obj, env: Mapping[str, str],
               allocatable: Mapping[str, str]) -> str | None:
    if "valueFrom" not in item:
        return expand(str(item.get("value", "")), env)
    source = item["valueFrom"] or {}
    if "fieldRef" in source:
        return field_ref(ctx, source["fieldRef"].get("fieldPath", ""))
    if "resourceFieldRef" in source:
        return resource_ref(container, source["resourceFieldRef"], allocatable)
    for kind in ("configMapKeyRef", "secretKeyRef"):
        if kind in source:
            if source[kind].get("optional"):
                return None
            raise PodConfigError(f'env "{item.get("name")}": {kind} is not supported by the local '
                                 "cluster (no ConfigMaps or Secrets)")
    raise PodConfigError(f'env "{item.get("name")}": unsupported valueFrom {sorted(source)}')


def container_env(ctx: PodContext, container: Obj, mounts: Mapping[str, str],
                  allocatable: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment: host env, then the kubelet's variables, then the container's."""
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef") or source.get("secretRef") or {}
        if not ref.get("optional"):
            raise PodConfigError("envFrom is not supported by the local cluster (no ConfigMaps or Secrets)")
    meta = ctx.pod.get("metadata", {})
    env = dict(ctx.base_env)
    path = env.get("PATH", os.defpath)
    env["PATH"] = f"{ctx.python_dir}{os.pathsep}{path}" if ctx.python_dir else path
    devices = ",".join(str(d) for d in ctx.gpu_devices)
    env.update({
        "HOSTNAME": meta.get("name", ""),
        "KUBERNETES_SERVICE_HOST": ctx.api_host,
        "KUBERNETES_SERVICE_PORT": str(ctx.api_port),
        "KUBERNETES_PORT": f"tcp://{ctx.api_host}:{ctx.api_port}",
        "CUDA_VISIBLE_DEVICES": devices,
        "NVIDIA_VISIBLE_DEVICES": devices or "void",
        POD_UID_ENV: meta.get("uid", ""),
        "LOCALCLUSTER_VOLUMES": json.dumps(dict(mounts), sort_keys=True),
    })
    index = (meta.get("annotations") or {}).get(COMPLETION_INDEX)
    if index is not None:
        env["JOB_COMPLETION_INDEX"] = index
    defined: dict[str, str] = {}
    for item in container.get("env") or []:
        value = _env_value(ctx, container, item, defined, allocatable or {})
        if value is not None:
            defined[item.get("name", "")] = rewrite_path(value, mounts)
    env.update(defined)
    return env


def container_argv(container: Obj, env: Mapping[str, str], mounts: Mapping[str, str]) -> list[str]:
    """`command` + `args` after `$(VAR)` expansion and mount-path rewriting (no shell)."""
    command = container.get("command") or []
    if not command:
        raise PodConfigError(f'container "{container.get("name")}": the local cluster runs no images, '
                             "so the container needs a `command`")
    return [rewrite_path(expand(str(a), env), mounts) for a in [*command, *(container.get("args") or [])]]


def working_dir(container: Obj, env: Mapping[str, str], mounts: Mapping[str, str], default: Path) -> Path:
    wd = container.get("workingDir")
    return Path(rewrite_path(expand(wd, env), mounts)) if wd else default
