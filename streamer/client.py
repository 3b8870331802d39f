"""Client library: read a streamer's metadata, status, health and rows over gRPC.

`StreamClient(target)` owns one channel (context manager). `rows()` yields `ReceivedRow`s with
the decoded float32 dB array; `WatchStats` sums up rows/s, MB/s, latency and losses.
Latency is receive time minus the row's timestamp (the middle of its frame), so it includes
half a window of the source plus the source's own delay.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from streamer.protos import streamer_pb2 as pb
from streamer.protos import streamer_pb2_grpc as pb_grpc
from streamer.wire import row_array

SERVICE = "spectrojobs.streamer.v1.Streamer"
MAX_MESSAGE = 64 * 1024 * 1024


@dataclass(frozen=True)
class ReceivedRow:
    seq: int
    t_ns: int
    data: np.ndarray
    channel_min: int
    channel_max: int
    dropped_rows: int  # this client's total so far
    nbytes: int
    received_ns: int


@dataclass
class WatchStats:
    rows: int = 0
    bytes: int = 0
    dropped: int = 0  # as reported by the server
    seq_gaps: int = 0  # rows missing between consecutive seq numbers
    latencies_s: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None  # set by `stop()`; else rates run until now
    _last_seq: int | None = None

    def add(self, row: ReceivedRow) -> None:
        self.rows += 1
        self.bytes += row.nbytes
        self.dropped = row.dropped_rows
        if self._last_seq is not None and row.seq > self._last_seq + 1:
            self.seq_gaps += row.seq - self._last_seq - 1
        self._last_seq = row.seq
        self.latencies_s.append((row.received_ns - row.t_ns) / 1e9)

    def stop(self) -> None:
        self.ended = time.monotonic()

    def summary(self) -> dict:
        elapsed = max((self.ended or time.monotonic()) - self.started, 1e-9)
        lat = np.array(self.latencies_s) if self.latencies_s else np.zeros(1)
        return {
            "rows": self.rows, "seconds": round(elapsed, 3), "rows_per_s": round(self.rows / elapsed, 2),
            "mb_per_s": round(self.bytes / elapsed / 1e6, 3), "dropped_rows": self.dropped,
            "seq_gaps": self.seq_gaps, "latency_p50_s": round(float(np.median(lat)), 4),
            "latency_max_s": round(float(lat.max()), 4),
        }


class StreamClient:
    def __init__(self, target: str, timeout_s: float = 10.0, options: list[tuple[str, object]] | None = None) -> None:
        """`options`: extra gRPC channel arguments, e.g. ("grpc.http2.bdp_probe", 0) keeps the
        HTTP/2 receive window small, so a slow reader is felt by the server at once."""
        self.target = target
        self.timeout_s = timeout_s
        self.channel = grpc.insecure_channel(
            target, options=[("grpc.max_receive_message_length", MAX_MESSAGE), *(options or [])])
        self.stub = pb_grpc.StreamerStub(self.channel)
        self._call = None

    def wait_ready(self, timeout_s: float | None = None) -> None:
        grpc.channel_ready_future(self.channel).result(timeout=timeout_s or self.timeout_s)

    def metadata(self) -> pb.Metadata:
        return self.stub.GetMetadata(pb.MetadataRequest(), timeout=self.timeout_s)

    def status(self) -> pb.Status:
        return self.stub.GetStatus(pb.StatusRequest(), timeout=self.timeout_s)

    def health(self, service: str = SERVICE) -> str:
        stub = health_pb2_grpc.HealthStub(self.channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=self.timeout_s)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    def raw_rows(self, stream_id: int = -1) -> Iterator[pb.Row]:
        """Rows as received; `cancel()` ends the call from another thread."""
        self._call = self.stub.StreamData(pb.StreamRequest(stream_id=stream_id))
        return self._call

    def rows(self, stream_id: int = -1) -> Iterator[ReceivedRow]:
        for row in self.raw_rows(stream_id):
            yield ReceivedRow(seq=row.seq, t_ns=row.t_ns, data=row_array(row), channel_min=row.channel_min,
                              channel_max=row.channel_max, dropped_rows=row.dropped_rows,
                              nbytes=len(row.data), received_ns=time.time_ns())

    def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()

    def close(self) -> None:
        self.cancel()
        self.channel.close()

    def __enter__(self) -> StreamClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
