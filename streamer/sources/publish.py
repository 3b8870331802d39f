"""Publishes a feed to RabbitMQ the way an interrogator gateway does: one message per channel
block per time slice on the live exchange (`live.<block>`), bodies of at most 1 MB.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from collections.abc import Iterable

import numpy as np
import pika

from streamer.blocks import CHANNEL_BLOCK_SIZE, CONTROL_ROUTING_KEY, LIVE_EXCHANGE, routing_key
from streamer.sources import Block, Reset
from streamer.sources.chunks import MAX_MESSAGE_BYTES, control_message, encode_chunk
from streamer.sources.live import declare_exchange

log = logging.getLogger(__name__)


def max_samples_per_message(n_channels: int = CHANNEL_BLOCK_SIZE, itemsize: int = 4) -> int:
    return MAX_MESSAGE_BYTES // (n_channels * itemsize)


def block_spans(first_channel: int, n_channels: int) -> list[tuple[int, int, int]]:
    """(lo, hi, block) column spans of data whose column 0 is 1-based `first_channel` (pure).

    Block boundaries fall on multiples of CHANNEL_BLOCK_SIZE in absolute 0-based columns.
    """
    spans, lo = [], 0
    while lo < n_channels:
        col = first_channel - 1 + lo
        hi = min(n_channels, lo + CHANNEL_BLOCK_SIZE - col % CHANNEL_BLOCK_SIZE)
        spans.append((lo, hi, col // CHANNEL_BLOCK_SIZE))
        lo = hi
    return spans


class Publisher:
    """Owns one connection (pika is single-threaded: use it from one thread)."""

    def __init__(self, amqp_url: str, exchange: str = LIVE_EXCHANGE, stream_uuid: str | None = None,
                 dx_m: float = 1.0, gauge_length_m: float = 10.0) -> None:
        self.exchange = exchange
        self.stream_uuid = stream_uuid or str(uuidlib.uuid4())
        self.dx_m = dx_m
        self.gauge_length_m = gauge_length_m
        self.seq = 0
        self.messages = 0
        self._connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self._channel = self._connection.channel()
        declare_exchange(self._channel, exchange)

    def _send(self, key: str, headers: dict, body: bytes) -> None:
        props = pika.BasicProperties(headers=headers, content_type="application/octet-stream")
        self._channel.basic_publish(self.exchange, key, body, props)
        self.messages += 1

    def publish(self, data: np.ndarray, t0_ns: int, sample_rate_hz: float, first_channel: int = 1) -> int:
        """One time slice of channels starting at `first_channel` (1-based); returns its seq.

        Slices longer than a 1 MB message allows are split in time, each part its own seq.
        """
        step = max_samples_per_message()
        for i in range(0, data.shape[0], step):
            part = data[i : i + step]
            t0 = t0_ns + round(i * 1e9 / sample_rate_hz)
            for lo, hi, block in block_spans(first_channel, part.shape[1]):
                headers, body = encode_chunk(
                    part[:, lo:hi], seq=self.seq, t0_ns=t0, sample_rate_hz=sample_rate_hz,
                    channel_offset=first_channel - 1 + lo, stream_uuid=self.stream_uuid, dx_m=self.dx_m,
                    gauge_length_m=self.gauge_length_m)
                self._send(routing_key(block), headers, body)
            self.seq += 1
        return self.seq - 1

    def publish_blocks(self, blocks: Iterable[Block | Reset], first_channel: int = 1) -> None:
        """Publish every block; a Reset (a gap in a recording) starts a new stream."""
        for block in blocks:
            if isinstance(block, Reset):
                self.input_changed()
            else:
                self.publish(block.data, block.t0_ns, block.sample_rate_hz, first_channel)

    def input_changed(self, new_stream_uuid: str | None = None) -> None:
        """Announce new acquisition settings; the following chunks belong to a new stream."""
        self.stream_uuid = new_stream_uuid or str(uuidlib.uuid4())
        self.seq = 0
        self._send(CONTROL_ROUTING_KEY, control_message(self.stream_uuid), b"")

    def send_raw(self, key: str, headers: dict, body: bytes) -> None:
        """Send a message as given (tests of malformed chunks; replaying captured traffic)."""
        self._send(key, headers, body)

    def close(self) -> None:
        if self._connection.is_open:
            self._connection.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
