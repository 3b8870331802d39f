"""Data sources of the streamer: live (RabbitMQ), recording (PRODML HDF5) and synthetic.

Every source yields `Block` items (a `(n_samples, n_channels)` float32 array of the view's
channels, its start time and sample rate) and `Reset` items (the input changed or a gap broke
continuity: the DSP state must be dropped before the next block).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Block:
    data: np.ndarray  # (n_samples, n_channels) float32, the view's channels only
    t0_ns: int  # Unix time of the first sample
    sample_rate_hz: float


@dataclass(frozen=True)
class Reset:
    reason: str  # "input-changed", "gap", "stream-changed"
