"""End to end through the command line: `spectrojobs up` → create → watch --png → delete → down.

The stack runs in the background exactly as a user starts it (its own SPECTROJOBS_HOME); after
`down` no process of it may be left and no object of the job may remain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from streamer.sources.recording import RecordingWriter
from streamer.sources.synthetic import Interrogator

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
T0 = int(time.time()) - 7200


def spectrojobs(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("K8S_AUTH_KUBECONFIG", "KUBECONFIG", "SPECTROJOBS_API")}
    env["SPECTROJOBS_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "glue.cli", *args], env=env, cwd=str(REPO),
                          capture_output=True, text=True, timeout=timeout)


def stack_processes(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            text = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["environ"] or {}).get("SPECTROJOBS_HOME", "")
        except (psutil.Error, TypeError):
            continue
        if str(home) in text and proc.pid != os.getpid():
            found.append(proc)
    return found


def test_up_create_watch_delete_down_leaves_nothing(tmp_path):
    home = tmp_path / "home"
    gen = Interrogator(sample_rate_hz=1000.0, n_channels=32, start_ns=T0 * 10**9)
    with RecordingWriter(home / "recordings", 1000.0, file_seconds=10.0) as writer:
        for block in gen.blocks(1000, realtime=False, limit_s=10):
            writer.append(block.data, block.t0_ns)
    try:
        up = spectrojobs(home, "up", "--no-publisher", "--no-monitor")
        assert up.returncode == 0, up.stderr
        state = json.loads(up.stdout)
        assert state["components"]["api"]

        created = spectrojobs(home, "create", "--channels", "1:32", "--freq", "0:400", "--duration", "5",
                              "--height", "50", "--nfft", "128", "--start", str(T0), "--end", str(T0 + 9.9))
        assert created.returncode == 0, created.stderr
        job = json.loads(created.stdout)
        assert job["phase"] == "Running" and job["stream_port"]
        assert "Running" in created.stderr  # progress was shown while waiting

        png = tmp_path / "waterfall.png"
        watched = spectrojobs(home, "watch", job["job_id"], "--seconds", "3", "--png", str(png))
        assert watched.returncode == 0, watched.stderr
        summary = json.loads(watched.stdout)
        assert summary["rows"] > 0 and png.stat().st_size > 10_000

        listed = spectrojobs(home, "status")
        assert job["job_id"] in listed.stdout

        deleted = spectrojobs(home, "delete", job["job_id"])
        assert deleted.returncode == 0, deleted.stderr
        assert json.loads(deleted.stdout)["status"] == "Deleted"
        assert spectrojobs(home, "status", job["job_id"]).returncode == 1  # 404: gone
    finally:
        down = spectrojobs(home, "down")
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["left"] == []
    deadline = time.monotonic() + 10
    while stack_processes(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stack_processes(home) == []
    assert np.isfinite(summary["rows_per_s"])
