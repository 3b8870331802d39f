"""The simulated interrogator: deterministic, chunking-independent tones at known places."""

from __future__ import annotations

import numpy as np

from streamer.sources.synthetic import Interrogator, MovingSource, positions_m


def _concat(gen, sizes):
    return np.concatenate([gen.chunk(n)[0] for n in sizes])


def test_same_seed_same_data_and_t0_follows_the_clock():
    a, b = Interrogator(n_channels=64, seed=3), Interrogator(n_channels=64, seed=3)
    np.testing.assert_array_equal(_concat(a, [100, 100]), _concat(b, [100, 100]))
    assert a.next_t0_ns == 100_000_000  # 200 samples at 2 kHz
    assert not np.array_equal(_concat(Interrogator(n_channels=64, seed=4), [200]), _concat(a, [200]))


def test_tones_do_not_depend_on_chunk_sizes():
    kw = {"n_channels": 64, "noise": 0.0}
    np.testing.assert_allclose(_concat(Interrogator(**kw), [333, 667]), _concat(Interrogator(**kw), [1000]),
                               atol=1e-6)


def test_a_source_is_loudest_at_its_position_and_frequency():
    src = MovingSource(frequency_hz=125.0, start_m=20.0, speed_m_s=0.0, width_m=3.0)
    data, _ = Interrogator(n_channels=64, noise=0.01, sources=(src,)).chunk(2000)
    assert int(np.argmax((data**2).mean(axis=0))) == 20
    spectrum = np.abs(np.fft.rfft(data[:, 20]))
    assert np.fft.rfftfreq(2000, 1 / 2000)[np.argmax(spectrum)] == 125.0


def test_sources_bounce_between_the_fibre_ends():
    src = MovingSource(frequency_hz=1, start_m=90.0, speed_m_s=10.0)
    np.testing.assert_allclose(positions_m(src, np.array([0.0, 1.0, 2.0, 20.0]), 100.0), [90, 100, 90, 90])
