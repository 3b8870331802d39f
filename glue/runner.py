"""ansible-runner wrapper: a bounded pool of workers running playbooks, one private data dir per run.

Every run gets its own private data dir `<runs_dir>/<ident>/` laid out as ansible-runner expects
(`project/` → the repository's playbooks, `inventory` → the configured inventory, `env/` written by
ansible-runner, `artifacts/<ident>/` with stdout, events and status). Runs wait in a bounded
queue; `workers` threads execute them. A run has a timeout; on timeout or cancel ansible-runner
kills the process group of `ansible-playbook`; because ansible-core's task workers call
`setsid()` (their module processes escape that group), the wrapper first kills every descendant
of the run's `ansible-playbook` process itself, so nothing the run started survives it.
Whatever happens, including ansible-runner raising, the handle ends in a terminal status:
`successful`, `failed`, `timeout`, `canceled` or `error`. The newest `keep_runs` run dirs are kept,
older ones are rotated away.

Results come from `r.status`, `r.rc` and the `set_stats` data under the key `spectrojobs`
(read from the `playbook_on_stats` event's `artifact_data`), never from log text.
No command line is ever built here: ansible-runner gets keyword arguments only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import secrets
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ansible_runner
import psutil

from glue.errors import ConfigurationError, RunnerBusy

logger = logging.getLogger(__name__)

TERMINAL = frozenset({"successful", "failed", "timeout", "canceled", "error"})
STATS_KEY = "spectrojobs"
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class RunResult:
    ident: str
    playbook: str
    status: str
    rc: int | None
    stats: dict[str, Any]
    artifact_dir: str
    duration_s: float
    error: str | None = None
    failures: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "successful"

    @property
    def reason(self) -> str | None:
        """The playbook's failure reason from set_stats (e.g. `NoWindowFree`), if it gave one."""
        reason = self.stats.get("reason")
        return str(reason) if reason else None


@dataclass
class RunHandle:
    """A queued or running playbook run; `wait()` returns its RunResult."""

    ident: str
    playbook: str
    extravars: Mapping[str, Any]
    timeout_s: float
    state: str = "queued"
    _timed_out: bool = field(default=False, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _result: RunResult | None = field(default=None, repr=False)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> RunResult | None:
        """The result, or None if it is not finished within `timeout` seconds."""
        self._done.wait(timeout)
        return self._result

    def _finish(self, result: RunResult) -> None:
        self._result = result
        self.state = result.status
        self._done.set()


def new_ident(playbook: str) -> str:
    stem = Path(playbook).stem
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stem}-{stamp}-{secrets.token_hex(4)}"


