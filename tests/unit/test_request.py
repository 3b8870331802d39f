"""Configure-request validation: every field rule, the source lookup and the extra vars."""

from __future__ import annotations

import numpy as np
import pytest

from glue.errors import InvalidRequest
from glue.request import RESPONSE_FIELDS, parse_configure
from streamer.sources.recording import RecordingWriter

LIVE = {"prr": 2000.0, "number_of_channels": 512}
T0 = 1_700_000_000


def body(**overrides):
    base = {
        "displayTimeAxisDuration": 10, "nfftSelection": 256, "displayInfo": {"height": 200},
        "channels": {"min": 1, "max": 64}, "frequencyRange": {"min": 0, "max": 500},
        "start_time": None, "end_time": None, "view_type": 0,
    }
    base.update(overrides)
    return base


def errors_of(request_body, tmp_path, live=LIVE):
    with pytest.raises(InvalidRequest) as info:
        parse_configure(request_body, tmp_path, live)
    return {(e["field"], repr(e["value"])): e["rule"] for e in info.value.errors}


def fields_of(request_body, tmp_path, live=LIVE):
    return {field for field, _ in errors_of(request_body, tmp_path, live)}


@pytest.fixture
def recording(tmp_path):
    root = tmp_path / "recordings"
    with RecordingWriter(root, sample_rate_hz=1000.0, file_seconds=2.0) as writer:
        writer.append(np.zeros((4000, 32), dtype=np.float32), T0 * 10**9)
    return root


def test_a_valid_live_multichannel_request(tmp_path):
    request = parse_configure(body(), tmp_path, LIVE)
    assert request.mode == "live"
    fields = request.response_fields()
    assert set(fields) == set(RESPONSE_FIELDS)
    assert fields["channel_amount"] == 64 and fields["lines_dt"] == pytest.approx(0.05)
    assert fields["frequencies_amount"] == len(fields["frequencies_list"]) > 0
    assert set(fields["channel_to_stream_index"]) == {str(c) for c in range(1, 65)}


def test_extravars_are_numbers_and_fixed_words_only(tmp_path):
    extravars = parse_configure(body(view_type="1", channels={"min": 7, "max": 7}, nfftSelection="4096"),
                                tmp_path, LIVE).extravars()
    assert extravars["view_type"] == 1 and extravars["nfft"] == 4096
    assert extravars["start_time"] is None and extravars["end_time"] is None
    strings = {k: v for k, v in extravars.items() if isinstance(v, str)}
    assert strings == {"job_kind": "stream", "stream_source": "auto"}


@pytest.mark.parametrize("overrides, field", [
    ({"displayTimeAxisDuration": 0}, "displayTimeAxisDuration"),
    ({"displayTimeAxisDuration": -3}, "displayTimeAxisDuration"),
    ({"displayTimeAxisDuration": None}, "displayTimeAxisDuration"),
    ({"nfftSelection": 1000}, "nfftSelection"),
    ({"nfftSelection": 4096}, "nfftSelection"),  # > 2048 multichannel
    ({"nfftSelection": 1}, "nfftSelection"),  # waterfall only
    ({"nfftSelection": "abc"}, "nfftSelection"),
    ({"displayInfo": {"height": 0}}, "displayInfo.height"),
    ({"displayInfo": {"height": 2.5}}, "displayInfo.height"),
    ({"displayInfo": "tall"}, "displayInfo"),
    ({"channels": {"min": 0, "max": 5}}, "channels.min"),
    ({"channels": {"min": 10, "max": 5}}, "channels.max"),
    ({"channels": {"min": 1, "max": 600}}, "channels.max"),  # beyond the live fibre's 512
    ({"channels": {"min": 1}}, "channels.max"),
    ({"frequencyRange": {"min": -1, "max": 500}}, "frequencyRange.min"),
    ({"frequencyRange": {"min": 0, "max": 1001}}, "frequencyRange.max"),
    ({"frequencyRange": {"min": 100, "max": 100.5}}, "frequencyRange.max"),  # range < 1 Hz
    ({"frequencyRange": None}, "frequencyRange.min"),
    ({"start_time": T0, "end_time": None}, "end_time"),
    ({"start_time": T0, "end_time": T0 - 5}, "end_time"),
    ({"start_time": -1, "end_time": 5}, "start_time"),
    ({"view_type": 7}, "view_type"),
    ({"view_type": "spectrogram"}, "view_type"),
    ({"view_type": 1}, "channels.max"),  # single channel needs min == max
])
def test_every_field_rule_names_field_value_and_rule(tmp_path, overrides, field):
    assert field in fields_of(body(**overrides), tmp_path)


