"""NodePort proxy: a TCP listener on `127.0.0.1:<nodePort>` per NodePort/LoadBalancer Service
port, forwarding each connection to a Running, Ready pod that matches the selector, at
`podIP:targetPort` (round-robin). Raw byte forwarding, so HTTP/2 and gRPC streams pass as is."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from localcluster.controllers.base import ClusterAPI, Controller, Obj

log = logging.getLogger(__name__)
BUFFER = 65536
Key = tuple[str, str, int]  # (namespace, service name, nodePort)


def desired_ports(services: list[Obj]) -> dict[int, tuple[str, str, Obj]]:
    """nodePort → (namespace, service, port entry) for every NodePort/LoadBalancer TCP port."""
    out: dict[int, tuple[str, str, Obj]] = {}
    for svc in services:
        spec = svc.get("spec", {})
        if spec.get("type") not in ("NodePort", "LoadBalancer") or svc["metadata"].get("deletionTimestamp"):
            continue
        for port in spec.get("ports") or []:
            if port.get("nodePort") and port.get("protocol", "TCP") == "TCP":
                out[int(port["nodePort"])] = (svc["metadata"]["namespace"], svc["metadata"]["name"], port)
    return out


def _ready(pod: Obj) -> bool:
    status = pod.get("status", {})
    return status.get("phase") == "Running" and bool(status.get("podIP")) and not pod["metadata"].get(
        "deletionTimestamp") and any(c.get("type") == "Ready" and c.get("status") == "True"
                                     for c in status.get("conditions") or [])


def target_port(pod: Obj, port: Obj) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target)
    for container in pod.get("spec", {}).get("containers") or []:
        for cport in container.get("ports") or []:
            if cport.get("name") == target:
                return int(cport["containerPort"])
    return None


def backends(selector: dict[str, str] | None, pods: list[Obj], port: Obj) -> list[tuple[str, int]]:
    """(podIP, port) of the ready pods the selector matches (none for a Service without selector)."""
    if not selector:
        return []
    out = []
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        labels = pod["metadata"].get("labels") or {}
        if _ready(pod) and all(labels.get(k) == v for k, v in selector.items()):
            number = target_port(pod, port)
            if number is not None:
                out.append((pod["status"]["podIP"], number))
    return out


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(BUFFER)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class Listener:
    """One listening socket plus its live connections."""

    def __init__(self, host: str, port: int, pick: Callable[[], tuple[str, int] | None]) -> None:
        self.port = port
        self._pick = pick
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._sock = socket.create_server((host, port), reuse_port=False)
        self._sock.settimeout(0.5)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name=f"nodeport-{port}", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        target = self._pick()
        upstream = None
        try:
            if target is None:
                return
            upstream = socket.create_connection(target, timeout=5)
            upstream.settimeout(None)
            client.settimeout(None)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.update((client, upstream))
            back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            back.start()
            _pump(client, upstream)
            back.join()
        except OSError as e:
            log.info("nodeport %d: cannot reach %s: %s", self.port, target, e)
        finally:
            with self._lock:
                self._conns.discard(client)
                if upstream is not None:
                    self._conns.discard(upstream)
            for s in (client, upstream):
                if s is not None:
                    s.close()

    def close(self) -> None:
        self._closed.set()
        self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=2)


class NodePortProxy(Controller):
    name = "nodeport-proxy"
    interested_in = frozenset({"services"})
    resync_seconds = 2.0

    def __init__(self, api: ClusterAPI, host: str = "127.0.0.1") -> None:
        super().__init__(api)
        self.host = host
        self._listeners: dict[int, tuple[Key, Any, Listener]] = {}
        self._counter = itertools.count()

    def sync(self) -> None:
        wanted = desired_ports(self.api.list("services"))
        for port, (key, signature, listener) in list(self._listeners.items()):
            want = wanted.get(port)
            if want is None or (want[0], want[1], port) != key or want[2] != signature:
                listener.close()
                del self._listeners[port]
        for port, (namespace, name, entry) in wanted.items():
            if port in self._listeners:
                continue
            try:
                listener = Listener(self.host, port, self._picker(namespace, name, entry))
            except OSError as e:
                log.warning("nodeport %d for service %s/%s: cannot listen: %s", port, namespace, name, e)
                continue
            self._listeners[port] = ((namespace, name, port), entry, listener)

    def _picker(self, namespace: str, name: str, entry: Obj) -> Callable[[], tuple[str, int] | None]:
        def pick() -> tuple[str, int] | None:
            svc = self.api.get("services", namespace, name)
            if svc is None:
                return None
            found = backends(svc.get("spec", {}).get("selector"), self.api.list("pods", namespace), entry)
            return found[next(self._counter) % len(found)] if found else None

        return pick

    def stop(self) -> None:
        super().stop()
        for _, _, listener in self._listeners.values():
            listener.close()
        self._listeners.clear()
