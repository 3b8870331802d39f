"""Pure decisions of `streamer serve`: when to exit, where to bind, how rows split into streams."""

from __future__ import annotations

import pytest

from streamer.dsp.params import validate_view
from streamer.job import stream_slices
from streamer.serve import bind_address, exit_decision


@pytest.mark.parametrize(
    ("clients", "idle_for", "state", "seen", "expected"),
    [
        (1, 999, "running", 1, None),  # a connected client keeps the job alive
        (0, 10, "running", 0, None),  # inside the idle window
        (0, 180, "running", 0, ("idle", 0)),
        (0, 1, "done", 1, ("done", 0)),  # historic range done, last client left
        (0, 1, "done", 0, None),  # done but nobody got it yet: wait for the idle window
        (1, 1, "done", 1, None),  # done, a client still drains its queue
        (0, 1, "failed", 0, ("failed", 1)),
    ],
)
def test_exit_decision(clients, idle_for, state, seen, expected):
    assert exit_decision(1000.0 + idle_for, clients, 1000.0, 180.0, state, seen) == expected


def test_bind_address_prefers_flag_then_pod_ip():
    assert bind_address("10.0.0.7", 5000, {"POD_IP": "1.2.3.4"}) == "10.0.0.7:5000"
    assert bind_address(None, 5000, {"POD_IP": "127.64.0.9"}) == "127.64.0.9:5000"
    assert bind_address(None, 0, {}) == "127.0.0.1:0"
    assert bind_address("::1", 5000, {}) == "[::1]:5000"


def test_streams_group_channels():
    params = validate_view(view_type=0, nfft=256, channel_min=1, channel_max=600, display_height=100,
                           display_duration_s=10, freq_min=0, freq_max=500, sample_rate_hz=2000)
    assert stream_slices(params) == {0: slice(0, 256), 1: slice(256, 512), 2: slice(512, 600)}
    single = validate_view(view_type=1, nfft=4096, channel_min=7, channel_max=7, display_height=100,
                           display_duration_s=10, freq_min=0, freq_max=500, sample_rate_hz=2000)
    assert stream_slices(single) == {0: slice(None)}
