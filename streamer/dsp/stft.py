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

Speed: the frames of every channel are one strided view over the (samples, channels) buffer
(no copy, no loop per frame or channel); it is cut into tiles of channels x frames small enough
to stay in the CPU cache, which `workers` threads run in parallel (window, rfft, power, pooling
and dB fused per tile). On a GPU one tile usually holds everything: one batched cuFFT call.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from . import xp as xpmod
from .params import ViewParams

EPS = 1e-30  # power floor: -300 dB; DAS strain rates are ~1e-9, so no real signal reaches it


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


def pool_segments(params: ViewParams) -> tuple[np.ndarray, np.ndarray]:
    """Start of each display bin in the interleaved (re, im) cropped spectrum, and 1/bins per group."""
    edges = params.pool_edges
    return 2 * edges[:-1], (1.0 / np.diff(edges)).astype(np.float32)


class StreamingSpectrogram:
    """Rows of one view from a stream of (n_samples, n_channels) blocks of the view's channels."""

    def __init__(
        self,
        params: ViewParams,
        xp: ModuleType | str | None = None,
        workers: int | None = None,
        tile_values: int | None = None,
    ):
        self.params = params
        self.xp = xpmod.select(xp)
        self._n_channels = params.n_channels
        self._length = params.frame_length
        self._hop = params.hop
        self._period_ns = 1e9 / params.sample_rate_hz
        self._bins_shape = () if params.is_waterfall else (params.n_bins,)
        self._tile_values = tile_values or xpmod.tile_values(self.xp)
        self._tile_channels = xpmod.tile_channels(self.xp)
        self._threads = xpmod.tile_threads(self.xp, workers)
        self._fft_workers = 1 if self._threads > 1 else workers
        if params.is_waterfall:
            self._rows_of = self._band_energy
        else:
            window = hann(self.xp, params.nfft)
            self._window = window / window.sum()
            starts, scale = pool_segments(params)
            self._segments = self.xp.asarray(starts) if params.pooled else None
            self._scale = self.xp.asarray(scale)
            self._crop = slice(2 * params.bin_slice.start, 2 * params.bin_slice.stop)
            self._rows_of = self._spectrum
        self.reset()

    def reset(self) -> None:
        """Forget carried samples and the clock (the input changed); the next block starts row 0."""
        self._buf = self.xp.zeros((0, self._n_channels), dtype=self.xp.float32)  # (samples, channels)
        self._buf_start = 0  # stream index of the first carried sample
        self._next = 0  # stream index of the next frame's first sample
        self._total = 0  # stream index after the last fed sample
        self._anchor_idx = np.zeros(0, dtype=np.int64)  # stream index of each block's first sample
        self._anchor_t = np.zeros(0, dtype=np.int64)  # and its t0_ns

    def feed(self, block: Any, t0_ns: int) -> Rows:
        """Add a block (n_samples, n_channels) starting at `t0_ns`; return the rows it completes."""
        xp = self.xp
        block = xp.asarray(block, dtype=xp.float32)
        if block.ndim != 2 or block.shape[1] != self._n_channels:
            raise ValueError(f"block shape {tuple(block.shape)}: expected (n_samples, {self._n_channels})")
        n = block.shape[0]
        if n == 0:
            return self._empty()
        self._anchor_idx = np.append(self._anchor_idx, self._total)
        self._anchor_t = np.append(self._anchor_t, np.int64(t0_ns))
        carried = self._buf.shape[0] > 0
        data = xp.concatenate([self._buf, block]) if carried else xp.ascontiguousarray(block)
        data_start = self._buf_start if carried else self._total
        self._total += n
        first = self._next - data_start
        n_frames = max(0, (data.shape[0] - first - self._length) // self._hop + 1)
        rows = self._frames_to_rows(data, first, n_frames)
        t_ns = self._times(self._next + self._hop * np.arange(n_frames, dtype=np.int64))
        self._next += n_frames * self._hop
        self._carry(data, data_start)
        return Rows(rows, t_ns)

    def _frames_to_rows(self, data: Any, first: int, n_frames: int) -> np.ndarray:
        """Rows of the frames [first + j*hop, first + j*hop + L) of `data` (samples, channels).

        All frames are one strided view (channels, frames, L); it is cut into tiles of at most
        `tile_channels` channels x `tile_values` samples that run on `workers` threads."""
        xp = self.xp
        out = xp.empty((n_frames, self._n_channels, *self._bins_shape), dtype=xp.float32)
        if n_frames:
            item = data.itemsize
            frames = xpmod.as_strided(
                xp, data[first:], (self._n_channels, n_frames, self._length),
                (item, self._hop * data.strides[0], data.strides[0]),
            )
            c_step = min(self._n_channels, self._tile_channels)
            f_step = max(1, self._tile_values // (c_step * self._length))
            tiles = [(c, f) for f in range(0, n_frames, f_step) for c in range(0, self._n_channels, c_step)]

            def tile(corner: tuple[int, int]) -> None:
                c, f = corner
                rows = self._rows_of(frames[c:c + c_step, f:f + f_step])
                out[f:f + f_step, c:c + c_step] = rows.swapaxes(0, 1)

            xpmod.run_tiles(tile, tiles, self._threads)
        return xpmod.to_host(out).reshape((n_frames, *self.params.row_shape))

    def _spectrum(self, frames: Any) -> Any:
        """(channels, frames, nfft) samples -> (channels, frames, display bins) dB."""
        xp = self.xp
        spectrum = xpmod.rfft(xp, xp.multiply(frames, self._window), axis=-1, workers=self._fft_workers)
        crop = spectrum.view(xp.float32)[..., self._crop]  # re, im of the cropped bins, interleaved
        xp.multiply(crop, crop, out=crop)
        if self._segments is None:
            power = crop[..., 0::2] + crop[..., 1::2]
        else:  # re^2 + im^2 of all the bins of a display bin in one segmented sum, then the mean
            power = xpmod.segment_sum(xp, crop, self._segments)
            power *= self._scale
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
        self._buf = data[keep_from - data_start:].copy()
        self._buf_start = keep_from
        live = max(int(np.searchsorted(self._anchor_idx, self._next, side="right")) - 1, 0)
        self._anchor_idx = self._anchor_idx[live:]
        self._anchor_t = self._anchor_t[live:]

    def _empty(self) -> Rows:
        return Rows(np.zeros((0, *self.params.row_shape), dtype=np.float32), np.zeros(0, dtype=np.int64))
