"""URL paths to routes (contract §3): discovery documents or a resource, namespace, name and
subresource."""

from __future__ import annotations

from dataclasses import dataclass

from localcluster import errors
from localcluster.resources import BY_GROUP_VERSION, ResourceType, lookup


@dataclass(frozen=True)
class ResourceRoute:
    rtype: ResourceType
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


@dataclass(frozen=True)
class DiscoveryRoute:
    document: str  # "version" | "health" | "api" | "apis" | "group" | "resources"
    group_version: str = ""


Route = ResourceRoute | DiscoveryRoute


def resolve(path: str) -> Route:
    """Raise the 404 `the server could not find the requested resource` for unknown paths."""
    parts = [p for p in path.split("/") if p]
    if parts == ["version"]:
        return DiscoveryRoute("version")
    if len(parts) == 1 and parts[0] in ("healthz", "livez", "readyz"):
        return DiscoveryRoute("health")
    if parts == ["api"]:
        return DiscoveryRoute("api")
    if parts == ["apis"]:
        return DiscoveryRoute("apis")
    if len(parts) >= 2 and parts[0] == "api":
        return _in_group_version(parts[1], parts[2:])
    if len(parts) == 2 and parts[0] == "apis":
        return DiscoveryRoute("group", parts[1])
    if len(parts) >= 3 and parts[0] == "apis":
        return _in_group_version(f"{parts[1]}/{parts[2]}", parts[3:])
    raise errors.path_not_found()


def _in_group_version(group_version: str, rest: list[str]) -> Route:
    resources = BY_GROUP_VERSION.get(group_version)
    if resources is None:
        raise errors.path_not_found()
    if not rest:
        return DiscoveryRoute("resources", group_version)
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in resources and resources[rest[2]].namespaced:
        namespace, rest = rest[1], rest[2:]
    rtype = lookup(group_version, rest[0])
    if rtype is None or len(rest) > 3:
        raise errors.path_not_found()
    name = rest[1] if len(rest) >= 2 else None
    subresource = rest[2] if len(rest) == 3 else None
    if subresource is not None and subresource not in rtype.subresources:
        raise errors.path_not_found()
    if namespace is None and rtype.namespaced and name is not None:
        raise errors.path_not_found()
    return ResourceRoute(rtype, namespace, name, subresource)
