"""Between DSP rows and gRPC messages: encoding names <-> proto enum, decoding a received Row."""

from __future__ import annotations

import numpy as np

from streamer.dsp.encode import decode_row
from streamer.protos import streamer_pb2 as pb

ENCODINGS = {"float32": pb.FLOAT32, "float16": pb.FLOAT16, "uint8": pb.UINT8}
ENCODING_NAMES = {v: k for k, v in ENCODINGS.items()}


def row_array(row: pb.Row) -> np.ndarray:
    """The float32 dB values of a received row, in its shape."""
    name = ENCODING_NAMES.get(row.encoding)
    if name is None:
        raise ValueError(f"row encoding {row.encoding}: unknown (expected one of {sorted(ENCODING_NAMES)})")
    return decode_row(row.data, tuple(row.shape), name, row.vmin, row.vmax)
