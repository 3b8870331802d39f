"""The live path against the real RabbitMQ on 127.0.0.1: assembly, gaps, duplicates, malformed
chunks, input changes, a connection closed by the broker, and live rows through gRPC."""

from __future__ import annotations

import shutil
import subprocess
import threading
import uuid
from decimal import Decimal

import numpy as np
import pika
import pytest

from streamer.client import StreamClient
from streamer.sources import Block, Reset
from streamer.sources.chunks import encode_chunk
from streamer.sources.live import LiveSource, declare_job_queue
from streamer.sources.publish import Publisher
from streamer.sources.synthetic import Interrogator
from streamer.testing import VIEW, running_server, wait_for
from tests.services import missing, require_rabbitmq

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

RATE = 2000.0


@pytest.fixture
def broker():
    """(amqp url, exchange, queue) of a fresh job queue bound to channels 200..300 (blocks 0, 1)."""
    url = require_rabbitmq()
    name = f"test-streamer-{uuid.uuid4().hex[:8]}"
    exchange, queue = f"{name}.live", f"grpc-job-{name}-live"
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    keys = declare_job_queue(channel, queue, 200, 300, expires_ms=60_000, max_length=500, exchange=exchange)
    assert keys == ["live.0", "live.1", "live.control"]
    try:
        yield url, exchange, queue
    finally:
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        connection.close()


class Collector:
    """Iterates a LiveSource in its own thread (pika is single-threaded), keeping every item."""

    def __init__(self, source: LiveSource) -> None:
        self.source, self.items = source, []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for item in self.source.blocks():
            self.items.append(item)

    def blocks(self) -> list[Block]:
        return [i for i in self.items if isinstance(i, Block)]

    def stop(self) -> None:
        self.source.stop()
        self.thread.join(5)
        assert not self.thread.is_alive()


def _slice(seq: int, n: int = 50) -> np.ndarray:
    return (seq * 1000 + np.arange(512, dtype=np.float32))[None, :].repeat(n, axis=0)


def test_gaps_duplicates_malformed_and_input_changes(broker):
    url, exchange, queue = broker
    live = Collector(LiveSource(url, queue, 200, 300))
    try:
        wait_for(live.source.connected.is_set, what="the consumer to connect")
        with Publisher(url, exchange=exchange, stream_uuid="first") as pub:
            for seq in (0, 1, 2):
                pub.publish(_slice(seq), seq * 25_000_000, RATE)
            pub.seq = 5  # slices 3 and 4 never arrive
            pub.publish(_slice(5), 125_000_000, RATE)
            pub.seq = 5  # the same slice again: two duplicate block chunks
            pub.publish(_slice(5), 125_000_000, RATE)
            good, body = encode_chunk(_slice(6)[:, :256], seq=6, t0_ns=0, sample_rate_hz=RATE, channel_offset=0,
                                      stream_uuid="first")
            for bad, cut in (({"format": "nonsense"}, 0), ({}, 4), ({"dtype": "complex64"}, 0),
                             ({"sample_rate_hz": 0}, 0), ({"n_channels": Decimal("255.5")}, 0)):
                pub.send_raw("live.0", good | bad, body[: len(body) - cut])
            pub.input_changed("second")
            pub.publish(_slice(0), 10**9, RATE)
        wait_for(lambda: len(live.items) >= 7, what="seven items")
        counters = live.source.counters
        wait_for(lambda: counters.malformed == 5, what="five malformed chunks")
    finally:
        live.stop()
    kinds = [i.reason if isinstance(i, Reset) else i.t0_ns for i in live.items]
    assert kinds == [0, 25_000_000, 50_000_000, "gap", 125_000_000, "input-changed", 10**9]
    np.testing.assert_array_equal(live.blocks()[0].data, _slice(0)[:, 199:300])
    assert (counters.gaps, counters.duplicates, counters.malformed, counters.resets) == (2, 2, 5, 2)


