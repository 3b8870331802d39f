"""Live chunk format: encode/decode round trip and every malformed case refused with a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.errors import ChunkError
from streamer.sources.chunks import Chunk, Control, control_message, decode, encode_chunk


def _chunk(data=None, **over):
    data = np.arange(12, dtype=np.float32).reshape(3, 4) if data is None else data
    headers, body = encode_chunk(data, seq=7, t0_ns=1_700_000_000_123_456_789, sample_rate_hz=2000.0,
                                 channel_offset=256, stream_uuid="s-1")
    headers.update(over)
    return headers, body


def test_round_trip_keeps_every_field():
    headers, body = _chunk()
    assert len(body) == 3 * 4 * 4 and headers["format"] == "das-chunk"
    chunk = decode(headers, body)
    assert isinstance(chunk, Chunk)
    assert (chunk.seq, chunk.t0_ns, chunk.channel_offset, chunk.n_channels) == (7, 1_700_000_000_123_456_789, 256, 4)
    np.testing.assert_array_equal(chunk.data, np.arange(12, dtype=np.float32).reshape(3, 4))


def test_body_is_little_endian_c_order():
    headers, body = _chunk()
    assert body[:8] == np.array([0.0, 1.0], dtype="<f4").tobytes()


def test_int16_is_scaled_and_integral_float_counts_are_normalised():
    headers, body = encode_chunk(np.array([[1, -2]], dtype=np.int16), seq=0, t0_ns=0, sample_rate_hz=1000,
                                 channel_offset=0, stream_uuid="s", scale_factor=0.5)
    headers["n_channels"] = 2.0
    chunk = decode(headers, body)
    assert chunk.data.dtype == np.float32
    np.testing.assert_array_equal(chunk.data, [[0.5, -1.0]])


def test_control_message_is_recognised():
    assert decode(control_message("s-2"), b"") == Control("input-changed", "s-2")


@pytest.mark.parametrize(
    ("over", "body_cut", "message"),
    [
        ({"format": "other"}, 0, r"format='other': must be 'das-chunk'"),
        ({"dtype": "float64"}, 0, r"dtype='float64': must be one of \['float32', 'int16'\]"),
        ({"sample_rate_hz": 0}, 0, r"sample_rate_hz=0: must be > 0 \(0 means the interrogator waits for fibre\)"),
        ({"n_channels": 3.5}, 0, r"n_channels=3.5: must be a whole number"),
        ({"n_samples": 0}, 0, r"n_samples=0: must be >= 1"),
        ({}, 4, r"body of 44 bytes: must be n_samples\*n_channels\*itemsize = 3\*4\*4 = 48"),
        ({"seq": "x"}, 0, r"seq='x': must be a number"),
    ],
)
def test_malformed_chunks_are_refused_naming_header_value_and_rule(over, body_cut, message):
    headers, body = _chunk(**over)
    with pytest.raises(ChunkError, match=message):
        decode(headers, body[: len(body) - body_cut])


def test_missing_headers_are_listed():
    headers, body = _chunk()
    del headers["t0_ns"], headers["seq"]
    with pytest.raises(ChunkError, match=r"headers \['seq', 't0_ns'\]: missing"):
        decode(headers, body)


def test_oversized_chunks_are_refused_when_encoding():
    with pytest.raises(ValueError, match="must be <= 1000000"):
        encode_chunk(np.zeros((1000, 256), np.float32), seq=0, t0_ns=0, sample_rate_hz=1, channel_offset=0,
                     stream_uuid="s")


def test_headers_survive_the_amqp_table_codec():
    from pika import data as amqp

    headers, body = encode_chunk(np.zeros((2, 3), np.float32), seq=2**40, t0_ns=1_795_346_300_123_456_789,
                                 sample_rate_hz=2000.0, channel_offset=0, stream_uuid="s", dx_m=1.0209,
                                 gauge_length_m=10.0, scale_factor=1.2345678901234e-9)
    pieces: list = []
    amqp.encode_table(pieces, headers)
    decoded, _ = amqp.decode_table(b"".join(pieces), 0)
    chunk = decode(decoded, body)
    assert (chunk.seq, chunk.t0_ns, chunk.sample_rate_hz) == (2**40, 1_795_346_300_123_456_789, 2000.0)
    assert decode(decoded | {"sample_rate_hz": "2000.5"}, body).sample_rate_hz == 2000.5


def test_publishing_splits_data_on_absolute_channel_blocks():
    from streamer.sources.publish import block_spans, max_samples_per_message

    assert block_spans(1, 600) == [(0, 256, 0), (256, 512, 1), (512, 600, 2)]
    assert block_spans(200, 100) == [(0, 57, 0), (57, 100, 1)]  # channels 200..256 | 257..299
    assert max_samples_per_message() * 256 * 4 <= 1_000_000 < (max_samples_per_message() + 1) * 256 * 4
