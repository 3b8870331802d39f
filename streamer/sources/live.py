"""The live source: consumes a job's RabbitMQ queue and assembles the view's channels.

The job queue (`grpc-job-<job_id>-live`) is declared by the playbooks with `x-expires`,
`x-max-length` and `x-overflow: drop-head`, bound on the live exchange to the channel blocks of
the view and to the control key (`streamer.blocks`). `declare_job_queue` does the same for
tests and local runs. The consumer only checks that the queue exists (passive declare).

pika is single-threaded: one `BlockingConnection`, owned by the thread that iterates `blocks()`;
`stop()` only sets a flag that the consume loop reads between messages (inactivity timeout).
A lost connection (broker restart, connection closed by the broker) is re-opened with
exponential back-off; malformed chunks are counted, logged and dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pika
import pika.exceptions

from streamer.blocks import LIVE_EXCHANGE, routing_keys_for_channels
from streamer.errors import ChunkError
from streamer.sources import Block, Reset
from streamer.sources.assembler import Assembler, Counters
from streamer.sources.chunks import Control, decode

log = logging.getLogger(__name__)

PREFETCH = 64
POLL_S = 0.25
BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 10.0
RECOVERABLE = (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError,
               pika.exceptions.StreamLostError, ConnectionError)


def declare_exchange(channel, exchange: str = LIVE_EXCHANGE) -> None:
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)


def declare_job_queue(channel, queue: str, channel_min: int, channel_max: int, *, expires_ms: int = 600_000,
                      max_length: int = 2_000, exchange: str = LIVE_EXCHANGE) -> list[str]:
    """Declare a job queue like the playbooks do and bind it; returns the routing keys bound."""
    declare_exchange(channel, exchange)
    channel.queue_declare(queue=queue, durable=False, arguments={
        "x-expires": int(expires_ms), "x-max-length": int(max_length), "x-overflow": "drop-head"})
    keys = routing_keys_for_channels(channel_min, channel_max)
    for key in keys:
        channel.queue_bind(queue=queue, exchange=exchange, routing_key=key)
    return keys


class LiveSource:
    def __init__(self, amqp_url: str, queue: str, channel_min: int, channel_max: int,
                 connection_name: str = "spectrojobs-streamer") -> None:
        self.amqp_url = amqp_url
        self.queue = queue
        self.connection_name = connection_name
        self.assembler = Assembler(channel_min, channel_max)
        self.state = "starting"
        self._stop = threading.Event()
        self.connected = threading.Event()

    @property
    def counters(self) -> Counters:
        return self.assembler.counters

    def stop(self) -> None:
        self._stop.set()

    def _parameters(self) -> pika.URLParameters:
        params = pika.URLParameters(self.amqp_url)
        params.client_properties = {"connection_name": self.connection_name}
        params.connection_attempts = 1
        params.heartbeat = 30
        return params

    def _handle(self, headers: dict | None, body: bytes) -> list[Block | Reset]:
        try:
            item = decode(headers, body)
        except ChunkError as e:
            self.counters.malformed += 1
            log.warning("dropped malformed chunk from %s (%d so far): %s", self.queue, self.counters.malformed, e)
            return []
        if isinstance(item, Control):
            log.info("input changed (%s, stream %s): resetting the DSP state", item.event, item.stream_uuid)
            return self.assembler.reset(item.event)
        return self.assembler.add(item)

    def _consume(self, connection: pika.BlockingConnection) -> Iterator[Block | Reset]:
        channel = connection.channel()
        channel.queue_declare(queue=self.queue, passive=True)
        channel.basic_qos(prefetch_count=PREFETCH)
        self.state = "running"
        self.connected.set()
        log.info("consuming %s", self.queue)
        for method, props, body in channel.consume(self.queue, inactivity_timeout=POLL_S):
            if self._stop.is_set():
                break
            if method is None:
                continue
            channel.basic_ack(method.delivery_tag)
            yield from self._handle(props.headers, body)
        if not self._stop.is_set():  # the generator ends when the broker cancels the consumer
            log.warning("the broker cancelled the consumer of %s (queue deleted?); retrying", self.queue)
            self.counters.reconnects += 1
            self.state = "reconnecting"
        elif channel.is_open:
            channel.cancel()

    def blocks(self) -> Iterator[Block | Reset]:
        delay = BACKOFF_FIRST_S
        while not self._stop.is_set():
            connection = None
            try:
                connection = pika.BlockingConnection(self._parameters())
                yield from self._consume(connection)
            except RECOVERABLE as e:
                if self.connected.is_set():  # it had been consuming: retry soon, then back off
                    delay = BACKOFF_FIRST_S
                self.connected.clear()
                self.state = "reconnecting"
                self.counters.reconnects += 1
                log.warning("consuming %s failed (%s: %s); retrying in %.1f s", self.queue, type(e).__name__, e,
                            delay)
                self._stop.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
            finally:
                if connection is not None and connection.is_open:
                    connection.close()
        self.state = "stopped"
