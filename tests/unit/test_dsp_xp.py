"""The array-module seam: backend selection, host copies, tiles on threads."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.dsp import xp as xpmod


def test_numpy_is_the_default_and_names_are_checked():
    assert xpmod.select(None) is np and xpmod.select("numpy") is np and xpmod.select(np) is np
    with pytest.raises(ValueError, match="must be 'numpy', 'cupy'"):
        xpmod.select("jax")


@pytest.mark.skipif(xpmod.gpu_available(), reason="a GPU is present here")
def test_cupy_without_a_device_is_refused_clearly():
    with pytest.raises(RuntimeError, match="not available"):
        xpmod.select("cupy")


def test_rfft_is_float32_to_complex64_and_matches_numpy():
    x = np.random.default_rng(0).standard_normal((3, 64)).astype(np.float32)
    out = xpmod.rfft(np, x, axis=-1, workers=2)
    assert out.dtype == np.complex64
    np.testing.assert_allclose(out, np.fft.rfft(x.astype(np.float64)), atol=1e-4)


def test_to_host_and_array_module():
    a = np.arange(3)
    assert xpmod.to_host(a) is a and xpmod.get_array_module(a) is np
    assert xpmod.to_host([1, 2]).tolist() == [1, 2]


def test_run_tiles_runs_every_tile_and_propagates_errors():
    seen = []
    xpmod.run_tiles(seen.append, list(range(10)), threads=2)
    assert sorted(seen) == list(range(10))

    def boom(item):
        raise KeyError(item)

    with pytest.raises(KeyError):
        xpmod.run_tiles(boom, [1, 2, 3], threads=2)