def _connections_named(name: str) -> list[str]:
    """Erlang pids (as close_connection takes them) of the broker's connections called `name`."""
    run = subprocess.run(["rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid", "client_properties"],
                         capture_output=True, text=True, timeout=30, check=False)
    if run.returncode != 0:
        missing("rabbitmqctl", f"cannot list connections (exit {run.returncode}): {run.stderr.strip()[:200]}")
    out = run.stdout
    return [line.split("\t", 1)[0] for line in out.splitlines() if f'"{name}"' in line]


def test_the_consumer_recovers_when_the_broker_closes_its_connection(broker):
    url, exchange, queue = broker
    if shutil.which("rabbitmqctl") is None:
        missing("rabbitmqctl", "needed to close a connection from the broker side")
    name = f"streamer-test-{uuid.uuid4().hex[:8]}"
    live = Collector(LiveSource(url, queue, 200, 300, connection_name=name))
    try:
        with Publisher(url, exchange=exchange, stream_uuid="s") as pub:
            wait_for(live.source.connected.is_set, what="the consumer to connect")
            pub.publish(_slice(0), 0, RATE)
            wait_for(lambda: len(live.blocks()) == 1, what="the first block")
            (pid,) = wait_for(lambda: _connections_named(name), what="the connection to be listed")
            subprocess.run(["rabbitmqctl", "-q", "close_connection", pid, "test: broker-side close"],
                           capture_output=True, timeout=30, check=True)
            wait_for(lambda: live.source.counters.reconnects >= 1, what="the consumer to notice")
            wait_for(live.source.connected.is_set, what="the consumer to reconnect")
            pub.publish(_slice(1), 25_000_000, RATE)
            wait_for(lambda: len(live.blocks()) == 2, what="a block after the reconnect")
    finally:
        live.stop()
    assert live.source.counters.gaps == 0 and live.source.state == "stopped"


def test_live_rows_through_grpc_learn_the_rate_from_the_feed(broker):
    url, exchange, queue = broker
    argv = ("--source", "live", "--amqp-url", url, "--queue", queue, "--channel-min", "200",
            "--channel-max", "300", *VIEW, "--display-duration", "1", "--display-height", "20")
    gen = Interrogator(sample_rate_hz=RATE, n_channels=512, seed=2, start_ns=0)
    feeding = threading.Event()

    def feed():  # a live feed: 100 ms slices, twice real time, until the test has its rows
        with Publisher(url, exchange=exchange) as pub:
            for block in gen.blocks(200, realtime=False):
                if feeding.wait(0.05):
                    return
                pub.publish(block.data, block.t0_ns, RATE)

    feeder = threading.Thread(target=feed)
    with running_server(*argv) as (srv, target), StreamClient(target) as client:
        wait_for(srv.source.ready, what="the consumer to connect")
        feeder.start()
        try:
            wait_for(lambda: client.health() == "SERVING", what="health SERVING")
            meta = client.metadata()
            stream = client.rows()
            rows = [next(stream) for _ in range(6)]
            status = client.status()
        finally:
            feeding.set()
            feeder.join(10)
    assert meta.sample_rate_hz == RATE and meta.source == "live" and list(meta.row_shape) == [101, 32]
    assert all(r.data.shape == (101, 32) for r in rows) and status.chunks_in > 0 and status.malformed == 0
    seqs = [r.seq for r in rows]
    assert seqs == list(range(seqs[0], seqs[0] + 6))


def test_the_consumer_recovers_when_its_queue_is_deleted_and_declared_again(broker):
    url, exchange, queue = broker
    live = Collector(LiveSource(url, queue, 200, 300))
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        with Publisher(url, exchange=exchange, stream_uuid="s") as pub:
            wait_for(live.source.connected.is_set, what="the consumer to connect")
            channel = connection.channel()
            channel.queue_delete(queue)
            wait_for(lambda: live.source.counters.reconnects >= 2, what="the consumer to notice and retry")
            assert live.source.state == "reconnecting"
            declare_job_queue(channel, queue, 200, 300, expires_ms=60_000, max_length=500, exchange=exchange)
            wait_for(live.source.connected.is_set, timeout=15, what="the consumer to come back")
            pub.publish(_slice(0), 0, RATE)
            wait_for(lambda: len(live.blocks()) == 1, what="a block after the queue came back")
    finally:
        live.stop()
        connection.close()
