"""The ansible-runner wrapper with the real ansible-runner and trivial local playbooks."""

from __future__ import annotations

import textwrap
import time
import uuid

import psutil
import pytest

from glue.errors import ConfigurationError, RunnerBusy
from glue.runner import Runner, failure_text, stats_from_event

PLAYBOOKS = {
    "ok.yml": """
        - hosts: localhost
          gather_facts: false
          tasks:
            - ansible.builtin.set_stats:
                data: {spectrojobs: {job_id: "{{ job_id }}", phase: Running}}
                per_host: false
    """,
    "fail.yml": """
        - hosts: localhost
          gather_facts: false
          tasks:
            - ansible.builtin.set_stats:
                data: {spectrojobs: {reason: NoWindowFree}}
                per_host: false
            - ansible.builtin.fail:
                msg: no window free
    """,
    "sleep.yml": """
        - hosts: localhost
          gather_facts: false
          tasks:
            - ansible.builtin.command:
                argv: [sleep, "{{ seconds }}"]
    """,
}


@pytest.fixture
def project(tmp_path):
    project = tmp_path / "playbooks"
    project.mkdir()
    for name, text in PLAYBOOKS.items():
        (project / name).write_text(textwrap.dedent(text))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    return project, inventory


@pytest.fixture
def runner(tmp_path, project):
    runner = Runner(tmp_path / "runs", project[0], project[1], workers=2, queue_size=4, keep_runs=3)
    yield runner
    runner.shutdown()


def sleeping(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_successful_run_reports_set_stats_and_keeps_artifacts(runner, tmp_path):
    result = runner.run("ok.yml", {"job_id": "3-12345"})
    assert result.status == "successful" and result.rc == 0
    assert result.stats == {"job_id": "3-12345", "phase": "Running"}
    assert (tmp_path / "runs" / result.ident / "artifacts" / result.ident / "job_events").is_dir()
    assert runner.runs_by_status["successful"] == 1


def test_failed_run_gives_reason_and_failure_text(runner):
    result = runner.run("fail.yml", {})
    assert result.status == "failed" and result.rc != 0
    assert result.reason == "NoWindowFree"
    assert any("no window free" in f for f in result.failures)


def test_timeout_kills_the_whole_process_group(runner):
    marker = f"{3000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"
    handle = runner.submit("sleep.yml", {"seconds": marker}, timeout_s=15)  # ansible starts slowly under load
    deadline = time.monotonic() + 30
    while not sleeping(marker) and time.monotonic() < deadline and not handle.done():
        time.sleep(0.2)
    assert sleeping(marker), "the playbook's sleep never started"
    result = handle.wait(60)
    assert result is not None and result.status == "timeout"
    gone_by = time.monotonic() + 5
    while sleeping(marker) and time.monotonic() < gone_by:
        time.sleep(0.1)
    assert sleeping(marker) == []


def test_cancel_kills_a_running_playbook(runner):
    marker = f"{2000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"
    handle = runner.submit("sleep.yml", {"seconds": marker}, timeout_s=120)
    deadline = time.monotonic() + 30
    while not sleeping(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    handle.cancel()
    result = handle.wait(60)
    assert result is not None and result.status == "canceled"
    gone_by = time.monotonic() + 5
    while sleeping(marker) and time.monotonic() < gone_by:
        time.sleep(0.1)
    assert sleeping(marker) == []


def test_a_crash_inside_ansible_runner_still_gives_a_terminal_status(runner):
    result = runner.run("ok.yml", {"job_id": object()})  # extravars ansible-runner cannot serialise
    assert result.status == "error"
    assert result.error and "TypeError" in result.error
    assert runner.runs_by_status["error"] == 1


def test_missing_playbook_is_a_failed_run_not_an_exception(runner):
    result = runner.run("absent.yml", {})
    assert result.status == "failed"


def test_queue_is_bounded(tmp_path, project):
    runner = Runner(tmp_path / "busy", project[0], project[1], workers=1, queue_size=1)
    try:
        first = runner.submit("sleep.yml", {"seconds": "30"}, timeout_s=60)
        deadline = time.monotonic() + 10
        while runner.queue_depth() and time.monotonic() < deadline:
            time.sleep(0.05)
        runner.submit("ok.yml", {"job_id": "1-11111"})
        with pytest.raises(RunnerBusy):
            runner.submit("ok.yml", {"job_id": "1-11111"})
        first.cancel()
    finally:
        runner.shutdown()
    assert first.wait(30).status == "canceled"


def test_old_run_dirs_are_rotated(runner, tmp_path):
    for _ in range(4):
        runner.run("ok.yml", {"job_id": "1-11111"})
    assert len(list((tmp_path / "runs").iterdir())) == 3


def test_missing_project_is_a_configuration_error(tmp_path, project):
    with pytest.raises(ConfigurationError, match="does not exist"):
        Runner(tmp_path / "runs", tmp_path / "nope", project[1])


def test_stats_and_failure_helpers_are_pure():
    event = {"event": "playbook_on_stats", "event_data": {"artifact_data": {"spectrojobs": {"a": 1}}}}
    assert stats_from_event(event) == {"a": 1}
    assert stats_from_event({"event": "runner_on_ok"}) is None
    failed = {"event": "runner_on_failed", "event_data": {"task": "t", "res": {"msg": "boom"}}}
    assert failure_text(failed) == "t: boom"
    assert failure_text({"event": "runner_on_failed", "event_data": {"ignore_errors": True}}) is None