def stats_from_event(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The `spectrojobs` set_stats payload of a `playbook_on_stats` event, else None."""
    if event.get("event") != "playbook_on_stats":
        return None
    data = (event.get("event_data") or {}).get("artifact_data") or {}
    payload = data.get(STATS_KEY)
    return dict(payload) if isinstance(payload, Mapping) else {}


def failure_text(event: Mapping[str, Any]) -> str | None:
    """A one-line description of a failed task event (its `msg` is censored by no_log tasks)."""
    if event.get("event") not in ("runner_on_failed", "runner_on_unreachable"):
        return None
    data = event.get("event_data") or {}
    if data.get("ignore_errors"):
        return None
    res = data.get("res") or {}
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or "failed"
    return f"{data.get('task', '?')}: {str(msg)[:500]}"


class Runner:
    """Bounded pool of playbook runs; construct once per process, `shutdown()` at exit."""

    def __init__(
        self,
        runs_dir: str | os.PathLike,
        project_dir: str | os.PathLike = REPO_ROOT / "playbooks",
        inventory: str | os.PathLike = REPO_ROOT / "inventories" / "local",
        workers: int = 4,
        queue_size: int = 64,
        default_timeout_s: float = 600.0,
        keep_runs: int = 200,
        envvars: Mapping[str, str] | None = None,
        on_finish: Callable[[RunResult], None] | None = None,
    ) -> None:
        if workers < 1 or queue_size < 1:
            raise ConfigurationError(f"runner workers={workers} and queue_size={queue_size} must be >= 1")
        self.runs_dir = Path(runs_dir)
        self.project_dir = Path(project_dir).resolve()
        self.inventory = Path(inventory).resolve()
        if not self.project_dir.is_dir():
            raise ConfigurationError(f"playbook project dir {str(self.project_dir)!r} does not exist")
        if not self.inventory.exists():
            raise ConfigurationError(f"inventory {str(self.inventory)!r} does not exist")
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.default_timeout_s = default_timeout_s
        self.keep_runs = keep_runs
        self.envvars = dict(envvars or {})
        self.envvars.setdefault("ANSIBLE_CONFIG", str(REPO_ROOT / "ansible.cfg"))
        # ansible-playbook must come from this interpreter's environment, whatever PATH says
        bindir = str(Path(sys.executable).parent)
        # modules (kubernetes.core needs the kubernetes client) run on this interpreter unless the
        # inventory says otherwise (a host's ansible_python_interpreter wins over this setting)
        self.envvars.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
        self.envvars.setdefault("PATH", os.pathsep.join([bindir, os.environ.get("PATH", "")]))
        self._on_finish = on_finish
        self._queue: queue.Queue[RunHandle | None] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._running: dict[str, RunHandle] = {}
        self.runs_by_status: Counter[str] = Counter()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"runner-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    # -- public surface -------------------------------------------------------------------------
    def submit(
        self,
        playbook: str,
        extravars: Mapping[str, Any],
        ident: str | None = None,
        timeout_s: float | None = None,
    ) -> RunHandle:
        """Queue a run; raises RunnerBusy when the queue is full or the pool is shut down."""
        handle = RunHandle(
            ident=ident or new_ident(playbook),
            playbook=playbook,
            extravars=dict(extravars),
            timeout_s=timeout_s or self.default_timeout_s,
        )
        if self._closed:
            raise RunnerBusy("the runner is shutting down")
        try:
            self._queue.put_nowait(handle)
        except queue.Full as exc:
            raise RunnerBusy(f"runner queue is full ({self._queue.maxsize} runs waiting)") from exc
        logger.info("queued %s (%s)", handle.playbook, handle.ident)
        return handle

    def run(self, playbook: str, extravars: Mapping[str, Any], timeout_s: float | None = None) -> RunResult:
        """Submit and wait; the result is always terminal."""
        handle = self.submit(playbook, extravars, timeout_s=timeout_s)
        result = handle.wait()
        assert result is not None
        return result

    @property
    def closed(self) -> bool:
        return self._closed

    def queue_depth(self) -> int:
        return self._queue.qsize()

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def shutdown(self, cancel: bool = True, wait_s: float = 30.0) -> None:
        """Stop accepting runs; cancel (kill) running ones when asked; drain queued ones as canceled."""
        self._closed = True
        while True:
            try:
                handle = self._queue.get_nowait()
            except queue.Empty:
                break
            if handle is not None:
                self._record(handle, self._result(handle, "canceled", None, {}, 0.0, error="runner shut down"))
        if cancel:
            with self._lock:
                for handle in self._running.values():
                    handle.cancel()
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + wait_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- workers --------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            handle = self._queue.get()
            if handle is None:
                return
            if handle.cancelled:
                self._record(handle, self._result(handle, "canceled", None, {}, 0.0))
                continue
            with self._lock:
                self._running[handle.ident] = handle
            handle.state = "running"
            result = self._execute(handle)  # never raises
            with self._lock:
                self._running.pop(handle.ident, None)
            self._rotate()
            self._record(handle, result)

    def _execute(self, handle: RunHandle) -> RunResult:
        started = time.monotonic()
        captured: dict[str, Any] = {"stats": {}, "failures": []}
        deadline = started + handle.timeout_s
        pdd = self.runs_dir / handle.ident
        try:
            self._prepare(pdd)
            r = ansible_runner.run(
                private_data_dir=str(pdd),
                playbook=handle.playbook,
                extravars=dict(handle.extravars),
                ident=handle.ident,
                envvars=self.envvars,
                # backstop only: the deadline is enforced by _should_stop, which kills the tree
                timeout=int(handle.timeout_s) + 60,
                cancel_callback=lambda: self._should_stop(handle, pdd, deadline),
                event_handler=lambda event: self._on_event(handle, event, captured),
                status_handler=lambda data, runner_config: logger.debug(
                    "run %s: %s", handle.ident, data.get("status")
                ),
                settings={"pexpect_timeout": 0.5, "suppress_ansible_output": True},
                quiet=True,
            )
            stats = captured["stats"] or _stats_from_runner(r)
            status = "timeout" if handle._timed_out else r.status
            return self._result(
                handle, status, r.rc, stats, time.monotonic() - started, failures=captured["failures"]
            )
        except Exception as exc:  # the one boundary: ansible-runner itself failed
            logger.exception("run %s (%s) crashed", handle.ident, handle.playbook)
            kill_run_processes(str(pdd))
            return self._result(
                handle, "error", None, captured["stats"], time.monotonic() - started,
                error=f"{type(exc).__name__}: {exc}", failures=captured["failures"],
            )

    def _prepare(self, pdd: Path) -> None:
        pdd.mkdir(parents=True, exist_ok=False)
        (pdd / "project").symlink_to(self.project_dir, target_is_directory=True)
        (pdd / "inventory").symlink_to(self.inventory, target_is_directory=self.inventory.is_dir())

    def _should_stop(self, handle: RunHandle, pdd: Path, deadline: float) -> bool:
        """ansible-runner's cancel callback (polled every pexpect_timeout): cancel or deadline."""
        if not handle.cancelled and time.monotonic() < deadline:
            return False
        if not handle.cancelled:
            handle._timed_out = True
        killed = kill_run_processes(str(pdd))
        if killed:
            logger.warning("run %s (%s) %s: killed %d processes", handle.ident, handle.playbook,
                           "timed out" if handle._timed_out else "canceled", killed)
        return True

    def _on_event(self, handle: RunHandle, event: dict, captured: dict) -> bool:
        stats = stats_from_event(event)
        if stats is not None:
            captured["stats"] = stats
        failure = failure_text(event)
        if failure:
            captured["failures"].append(failure)
            logger.info("run %s (%s) task failed: %s", handle.ident, handle.playbook, failure)
        elif logger.isEnabledFor(logging.DEBUG) and event.get("event") in ("runner_on_ok", "runner_on_start"):
            logger.debug("run %s: %s %s", handle.ident, event.get("event"),
                         (event.get("event_data") or {}).get("task"))
        return True  # keep every event in the run's artifacts

    def _result(self, handle, status, rc, stats, duration, error=None, failures=()) -> RunResult:
        if handle._timed_out and status not in ("successful", "failed", "error"):
            status = "timeout"
        elif handle.cancelled and status not in ("successful", "failed", "error"):
            status = "canceled"
        if status not in TERMINAL:
            status = "error"
            error = error or "ansible-runner returned no terminal status"
        return RunResult(
            ident=handle.ident,
            playbook=handle.playbook,
            status=status,
            rc=rc,
            stats=dict(stats or {}),
            artifact_dir=str(self.runs_dir / handle.ident / "artifacts" / handle.ident),
            duration_s=round(duration, 3),
            error=error,
            failures=tuple(failures),
        )

    def _record(self, handle: RunHandle, result: RunResult) -> None:
        with self._lock:
            self.runs_by_status[result.status] += 1
        level = logging.INFO if result.ok else logging.WARNING
        logger.log(level, "run %s (%s) %s rc=%s in %.1fs%s", result.ident, result.playbook,
                   result.status, result.rc, result.duration_s,
                   f": {result.error}" if result.error else "")
        handle._finish(result)
        if self._on_finish:
            try:
                self._on_finish(result)
            except Exception:
                logger.exception("on_finish callback failed for run %s", result.ident)

    def _rotate(self) -> None:
        with self._lock:
            active = set(self._running)
        dirs = [p for p in self.runs_dir.iterdir() if p.is_dir() and p.name not in active]
        if len(dirs) <= self.keep_runs:
            return
        dirs.sort(key=lambda p: p.stat().st_mtime)
        for old in dirs[: len(dirs) - self.keep_runs]:
            shutil.rmtree(old, ignore_errors=True)


def kill_run_processes(pdd: str) -> int:
    """SIGKILL every descendant of this process's `ansible-playbook` child working in `pdd`.

    The direct child itself is left to ansible-runner (pexpect reaps it and kills its group).
    """
    victims: list[psutil.Process] = []
    for child in psutil.Process().children():
        try:
            if pdd in " ".join(child.cmdline()):
                victims.extend(child.children(recursive=True))
        except psutil.Error:
            continue
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(victims, timeout=5)
    return len(victims)


def _stats_from_runner(r: Any) -> dict[str, Any]:
    """Fallback: scan the stored events when no event reached our handler."""
    try:
        for event in r.events:
            stats = stats_from_event(event)
            if stats is not None:
                return stats
    except Exception:  # events dir missing after a crash: no stats
        logger.debug("no events for run %s", getattr(r.config, "ident", "?"))
    return {}
