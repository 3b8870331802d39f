"""View parameters: Focus limits, every violation reported, derived timing and frequencies."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamer.dsp.params import (
    FOCUS_FIELDS,
    ParamError,
    ViewParams,
    ViewType,
    validate_focus_request,
    validate_view,
    view_metadata,
)

FOCUS_OK = {
    "displayTimeAxisDuration": 30,
    "nfftSelection": 1024,
    "displayInfo": {"height": 768},
    "channels": {"min": 1, "max": 2222},
    "frequencyRange": {"min": 0, "max": 500},
    "start_time": None,
    "end_time": None,
    "view_type": 0,
}


def focus(**changes):
    body = json.loads(json.dumps(FOCUS_OK))
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = body
        for key in parents:
            node = node[key]
        node[leaf] = value
    return body


def errors_of(body, sample_rate_hz=2000.0, **kw):
    with pytest.raises(ParamError) as caught:
        validate_focus_request(body, sample_rate_hz=sample_rate_hz, **kw)
    return {(e["field"], json.dumps(e["value"])): e["rule"] for e in caught.value.errors}


def test_the_measured_focus_request_gives_the_measured_timing():
    request = validate_focus_request(FOCUS_OK, sample_rate_hz=2000)
    params = request.params
    assert request.live and request.start_time is None
    assert params.lines_dt == 0.0390625 and params.hop == 78
    assert params.row_shape == (2222, 32)
    meta = view_metadata(params)
    assert meta["frequencies_amount"] == 32 == len(meta["frequencies_list"])
    assert meta["channel_amount"] == 2222 and meta["stream_amount"] == 9
    assert meta["channel_to_stream_index"]["1"] == 0 and meta["channel_to_stream_index"]["2222"] == 8
    assert json.loads(json.dumps(meta)) == meta


@pytest.mark.parametrize(
    ("change", "field", "rule_part"),
    [
        ({"nfftSelection": 1000}, "nfftSelection", "power of two"),
        ({"nfftSelection": 4096}, "nfftSelection", "<= 2048"),
        ({"nfftSelection": 1}, "nfftSelection", "nfft 1 is the waterfall"),
        ({"displayTimeAxisDuration": 0}, "displayTimeAxisDuration", "> 0"),
        ({"displayTimeAxisDuration": None}, "displayTimeAxisDuration", "is required"),
        ({"displayInfo__height": -3}, "displayInfo.height", "> 0"),
        ({"channels__min": 0}, "channels.min", "between 1 and 2222"),
        ({"channels__max": 2223}, "channels.max", "between 1 and 2222"),
        ({"channels__min": 10, "channels__max": 9}, "channels.max", ">= channels.min"),
        ({"channels__min": 2.5}, "channels.min", "fractional"),
        ({"frequencyRange__min": -1}, "frequencyRange.min", "between 0 and 1000"),
        ({"frequencyRange__max": 1001}, "frequencyRange.max", "between 0 and 1000"),
        ({"frequencyRange__min": 100, "frequencyRange__max": 100.5}, "frequencyRange.max", "at least 1 Hz"),
        ({"frequencyRange__max": float("nan")}, "frequencyRange.max", "finite"),
        ({"view_type": 7}, "view_type", "must be 0"),
        ({"view_type": True}, "view_type", "must be 0"),
        ({"start_time": 100}, "end_time", "go together"),
        ({"start_time": 100, "end_time": 100}, "end_time", "greater than start_time"),
        ({"displayInfo": 768}, "displayInfo", "must be an object"),
    ],
)
def test_each_rule_names_field_value_and_rule(change, field, rule_part):
    errors = errors_of(focus(**change))
    matching = [rule for (name, _), rule in errors.items() if name == field]
    assert matching and rule_part in matching[0], errors


def test_every_violation_is_reported_at_once():
    body = focus(nfftSelection=1000, displayInfo__height=0, channels__min=0.5, frequencyRange__max=1200,
                 view_type="sideways")
    errors = errors_of(body, sample_rate_hz=0)
    fields = {name for name, _ in errors}
    assert fields == {"nfftSelection", "displayInfo.height", "channels.min", "frequencyRange.max", "view_type",
                      "sample_rate_hz"}
    assert errors[("nfftSelection", "1000")] == "must be a power of two"
    assert "waiting for fibre" in errors[("sample_rate_hz", "0")]


def test_fmax_above_nyquist_and_a_range_without_bins_are_refused():
    assert "Nyquist" in errors_of(focus(frequencyRange__max=600), sample_rate_hz=1000)[("frequencyRange.max", "600")]
    no_bin = focus(nfftSelection=16, frequencyRange__min=10, frequencyRange__max=20)  # bins every 125 Hz
    assert "holds no FFT bin" in errors_of(no_bin)[("frequencyRange.min", "10")]


def test_a_row_shorter_than_one_sample_is_refused_not_divided_by_zero():
    errors = errors_of(focus(displayTimeAxisDuration=0.001, displayInfo__height=768), sample_rate_hz=2000)
    assert "shorter than one sample" in errors[("displayTimeAxisDuration", "0.001")]


def test_single_channel_needs_one_channel_and_allows_a_large_nfft():
    params = validate_focus_request(focus(view_type="1", nfftSelection=65536, channels__min=7, channels__max=7,
                                          displayTimeAxisDuration=3600), sample_rate_hz=2000).params
    assert params.view_type == ViewType.SINGLECHANNEL and params.row_shape == (512,)
    errors = errors_of(focus(view_type=1, channels__min=7, channels__max=9, nfftSelection=131072))
    assert "must equal channels.min" in errors[("channels.max", "9")]
    assert "<= 65536" in errors[("nfftSelection", "131072")]


def test_waterfall_takes_nfft_one_and_no_frequency_range():
    body = focus(view_type="waterfall", nfftSelection=1, displayTimeAxisDuration=None, frequencyRange=None)
    params = validate_focus_request(body, sample_rate_hz=2000).params
    assert params.row_shape == (2222,) and params.lines_dt == 30 / 768 and params.frame_length == params.hop
    assert view_metadata(params)["frequencies_amount"] == 0
    errors = errors_of(focus(view_type=2, nfftSelection=2))
    assert "exactly 1" in errors[("nfftSelection", "2")]
    assert "must be absent" in errors[("frequencyRange.max", "500")]


def test_historic_range_and_source_limits():
    request = validate_focus_request(focus(start_time=1_700_000_000, end_time=1_700_000_060), sample_rate_hz=2000)
    assert not request.live and request.end_time - request.start_time == 60
    errors = errors_of(focus(channels__max=600), source_channels=512)
    assert "between 1 and 512" in errors[("channels.max", "600")]
    assert "fractional" in errors_of(FOCUS_OK, source_channels=511.5)[("source_channels", "511.5")]


def test_python_names_map_to_focus_fields():
    with pytest.raises(ParamError) as caught:
        validate_view(view_type=0, nfft=3, channel_min=1, channel_max=2, display_height=10, display_duration_s=1,
                      freq_min=0, freq_max=100, sample_rate_hz=1000)
    assert caught.value.errors == [{"field": "nfftSelection", "value": 3, "rule": "must be a power of two"}]
    assert FOCUS_FIELDS["display_height"] == "displayInfo.height"


def test_numbers_arrive_as_json_strings_or_integral_floats():
    params = validate_focus_request(focus(nfftSelection="256", channels__min=3.0, channels__max="4"),
                                    sample_rate_hz="2000").params
    assert (params.nfft, params.channel_min, params.channel_max, params.sample_rate_hz) == (256, 3, 4, 2000.0)


def test_pooled_frequencies_are_group_means_of_cropped_bins():
    params = validate_view(view_type=0, nfft=16, channel_min=1, channel_max=1, display_height=1,
                           display_duration_s=0.016, freq_min=100, freq_max=400, sample_rate_hz=1000,
                           display_bins=2)
    assert params.bin_slice == slice(2, 7)  # 125, 187.5, 250, 312.5, 375 Hz
    np.testing.assert_allclose(params.frequencies, [187.5, 343.75])  # groups of 3 and 2 bins


def test_direct_construction_checks_the_same_rules():
    with pytest.raises(ParamError, match="sample_rate_hz"):
        ViewParams(ViewType.MULTICHANNEL, 64, 1, 2, 0.0, 100.0, 1.0, 10, 0.0)
