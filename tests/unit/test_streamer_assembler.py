"""Assembling a view from channel blocks: completeness, gaps, duplicates, stream changes."""

from __future__ import annotations

import numpy as np

from streamer.sources import Block, Reset
from streamer.sources.assembler import Assembler
from streamer.sources.chunks import Chunk


def _full(seq, n=4, width=512):
    """All 512 columns of slice `seq`: value = seq * 1000 + column."""
    return (seq * 1000 + np.arange(width, dtype=np.float32))[None, :].repeat(n, axis=0)


def _chunks(seq, stream="a", blocks=(0, 1)):
    data = _full(seq)
    return [Chunk(stream, seq, 10**9 * seq, 2000.0, 256 * b, data[:, 256 * b : 256 * (b + 1)]) for b in blocks]


def _feed(asm, chunks):
    out = []
    for c in chunks:
        out += asm.add(c)
    return out


def test_a_view_across_two_blocks_is_emitted_once_complete():
    asm = Assembler(200, 300)
    first, second = _chunks(0)
    assert asm.add(first) == []
    (block,) = asm.add(second)
    assert isinstance(block, Block) and block.t0_ns == 0 and block.sample_rate_hz == 2000.0
    np.testing.assert_array_equal(block.data, _full(0)[:, 199:300])


def test_blocks_outside_the_view_are_ignored():
    asm = Assembler(1, 10)
    out = _feed(asm, _chunks(0))
    assert len(out) == 1 and out[0].data.shape == (4, 10)


def test_gaps_are_counted_and_reset_the_dsp():
    asm = Assembler(200, 300)
    out = _feed(asm, _chunks(0) + _chunks(1) + _chunks(4))
    assert [type(o).__name__ for o in out] == ["Block", "Block", "Reset", "Block"]
    assert out[2] == Reset("gap") and asm.counters.gaps == 2


def test_an_incomplete_slice_is_a_gap_when_a_later_one_completes():
    asm = Assembler(200, 300)
    out = _feed(asm, _chunks(0) + _chunks(1, blocks=(0,)) + _chunks(2))
    assert [type(o).__name__ for o in out] == ["Block", "Reset", "Block"]
    assert asm.counters.gaps == 1


def test_duplicates_are_counted_and_dropped():
    asm = Assembler(200, 300)
    out = _feed(asm, _chunks(0) + _chunks(0) + [_chunks(1)[0], _chunks(1)[0]] + [_chunks(1)[1]])
    assert [type(o).__name__ for o in out] == ["Block", "Block"]
    assert asm.counters.duplicates == 3 and asm.counters.gaps == 0


def test_a_new_stream_or_input_change_resets_sequence_state():
    asm = Assembler(200, 300)
    out = _feed(asm, _chunks(5) + _chunks(0, stream="b"))
    assert [type(o).__name__ for o in out] == ["Block", "Reset", "Block"]
    assert out[1] == Reset("stream-changed") and asm.counters.duplicates == 0
    assert asm.reset("input-changed") == [Reset("input-changed")]
    assert _feed(asm, _chunks(0, stream="b"))[0].t0_ns == 0  # seq 0 again is not a duplicate
    assert asm.counters.resets == 2
