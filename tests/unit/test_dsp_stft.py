"""StreamingSpectrogram: against scipy's ShortTimeFFT, chunking invariance, waterfall, timing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import ShortTimeFFT
from scipy.signal.windows import hann

from streamer.dsp.params import ViewParams, ViewType, validate_view
from streamer.dsp.stft import EPS, StreamingSpectrogram

FS = 1000.0
PERIOD_NS = 1_000_000  # 1 ms: an integer number of ns, so chunk t0s are exact


def view(view_type=0, nfft=64, hop=16, channels=(1, 3), freqs=(0.0, 500.0), display_bins=None, fs=FS):
    """A view with an exact hop: one row per `hop` samples."""
    if view_type == ViewType.WATERFALL:
        return validate_view(view_type=2, nfft=1, channel_min=channels[0], channel_max=channels[1],
                             display_height=1, display_duration_s=hop / fs, sample_rate_hz=fs)
    return validate_view(view_type=view_type, nfft=nfft, channel_min=channels[0], channel_max=channels[1],
                         freq_min=freqs[0], freq_max=freqs[1], display_height=1, display_duration_s=hop / fs,
                         sample_rate_hz=fs, display_bins=display_bins)


def signal(n, channels, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None] / FS
    tones = np.sin(2 * np.pi * (60.0 + 35.0 * np.arange(channels)) * t)
    return (rng.standard_normal((n, channels)) + 3 * tones).astype(np.float32)


def feed_chunks(params, x, cuts, t0_ns=1_700_000_000 * 10**9):
    spec = StreamingSpectrogram(params)
    bounds = [0, *sorted(cuts), len(x)]
    parts = [spec.feed(x[a:b], t0_ns + a * PERIOD_NS) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return np.concatenate([p.data for p in parts]), np.concatenate([p.t_ns for p in parts])


def reference_rows(params: ViewParams, x: np.ndarray):
    """ShortTimeFFT frames that lie fully inside x, then crop, pool (mean power), dB."""
    sft = ShortTimeFFT(hann(params.nfft, sym=False), hop=params.hop, fs=params.sample_rate_hz,
                       fft_mode="onesided", scale_to="magnitude")
    p0 = -(-(params.nfft // 2) // params.hop)  # the first frame starting at sample >= 0
    p1 = (len(x) - params.nfft + params.nfft // 2) // params.hop + 1  # the last one ending inside x
    spec = sft.stft(x.T.astype(np.float64), p0=p0, p1=p1)  # (channels, freqs, frames)
    power = np.abs(spec[:, params.bin_slice, :]) ** 2
    edges = params.pool_edges
    pooled = np.stack([power[:, a:b].mean(axis=1) for a, b in zip(edges[:-1], edges[1:], strict=True)], axis=1)
    rows = 10 * np.log10(pooled + EPS).transpose(2, 0, 1)  # (frames, channels, bins)
    first_sample = p0 * params.hop - params.nfft // 2
    return rows.reshape((len(rows), *params.row_shape)), first_sample, sft.t(len(x), p0, p1)


def assert_power_close(actual_db, expected_db):
    """Within float32 precision: 5e-4 relative (0.002 dB), or 1e-6 of the row's peak power for bins
    60 dB or more below it (float32 FFT rounding is relative to the frame's energy)."""
    actual, expected = 10 ** (actual_db / 10), 10 ** (expected_db / 10)
    peak = expected.reshape(len(expected), -1).max(axis=1).reshape((-1,) + (1,) * (expected.ndim - 1))
    assert np.all(np.abs(actual - expected) <= 5e-4 * expected + 1e-6 * peak), np.max(
        np.abs(actual - expected) / (5e-4 * expected + 1e-6 * peak))


@pytest.mark.parametrize(
    ("view_type", "nfft", "hop", "freqs", "bins"),
    [
        (0, 256, 64, (0.0, 500.0), None),  # full band, pooled to 32 display bins
        (0, 128, 13, (40.0, 260.0), 7),  # cropped, uneven groups
        (0, 64, 100, (10.0, 300.0), 1000),  # hop > nfft, no pooling (fewer bins than asked)
        (1, 1024, 250, (0.0, 500.0), None),  # single channel, 513 bins pooled to 512
        (0, 2, 1, (0.0, 500.0), None),  # the smallest FFT: DC and Nyquist are each other's neighbours
        (0, 8, 3, (250.0, 500.0), 2),  # the crop ends at Nyquist only
    ],
)
def test_rows_match_scipy_short_time_fft(view_type, nfft, hop, freqs, bins):
    channels = (5, 5) if view_type == 1 else (1, 4)
    params = view(view_type, nfft, hop, channels, freqs, bins)
    x = signal(3000, params.n_channels)
    expected, first_sample, t_s = reference_rows(params, x)
    rows = StreamingSpectrogram(params).feed(x[first_sample:], first_sample * PERIOD_NS)
    assert rows.data.shape == expected.shape and rows.data.dtype == np.float32
    assert_power_close(rows.data, expected)
    np.testing.assert_array_equal(rows.t_ns, np.round(t_s * 1e9).astype(np.int64))


@st.composite
def streams(draw):
    view_type = draw(st.sampled_from([ViewType.MULTICHANNEL, ViewType.SINGLECHANNEL, ViewType.WATERFALL]))
    nfft = draw(st.sampled_from([2, 4, 16, 32, 64]))
    hop = draw(st.integers(1, 2 * nfft if view_type != ViewType.WATERFALL else 40))
    lo = draw(st.integers(0, nfft // 2 - 1))
    hi = draw(st.integers(lo + 1, nfft // 2))
    df = FS / nfft
    channels = (2, 2) if view_type == ViewType.SINGLECHANNEL else (1, draw(st.integers(1, 3)))
    params = view(view_type, nfft, hop, channels, (lo * df, hi * df), draw(st.one_of(st.none(), st.integers(1, 9))))
    n = draw(st.integers(0, 300))
    cuts = draw(st.lists(st.integers(0, n), max_size=8))
    return params, signal(n, params.n_channels, seed=draw(st.integers(0, 3))), cuts


@settings(max_examples=60, deadline=None)
@given(streams())
def test_any_chunking_gives_the_same_rows_and_times(case):
    params, x, cuts = case
    whole, whole_t = feed_chunks(params, x, [])
    chunked, chunked_t = feed_chunks(params, x, cuts)
    assert chunked.shape == whole.shape == (len(whole_t), *params.row_shape)
    if len(whole):
        assert_power_close(chunked, whole)
    np.testing.assert_array_equal(chunked_t, whole_t)
    assert np.all(np.diff(whole_t) == params.hop * PERIOD_NS)


@pytest.mark.parametrize("chunk", [520, 7, 50, 123])
def test_waterfall_rows_are_band_energy_per_line(chunk):
    params = view(ViewType.WATERFALL, hop=50, channels=(3, 6))
    x = signal(520, 4) + 7.0  # the DC offset is not part of the band
    data, t_ns = feed_chunks(params, x, list(range(chunk, 520, chunk)), t0_ns=0)
    lines = x[:500].reshape(10, 50, 4).astype(np.float64)
    expected = 10 * np.log10(lines.var(axis=1) + EPS)
    assert data.shape == (10, 4)
    np.testing.assert_allclose(data, expected, atol=1e-3)
    np.testing.assert_array_equal(t_ns, (np.arange(10) * 50 + 25) * PERIOD_NS)


def test_waterfall_keeps_only_per_channel_sums_of_an_open_line():
    params = view(ViewType.WATERFALL, hop=100_000, channels=(1, 3))  # 100 s lines
    spec = StreamingSpectrogram(params)
    for i in range(10):
        assert len(spec.feed(signal(1000, 3, seed=i), i * 1000 * PERIOD_NS)) == 0
    assert spec._store.size == 0 and spec._line_n == 10_000 and spec._line_mean.shape == (3,)


def test_hop_beyond_nfft_skips_samples_between_windows():
    params = view(0, nfft=16, hop=40, channels=(1, 1), freqs=(0.0, 500.0))
    x = signal(400, 1)
    spec = StreamingSpectrogram(params)
    rows = [spec.feed(x[i:i + 7], i * PERIOD_NS) for i in range(0, 400, 7)]
    data = np.concatenate([r.data for r in rows])
    window = hann(16, sym=False) / hann(16, sym=False).sum()
    frames = np.stack([x[s:s + 16, 0] for s in range(0, 400 - 16 + 1, 40)])
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    np.testing.assert_allclose(data[:, 0, :], 10 * np.log10(power + EPS), atol=1e-3)
    assert spec._tail - spec._head < 16  # never more than one window of samples is carried


def test_reset_forgets_carried_samples_and_clock():
    params = view(0, nfft=32, hop=8)
    x = signal(200, 3)
    spec = StreamingSpectrogram(params)
    spec.feed(x[:50], 0)
    spec.reset()
    again = spec.feed(x, 5 * PERIOD_NS)
    fresh = StreamingSpectrogram(params).feed(x, 5 * PERIOD_NS)
    np.testing.assert_array_equal(again.data, fresh.data)
    np.testing.assert_array_equal(again.t_ns, fresh.t_ns)


def test_row_times_follow_the_blocks_clock_after_a_gap():
    params = view(0, nfft=8, hop=8, channels=(1, 1))
    spec = StreamingSpectrogram(params)
    first = spec.feed(signal(16, 1), 0)
    later = spec.feed(signal(16, 1), 10**9)  # the source skipped ahead by one second
    np.testing.assert_array_equal(first.t_ns, [4 * PERIOD_NS, 12 * PERIOD_NS])
    np.testing.assert_array_equal(later.t_ns, [10**9 + 4 * PERIOD_NS, 10**9 + 12 * PERIOD_NS])


def test_block_of_the_wrong_shape_is_refused():
    spec = StreamingSpectrogram(view(0, channels=(1, 3)))
    with pytest.raises(ValueError, match=r"expected \(n_samples, 3\)"):
        spec.feed(np.zeros((10, 4), dtype=np.float32), 0)


def test_int16_input_is_converted_and_empty_blocks_give_no_rows():
    params = view(0, nfft=16, hop=16, channels=(1, 2))
    spec = StreamingSpectrogram(params)
    assert len(spec.feed(np.zeros((0, 2), dtype=np.int16), 0)) == 0
    rows = spec.feed(np.ones((32, 2), dtype=np.int16) * 100, 0)
    assert rows.data.shape == (2, 2, params.n_bins) and rows.data.dtype == np.float32
