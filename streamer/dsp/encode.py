"""Row payloads for the wire: raw little-endian bytes, C order, one payload per row.

- `float32`: the dB values as they are ('<f4');
- `float16`: '<f2' (half the bytes; dB values in -300..+300 keep ~0.1 dB resolution);
- `uint8`: q = round(255 * (x - vmin) / (vmax - vmin)), decoded as vmin + q * (vmax - vmin) / 255
  (a quarter of the bytes; error <= (vmax - vmin) / 510 per value).

Every payload comes with the row's min and max (over its finite values; 0, 0 when none);
`uint8` needs them to decode, the float encodings report them for display scaling. Non-finite
values only arise from non-finite input; `uint8` maps them to 0 (NaN) or clips them (+-inf).
"""

from __future__ import annotations

import numpy as np

ENCODINGS = ("float32", "float16", "uint8")
_DTYPES = {"float32": np.dtype("<f4"), "float16": np.dtype("<f2"), "uint8": np.dtype("u1")}


def _check(encoding: str) -> np.dtype:
    if encoding not in _DTYPES:
        raise ValueError(f"encoding {encoding!r}: must be one of {', '.join(ENCODINGS)}")
    return _DTYPES[encoding]


def row_min_max(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row min and max over the finite values, (n_rows,) float64 each."""
    flat = data.reshape(len(data), -1)
    finite = np.isfinite(flat)
    lo = np.where(finite, flat, np.inf).min(axis=1, initial=np.inf)
    hi = np.where(finite, flat, -np.inf).max(axis=1, initial=-np.inf)
    empty = ~finite.any(axis=1)
    lo[empty] = 0.0
    hi[empty] = 0.0
    return lo.astype(np.float64), hi.astype(np.float64)


def encode_rows(data: np.ndarray, encoding: str) -> list[tuple[bytes, float, float]]:
    """(payload, vmin, vmax) for each row of `data` (n_rows, *row_shape)."""
    dtype = _check(encoding)
    data = np.asarray(data, dtype=np.float32)
    lo, hi = row_min_max(data)
    if encoding == "uint8":
        shape = (len(data),) + (1,) * (data.ndim - 1)
        span = np.where(hi > lo, hi - lo, 1.0).reshape(shape)
        scaled = (data - lo.reshape(shape)) * (255.0 / span)
        encoded = np.clip(np.rint(np.nan_to_num(scaled, nan=0.0)), 0, 255).astype(dtype)
    else:
        encoded = data.astype(dtype)
    return [(encoded[i].tobytes(), float(lo[i]), float(hi[i])) for i in range(len(data))]


def decode_row(payload: bytes, shape: tuple[int, ...], encoding: str, vmin: float, vmax: float) -> np.ndarray:
    """The float32 row (of `shape`) back from a payload of `encode_rows`."""
    dtype = _check(encoding)
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(payload) != expected:
        raise ValueError(f"payload of {len(payload)} bytes: expected {expected} for shape {tuple(shape)} "
                         f"as {encoding}")
    values = np.frombuffer(payload, dtype=dtype).reshape(shape)
    if encoding == "uint8":
        span = vmax - vmin if vmax > vmin else 0.0
        return (vmin + values.astype(np.float32) * np.float32(span / 255.0)).astype(np.float32)
    return values.astype(np.float32)
