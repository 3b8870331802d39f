"""Service cluster IPs and node ports (contract §13), thread-safe.

- `ClusterIPAllocator`: 10.96.0.0/12 without the network address, `.1` (the `kubernetes`
  Service) and the broadcast address; the next free address after the last one handed out.
- `NodePortAllocator`: 30000-32767. Random ports come from the upper band (30086-32767) first,
  then the static band (30000-30085, `min(max(16, size/32), 128)` ports) that explicit requests
  are meant to use (https://kubernetes.io/blog/2023/05/11/nodeport-dynamic-and-static-allocation/).

`allocate(requested=None)` returns the value or raises `ApiError` (422 with one cause for a taken
or out-of-range value, 500 when the range is full); `release` frees; `mark_used` rebuilds the
state after a restart. `assign_service_allocations` / `release_service_allocations` do it for a
whole Service.
"""

from __future__ import annotations

import copy
import ipaddress
import random
import threading
from typing import Any

from localcluster.errors import ApiError, internal, invalid
from localcluster.strategy_service import needs_node_port

SERVICE_CIDR = "10.96.0.0/12"
NODE_PORT_MIN, NODE_PORT_MAX = 30000, 32767


def _field_error(field: str, value: Any, why: str) -> ApiError:
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return invalid("Service", "", [(field, "FieldValueInvalid", f"Invalid value: {shown}: {why}")])


class ClusterIPAllocator:
    def __init__(self, cidr: str = SERVICE_CIDR) -> None:
        self.network = ipaddress.ip_network(cidr)
        self._first = int(self.network.network_address) + 2  # skip the network address and .1
        self._last = int(self.network.broadcast_address) - 1
        self._used: set[int] = set()
        self._next = self._first
        self._lock = threading.Lock()

    def allocate(self, requested: str | None = None) -> str:
        with self._lock:
            if requested:
                value = self._parse(requested)
                if value in self._used:
                    raise _field_error("spec.clusterIPs", requested, "failed to allocate IP "
                                       f"{requested}: provided IP is already allocated")
                self._used.add(value)
                return requested
            size = self._last - self._first + 1
            for step in range(size):
                value = self._first + (self._next - self._first + step) % size
                if value not in self._used:
                    self._used.add(value)
                    self._next = value + 1 if value < self._last else self._first
                    return str(ipaddress.ip_address(value))
            raise internal("failed to allocate a serviceIP: range is full")

    def _parse(self, text: str) -> int:
        try:
            address = ipaddress.ip_address(text)
        except ValueError as e:
            raise _field_error("spec.clusterIPs", text, "must be a valid IP address") from e
        value = int(address)
        if address not in self.network or not self._first - 1 <= value <= self._last:
            raise _field_error("spec.clusterIPs", text, "failed to allocate IP "
                               f"{text}: the provided IP ({text}) is not in the valid range. "
                               f"The range of valid IPs is {self.network}")
        return value

    def release(self, ip: str | None) -> None:
        if not ip or ip == "None":
            return
        with self._lock:
            try:
                self._used.discard(int(ipaddress.ip_address(ip)))
            except ValueError:
                return

    def mark_used(self, ip: str | None) -> None:
        if not ip or ip == "None":
            return
        with self._lock:
            self._used.add(int(ipaddress.ip_address(ip)))

    def in_use(self, ip: str) -> bool:
        with self._lock:
            return int(ipaddress.ip_address(ip)) in self._used


