"""The live chunk format on RabbitMQ: encode and decode (pure functions, no broker).

A chunk is one channel block of one time slice. Body: little-endian C-order
`(n_samples, n_channels)` array of `dtype`; header fields in the AMQP headers (das-notes.md,
"Live chunk format"). All chunks of one time slice carry the same `seq` and `t0_ns`, so a
consumer assembles a view from several blocks by `seq`. A change of acquisition settings is a
separate control message (`format` = "das-control", `event` = "input-changed") on the control
routing key.

AMQP tables have no portable float type that pika can send: real-valued headers go as AMQP
decimals when they fit one (32-bit unscaled value), else as decimal strings; a reader accepts
integers, floats, decimals and numeric strings alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np

from streamer.errors import ChunkError

CHUNK_FORMAT = "das-chunk"
CONTROL_FORMAT = "das-control"
INPUT_CHANGED = "input-changed"
VERSION = 1
MAX_MESSAGE_BYTES = 1_000_000
DTYPES = {"float32": np.dtype("<f4"), "int16": np.dtype("<i2")}
REQUIRED = ("format", "version", "stream_uuid", "seq", "t0_ns", "sample_rate_hz", "channel_offset",
            "n_channels", "n_samples", "dtype")


@dataclass(frozen=True)
class Chunk:
    stream_uuid: str
    seq: int
    t0_ns: int
    sample_rate_hz: float
    channel_offset: int  # 0-based column of the first channel
    data: np.ndarray  # (n_samples, n_channels) float32, scale factor applied

    @property
    def n_channels(self) -> int:
        return self.data.shape[1]


@dataclass(frozen=True)
class Control:
    event: str
    stream_uuid: str


def wire_number(x: float) -> Decimal | str:
    """A float as an AMQP decimal (exact for values like 2000.0, 0.25, 1.2e-9), else as a string."""
    d = Decimal(repr(float(x))).normalize()
    exponent = d.as_tuple().exponent
    if not isinstance(exponent, int):
        return repr(float(x))
    raw = int(d.scaleb(-exponent)) if exponent < 0 else int(d)
    if -(2**31) <= raw < 2**31 and exponent >= -255:
        return d
    return repr(float(x))


def encode_chunk(data: np.ndarray, *, seq: int, t0_ns: int, sample_rate_hz: float, channel_offset: int,
                 stream_uuid: str, dx_m: float = 1.0, gauge_length_m: float = 10.0,
                 data_type: str = "strain_rate", units: str = "1/s",
                 scale_factor: float = 1.0) -> tuple[dict, bytes]:
    """Headers and body of one chunk; float32 data is sent as float32, int16 as int16."""
    dtype_name = "int16" if data.dtype == np.int16 else "float32"
    body = np.ascontiguousarray(data, dtype=DTYPES[dtype_name]).tobytes()
    if len(body) > MAX_MESSAGE_BYTES:
        raise ValueError(f"chunk body of {len(body)} bytes: must be <= {MAX_MESSAGE_BYTES} (send fewer samples)")
    headers = {
        "format": CHUNK_FORMAT, "version": VERSION, "stream_uuid": stream_uuid, "seq": int(seq),
        "t0_ns": int(t0_ns), "sample_rate_hz": wire_number(sample_rate_hz), "channel_offset": int(channel_offset),
        "n_channels": int(data.shape[1]), "dx_m": wire_number(dx_m), "n_samples": int(data.shape[0]),
        "dtype": dtype_name, "data_type": data_type, "units": units, "scale_factor": wire_number(scale_factor),
        "gauge_length_m": wire_number(gauge_length_m),
    }
    return headers, body


def control_message(stream_uuid: str, event: str = INPUT_CHANGED) -> dict:
    return {"format": CONTROL_FORMAT, "version": VERSION, "event": event, "stream_uuid": stream_uuid}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _number(headers: Mapping, key: str) -> float:
    """A real-valued header: int, float, AMQP decimal or numeric string; finite."""
    value = headers[key]
    if isinstance(value, bool):
        raise ChunkError(f"header {key}={value!r}: must be a number")
    try:
        number = float(_text(value)) if isinstance(value, str | bytes) else float(value)
    except (TypeError, ValueError, InvalidOperation) as e:
        raise ChunkError(f"header {key}={value!r}: must be a number") from e
    if not math.isfinite(number):
        raise ChunkError(f"header {key}={value!r}: must be finite")
    return number


def _whole(headers: Mapping, key: str, minimum: int) -> int:
    """An integer header; integral reals (256.0) are normalised, fractional ones refused."""
    value = headers[key]
    if isinstance(value, int) and not isinstance(value, bool):
        number = value  # exact, even beyond 2**53 (t0_ns)
    else:
        real = _number(headers, key)
        if not real.is_integer():
            raise ChunkError(f"header {key}={value!r}: must be a whole number")
        number = int(real)
    if number < minimum:
        raise ChunkError(f"header {key}={value!r}: must be >= {minimum}")
    return number


def decode(headers: Mapping | None, body: bytes) -> Chunk | Control:
    """Parse one message; raises ChunkError naming the offending header, value and rule."""
    headers = headers or {}
    fmt = _text(headers.get("format", ""))
    if fmt == CONTROL_FORMAT:
        return Control(_text(headers.get("event", INPUT_CHANGED)), _text(headers.get("stream_uuid", "")))
    if fmt != CHUNK_FORMAT:
        raise ChunkError(f"header format={fmt!r}: must be {CHUNK_FORMAT!r} or {CONTROL_FORMAT!r}")
    missing = [k for k in REQUIRED if k not in headers]
    if missing:
        raise ChunkError(f"headers {missing}: missing (required: {list(REQUIRED)})")
    dtype_name = _text(headers["dtype"])
    if dtype_name not in DTYPES:
        raise ChunkError(f"header dtype={dtype_name!r}: must be one of {sorted(DTYPES)}")
    rate = _number(headers, "sample_rate_hz")
    if rate <= 0:
        raise ChunkError(f"header sample_rate_hz={headers['sample_rate_hz']!r}: must be > 0 "
                         "(0 means the interrogator waits for fibre)")
    n_channels = _whole(headers, "n_channels", 1)
    n_samples = _whole(headers, "n_samples", 1)
    expected = n_samples * n_channels * DTYPES[dtype_name].itemsize
    if len(body) != expected:
        raise ChunkError(
            f"body of {len(body)} bytes: must be n_samples*n_channels*itemsize = "
            f"{n_samples}*{n_channels}*{DTYPES[dtype_name].itemsize} = {expected}"
        )
    data = np.frombuffer(body, dtype=DTYPES[dtype_name]).reshape(n_samples, n_channels).astype(np.float32)
    scale = _number(headers, "scale_factor") if headers.get("scale_factor") not in (None, "", 0) else 1.0
    if scale != 1.0:
        data *= np.float32(scale)
    return Chunk(
        stream_uuid=_text(headers["stream_uuid"]),
        seq=_whole(headers, "seq", 0),
        t0_ns=_whole(headers, "t0_ns", 0),
        sample_rate_hz=float(rate),
        channel_offset=_whole(headers, "channel_offset", 0),
        data=data,
    )
