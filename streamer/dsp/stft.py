"""Streaming spectrogram rows for the three views, identical whatever the chunking of the input.

Frames: row j of a stream (counted from the first sample fed after construction or `reset()`)
is computed from the samples [j*hop, j*hop + L) with L = nfft (STFT views) or L = hop
(waterfall lines). Samples that a later frame still needs are carried to the next `feed`; when
hop > nfft the samples between windows are skipped, never buffered. So feeding the same samples
in one block or in many blocks of any sizes yields the same rows and the same timestamps.

STFT views: periodic Hann window scaled by 1/sum(window) ("magnitude" scaling: a sine of
amplitude A on a bin centre reads |X| = A/2, i.e. -6 dB for A = 1), one-sided spectrum, bins
cropped to the frequency range *before* any per-bin work, power |X|^2 averaged over each display
bin's FFT bins, intensity 10*log10(power + EPS). Multichannel rows are (channels, bins), single
channel rows (bins,). Waterfall rows (channels,) are 10*log10(mean((x - mean(x))^2) + EPS) per
line: the energy of the band above DC (Parseval), i.e. the line's RMS in dB. A waterfall line
that spans blocks is carried as per-channel running statistics, not samples, so a long line
(30 s at 2 kHz for displayInfo.height 1) costs O(channels) memory.

How (speed): the frames of all channels are one strided view (frames, L, channels) over the
(samples, channels) buffer — no copy, no transpose, no loop per frame or channel. The rfft runs
along the view's L axis directly on the raw samples, and the Hann window is applied afterwards
in the frequency domain, only on the cropped bins: for the periodic Hann window
X_w[k] = (2X[k] - X[k-1] - X[k+1]) / 4 (exact; X[-1] and X[nfft/2+1] are the conjugates of
X[1] and X[nfft/2-1]), which saves the time-domain pass over every (overlapping) frame. The view
is cut into tiles of channels x frames small enough to stay in the CPU cache, run on `workers`
threads; on a GPU one tile usually holds everything (one batched cuFFT call).

Timestamps: a row's time is the time of the middle of its frame (first sample + L/2 sample
periods), counted from the `t0_ns` of the block that held the frame's first sample, so a gap in
the input's clock shows in the row times. They are chunking-independent to the nanosecond when
the blocks' `t0_ns` are consistent (`t0 + n * 1e9 / sample_rate` on an integer-ns period).
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
        self._tile_channels = min(self._n_channels, xpmod.tile_channels(self.xp))
        self._threads = xpmod.tile_threads(self.xp, workers)
        self._fft_workers = 1 if self._threads > 1 else workers
        if not params.is_waterfall:
            sizes = np.diff(params.pool_edges)
            # 1/(4 nfft^2): the window's 1/4 and the "magnitude" scaling 1/sum(window) = 2/nfft
            scale = 1.0 / (sizes * 4.0 * float(params.nfft) ** 2)
            self._scale = self.xp.asarray(scale.astype(np.float32)[:, None])
            self._group_size = int(sizes.max())
            self._big_groups = int(np.count_nonzero(sizes == self._group_size))
        self._store = self.xp.zeros((0, self._n_channels), dtype=self.xp.float32)  # (samples, channels)
        self.reset()

    def reset(self) -> None:
        """Forget carried samples and the clock (the input changed); the next block starts row 0."""
        # store[head:tail] holds the stream samples [buf_start, total) still needed; the store's
        # memory is kept across resets (allocated once for a long-running stream)
        self._head = self._tail = 0
        self._buf_start = 0  # stream index of store[head]
        self._next = 0  # stream index of the next frame's first sample
        self._total = 0  # stream index after the last fed sample
        self._anchor_idx = np.zeros(0, dtype=np.int64)  # stream index of each block's first sample
        self._anchor_t = np.zeros(0, dtype=np.int64)  # and its t0_ns
        self._line_n = 0  # waterfall: samples of the open line so far, their mean and sum of squares
        self._line_mean = self._line_m2 = None

    def feed(self, block: Any, t0_ns: int) -> Rows:
        """Add a block (n_samples, n_channels) starting at `t0_ns`; return the rows it completes."""
        block = self.xp.asarray(block)
        if block.ndim != 2 or block.shape[1] != self._n_channels:
            raise ValueError(f"block shape {tuple(block.shape)}: expected (n_samples, {self._n_channels})")
        n = block.shape[0]
        if n == 0:
            return self._empty()
        self._anchor_idx = np.append(self._anchor_idx, self._total)
        self._anchor_t = np.append(self._anchor_t, np.int64(t0_ns))
        if self.params.is_waterfall:
            return self._feed_lines(block)
        if self._head == self._tail:  # nothing carried: the block starts the buffer
            self._buf_start = self._total
        self._append(block)
        self._total += n
        first = self._next - self._buf_start
        n_frames = max(0, (self._tail - self._head - first - self._length) // self._hop + 1)
        rows = self._frames_to_rows(self._store[self._head:self._tail], first, n_frames)
        t_ns = self._times(self._next + self._hop * np.arange(n_frames, dtype=np.int64))
        self._next += n_frames * self._hop
        self._release()
        return Rows(rows, t_ns)

    def _append(self, block: Any) -> None:
        """Copy the block after the carried samples; compact or grow the store when it is full
        (amortised: small live chunks are not re-copied with the whole carried window each time)."""
        xp, n, live = self.xp, block.shape[0], self._tail - self._head
        if self._tail + n > self._store.shape[0]:
            carried = self._store[self._head:self._tail].copy()
            if live + n > self._store.shape[0]:
                capacity = 2 * (self._length + n)
                self._store = xp.empty((max(capacity, live + n), self._n_channels), dtype=xp.float32)
            self._store[:live] = carried
            self._head, self._tail = 0, live
        self._store[self._tail:self._tail + n] = block
        self._tail += n

    def _release(self) -> None:
        """Drop the samples before the next frame (all of them when hop > nfft skips past the end)."""
        keep_from = min(max(self._next, self._buf_start), self._total)
        self._head += keep_from - self._buf_start
        self._buf_start = keep_from
        if self._head == self._tail:
            self._head = self._tail = 0
        self._drop_anchors()

    def _drop_anchors(self) -> None:
        """Forget the clocks of blocks that no pending frame starts in."""
        live = max(int(np.searchsorted(self._anchor_idx, self._next, side="right")) - 1, 0)
        self._anchor_idx = self._anchor_idx[live:]
        self._anchor_t = self._anchor_t[live:]

    def _frames_to_rows(self, data: Any, first: int, n_frames: int) -> np.ndarray:
        """Rows of the frames [first + j*hop, first + j*hop + L) of `data` (samples, channels)."""
        xp = self.xp
        out = xp.empty((n_frames, self._n_channels, *self._bins_shape), dtype=xp.float32)
        if n_frames:
            row = data.strides[0]
            frames = xpmod.as_strided(  # (frames, L, channels)
                xp, data[first:], (n_frames, self._length, self._n_channels), (self._hop * row, row, data.itemsize)
            )
            # tiles of about tile_values samples: at least tile_channels channels wide, wider when
            # a block holds few frames (live chunks), so small feeds don't pay per-tile overheads
            f_step = min(n_frames, max(1, self._tile_values // (self._tile_channels * self._length)))
            c_step = min(self._n_channels, max(self._tile_channels, self._tile_values // (f_step * self._length)))
            tiles = [(f, c) for f in range(0, n_frames, f_step) for c in range(0, self._n_channels, c_step)]

            def tile(corner: tuple[int, int]) -> None:
                f, c = corner
                out[f:f + f_step, c:c + c_step] = self._spectrum(frames[f:f + f_step, :, c:c + c_step])

            xpmod.run_tiles(tile, tiles, self._threads)
        return xpmod.to_host(out).reshape((n_frames, *self.params.row_shape))

    def _spectrum(self, frames: Any) -> Any:
        """(frames, nfft, channels) samples -> (frames, channels, display bins) dB."""
        xp = self.xp
        spectrum = xpmod.rfft(xp, frames, axis=1, workers=self._fft_workers)  # (frames, bins, channels)
        windowed = hann_crop(spectrum, self.params.bin_slice)  # (frames, bins, 2 * channels): re, im
        xp.multiply(windowed, windowed, out=windowed)
        sums = self._pool(windowed)  # (frames, display bins, 2 * channels)
        power = sums[..., 0::2] + sums[..., 1::2]
        power *= self._scale
        return self._db(power).swapaxes(1, 2)

    def _pool(self, squares: Any) -> Any:
        """Sums over each display bin's FFT bins (axis 1): the first groups are one bin larger."""
        if self._group_size == 1:
            return squares
        xp, (f, _, c2) = self.xp, squares.shape
        big, size = self._big_groups, self._group_size
        sums = xp.sum(squares[:, :big * size].reshape(f, big, size, c2), axis=2)
        if big == len(self._scale):
            return sums
        rest = xp.sum(squares[:, big * size:].reshape(f, -1, size - 1, c2), axis=2)
        return xp.concatenate([sums, rest], axis=1)

    def _feed_lines(self, block: Any) -> Rows:
        """Waterfall: lines of `hop` samples; an open line is kept as per-channel (count, mean,
        sum of squared deviations), merged block by block (Chan et al.), so memory stays
        O(channels) however long a line is. Lines inside one block use the variance directly."""
        xp, hop, n = self.xp, self._hop, block.shape[0]
        rows, first_line, pos = [], self._next, 0
        if self._line_n:
            pos = min(hop - self._line_n, n)
            self._merge_line(block[:pos])
            if self._line_n == hop:
                rows.append((self._line_m2 / hop).astype(xp.float32)[None])
                self._line_n, self._next = 0, self._next + hop
        whole = (n - pos) // hop
        if whole:
            lines = block[pos:pos + whole * hop].reshape(whole, hop, self._n_channels)
            rows.append(xp.var(lines, axis=1, dtype=xp.float32))
            pos, self._next = pos + whole * hop, self._next + whole * hop
        if pos < n:
            self._merge_line(block[pos:])
        self._total += n
        self._drop_anchors()
        starts = first_line + hop * np.arange((self._next - first_line) // hop, dtype=np.int64)
        if not rows:
            return self._empty()
        return Rows(xpmod.to_host(self._db(xp.concatenate(rows))), self._times(starts))

    def _merge_line(self, segment: Any) -> None:
        xp, count = self.xp, segment.shape[0]
        mean = segment.mean(axis=0, dtype=xp.float64)
        m2 = ((segment - mean) ** 2).sum(axis=0, dtype=xp.float64)
        if self._line_n:
            total = self._line_n + count
            delta = mean - self._line_mean
            mean = self._line_mean + delta * (count / total)
            m2 = self._line_m2 + m2 + delta * delta * (self._line_n * count / total)
        self._line_n, self._line_mean, self._line_m2 = self._line_n + count, mean, m2

    def _db(self, power: Any) -> Any:
        power += EPS
        self.xp.log10(power, out=power)
        power *= 10.0
        return power

    def _times(self, starts: np.ndarray) -> np.ndarray:
        which = np.searchsorted(self._anchor_idx, starts, side="right") - 1
        offset = (starts - self._anchor_idx[which] + self._length / 2) * self._period_ns
        return self._anchor_t[which] + np.floor(offset + 0.5).astype(np.int64)

    def _empty(self) -> Rows:
        return Rows(np.zeros((0, *self.params.row_shape), dtype=np.float32), np.zeros(0, dtype=np.int64))


def hann_crop(spectrum: Any, bins: slice) -> Any:
    """4x the periodic-Hann-windowed spectrum at `bins`, from the unwindowed one-sided spectrum
    (frames, bins, channels): 2X[k] - X[k-1] - X[k+1], with the conjugate neighbours at DC and
    Nyquist. Returned as float32 (frames, cropped bins, 2 * channels), re and im interleaved
    (real arithmetic on the float view is faster than complex arithmetic)."""
    lo, hi, last = bins.start, bins.stop - 1, spectrum.shape[1] - 1
    x = spectrum.view(spectrum.real.dtype)
    out = x[:, lo:hi + 1] * x.dtype.type(2)
    a, b = max(lo, 1), min(hi, last - 1)  # bins with both neighbours stored
    if a <= b:
        out[:, a - lo:b - lo + 1] -= x[:, a - 1:b]
        out[:, a - lo:b - lo + 1] -= x[:, a + 1:b + 2]
    if lo == 0:  # X[-1] = conj(X[1]): the neighbours' imaginary parts cancel
        out[:, 0, 0::2] -= 2 * x[:, 1, 0::2]
    if hi == last:  # X[nfft/2 + 1] = conj(X[nfft/2 - 1])
        out[:, -1, 0::2] -= 2 * x[:, last - 1, 0::2]
    return out