class NodePortAllocator:
    def __init__(self, low: int = NODE_PORT_MIN, high: int = NODE_PORT_MAX,
                 rand: random.Random | None = None) -> None:
        self.low, self.high = low, high
        size = high - low + 1
        self.static_size = min(max(16, size // 32), 128)
        self._rand = rand or random.Random()
        self._used: set[int] = set()
        self._lock = threading.Lock()

    @property
    def static_band(self) -> range:
        return range(self.low, self.low + self.static_size)

    @property
    def dynamic_band(self) -> range:
        return range(self.low + self.static_size, self.high + 1)

    def allocate(self, requested: int | None = None) -> int:
        with self._lock:
            if requested:
                if not self.low <= int(requested) <= self.high:
                    raise _field_error("spec.ports[0].nodePort", requested, "provided port is not in the "
                                       f"valid range. The range of valid ports is {self.low}-{self.high}")
                if int(requested) in self._used:
                    raise _field_error("spec.ports[0].nodePort", requested, "provided port is already allocated")
                self._used.add(int(requested))
                return int(requested)
            for band in (self.dynamic_band, self.static_band):
                free = [p for p in band if p not in self._used]
                if free:
                    port = self._rand.choice(free)
                    self._used.add(port)
                    return port
            raise internal("failed to allocate a nodePort: range is full")

    def release(self, port: int | None) -> None:
        if port:
            with self._lock:
                self._used.discard(int(port))

    def mark_used(self, port: int | None) -> None:
        if port:
            with self._lock:
                self._used.add(int(port))

    def in_use(self, port: int) -> bool:
        with self._lock:
            return int(port) in self._used


def assign_service_allocations(service: dict[str, Any], old: dict[str, Any] | None,
                               node_ports: NodePortAllocator, cluster_ips: ClusterIPAllocator) -> dict[str, Any]:
    """The Service with its clusterIP and node ports allocated (what `old` held is kept).

    Errors name the field: 422 for a taken or out-of-range port (`spec.ports[i].nodePort`),
    422 Forbidden for a nodePort on a ClusterIP Service, 500 when a range is full. On error
    nothing stays allocated. Values `old` held and `service` no longer uses are released.
    """
    out = copy.deepcopy(service)
    spec = out.setdefault("spec", {})
    name = (out.get("metadata") or {}).get("name") or ""
    old_spec = (old or {}).get("spec") or {}
    taken_ips: list[str] = []
    taken_ports: list[int] = []
    try:
        if spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None":
            held = old_spec.get("clusterIP")
            if not spec.get("clusterIP") or spec.get("clusterIP") != held:
                ip = _with_name(name, lambda: cluster_ips.allocate(spec.get("clusterIP") or None), "spec.clusterIPs")
                taken_ips.append(ip)
                spec["clusterIP"] = ip
            spec["clusterIPs"] = [spec["clusterIP"]]
        held_ports = {p.get("nodePort") for p in old_spec.get("ports") or [] if p.get("nodePort")}
        for i, port in enumerate(spec.get("ports") or []):
            field = f"spec.ports[{i}].nodePort"
            requested = port.get("nodePort")
            if not needs_node_port(spec):
                if requested:
                    raise invalid("Service", name, [(field, "FieldValueForbidden",
                                                     "Forbidden: may not be used when `type` is 'ClusterIP'")])
                continue
            if requested and requested in held_ports:
                continue
            port["nodePort"] = _with_name(name, lambda r=requested: node_ports.allocate(r or None), field)
            taken_ports.append(port["nodePort"])
    except ApiError:
        for ip in taken_ips:
            cluster_ips.release(ip)
        for number in taken_ports:
            node_ports.release(number)
        raise
    if old is not None:
        release_service_allocations(old, node_ports, cluster_ips, keep=out)
    return out


def release_service_allocations(service: dict[str, Any], node_ports: NodePortAllocator,
                                cluster_ips: ClusterIPAllocator, keep: dict[str, Any] | None = None) -> None:
    """Free what `service` holds, except what `keep` (its successor) still uses."""
    spec = service.get("spec") or {}
    keep_spec = (keep or {}).get("spec") or {}
    if spec.get("clusterIP") and spec.get("clusterIP") != keep_spec.get("clusterIP"):
        cluster_ips.release(spec["clusterIP"])
    kept = {p.get("nodePort") for p in keep_spec.get("ports") or []}
    for port in spec.get("ports") or []:
        if port.get("nodePort") and port["nodePort"] not in kept:
            node_ports.release(port["nodePort"])


def _with_name(name: str, allocate: Any, field: str) -> Any:
    """Run an allocation; re-raise its 422 with the Service's name and the real field path."""
    try:
        return allocate()
    except ApiError as e:
        if e.code != 422:
            raise
        cause = ((e.details or {}).get("causes") or [{}])[0]
        raise invalid("Service", name, [(field, cause.get("reason", "FieldValueInvalid"),
                                         cause.get("message", e.message))]) from e
