"""The gRPC side: the `Streamer` service, health, reflection, and `create_server`.

`StreamData` sends rows that the producer serialised once (identity serializer); a client's
`dropped_rows` is appended as one extra field: protobuf concatenation merges messages, so
`row_bytes + Row(dropped_rows=n)` decodes as the row with its drop counter. A client that
cancels or disconnects ends its generator through `context.add_callback`.
"""

from __future__ import annotations

import logging
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from streamer.fanout import Fanout
from streamer.protos import streamer_pb2 as pb

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Streamer"].full_name
POLL_S = 0.25
MAX_WORKERS = 64  # each streaming client holds one worker thread


class StreamerService:
    """Answers the three RPCs from a job (set later for live jobs that learn their rate first)."""

    def __init__(self, fanout: Fanout) -> None:
        self.fanout = fanout
        self.job = None  # streamer.job.Job once the view is known
        self.source_state = lambda: "starting"
        self.source_counters = None  # streamer.sources.assembler.Counters for live sources
        self.metadata: pb.Metadata | None = None
        self.health = health.HealthServicer()
        self.set_serving(False)

    def set_serving(self, serving: bool) -> None:
        """grpc.health.v1 status of the service and of the server ("")."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in (SERVICE_NAME, ""):
            self.health.set(name, status)

    def GetMetadata(self, request: pb.MetadataRequest, context: grpc.ServicerContext) -> pb.Metadata:
        if self.metadata is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the view is not known yet (waiting for the first live chunk)")
        return self.metadata

    def GetStatus(self, request: pb.StatusRequest, context: grpc.ServicerContext) -> pb.Status:
        sent, dropped = self.fanout.totals()
        status = pb.Status(clients=self.fanout.n_clients, last_activity_unix=self.fanout.last_activity,
                           rows_sent=sent, rows_dropped=dropped, source_state=self.source_state())
        if self.job is not None:
            status.started_unix = self.job.started_unix
            status.done = self.job.done
            status.rows_computed = self.job.stats.rows_computed
            status.chunks_in = self.job.stats.chunks_in
            status.resets = self.job.stats.resets
            if self.job.state in ("done", "failed"):
                status.source_state = self.job.state
        c = self.source_counters
        if c is not None:
            status.gaps, status.duplicates, status.malformed = c.gaps, c.duplicates, c.malformed
        return status

    def StreamData(self, request: pb.StreamRequest, context: grpc.ServicerContext):
        if self.metadata is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the view is not known yet (waiting for the first live chunk)")
        stream_id = request.stream_id if request.stream_id >= 0 else -1
        if stream_id >= max(1, self.metadata.stream_amount):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"stream_id={stream_id}: must be < stream_amount {self.metadata.stream_amount} "
                          "(or negative for every stream)")
        gone = threading.Event()
        context.add_callback(gone.set)
        queue = self.fanout.subscribe(stream_id)
        log.info("client %s joined (stream %d, %d clients)", context.peer(), stream_id, self.fanout.n_clients)
        try:
            while not gone.is_set():
                item = queue.get(POLL_S)
                if item is None:
                    if queue.exhausted:
                        if self.job is not None and self.job.state == "failed":
                            context.abort(grpc.StatusCode.INTERNAL, f"the job failed: {self.job.error}")
                        return
                    continue
                if queue.dropped:
                    item += pb.Row(dropped_rows=queue.dropped).SerializeToString()
                yield item
        finally:
            self.fanout.unsubscribe(queue)
            log.info("client %s left after %d rows (%d dropped)", context.peer(), queue.sent, queue.dropped)


def _handlers(service: StreamerService) -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(SERVICE_NAME, {
        "GetMetadata": grpc.unary_unary_rpc_method_handler(
            service.GetMetadata, request_deserializer=pb.MetadataRequest.FromString,
            response_serializer=pb.Metadata.SerializeToString),
        "StreamData": grpc.unary_stream_rpc_method_handler(
            service.StreamData, request_deserializer=pb.StreamRequest.FromString,
            response_serializer=None),  # rows arrive serialised
        "GetStatus": grpc.unary_unary_rpc_method_handler(
            service.GetStatus, request_deserializer=pb.StatusRequest.FromString,
            response_serializer=pb.Status.SerializeToString),
    })


def create_server(address: str, service: StreamerService, max_workers: int = MAX_WORKERS) -> tuple[grpc.Server, int]:
    """A server with the Streamer service, its health and reflection, bound to `address`
    ("host:port"; port 0 picks a free one) but not started. Returns (server, bound port)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
                         options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((_handlers(service),))
    health_pb2_grpc.add_HealthServicer_to_server(service.health, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as e:
        raise OSError(f"cannot bind {address}: {e}") from e
    if port == 0:
        raise OSError(f"cannot bind {address}")
    return server, port
