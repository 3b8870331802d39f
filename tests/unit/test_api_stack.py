"""Background processes of the local stack: pid files guarded by start time, whole group stopped."""

from __future__ import annotations

import sys
import time

import psutil

from glue.stack import StackPaths, running_pid, start_process, stop_process

# a parent that starts a grandchild and ignores SIGTERM: stop_process must still leave nothing
SCRIPT = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
          "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)")


def test_start_then_stop_kills_the_whole_group(tmp_path):
    paths = StackPaths(tmp_path)
    pid = start_process(paths, "thing", [sys.executable, "-c", SCRIPT], env={})
    assert running_pid(paths, "thing") == pid
    deadline = time.monotonic() + 10
    while not psutil.Process(pid).children() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = psutil.Process(pid).children()[0]
    assert stop_process(paths, "thing", timeout_s=1) is True
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert running_pid(paths, "thing") is None and not paths.pid_file("thing").exists()
    assert stop_process(paths, "thing") is False


def test_a_recycled_pid_is_not_ours(tmp_path):
    paths = StackPaths(tmp_path)
    paths.run.mkdir(parents=True)
    me = psutil.Process()
    paths.pid_file("api").write_text(f"{me.pid} {me.create_time() - 100}\n")  # same pid, other start time
    assert running_pid(paths, "api") is None
    paths.pid_file("api").write_text("garbage\n")
    assert running_pid(paths, "api") is None
