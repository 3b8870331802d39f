"""`streamer` as the playbooks and users run it: subprocesses, real ports, exit codes, files."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

VIEW = ["--view-type", "0", "--nfft", "256", "--freq-min", "0", "--freq-max", "500"]
START = 1_795_346_300


def _streamer(*argv: str) -> list[str]:
    return [sys.executable, "-m", "streamer", *argv]


def _start(*argv: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(_streamer("serve", "--port", "0", "--bind", "127.0.0.1", *argv),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("listening "):
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise AssertionError(f"serve did not start: {line!r} {err}")
    return proc, line.split()[1]


def _finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise AssertionError(f"serve still running after {timeout} s:\n{err}") from None
    return proc.returncode, err


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    root = tmp_path_factory.mktemp("recordings")
    out = subprocess.run(_streamer("record", "--out", str(root), "--seconds", "12", "--start-time", str(START),
                                   "--channels", "384", "--sample-rate", "1000", "--file-seconds", "5"),
                         capture_output=True, text=True, timeout=60, check=True)
    summary = json.loads(out.stdout)
    assert summary["files"] == 3 and summary["start_time"] == START
    return root


def test_serve_is_ready_then_exits_0_after_the_idle_window_without_clients():
    began = time.monotonic()
    proc, target = _start("--source", "synthetic", "--channels", "64", "--channel-min", "1", "--channel-max", "64",
                          *VIEW, "--display-duration", "5", "--display-height", "100", "--idle-timeout", "5")
    status = subprocess.run(_streamer("status", target, "--wait-serving", "20"), capture_output=True, text=True,
                            timeout=30)
    code, err = _finish(proc, 30)
    assert status.returncode == 0, status.stderr
    reply = json.loads(status.stdout)
    assert reply["health"] == "SERVING" and reply["clients"] == 0 and reply["source_state"] == "running"
    assert code == 0, err
    assert "exiting (idle)" in err and time.monotonic() - began >= 5


def test_record_serve_watch_png_then_serve_exits_0_when_the_range_is_done(recordings, tmp_path):
    proc, target = _start("--source", "recording", "--recordings-dir", str(recordings), "--start-time",
                          str(START + 1), "--end-time", str(START + 11), "--replay-speed", "0",
                          "--channel-min", "1", "--channel-max", "384", *VIEW, "--display-duration", "10",
                          "--display-height", "200", "--encoding", "uint8", "--idle-timeout", "60")
    try:
        png = tmp_path / "waterfall.png"
        watch = subprocess.run(_streamer("watch", target, "--png", str(png), "--json"), capture_output=True,
                               text=True, timeout=60)
    finally:
        code, err = _finish(proc, 30)
    assert watch.returncode == 0, watch.stderr
    summary = json.loads(watch.stdout.strip().splitlines()[-1])
    assert summary["rows"] == (10_000 - 256) // 50 + 1 and summary["dropped_rows"] == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert code == 0 and "exiting (done)" in err, err  # the range was done and the last client left


def test_export_writes_the_files_of_a_range(recordings, tmp_path):
    out = tmp_path / "export"
    run = subprocess.run(_streamer("export", "--out", str(out), "--recordings-dir",
                                   str(recordings), "--start-time", str(START + 2), "--end-time", str(START + 9),
                                   "--view-type", "1", "--nfft", "1024", "--channel-min", "100", "--channel-max",
                                   "100", "--freq-min", "10", "--freq-max", "400", "--display-duration", "7",
                                   "--display-height", "70"),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    meta = json.loads((out / "metadata.json").read_text())
    rows, times, freqs = (np.load(out / f) for f in ("spectrogram.npy", "times.npy", "frequencies.npy"))
    assert rows.shape == (meta["rows"], len(freqs)) == ((7000 - 1024) // 100 + 1, meta["frequencies_amount"])
    assert times[0] == (START + 2) * 10**9 + 512 * 10**6 and np.all(np.diff(times) == 100_000_000)
    assert freqs[0] >= 10 and freqs[-1] <= 400 and (out / "waterfall.png").stat().st_size > 10_000
    assert meta["channel_min"] == 100 and meta["start_time"] == START + 2
