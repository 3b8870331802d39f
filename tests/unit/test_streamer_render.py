"""Waterfall pictures for the three row shapes, and the client's statistics."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest

from streamer.client import ReceivedRow, WatchStats
from streamer.render import render_png


@pytest.mark.parametrize(
    ("shape", "freqs", "width"),
    [((40, 16, 8), np.linspace(0, 500, 8), 1170), ((40, 64), np.linspace(0, 500, 64), 585), ((40, 16), None, 585)],
)
def test_each_view_draws_a_png(tmp_path, shape, freqs, width):
    rng = np.random.default_rng(0)
    rows = rng.normal(-40, 3, shape).astype(np.float32)
    path = render_png(tmp_path / "w.png", rows, np.arange(shape[0]) * 39_062_500, channel_min=5, frequencies=freqs,
                      title="t")
    image = mpimg.imread(path)
    assert image.shape[:2] == (540, width)
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_render_refuses_no_rows(tmp_path):
    with pytest.raises(ValueError, match="need at least one row"):
        render_png(tmp_path / "w.png", np.zeros((0, 4), np.float32), np.zeros(0, np.int64), 1)


def _row(seq, dropped=0, t_ns=0, received_ns=50_000_000):
    return ReceivedRow(seq, t_ns, np.zeros(4, np.float32), 1, 4, dropped, 16, received_ns)


def test_watch_stats_count_rows_gaps_drops_and_latency():
    stats = WatchStats()
    for row in (_row(0), _row(1), _row(5, dropped=3), _row(6, dropped=3, received_ns=150_000_000)):
        stats.add(row)
    stats.stop()
    s = stats.summary()
    assert (s["rows"], s["seq_gaps"], s["dropped_rows"]) == (4, 3, 3)
    assert s["latency_p50_s"] == 0.05 and s["latency_max_s"] == 0.15 and s["rows_per_s"] > 0
