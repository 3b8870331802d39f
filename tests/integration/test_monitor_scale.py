"""The monitor at scale and under failure: 200 stuck jobs in one pass, a pass killed midway,
a stale decision against a job recreated under the same name (uid preconditions)."""

from __future__ import annotations

import secrets
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from glue import labels
from glue.history import open_history
from glue.monitor.cleanup import PlaybookCleaner
from glue.monitor.policies import Decision
from glue.runner import Runner
from tests.integration.test_monitor_support import (
    REPO,
    Objects,
    monitor_cmd,
    monitor_env,
    run_once,
    wait_for,
)

pytestmark = pytest.mark.integration

STUCK = {"SPECTROJOBS_MONITOR_PENDING_TIMEOUT": "1", "SPECTROJOBS_MONITOR_WATCH": "false"}


def stuck_ids(n: int) -> list[str]:
    base = secrets.randbelow(90000)
    return [f"{i % 30}-{(base + i) % 100000:05d}" for i in range(n)]


def create_stuck(objs: Objects, ids: list[str]) -> None:
    """Suspended Jobs: no pod ever starts (PendingTimeout:Suspended), no process to run."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda job_id: objs.job(job_id, ["true"], suspend=True), ids))


def jobs_left(objs: Objects) -> int:
    return len(objs.batch.list_namespaced_job(objs.ns, label_selector=labels.LABEL_JOB_ID).items)


def run_dirs(home: Path) -> list[Path]:
    runs = home / "monitor-runs"
    return sorted(runs.iterdir()) if runs.is_dir() else []


@pytest.mark.slow
def test_200_stuck_jobs_are_cleaned_in_one_pass(k8s_api, ns, amqp, tmp_path) -> None:
    objs = Objects(k8s_api, ns)
    ids = stuck_ids(200)
    create_stuck(objs, ids)
    time.sleep(1.0)  # the pending timeout
    env = monitor_env(ns, f"sqlite:///{tmp_path}/history.sqlite3", amqp, **STUCK)
    started = time.monotonic()
    report = run_once(env, timeout=400)
    print(f"\n200 stuck jobs: one pass in {time.monotonic() - started:.1f}s")
    assert len(report["decisions"]) == 200
    assert {d["reason"] for d in report["decisions"]} == {"PendingTimeout:Suspended"}
    assert sorted(report["cleaned"]) == sorted(ids)
    assert len(run_dirs(Path(env["SPECTROJOBS_HOME"]))) == 1  # one cleanup.yml run for the pass
    assert jobs_left(objs) == 0


def kill_tree(pid: int) -> None:
    proc = psutil.Process(pid)
    victims = [proc, *proc.children(recursive=True)]
    for victim in victims:
        victim.kill()
    psutil.wait_procs(victims, timeout=10)


def test_killed_mid_pass_then_restarted_leaks_nothing_and_records_once(k8s_api, ns, amqp, tmp_path) -> None:
    objs = Objects(k8s_api, ns)
    ids = stuck_ids(10)
    create_stuck(objs, ids)
    time.sleep(1.0)
    history_url = f"sqlite:///{tmp_path}/history.sqlite3"
    env = monitor_env(ns, history_url, amqp, **STUCK)
    proc = subprocess.Popen(monitor_cmd("--once", "--json"), env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for("the pass to start deleting", lambda: jobs_left(objs) < len(ids) or proc.poll() is not None,
                 timeout=120, interval=0.05)
        left_at_kill = jobs_left(objs)
        killed = proc.poll() is None
        if killed:
            kill_tree(proc.pid)  # the monitor and its cleanup.yml run, as a pod kill would
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    assert killed, "the pass ended before it could be killed"
    print(f"\nkilled with {left_at_kill} of {len(ids)} jobs left")
    report = run_once(env)
    assert len(report["decisions"]) <= left_at_kill
    wait_for("nothing left", lambda: jobs_left(objs) == 0, timeout=30)
    report = run_once(env)  # a third pass finds nothing to do
    assert report["decisions"] == []
    with open_history(history_url) as history:
        for job_id in ids:
            cleaned = [e for e in history.events(job_id) if e["what"] == "cleaned"]
            assert len(cleaned) == 1, (job_id, history.events(job_id))
    for job_id in ids:
        assert len(objs.events_about(labels.job_name(job_id))) <= 1


def test_stale_decision_never_deletes_a_recreated_job(k8s_api, ns, amqp, tmp_path) -> None:
    objs = Objects(k8s_api, ns)
    [job_id] = stuck_ids(1)
    old_uid = objs.job(job_id, ["true"], suspend=True)["metadata"]["uid"]
    objs.batch.delete_namespaced_job(labels.job_name(job_id), ns, propagation_policy="Background")
    wait_for("the old job gone", lambda: objs.job_uid(job_id) is None)
    new_uid = objs.job(job_id, ["true"], suspend=True)["metadata"]["uid"]
    stale = Decision(job_id=job_id, reason="PendingTimeout:Suspended", uid=old_uid, name=labels.job_name(job_id),
                     object_uid=old_uid)
    runner = Runner(tmp_path / "runs", workers=1, envvars={"SPECTROJOBS_AMQP_URL": amqp,
                                                          "SPECTROJOBS_EVIDENCE_DIR": str(tmp_path / "evidence")})
    try:
        gone = PlaybookCleaner(runner, 300, ns)([stale], stale.reason)
    finally:
        runner.shutdown()
    assert gone == set()
    assert objs.job_uid(job_id) == new_uid
