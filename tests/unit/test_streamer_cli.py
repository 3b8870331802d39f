"""CLI input checks: every problem named by flag, env variable, value and rule; exit code 2."""

from __future__ import annotations

import argparse

import pytest

from streamer import config
from streamer.cli import main
from streamer.errors import UsageError

GOOD = ["--source", "synthetic", "--view-type", "0", "--nfft", "256", "--channel-min", "1", "--channel-max", "64",
        "--freq-min", "0", "--freq-max", "500", "--display-duration", "10", "--display-height", "200"]


def _errors(argv, capsys):
    assert main(argv) == 2
    return capsys.readouterr().err.strip().splitlines()


def test_view_rules_are_reported_by_flag_all_at_once(capsys):
    argv = ["serve", *GOOD[:4], "--nfft", "300", "--channel-min", "10", "--channel-max", "5", *GOOD[10:]]
    lines = _errors(argv, capsys)
    assert any(line.startswith("streamer serve: --nfft (STREAMER_NFFT)=300: ") and "power of" in line
               for line in lines), lines
    assert any("--channel-max (STREAMER_CHANNEL_MAX)=5" in line for line in lines), lines


def test_unparseable_values_and_choices(capsys):
    lines = _errors(["serve", *GOOD, "--port", "http", "--encoding", "png"], capsys)
    assert "streamer serve: --port (STREAMER_PORT)='http': must be an integer" in lines
    lines = _errors(["serve", *GOOD, "--encoding", "png"], capsys)
    assert lines == ["streamer serve: --encoding (STREAMER_ENCODING)='png': must be one of float32, float16, uint8"]


def test_environment_supplies_flags_and_the_command_line_wins(monkeypatch, capsys):
    monkeypatch.setenv("STREAMER_NFFT", "3")
    lines = _errors(["serve", *[a for a in GOOD if a not in ("--nfft", "256")]], capsys)
    assert any(line.startswith("streamer serve: --nfft (STREAMER_NFFT)=3:") for line in lines), lines
    parser = argparse.ArgumentParser()
    config.add_flags(parser, config.VIEW_FLAGS)
    args = parser.parse_args(["--nfft", "512"])
    assert config.raw_values(args, config.VIEW_FLAGS, {"STREAMER_NFFT": "3"})["nfft"] == "512"


def test_source_rules(capsys):
    lines = _errors(["serve", *GOOD[2:], "--source", "recording"], capsys)
    assert "streamer serve: --start-time/--end-time: both required with --source recording (a historic range)" in lines
    lines = _errors(["serve", *GOOD[2:], "--source", "live"], capsys)
    assert any(line.startswith("streamer serve: --queue (STREAMER_QUEUE): required with --source live") for line in lines)
    lines = _errors(["serve", *GOOD, "--start-time", "10", "--end-time", "20"], capsys)
    assert lines == ["streamer serve: --start-time/--end-time: only valid with --source recording, not 'synthetic'"]
    lines = _errors(["serve", *GOOD, "--idle-timeout", "-1"], capsys)
    assert lines == ["streamer serve: --idle-timeout (STREAMER_IDLE_TIMEOUT)=-1.0: must be >= 0"]


def test_synthetic_channels_bound_the_view():
    values = {"source": "synthetic", "channels": 32, "view_type": "0", "nfft": 256, "channel_min": 1,
              "channel_max": 64, "display_height": 100, "display_duration": 10.0, "freq_min": 0.0, "freq_max": 500.0}
    with pytest.raises(UsageError) as e:
        config.check_view(values, 2000.0)
    assert any(line.startswith("--channel-max (STREAMER_CHANNEL_MAX)=64") for line in e.value.lines), e.value.lines


def test_record_and_export_check_their_input(capsys, tmp_path):
    assert _errors(["record", "--out", str(tmp_path), "--seconds", "0"], capsys) == [
        "streamer record: --seconds (STREAMER_SECONDS)=0.0: must be > 0"]
    lines = _errors(["export", *GOOD[2:], "--source", "synthetic", "--out", str(tmp_path)], capsys)
    assert lines == ["streamer export: --source (STREAMER_SOURCE)='synthetic': export reads recordings only"]


def test_the_recordings_rate_is_checked_before_serving(capsys, tmp_path):
    assert main(["record", "--out", str(tmp_path), "--seconds", "2", "--sample-rate", "1000", "--channels", "64",
                 "--start-time", "1795346300"]) == 0
    capsys.readouterr()
    lines = _errors(["serve", "--source", "recording", "--recordings-dir", str(tmp_path), "--start-time",
                     "1795346300", "--end-time", "1795346301", *GOOD[2:10], "--freq-min", "0", "--freq-max", "600",
                     "--display-duration", "10", "--display-height", "100"], capsys)
    assert lines == ["streamer serve: --freq-max (STREAMER_FREQ_MAX)=600.0: must be <= the Nyquist frequency "
                     "500 Hz (sample rate 1000 Hz)"]
