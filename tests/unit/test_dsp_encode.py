"""Row encodings: sizes, per-row min/max and round trips within each encoding's resolution."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.dsp.encode import decode_row, encode_rows

ROWS = np.random.default_rng(3).normal(-60.0, 25.0, size=(4, 6, 5)).astype(np.float32)


@pytest.mark.parametrize(("encoding", "itemsize", "tolerance"), [("float32", 4, 0.0), ("float16", 2, 0.1),
                                                                   ("uint8", 1, None)])
def test_round_trip_per_row(encoding, itemsize, tolerance):
    encoded = encode_rows(ROWS, encoding)
    assert len(encoded) == len(ROWS)
    for row, (payload, vmin, vmax) in zip(ROWS, encoded, strict=True):
        assert len(payload) == row.size * itemsize
        assert (vmin, vmax) == (float(row.min()), float(row.max()))
        back = decode_row(payload, row.shape, encoding, vmin, vmax)
        assert back.dtype == np.float32 and back.shape == row.shape
        limit = tolerance if tolerance is not None else (vmax - vmin) / 510 + 1e-4
        assert np.abs(back - row).max() <= limit


def test_float32_is_little_endian_c_order():
    payload, _, _ = encode_rows(ROWS[:1], "float32")[0]
    assert payload == ROWS[0].astype("<f4").tobytes()


def test_constant_and_non_finite_rows_encode_safely():
    rows = np.array([[5.0, 5.0, 5.0], [np.nan, 1.0, np.inf]], dtype=np.float32)
    (flat, lo, hi), (odd, lo2, hi2) = encode_rows(rows, "uint8")
    assert (lo, hi) == (5.0, 5.0) and np.all(decode_row(flat, (3,), "uint8", lo, hi) == 5.0)
    assert (lo2, hi2) == (1.0, 1.0) and len(odd) == 3


def test_unknown_encoding_and_short_payload_are_refused():
    with pytest.raises(ValueError, match="must be one of float32, float16, uint8"):
        encode_rows(ROWS, "int4")
    with pytest.raises(ValueError, match="expected 120 for shape"):
        decode_row(b"\0" * 10, (6, 5), "float32", 0.0, 0.0)
