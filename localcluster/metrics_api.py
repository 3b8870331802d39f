"""metrics.k8s.io/v1beta1 (contract §13): read-only, computed by the controllers' provider."""

from __future__ import annotations

from typing import Any, Protocol

from localcluster import errors
from localcluster.routing import ResourceRoute

GROUP_VERSION = "metrics.k8s.io/v1beta1"


class MetricsProvider(Protocol):
    def pod_metrics(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def list_pod_metrics(self, namespace: str | None, label_selector: str | None) -> list[dict[str, Any]]: ...

    def node_metrics(self, name: str) -> dict[str, Any] | None: ...

    def list_node_metrics(self) -> list[dict[str, Any]]: ...


def serve(provider: MetricsProvider | None, route: ResourceRoute, label_selector: str | None) -> dict[str, Any]:
    pods = route.rtype.plural == "pods"
    if route.name is None:
        if provider is None:
            items: list[dict[str, Any]] = []
        elif pods:
            items = provider.list_pod_metrics(route.namespace, label_selector or None)
        else:
            items = provider.list_node_metrics()
        kind = "PodMetricsList" if pods else "NodeMetricsList"
        return {"kind": kind, "apiVersion": GROUP_VERSION, "metadata": {}, "items": items}
    if pods:
        found = provider.pod_metrics(route.namespace or "", route.name) if provider else None
        if found is None:
            raise errors.not_found("podmetrics.metrics.k8s.io", f"{route.namespace}/{route.name}")
        return found
    found = provider.node_metrics(route.name) if provider else None
    if found is None:
        raise errors.not_found("nodemetrics.metrics.k8s.io", route.name)
    return found
