"""Fan-out of computed rows to clients, each through its own bounded queue.

The producer computes and serialises a row once and `publish`es it; every subscribed client gets
it in its own queue. A full queue drops its *oldest* row and counts it: a slow client loses rows
(and is told how many), it never stalls the producer or another client.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field


class ClientQueue:
    def __init__(self, stream_id: int, maxlen: int) -> None:
        if maxlen < 1:
            raise ValueError(f"queue length {maxlen}: must be >= 1")
        self.stream_id = stream_id
        self.dropped = 0
        self.sent = 0
        self._items: deque[bytes] = deque()
        self._maxlen = maxlen
        self._cond = threading.Condition()
        self._finished = False

    def put(self, item: bytes) -> None:
        with self._cond:
            if len(self._items) >= self._maxlen:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def finish(self) -> None:
        """No more rows will come: `get` returns None once the queue is drained."""
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    @property
    def finished(self) -> bool:
        return self._finished

    def get(self, timeout: float) -> bytes | None:
        """The oldest row, or None after `timeout` (or when finished and drained)."""
        with self._cond:
            if not self._items and not self._finished:
                self._cond.wait(timeout)
            if self._items:
                self.sent += 1
                return self._items.popleft()
            return None

    @property
    def exhausted(self) -> bool:
        with self._cond:
            return self._finished and not self._items


@dataclass
class Fanout:
    queue_rows: int = 256
    clients_seen: int = 0
    rows_sent_gone: int = 0  # rows delivered to clients that left
    rows_dropped_gone: int = 0
    last_activity: float = field(default_factory=time.time)
    _queues: list[ClientQueue] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Condition = field(init=False)
    _finished: bool = False

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

    def subscribe(self, stream_id: int) -> ClientQueue:
        q = ClientQueue(stream_id, self.queue_rows)
        with self._lock:
            if self._finished:
                q.finish()
            self._queues.append(q)
            self.clients_seen += 1
            self.last_activity = time.time()
            self._changed.notify_all()
        return q

    def unsubscribe(self, q: ClientQueue) -> None:
        with self._lock:
            if q in self._queues:
                self._queues.remove(q)
                self.rows_sent_gone += q.sent
                self.rows_dropped_gone += q.dropped
            self.last_activity = time.time()
            self._changed.notify_all()

    def stream_ids(self) -> set[int]:
        with self._lock:
            return {q.stream_id for q in self._queues}

    @property
    def n_clients(self) -> int:
        with self._lock:
            return len(self._queues)

    def wait_for_client(self, timeout: float) -> bool:
        with self._lock:
            if not self._queues:
                self._changed.wait(timeout)
            return bool(self._queues)

    def publish(self, payloads: dict[int, bytes]) -> None:
        """One row, serialised per stream id; clients of other stream ids get nothing."""
        with self._lock:
            queues = list(self._queues)
        for q in queues:
            payload = payloads.get(q.stream_id)
            if payload is not None:
                q.put(payload)
        if queues:
            self.last_activity = time.time()

    def finish(self) -> None:
        with self._lock:
            self._finished = True
            queues = list(self._queues)
        for q in queues:
            q.finish()

    def totals(self) -> tuple[int, int]:
        """(rows sent, rows dropped) over every client, past and present."""
        with self._lock:
            return (self.rows_sent_gone + sum(q.sent for q in self._queues),
                    self.rows_dropped_gone + sum(q.dropped for q in self._queues))
