"""A simulated interrogator: Gaussian noise plus tonal sources moving along the fibre.

Deterministic for a seed: the tones depend only on the absolute sample index, the noise on the
seed and the sequence of chunk sizes. Each source emits a sine of a known frequency whose
amplitude falls off with distance from the source's position (Gaussian, `width_m`); the position
moves at `speed_m_s` and bounces between the fibre's ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from streamer.sources import Block

ENVELOPE_STEP_S = 0.02


@dataclass(frozen=True)
class MovingSource:
    frequency_hz: float
    start_m: float
    speed_m_s: float
    amplitude: float = 1.0
    width_m: float = 15.0


def default_sources(fibre_length_m: float, sample_rate_hz: float) -> tuple[MovingSource, ...]:
    """Three well separated tones moving at different speeds (a vehicle, a walker, a pump)."""
    nyquist = sample_rate_hz / 2
    return (
        MovingSource(min(80.0, nyquist * 0.3), 0.1 * fibre_length_m, fibre_length_m / 20, 1.0),
        MovingSource(min(200.0, nyquist * 0.6), 0.8 * fibre_length_m, -fibre_length_m / 40, 0.8),
        MovingSource(min(330.0, nyquist * 0.85), 0.5 * fibre_length_m, 0.0, 0.5),
    )


def positions_m(src: MovingSource, t_s: np.ndarray, fibre_length_m: float) -> np.ndarray:
    """Position along the fibre at times t_s, bouncing between 0 and fibre_length_m (pure)."""
    raw = src.start_m + src.speed_m_s * t_s
    period = 2 * fibre_length_m
    folded = np.mod(raw, period)
    return np.where(folded > fibre_length_m, period - folded, folded)


@dataclass
class Interrogator:
    sample_rate_hz: float = 2000.0
    n_channels: int = 512
    dx_m: float = 1.0
    noise: float = 0.05
    seed: int = 0
    start_ns: int = 0
    sources: tuple[MovingSource, ...] | None = None
    _index: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz={self.sample_rate_hz}: must be > 0")
        if self.n_channels < 1:
            raise ValueError(f"n_channels={self.n_channels}: must be >= 1")
        self.fibre_length_m = self.n_channels * self.dx_m
        if self.sources is None:
            self.sources = default_sources(self.fibre_length_m, self.sample_rate_hz)
        self._rng = np.random.default_rng(self.seed)
        self._x = np.arange(self.n_channels) * self.dx_m

    @property
    def next_t0_ns(self) -> int:
        return self.start_ns + round(self._index * 1e9 / self.sample_rate_hz)

    def chunk(self, n_samples: int) -> tuple[np.ndarray, int]:
        """The next `n_samples` of every channel: ((n_samples, n_channels) float32, t0_ns)."""
        t0_ns = self.next_t0_ns
        t_s = (self._index + np.arange(n_samples)) / self.sample_rate_hz
        data = self._rng.standard_normal((n_samples, self.n_channels), dtype=np.float32) * self.noise
        # The envelope moves slowly: evaluate it once per ENVELOPE_STEP_S piece of the chunk,
        # at absolute piece boundaries, so the result does not depend on the chunk sizes.
        step = max(1, round(ENVELOPE_STEP_S * self.sample_rate_hz))
        cuts = [0] + [i - self._index for i in range(-(-self._index // step) * step, self._index + n_samples, step)
                      if i > self._index] + [n_samples]
        for src in self.sources or ():
            tone = np.sin(2 * np.pi * src.frequency_hz * t_s).astype(np.float32)
            for a, b in zip(cuts[:-1], cuts[1:], strict=True):
                piece_start = (self._index + a) // step * step
                pos = positions_m(src, np.array([piece_start / self.sample_rate_hz]), self.fibre_length_m)[0]
                envelope = (src.amplitude * np.exp(-0.5 * ((self._x - pos) / src.width_m) ** 2)).astype(np.float32)
                data[a:b] += tone[a:b, None] * envelope[None, :]
        self._index += n_samples
        return data, t0_ns

    def blocks(self, chunk_samples: int, channel_min: int = 1, channel_max: int | None = None,
               realtime: bool = True, limit_s: float | None = None) -> Iterator[Block]:
        """Endless (or `limit_s` long) blocks of channels [channel_min, channel_max] (1-based).

        With `realtime`, blocks are paced by the wall clock like a live feed.
        """
        hi = self.n_channels if channel_max is None else channel_max
        if not 1 <= channel_min <= hi <= self.n_channels:
            raise ValueError(f"channels {channel_min}..{hi}: must lie within 1..{self.n_channels}")
        began = time.monotonic()
        produced = 0
        while limit_s is None or produced < limit_s * self.sample_rate_hz:
            data, t0 = self.chunk(chunk_samples)
            produced += chunk_samples
            if realtime:
                ahead = produced / self.sample_rate_hz - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
            yield Block(data[:, channel_min - 1 : hi], t0, self.sample_rate_hz)
