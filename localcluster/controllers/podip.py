"""Pod IPs: each pod gets its own loopback address from a network such as 127.64.0.0/16, so
several pods can listen on the same port (127.0.0.1 stays for the node's own listeners)."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable


class PodIPExhausted(Exception):
    pass


class PodIPAllocator:
    """Hands out addresses round-robin (a freed address is reused last); not thread-safe.

    Round-robin starts at a random address unless `start` (an offset) is given, so that two
    clusters on one machine rarely hand out the same pod IP at the same time."""

    def __init__(self, network: str, in_use: Iterable[str] = (), start: int | None = None) -> None:
        try:
            self._network = ipaddress.IPv4Network(network)
        except ValueError as e:
            raise ValueError(f"pod_ip_network {network!r}: expected an IPv4 network, e.g. 127.64.0.0/16") from e
        if not self._network.is_loopback:
            raise ValueError(f"pod_ip_network {network!r}: must be inside 127.0.0.0/8 (loopback)")
        if self._network.num_addresses < 4:
            raise ValueError(f"pod_ip_network {network!r}: needs at least 4 addresses")
        self._first = int(self._network.network_address) + 1
        self._last = int(self._network.broadcast_address) - 1
        size = self._last - self._first + 1
        self._next = self._first + (random.randrange(size) if start is None else start % size)
        self._used: set[int] = set()
        for ip in in_use:
            self.reserve(ip)

    def reserve(self, ip: str) -> None:
        try:
            address = ipaddress.IPv4Address(ip)
        except ValueError:
            return
        if address in self._network:
            self._used.add(int(address))

    def allocate(self) -> str:
        size = self._last - self._first + 1
        for step in range(size):
            candidate = self._first + (self._next - self._first + step) % size
            if candidate not in self._used:
                self._used.add(candidate)
                self._next = candidate + 1 if candidate < self._last else self._first
                return str(ipaddress.IPv4Address(candidate))
        raise PodIPExhausted(f"no free pod IP left in {self._network}")

    def release(self, ip: str) -> None:
        try:
            self._used.discard(int(ipaddress.IPv4Address(ip)))
        except ValueError:
            return
