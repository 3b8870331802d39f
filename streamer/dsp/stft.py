"""Streaming spectrogram rows for the three views, identical whatever the chunking of the input.

Frames: row j of a stream (counted from the first sample fed after construction or `reset()`)
is computed from the samples [j*hop, j*hop + L) with L = nfft (STFT views) or L = hop
(waterfall lines). Samples that a later frame still needs are carried to the next `feed`; when
hop > nfft the samples between windows are skipped, never buffered. So feeding the same samples
in one block or in many blocks of any sizes yields the same rows and the same timestamps.

STFT views: periodic Hann window scaled by 1/sum(window) ("magnitude" scaling: a sine of
amplitude A on a bin centre reads |X| = A/2, i.e. -6 dB for A = 1), one-sided rfft, bins cropped
to the frequency range *before* any per-bin work, power |X|^2 pooled by mean into the display
bins, intensity 10*log10(power + EPS). Multichannel rows are (channels, bins), single channel
rows (bins,). Waterfall rows (channels,) are 10*log10(mean((x - mean(x))^2) + EPS) per line.

Timestamps: a row's time is the time of the middle of its frame (first sample + L/2 sample
periods), counted from the `t0_ns` of the block that held the frame's first sample, so a gap in
the input's clock shows in the row times. They are chunking-independent to the nanosecond when
the blocks' `t0_ns` are consistent (`t0 + n * 1e9 / sample_rate` on an integer-ns period).

Speed: every channel and every frame of a block go through one strided view, one window
multiply and one rfft call (scipy.fft with `workers` threads, or cuFFT); large blocks are cut
into batches of at most `max_batch_values` windowed samples to bound memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from . import xp as xpmod
from .params import ViewParams

EPS = 1e-30  # power floor: -300 dB; DAS strain rates are ~1e-9, so no real signal reaches it
DEFAULT_MAX_BATCH_VALUES = None  # samples per tile: xp.DEFAULT_TILE_VALUES of the backend


@dataclass
class Rows:
    """Rows on the host: `data` float32 dB, shape (n_rows, *row_shape); `t_ns` int64 per row."""

    data: np.ndarray
    t_ns: np.ndarray

    def __len__(self) -> int:
        return len(self.t_ns)


def hann(xp: ModuleType, n: int) -> Any:
    """Periodic Hann window (scipy.signal.windows.hann(n, sym=False)), float32."""
    return (0.5 - 0.5 * xp.cos(2 * np.pi * xp.arange(n) / n)).astype(xp.float32)


def pool_matrix(params: ViewParams) -> np.ndarray | None:
    """(cropped bins, display bins) float32 averaging matrix, or None when nothing is pooled."""
    if not params.pooled:
        return None
    edges = params.pool_edges
    matrix = np.zeros((params.n_cropped_bins, len(edges) - 1), dtype=np.float32)
    for group, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        matrix[a:b, group] = 1.0 / (b - a)
    return matrix


class StreamingSpectrogram:
    """Rows of one view from a stream of (n_samples, n_channels) blocks of the view's channels."""

    def __init__(
        self,
        params: ViewParams,
        xp: ModuleType | str | None = None,
        workers: int | None = None,
        max_batch_values: int | None = DEFAULT_MAX_BATCH_VALUES,
    ):
        self.params = params
        self.xp = xpmod.select(xp)
        self.workers = workers
        self.max_batch_values = max_batch_values or xpmod.tile_values(self.xp)
        self._n_channels = params.n_channels
        self._length = params.frame_length
        self._hop = params.hop
        self._period_ns = 1e9 / params.sample_rate_hz
        self._bins_shape = () if params.is_waterfall else (params.n_bins,)
        self._threads = xpmod.tile_threads(self.xp, workers)
        self._fft_workers = 1 if self._threads > 1 else workers
        if params.is_waterfall:
            self._rows_of = self._band_energy
        else:
            window = hann(self.xp, params.nfft)
            self._window = window / window.sum()
            pool = pool_matrix(params)
            self._pool = None if pool is None else self.xp.asarray(np.repeat(pool, 2, axis=0))
            self._rows_of = self._spectrum
        self.reset()

    def reset(self) -> None:
        """Forget carried samples and the clock (the input changed); the next block starts row 0."""
        self._buf = self.xp.zeros((self._n_channels, 0), dtype=self.xp.float32)  # (channels, samples)
        self._buf_start = 0  # stream index of the first carried sample
        self._next = 0  # stream index of the next frame's first sample
        self._total = 0  # stream index after the last fed sample
        self._anchor_idx = np.zeros(0, dtype=np.int64)  # stream index of each block's first sample
        self._anchor_t = np.zeros(0, dtype=np.int64)  # and its t0_ns

    def feed(self, block: Any, t0_ns: int) -> Rows:
        """Add a block (n_samples, n_channels) starting at `t0_ns`; return the rows it completes."""
        xp = self.xp
        block = xp.asarray(block)
        if block.ndim != 2 or block.shape[1] != self._n_channels:
            raise ValueError(f"block shape {tuple(block.shape)}: expected (n_samples, {self._n_channels})")
        n = block.shape[0]
        if n == 0:
            return self._empty()
        self._anchor_idx = np.append(self._anchor_idx, self._total)
        self._anchor_t = np.append(self._anchor_t, np.int64(t0_ns))
        fresh = xp.ascontiguousarray(block.T, dtype=xp.float32)
        data = fresh if self._buf.shape[1] == 0 else xp.concatenate([self._buf, fresh], axis=1)
        data_start = self._total if self._buf.shape[1] == 0 else self._buf_start
        self._total += n
        first = self._next - data_start
        n_frames = max(0, (data.shape[1] - first - self._length) // self._hop + 1) if first >= 0 else 0
        rows = self._frames_to_rows(data, first, n_frames)
        starts = self._next + self._hop * np.arange(n_frames, dtype=np.int64)
        t_ns = self._times(starts)
        self._next += n_frames * self._hop
        self._carry(data, data_start)
        return Rows(rows, t_ns)

    def _frames_to_rows(self, data: Any, first: int, n_frames: int) -> np.ndarray:
        """Rows of frames [first + j*hop, ... + L) of `data` (channels, samples), cut into
        (channel block x frame block) tiles of at most `max_batch_values` samples each."""
        xp = self.xp
        out = xp.empty((n_frames, self._n_channels, *self._bins_shape), dtype=xp.float32)
        if n_frames == 0:
            return xpmod.to_host(out).reshape((0, *self.params.row_shape))
        per_tile = max(1, self.max_batch_values // self._length)
        frame_step = min(n_frames, per_tile)
        channel_step = max(1, min(self._n_channels, per_tile // frame_step))
        tiles = [
            (c0, min(c0 + channel_step, self._n_channels), f0, min(f0 + frame_step, n_frames))
            for f0 in range(0, n_frames, frame_step)
            for c0 in range(0, self._n_channels, channel_step)
        ]
        item = data.itemsize

        def tile(bounds: tuple[int, int, int, int]) -> None:
            c0, c1, f0, f1 = bounds
            view = data[c0:c1, first + f0 * self._hop:]
            frames = xpmod.as_strided(
                xp, view, (c1 - c0, f1 - f0, self._length), (view.strides[0], self._hop * item, item)
            )
            out[f0:f1, c0:c1] = xp.moveaxis(self._rows_of(frames), 0, 1)

        xpmod.run_tiles(xp, tile, tiles, self._threads)
        return xpmod.to_host(out).reshape((n_frames, *self.params.row_shape))

    def _spectrum(self, frames: Any) -> Any:
        """(channels, frames, nfft) samples -> (channels, frames, display bins) dB."""
        xp = self.xp
        spectrum = xpmod.rfft(xp, xp.multiply(frames, self._window), axis=-1, workers=self._fft_workers)
        crop = spectrum.view(xp.float32)[..., 2 * self.params.bin_slice.start:2 * self.params.bin_slice.stop]
        xp.multiply(crop, crop, out=crop)  # re^2, im^2 side by side
        if self._pool is None:
            power = crop[..., 0::2] + crop[..., 1::2]
        else:  # the pooling matrix sums re^2 + im^2 and averages the group in one GEMM
            c, f, k2 = crop.shape
            power = (crop.reshape(c * f, k2) @ self._pool).reshape(c, f, -1)
        return self._db(power)

    def _band_energy(self, frames: Any) -> Any:
        """(channels, lines, hop) samples -> (channels, lines) dB of the mean-removed mean square."""
        return self._db(self.xp.var(frames, axis=-1, dtype=self.xp.float32))

    def _db(self, power: Any) -> Any:
        power += EPS
        self.xp.log10(power, out=power)
        power *= 10.0
        return power

    def _times(self, starts: np.ndarray) -> np.ndarray:
        which = np.searchsorted(self._anchor_idx, starts, side="right") - 1
        offset = (starts - self._anchor_idx[which] + self._length / 2) * self._period_ns
        return self._anchor_t[which] + np.floor(offset + 0.5).astype(np.int64)

    def _carry(self, data: Any, data_start: int) -> None:
        """Keep only the samples from the next frame on (none when hop > nfft skips past them)."""
        keep_from = min(max(self._next, data_start), self._total)
        self._buf = data[:, keep_from - data_start:].copy()
        self._buf_start = keep_from
        live = np.searchsorted(self._anchor_idx, self._next, side="right") - 1
        self._anchor_idx = self._anchor_idx[max(live, 0):]
        self._anchor_t = self._anchor_t[max(live, 0):]

    def _empty(self) -> Rows:
        return Rows(np.zeros((0, *self.params.row_shape), dtype=np.float32), np.zeros(0, dtype=np.int64))
