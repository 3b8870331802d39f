"""Pod processes: spawn in their own process group, signal the whole group, remember leaders
in `<state_dir>/pods.pids` so that a later `cluster down` or start can kill leftovers."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import psutil

from localcluster.controllers.podenv import POD_UID_ENV

log = logging.getLogger(__name__)
PIDS_FILE = "pods.pids"


def spawn(argv: list[str], env: Mapping[str, str], cwd: Path, log_path: Path, append: bool) -> subprocess.Popen:
    """Start `argv` (no shell) as a process-group leader with stdout+stderr into `log_path`.
    Raises OSError when the executable or the working directory is unusable."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab" if append else "wb") as out:
        return subprocess.Popen(  # noqa: S603 - argv from the pod spec, never a shell
            argv, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        )


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the process group; False when nothing is left in it."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def group_alive(pgid: int) -> bool:
    return signal_group(pgid, 0)


def _pgid(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid)
    except OSError:
        return None


def stop_groups(pgids: Iterable[int], grace_seconds: float) -> None:
    """SIGTERM every group, wait up to `grace_seconds` for them to empty, then SIGKILL."""
    pending = [g for g in pgids if signal_group(g, signal.SIGTERM)]
    deadline = time.monotonic() + grace_seconds
    while pending and time.monotonic() < deadline:
        time.sleep(0.05)
        pending = [g for g in pending if group_alive(g)]
    for pgid in pending:
        signal_group(pgid, signal.SIGKILL)


class PidsFile:
    """`<state_dir>/pods.pids`: one process-group leader pid per line, rewritten atomically."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / PIDS_FILE
        self._lock = threading.Lock()
        self._written: set[int] | None = None

    def write(self, pids: Iterable[int]) -> None:
        """Rewrite the file when the set of pids changed since the last write."""
        wanted = set(pids)
        with self._lock:
            if wanted == self._written:
                return
            self._written = wanted
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(f"{p}\n" for p in sorted(wanted)))
            os.replace(tmp, self.path)

    def read(self) -> set[int]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return set()
        return {int(line) for line in text.split() if line.strip().isdigit()}


def kill_leftovers(state_dir: Path, grace_seconds: float = 2.0) -> list[int]:
    """Kill what remains of the process groups listed in `pods.pids` — only processes that carry
    the kubelet's LOCALCLUSTER_POD_UID marker, so a reused pid is never hit. Returns the pgids."""
    pids = PidsFile(state_dir)
    wanted = pids.read()
    found: set[int] = set()
    if wanted:
        for proc in psutil.process_iter():
            pgid = _pgid(proc)
            if pgid not in wanted:
                continue
            try:
                if POD_UID_ENV in proc.environ():
                    found.add(pgid)
            except (psutil.Error, OSError):
                continue
    if found:
        log.warning("killing %d leftover pod process group(s): %s", len(found), sorted(found))
        stop_groups(found, grace_seconds)
    pids.write([])
    return sorted(found)
