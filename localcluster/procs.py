"""Starting, probing and stopping a cluster process (shared by the CLI and `testing`)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from localcluster.cluster import KUBECONFIG, PID_FILE


class ClusterStartError(RuntimeError):
    """The cluster process exited or did not answer /version in time."""


def spawn(state_dir: Path, args: list[str], log_file: Path) -> subprocess.Popen:
    """`python -m localcluster --state-dir D ARGS`, detached in its own session."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / KUBECONFIG).unlink(missing_ok=True)
    with open(log_file, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "localcluster", "--state-dir", str(state_dir), *args],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=str(Path(__file__).resolve().parents[1]))


def server_url(state_dir: Path) -> str | None:
    try:
        config = yaml.safe_load((state_dir / KUBECONFIG).read_text())
        return config["clusters"][0]["cluster"]["server"]
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
        return None


def answers(url: str, timeout: float = 2.0) -> bool:
    """True when GET /version answers 200."""
    host_port = url.split("://", 1)[-1]
    host, _, port = host_port.partition(":")
    conn = http.client.HTTPConnection(host, int(port or 80), timeout=timeout)
    try:
        conn.request("GET", "/version")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def wait_ready(state_dir: Path, proc: subprocess.Popen | None, timeout: float, log_file: Path) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ClusterStartError(f"the cluster exited with code {proc.returncode}:\n{_tail(log_file)}")
        url = server_url(state_dir)
        if url and answers(url):
            return url
        time.sleep(0.1)
    raise ClusterStartError(f"the cluster did not answer /version within {timeout:.0f} s:\n{_tail(log_file)}")


def read_pid(state_dir: Path) -> int | None:
    """The pid in `cluster.pid` when that process is alive and is a localcluster (pids get reused)."""
    try:
        pid = int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    if not pid_alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return pid  # no /proc: trust the file
    return pid if b"localcluster" in cmdline else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return False
    return True


def stop(pid: int, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL the process."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                return
        elif not pid_alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait(timeout=10)


def kill_pod_leftovers(state_dir: Path) -> list[int]:
    """Kill pod process groups the kubelet recorded in `pods.pids` and that are still alive."""
    try:
        from localcluster.controllers.processes import kill_leftovers
    except ImportError:
        return []
    return kill_leftovers(state_dir)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