def test_single_channel_allows_large_nfft_but_not_beyond_65536(tmp_path):
    one = {"channels": {"min": 3, "max": 3}, "view_type": 1}
    parse_configure(body(nfftSelection=65536, displayTimeAxisDuration=600, **one), tmp_path, LIVE)
    assert "nfftSelection" in fields_of(body(nfftSelection=131072, **one), tmp_path)


def test_waterfall_takes_nfft_1_and_no_frequency_range(tmp_path):
    waterfall = {"view_type": 2, "nfftSelection": 1, "frequencyRange": None, "displayTimeAxisDuration": None}
    request = parse_configure(body(**waterfall), tmp_path, LIVE)
    assert request.response_fields()["frequencies_amount"] == 0
    assert request.extravars()["freq_min"] is None and request.extravars()["display_time_axis_duration"] is None
    wrong = fields_of(body(**{**waterfall, "nfftSelection": 2, "frequencyRange": {"min": 0, "max": 10}}),
                      tmp_path)
    assert {"nfftSelection", "frequencyRange.min", "frequencyRange.max"} <= wrong


def test_frequency_above_the_sources_nyquist_is_refused(tmp_path):
    rules = errors_of(body(frequencyRange={"min": 0, "max": 900}), tmp_path, {"prr": 1000.0,
                                                                              "number_of_channels": 512})
    assert "Nyquist" in " ".join(rule for (field, _), rule in rules.items() if field == "frequencyRange.max")


def test_a_live_fibre_without_pulse_rate_is_refused_clearly(tmp_path):
    rules = errors_of(body(), tmp_path, {"prr": 0, "number_of_channels": 512})
    assert "waiting for fibre" in " ".join(rule for (field, _), rule in rules.items() if field == "sample_rate_hz")


def test_every_offending_field_is_listed_at_once(tmp_path):
    bad = body(nfftSelection=3, channels={"min": 0, "max": 5000}, displayInfo={"height": -1},
               frequencyRange={"min": 0, "max": 5000})
    assert {"nfftSelection", "channels.min", "channels.max", "displayInfo.height",
            "frequencyRange.max"} <= fields_of(bad, tmp_path)


def test_body_must_be_an_object(tmp_path):
    assert fields_of(["not", "an", "object"], tmp_path) == {"body"}
    assert fields_of(None, tmp_path) == {"body"}


def test_historic_request_reads_the_recordings_rate_and_channels(recording):
    request = parse_configure(body(start_time=T0, end_time=T0 + 2, channels={"min": 1, "max": 32}),
                              recording, LIVE)
    assert request.mode == "historic" and request.source.sample_rate_hz == 1000.0
    assert request.source.channels == 32
    assert "channels.max" in fields_of(body(start_time=T0, end_time=T0 + 2), recording)  # 64 > 32
    assert "frequencyRange.max" in fields_of(                         # 500 Hz is Nyquist: 600 is not
        body(start_time=T0, end_time=T0 + 2, channels={"min": 1, "max": 8},
             frequencyRange={"min": 0, "max": 600}), recording)


def test_historic_range_without_recordings_is_refused_with_the_other_faults(recording):
    rules = errors_of(body(start_time=T0 + 3600, end_time=T0 + 3700, nfftSelection=3), recording)
    assert "no recording covers" in " ".join(rule for (field, _), rule in rules.items() if field == "start_time")
    assert ("nfftSelection", "3") in rules


@pytest.mark.parametrize("payload", [
    "{{ lookup('pipe', 'touch /tmp/x') }}", "1; touch /tmp/x", "$(touch /tmp/x)", "`id`",
    "{% raw %}", "../../etc/passwd", "0 || true",
])
def test_strings_that_look_like_code_are_refused_in_every_field(tmp_path, payload):
    bad = body(displayTimeAxisDuration=payload, nfftSelection=payload, displayInfo={"height": payload},
               channels={"min": payload, "max": payload}, frequencyRange={"min": payload, "max": payload},
               start_time=payload, end_time=payload, view_type=payload)
    rules = errors_of(bad, tmp_path)
    assert {f for f, _ in rules} >= {"displayTimeAxisDuration", "nfftSelection", "displayInfo.height",
                                     "channels.min", "channels.max", "frequencyRange.min",
                                     "frequencyRange.max", "start_time", "end_time", "view_type"}
    assert all(value == repr(payload) for _, value in rules)
