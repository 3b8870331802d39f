"""Assembles a view's channels from live channel-block chunks, detecting gaps and duplicates.

Pure state machine (no broker): `add(chunk)` returns the items to pass on. A time slice (`seq`)
is emitted once the chunks received for it cover every channel of the view. Sequence numbers
are per stream: a slice older than the last emitted one, or a block already received, is a
duplicate; slices skipped before an emitted one are gaps. A gap breaks the STFT's continuity,
so a `Reset("gap")` precedes the next block; a new `stream_uuid` or an input-changed control
message resets too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streamer.sources import Block, Reset
from streamer.sources.chunks import Chunk

MAX_PENDING = 16  # incomplete slices kept while waiting for their other blocks


@dataclass
class Counters:
    chunks: int = 0
    gaps: int = 0  # time slices never emitted (missing or incomplete)
    duplicates: int = 0
    malformed: int = 0
    resets: int = 0
    reconnects: int = 0


@dataclass
class _Slice:
    t0_ns: int
    sample_rate_hz: float
    data: np.ndarray
    filled: np.ndarray  # bool per view column


@dataclass
class Assembler:
    channel_min: int  # 1-based, inclusive
    channel_max: int
    counters: Counters = field(default_factory=Counters)

    def __post_init__(self) -> None:
        self._c0, self._c1 = self.channel_min - 1, self.channel_max  # 0-based [c0, c1)
        self._stream: str | None = None
        self._next_seq: int | None = None
        self._pending: dict[int, _Slice] = {}

    def _forget(self) -> None:
        self._next_seq = None
        self._pending = {}

    def reset(self, reason: str) -> list[Block | Reset]:
        """The input changed: drop partial slices and sequence state."""
        self._forget()
        self._stream = None
        self.counters.resets += 1
        return [Reset(reason)]

    def add(self, chunk: Chunk) -> list[Block | Reset]:
        self.counters.chunks += 1
        out: list[Block | Reset] = []
        if chunk.stream_uuid != self._stream:
            if self._stream is not None:
                out += self.reset("stream-changed")
            self._stream = chunk.stream_uuid
        lo = max(chunk.channel_offset, self._c0)
        hi = min(chunk.channel_offset + chunk.n_channels, self._c1)
        if hi <= lo:
            return out  # a block this view does not need (the queue binds whole blocks)
        if self._next_seq is not None and chunk.seq < self._next_seq:
            self.counters.duplicates += 1
            return out
        piece = self._pending.get(chunk.seq)
        if piece is None:
            n = chunk.data.shape[0]
            piece = _Slice(chunk.t0_ns, chunk.sample_rate_hz,
                           np.empty((n, self._c1 - self._c0), dtype=np.float32),
                           np.zeros(self._c1 - self._c0, dtype=bool))
            self._pending[chunk.seq] = piece
        cols = slice(lo - self._c0, hi - self._c0)
        if piece.filled[cols].any() or piece.data.shape[0] != chunk.data.shape[0]:
            self.counters.duplicates += 1
            return out
        piece.data[:, cols] = chunk.data[:, lo - chunk.channel_offset : hi - chunk.channel_offset]
        piece.filled[cols] = True
        if piece.filled.all():
            out += self._emit(chunk.seq)
        elif len(self._pending) > MAX_PENDING:
            del self._pending[min(self._pending)]  # counted as a gap when a later slice is emitted
        return out

    def _emit(self, seq: int) -> list[Block | Reset]:
        out: list[Block | Reset] = []
        piece = self._pending.pop(seq)
        for older in [s for s in self._pending if s < seq]:
            del self._pending[older]
        if self._next_seq is not None and seq > self._next_seq:
            self.counters.gaps += seq - self._next_seq
            self.counters.resets += 1
            out.append(Reset("gap"))
        self._next_seq = seq + 1
        out.append(Block(piece.data, piece.t0_ns, piece.sample_rate_hz))
        return out
