"""The CuPy path of the DSP engine gives the NumPy rows (same code, other array module)."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.dsp.params import validate_view
from streamer.dsp.stft import StreamingSpectrogram
from streamer.dsp.xp import gpu_available
from tests.unit.test_dsp_stft import assert_power_close

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not gpu_available(), reason="needs cupy and a CUDA device (none on this machine)"),
]

VIEWS = {
    "multichannel pooled": dict(view_type=0, nfft=512, channel_min=1, channel_max=300, freq_min=5.0,
                                freq_max=400.0, display_duration_s=10.0, display_height=256),
    "multichannel unpooled": dict(view_type=0, nfft=64, channel_min=10, channel_max=20, freq_min=0.0,
                                  freq_max=500.0, display_duration_s=3.0, display_height=100, display_bins=64),
    "single channel": dict(view_type=1, nfft=8192, channel_min=7, channel_max=7, freq_min=0.0, freq_max=1000.0,
                           display_duration_s=60.0, display_height=600),
    "waterfall": dict(view_type=2, nfft=1, channel_min=1, channel_max=500, display_height=300),
}


def stream(params, xp, x, chunk):
    spec = StreamingSpectrogram(params, xp=xp)
    parts = [spec.feed(x[i:i + chunk], i * 500_000) for i in range(0, len(x), chunk)]
    return np.concatenate([p.data for p in parts]), np.concatenate([p.t_ns for p in parts])


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_cupy_rows_equal_numpy_rows(name):
    params = validate_view(sample_rate_hz=2000.0, **VIEWS[name])
    x = np.random.default_rng(5).standard_normal((20000, params.n_channels)).astype(np.float32)
    cpu, cpu_t = stream(params, "numpy", x, 20000)
    gpu, gpu_t = stream(params, "cupy", x, 777)
    assert gpu.shape == cpu.shape and len(cpu) > 0
    assert_power_close(gpu, cpu)
    np.testing.assert_array_equal(gpu_t, cpu_t)
