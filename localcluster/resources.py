"""The resource types the local cluster serves (contract §2), as data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    plural: str
    kind: str
    group: str  # "" for core
    version: str
    namespaced: bool
    singular: str
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
    )
    subresources: tuple[str, ...] = ()
    has_status: bool = True
    categories: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`jobs.batch`, `leases.coordination.k8s.io`, or `pods` for core kinds (error messages)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


READ_ONLY = ("get", "list")

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("namespaces", "Namespace", "", "v1", False, "namespace", ("ns",),
                 subresources=("status",)),
    ResourceType("pods", "Pod", "", "v1", True, "pod", ("po",),
                 subresources=("status", "log", "binding"), categories=("all",)),
    ResourceType("services", "Service", "", "v1", True, "service", ("svc",),
                 subresources=("status",), categories=("all",)),
    ResourceType("persistentvolumeclaims", "PersistentVolumeClaim", "", "v1", True,
                 "persistentvolumeclaim", ("pvc",), subresources=("status",)),
    ResourceType("nodes", "Node", "", "v1", False, "node", ("no",), subresources=("status",)),
    ResourceType("events", "Event", "", "v1", True, "event", ("ev",), has_status=False),
    ResourceType("jobs", "Job", "batch", "v1", True, "job", (), subresources=("status",),
                 categories=("all",)),
    ResourceType("leases", "Lease", "coordination.k8s.io", "v1", True, "lease", (),
                 has_status=False),
    ResourceType("pods", "PodMetrics", "metrics.k8s.io", "v1beta1", True, "", (),
                 verbs=READ_ONLY, has_status=False),
    ResourceType("nodes", "NodeMetrics", "metrics.k8s.io", "v1beta1", False, "", (),
                 verbs=READ_ONLY, has_status=False),
)

BY_GROUP_VERSION: dict[str, dict[str, ResourceType]] = {}
for _r in RESOURCES:
    BY_GROUP_VERSION.setdefault(_r.group_version, {})[_r.plural] = _r

# The storable kinds by plural (metrics are computed, not stored).
STORED: dict[str, ResourceType] = {
    r.plural: r for r in RESOURCES if r.group != "metrics.k8s.io"
}


def lookup(group_version: str, plural: str) -> ResourceType | None:
    return BY_GROUP_VERSION.get(group_version, {}).get(plural)
