"""The kubelet's in-memory record of one pod's processes (one `ContainerRun` per container)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcluster.controllers import processes
from localcluster.controllers.podstatus import exit_code, terminated_reason
from localcluster.timefmt import now_time

Obj = dict[str, Any]


def log_tail_message(path: Path, max_lines: int = 80, max_bytes: int = 2048) -> str:
    """The termination message of FallbackToLogsOnError: the log's last 80 lines, at most 2 KiB."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 64 * 1024))
            data = f.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines(keepends=True)[-max_lines:]
    return "".join(lines)[-max_bytes:]


@dataclass(eq=False)
class ContainerRun:
    name: str
    image: str
    log_path: Path
    pod_uid: str
    proc: subprocess.Popen | None = None
    started_at: str = ""
    restart_count: int = 0
    state: Obj = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: Obj = field(default_factory=dict)
    restart_at: float | None = None  # monotonic time of the next start after a back-off
    logs_on_error: bool = False  # terminationMessagePolicy FallbackToLogsOnError

    @property
    def container_id(self) -> str:
        return f"localcluster://{self.pod_uid}/{self.name}/{self.restart_count}"

    @property
    def running(self) -> bool:
        return "running" in self.state

    def start(self, argv: list[str], env: dict[str, str], cwd: Path, on_exit: Callable[[], None]) -> None:
        """Spawn the process; an OSError becomes `terminated{exitCode 128, reason StartError}`."""
        append = self.restart_count > 0
        self.restart_at = None
        self.started_at = now_time()
        try:
            cwd.mkdir(parents=True, exist_ok=True)
            self.proc = processes.spawn(argv, env, cwd, self.log_path, append)
        except OSError as e:
            self.proc = None
            self.state = {"terminated": {
                "exitCode": 128, "reason": "StartError", "message": f"exec {argv[0]!r}: {e.strerror or e}",
                "startedAt": self.started_at, "finishedAt": now_time(), "containerID": self.container_id}}
            return
        self.state = {"running": {"startedAt": self.started_at}}
        proc = self.proc

        def wait() -> None:
            proc.wait()
            on_exit()

        threading.Thread(target=wait, name=f"wait-{proc.pid}", daemon=True).start()

    def poll(self) -> bool:
        """Record the exit of a finished process; True when the state changed."""
        if self.proc is None or not self.running or self.proc.poll() is None:
            return False
        processes.signal_group(self.proc.pid, 9)  # the container is gone: so is everything it forked
        code = exit_code(self.proc.returncode)
        self.state = {"terminated": {
            "exitCode": code, "reason": terminated_reason(code), "startedAt": self.started_at,
            "finishedAt": now_time(), "containerID": self.container_id}}
        if code and self.logs_on_error:
            message = log_tail_message(self.log_path)
            if message:
                self.state["terminated"]["message"] = message
        return True

    def schedule_restart(self, backoff_seconds: float, pod_label: str) -> None:
        self.last_state = dict(self.state)
        self.restart_count += 1
        self.restart_at = time.monotonic() + backoff_seconds
        self.state = {"waiting": {
            "reason": "CrashLoopBackOff",
            "message": f"back-off {backoff_seconds:g}s restarting failed container={self.name} pod={pod_label}"}}

    def status(self) -> Obj:
        status: Obj = {
            "name": self.name, "image": self.image, "imageID": "", "ready": self.running,
            "started": self.running, "restartCount": self.restart_count, "state": self.state,
            "lastState": self.last_state,
        }
        if self.proc is not None or "terminated" in self.state:
            status["containerID"] = self.container_id
        return status


@dataclass
class PodRun:
    uid: str
    namespace: str
    name: str
    restart_policy: str
    pod_ip: str
    pod_dir: Path
    containers: list[ContainerRun]
    gpu_devices: tuple[int, ...] = ()
    gpu_slots: tuple[int, ...] = ()
    init_containers: list[ContainerRun] = field(default_factory=list)  # run one by one, before the rest
    start_time: str = field(default_factory=now_time)
    started: float = field(default_factory=time.monotonic)
    stopping: bool = False
    kill_at: float | None = None  # monotonic deadline for SIGKILL once stopping
    failure: tuple[str, str] | None = None  # (reason, message) for a pod that failed as a whole

    @property
    def every_container(self) -> list[ContainerRun]:
        return [*self.init_containers, *self.containers]

    @property
    def pgids(self) -> list[int]:
        return [c.proc.pid for c in self.every_container if c.proc is not None and c.running]

    @property
    def pending_init(self) -> list[ContainerRun]:
        """Init containers that have not yet exited 0 (the first one is the current one)."""
        return [c for c in self.init_containers if c.state.get("terminated", {}).get("exitCode") != 0]

    def init_failed(self) -> bool:
        """An init container failed and restartPolicy Never forbids another try."""
        return self.restart_policy == "Never" and any(
            c.state.get("terminated", {}).get("exitCode", 0) != 0 for c in self.init_containers)

    def states(self) -> list[Obj]:
        return [c.state for c in self.containers]
