"""Service cluster IPs and node ports held by the registry: allocate on create, keep on update,
release on delete, rebuild on restore; dry runs leave the allocators as they were."""

from __future__ import annotations

from localcluster.allocators import (
    ClusterIPAllocator,
    NodePortAllocator,
    assign_service_allocations,
    release_service_allocations,
)
from localcluster.objects import Obj


class ServiceAllocations:
    def __init__(self) -> None:
        self.node_ports = NodePortAllocator()
        self.cluster_ips = ClusterIPAllocator()

    def reload(self, services: list[Obj]) -> None:
        for svc in services:
            self._mark(svc)

    def on_create(self, svc: Obj, dry_run: bool) -> Obj:
        new = assign_service_allocations(svc, None, self.node_ports, self.cluster_ips)
        if dry_run:
            release_service_allocations(new, self.node_ports, self.cluster_ips)
        return new

    def on_update(self, old: Obj, new: Obj, dry_run: bool) -> Obj:
        result = assign_service_allocations(new, old, self.node_ports, self.cluster_ips)
        if dry_run:  # undo: free what only the result holds, hold again what old held
            release_service_allocations(result, self.node_ports, self.cluster_ips, keep=old)
            self._mark(old)
        return result

    def on_remove(self, svc: Obj) -> None:
        release_service_allocations(svc, self.node_ports, self.cluster_ips)

    def _mark(self, svc: Obj) -> None:
        spec = svc.get("spec") or {}
        if spec.get("clusterIP") and spec["clusterIP"] != "None":
            self.cluster_ips.mark_used(spec["clusterIP"])
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                self.node_ports.mark_used(port["nodePort"])
