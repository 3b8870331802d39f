"""The local stack in the background: cluster, API (open mode), monitor, synthetic interrogator.

Every component is a process in its own session (so its whole process group can be stopped),
with its pid and start time in `$SPECTROJOBS_HOME/run/<name>.pid` (the start time guards
against a recycled pid) and its output in `$SPECTROJOBS_HOME/logs/<name>.log`. The cluster is
started and stopped through `spectrojobs cluster up|down`, which owns its own pid file and
every pod process. `stack.json` records where the API listens.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from glue.api import spectrojobs_home
from glue.errors import SpectrojobsError
from glue.runner import REPO_ROOT

logger = logging.getLogger(__name__)

COMPONENTS = ("publisher", "monitor", "api")  # stopped in this order, before the cluster
AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672
SHARED_SLOTS_PER_GPU = 4


class StackError(SpectrojobsError):
    """A component of the local stack failed to start or to stop."""


@dataclass(frozen=True)
class StackPaths:
    home: Path

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def cluster(self) -> Path:
        return self.home / "cluster"

    @property
    def kubeconfig(self) -> Path:
        return self.cluster / "kubeconfig"

    @property
    def state(self) -> Path:
        return self.home / "stack.json"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"


def paths() -> StackPaths:
    return StackPaths(spectrojobs_home())


def broker_reachable() -> bool:
    try:
        with socket.create_connection((AMQP_HOST, AMQP_PORT), timeout=1.0):
            return True
    except OSError:
        return False


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "glue.cli", *args]


def stack_env(p: StackPaths, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SPECTROJOBS_HOME": str(p.home), "K8S_AUTH_KUBECONFIG": str(p.kubeconfig),
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
                "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")})
    env.update(extra or {})
    return env


# -- one background process ---------------------------------------------------------------------
def start_process(p: StackPaths, name: str, argv: list[str], env: dict[str, str]) -> int:
    p.run.mkdir(parents=True, exist_ok=True)
    p.logs.mkdir(parents=True, exist_ok=True)
    with open(p.log_file(name), "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=str(REPO_ROOT), start_new_session=True)
    created = psutil.Process(proc.pid).create_time()
    p.pid_file(name).write_text(f"{proc.pid} {created}\n")
    proc.returncode = 0  # detached on purpose: `down` stops it through its pid file
    logger.debug("started %s (pid %d): %s", name, proc.pid, " ".join(argv))
    return proc.pid


def running_pid(p: StackPaths, name: str) -> int | None:
    """The component's pid if its pid file names a live process started at the recorded time."""
    try:
        pid_text, created_text = p.pid_file(name).read_text().split()
        proc = psutil.Process(int(pid_text))
        if abs(proc.create_time() - float(created_text)) > 0.01 or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.pid
    except (OSError, ValueError, psutil.Error):
        return None


def stop_process(p: StackPaths, name: str, timeout_s: float = 20.0) -> bool:
    """SIGTERM the component's process group, SIGKILL after the timeout; True if one was running."""
    pid = running_pid(p, name)
    p_file = p.pid_file(name)
    if pid is None:
        p_file.unlink(missing_ok=True)
        return False
    group = [proc for proc in psutil.process_iter() if _in_group(proc, pid)]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(group, timeout=timeout_s)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    p_file.unlink(missing_ok=True)
    return True


def _in_group(proc: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(proc.pid) == pgid
    except (ProcessLookupError, PermissionError):
        return False


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, log: Path | None = None,
               progress: Callable[[str], None] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if progress:
            progress(".")
        time.sleep(0.5)
    tail = ""
    if log and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    raise StackError(f"{what} not ready within {timeout_s:.0f} s{tail}")


# -- the stack ------------------------------------------------------------------------------------
def api_url(p: StackPaths | None = None) -> str | None:
    p = p or paths()
    try:
        return json.loads(p.state.read_text())["api_url"]
    except (OSError, ValueError, KeyError):
        return None


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _ensure_namespace(p: StackPaths, namespace: str) -> None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from glue.kube import load_api_client

    with load_api_client(str(p.kubeconfig)) as api_client:
        try:
            client.CoreV1Api(api_client).create_namespace({"metadata": {"name": namespace}})
        except ApiException as exc:
            if exc.status != 409:
                raise


def up(gpus: int = 0, monitor: bool = True, publisher: bool | None = None,
       progress: Callable[[str], None] = lambda s: None) -> dict:
    """Start whatever is not running yet; returns the stack's state (also in stack.json)."""
    p = paths()
    namespace = os.environ.get("SPECTROJOBS_NAMESPACE") or "spectrojobs"
    progress("cluster ")
    # jobs request nvidia.com/gpu.shared (inventories/local): a GPU is offered as 4 shared slots
    started = subprocess.run(_cli("cluster", "up", "--port", "0", "--gpus", str(gpus),
                                  "--gpus-shared", str(SHARED_SLOTS_PER_GPU * gpus),
                                  "--state-dir", str(p.cluster)),
                             env=stack_env(p), capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        raise StackError(f"cluster up failed: {started.stderr.strip()[-2000:]}")
    _ensure_namespace(p, namespace)
    env = stack_env(p, {"SPECTROJOBS_NAMESPACE": namespace})
    url = api_url(p)
    if running_pid(p, "api") is None or not url:
        progress("api ")
        port_file = p.run / "api.port"
        port_file.unlink(missing_ok=True)
        api_env = {**env, "GLUE_CREATE_EXTRAVARS": json.dumps({"gpu_count": gpus})}
        start_process(p, "api", _cli("api", "--open", "--port", "0", "--port-file", str(port_file)), api_env)
        wait_until(port_file.exists, 60, "the API", p.log_file("api"), progress)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
    wait_until(lambda: _ready(url), 60, "the API", p.log_file("api"), progress)
    has_monitor = _module_exists("glue.monitor.cmd")
    if monitor and has_monitor and running_pid(p, "monitor") is None:
        progress("monitor ")
        start_process(p, "monitor", _cli("monitor"), env)
    with_publisher = broker_reachable() if publisher is None else publisher
    if with_publisher and running_pid(p, "publisher") is None:
        progress("interrogator ")
        start_process(p, "publisher", [sys.executable, "-m", "streamer", "publish", "--from", "synthetic"], env)
    state = {"api_url": url, "kubeconfig": str(p.kubeconfig), "home": str(p.home),
             "components": {name: running_pid(p, name) for name in COMPONENTS}}
    p.state.write_text(json.dumps(state, indent=2) + "\n")
    return state


def down(progress: Callable[[str], None] = lambda s: None) -> dict:
    """Stop every component and the cluster; returns what was stopped and what is left (nothing)."""
    p = paths()
    stopped = {}
    for name in COMPONENTS:
        progress(f"{name} ")
        stopped[name] = stop_process(p, name)
    progress("cluster ")
    result = subprocess.run(_cli("cluster", "down", "--state-dir", str(p.cluster)), env=stack_env(p),
                            capture_output=True, text=True, timeout=120)
    stopped["cluster"] = result.stdout.strip() or result.stderr.strip()
    p.state.unlink(missing_ok=True)
    left = [name for name in COMPONENTS if running_pid(p, name) is not None]
    return {"stopped": stopped, "left": left}


def _module_exists(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
