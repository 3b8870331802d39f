"""The monitor end to end: local cluster, real RabbitMQ, real cleanup.yml, the real CLI.

Every reason of design §7; dry-run; the watch's reaction and the metrics; uid preconditions.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request

import grpc
import pytest
import yaml

from glue import labels
from glue.history import open_history
from glue.monitor.idle import get_status
from tests.integration.test_monitor_support import (
    FIXTURE_PATH,
    PY,
    REPO,
    EventTap,
    Objects,
    declare_queue,
    key_paths,
    monitor_cmd,
    monitor_env,
    new_job_id,
    queue_exists,
    raw_json,
    run_once,
    stop,
    wait_for,
)

pytestmark = pytest.mark.integration

SLEEP = [PY, "-c", "import time; time.sleep(120)"]
FAST = {"SPECTROJOBS_MONITOR_PENDING_TIMEOUT": "1", "SPECTROJOBS_MONITOR_ORPHAN_GRACE": "1",
        "SPECTROJOBS_MONITOR_IDLE_WINDOW": "2", "SPECTROJOBS_MONITOR_WARN_BEFORE": "1",
        "SPECTROJOBS_MONITOR_WATCH": "false"}


def streamer_cmd(job_id: str) -> list[str]:
    return [PY, "-m", "streamer.cli", "serve", "--source", "synthetic", "--job-id", job_id, "--view-type", "0",
            "--nfft", "64", "--channel-min", "1", "--channel-max", "4", "--channels", "8",
            "--freq-min", "0", "--freq-max", "200", "--sample-rate", "500", "--display-duration", "2",
            "--display-height", "40", "--idle-timeout", "600"]


@pytest.fixture
def history_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/history.sqlite3"


def node_port(objs: Objects, job_id: str) -> str:
    svc = objs.core.read_namespaced_service(labels.service_name(job_id), objs.ns)
    return f"127.0.0.1:{svc.spec.ports[0].node_port}"


def read_one_row(target: str) -> None:
    from streamer.protos import streamer_pb2, streamer_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        rows = streamer_pb2_grpc.StreamerStub(channel).StreamData(streamer_pb2.StreamRequest(stream_id=-1))
        next(iter(rows))
        rows.cancel()


def job_condition(objs: Objects, job_id: str, kind: str) -> bool:
    job = objs.batch.read_namespaced_job(labels.job_name(job_id), objs.ns)
    return any(c.type == kind and c.status == "True" for c in job.status.conditions or ())


def pod_phase(objs: Objects, job_id: str) -> str:
    pods = objs.core.list_namespaced_pod(objs.ns, label_selector=f"{labels.LABEL_JOB_ID}={job_id}").items
    return pods[0].status.phase if pods else ""


def assert_fixture_shapes_are_served(objs: Objects, job_id: str) -> None:
    """The unit tests' fixtures still have the status shapes the cluster serves (no drift)."""
    fix = yaml.safe_load(FIXTURE_PATH.read_text())
    served = {
        "job_running": raw_json(objs.batch.read_namespaced_job, labels.job_name(job_id), objs.ns),
        "pod_running": raw_json(objs.core.list_namespaced_pod, objs.ns,
                            label_selector=f"{labels.LABEL_JOB_ID}={job_id}")["items"][0],
        "lease": raw_json(objs.coord.read_namespaced_lease, labels.lease_name(int(job_id.split("-")[0])), objs.ns),
    }
    for name, obj in served.items():
        wanted = {p for p in key_paths(fix[name]) if p.startswith(("/status", "/spec/holderIdentity"))}
        assert wanted <= key_paths(obj), (name, wanted - key_paths(obj))


def test_every_reason_end_to_end(k8s_api, ns, amqp, history_url) -> None:
    objs = Objects(k8s_api, ns)
    reasons = ["Failed:ExitCode1", "Completed", "PendingTimeout:Unschedulable", "DeadlineExceeded",
               "UserCancel", "Lost", "Idle", "ClientGone", "Orphan"]
    ids = {reason: new_job_id(window) for window, reason in enumerate(reasons)}
    objs.job(ids["Failed:ExitCode1"], [PY, "-c", "import sys; sys.exit(1)"])
    objs.job(ids["Completed"], [PY, "-c", "pass"])
    objs.job(ids["PendingTimeout:Unschedulable"], SLEEP, gpu=99)
    objs.job(ids["DeadlineExceeded"], SLEEP, deadline=1)
    objs.job(ids["UserCancel"], SLEEP, kind="export", annotations={"spectrojobs.io/cancel-requested": "ops"})
    objs.job(ids["Lost"], SLEEP)  # a stream job whose Service and lease never came
    for reason in ("Idle", "ClientGone"):
        job = objs.job(ids[reason], streamer_cmd(ids[reason]))
        objs.service(ids[reason], job["metadata"]["uid"])
        objs.lease(ids[reason])
    orphan = ids["Orphan"]
    objs.service(orphan, mode="live")
    objs.lease(orphan)
    declare_queue(amqp, labels.queue_name(orphan))
    queue_only = new_job_id(20)  # a queue whose job is known only to the history
    with open_history(history_url) as history:
        history.record(queue_only, what="created", who="test")
    declare_queue(amqp, labels.queue_name(queue_only))

    wait_for("the failed, completed and deadline jobs", lambda: job_condition(objs, ids["Failed:ExitCode1"], "Failed")
             and job_condition(objs, ids["Completed"], "Complete")
             and job_condition(objs, ids["DeadlineExceeded"], "Failed"), timeout=60)
    for reason in ("Idle", "ClientGone"):
        target = node_port(objs, ids[reason])
        wait_for(f"GetStatus of the {reason} streamer", lambda t=target: get_status(t), timeout=60)
    assert_fixture_shapes_are_served(objs, ids["Idle"])
    read_one_row(node_port(objs, ids["ClientGone"]))
    wait_for("the lost job's pod", lambda: pod_phase(objs, ids["Lost"]) == "Running")
    time.sleep(1.0)  # both streamers idle for >= 1 s: inside the warning time of pass 1
    idle = {"Idle": ids.pop("Idle"), "ClientGone": ids.pop("ClientGone")}

    tap = EventTap(amqp)
    try:
        # pass 1, idle window 60 s with a 59 s warning: the idle streamers are warned, the rest cleaned
        env = monitor_env(ns, history_url, amqp, **{**FAST, "SPECTROJOBS_MONITOR_IDLE_WINDOW": "60",
                                                    "SPECTROJOBS_MONITOR_WARN_BEFORE": "59"})
        report = run_once(env)
        assert report["dry_run"] is False
        assert {d["job_id"]: d["reason"] for d in report["decisions"]} == {j: r for r, j in ids.items()}
        assert sorted(report["cleaned"]) == sorted(ids.values())
        for reason, job_id in ids.items():
            wait_for(f"nothing left of {reason} job {job_id}", lambda j=job_id: not objs.left(j), timeout=60)
        assert not queue_exists(amqp, labels.queue_name(orphan))
        published = tap.drain(ns)
        assert sorted(body["job_id"] for _key, body in published) == sorted(ids.values())
        assert ("job.Failed.ExitCode1", ids["Failed:ExitCode1"]) in [(k, b["job_id"]) for k, b in published]
        [event] = objs.events_about(labels.job_name(ids["Failed:ExitCode1"]))
        assert (event.reason, event.type) == ("Failed:ExitCode1", "Warning")
        for reason, job_id in idle.items():
            [warning] = objs.events_about(labels.job_name(job_id))
            assert (warning.reason, warning.type) == (f"{reason}Soon", "Warning")
            assert objs.left(job_id)

        # pass 2, idle window 2 s: the idle streamers go; the queue-only orphan has now been seen
        # without a consumer for the grace (the sighting is kept in the history between runs)
        report = run_once(monitor_env(ns, history_url, amqp, **FAST))
        assert sorted((d["job_id"], d["reason"]) for d in report["decisions"]) == sorted(
            [(queue_only, "Orphan"), *((j, r) for r, j in idle.items())])
        assert not queue_exists(amqp, labels.queue_name(queue_only))
        for job_id in idle.values():
            wait_for(f"nothing left of idle job {job_id}", lambda j=job_id: not objs.left(j), timeout=60)
    finally:
        tap.close()
    with open_history(history_url) as history:
        for reason, job_id in ids.items():
            assert [(e["what"], e["reason"]) for e in history.events(job_id)] == [
                ("decided", reason), ("cleaned", reason)]
        for reason, job_id in idle.items():
            assert [(e["what"], e["reason"]) for e in history.events(job_id)] == [
                ("warned", reason), ("decided", reason), ("cleaned", reason)]


def test_dry_run_changes_nothing(k8s_api, ns, amqp, history_url) -> None:
    objs = Objects(k8s_api, ns)
    failed, orphan = new_job_id(1), new_job_id(2)
    objs.job(failed, [PY, "-c", "import sys; sys.exit(2)"])
    objs.service(orphan)
    wait_for("the job to fail", lambda: job_condition(objs, failed, "Failed"))
    time.sleep(1.0)  # the orphan grace
    before = {j: objs.left(j) for j in (failed, orphan)}
    tap = EventTap(amqp)
    try:
        report = run_once(monitor_env(ns, history_url, amqp, **FAST), "--dry-run")
        assert report == {"dry_run": True, "cleaned": [], "decisions": sorted(
            [{"job_id": failed, "reason": "Failed:ExitCode2", "uid": objs.job_uid(failed)},
             {"job_id": orphan, "reason": "Orphan", "uid": None}], key=lambda d: d["job_id"])}
        assert tap.drain(ns) == []
    finally:
        tap.close()
    assert {j: objs.left(j) for j in (failed, orphan)} == before
    assert objs.events_about(labels.job_name(failed)) == []
    with open_history(history_url) as history:
        assert history.events(failed) == history.events(orphan) == []


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_watch_cleans_a_failed_job_fast_and_metrics_list_the_families(k8s_api, ns, amqp, history_url,
                                                                       tmp_path) -> None:
    objs = Objects(k8s_api, ns)
    port = free_port()
    env = monitor_env(ns, history_url, amqp, SPECTROJOBS_MONITOR_WATCH="true",
                      SPECTROJOBS_MONITOR_INTERVAL="300", SPECTROJOBS_MONITOR_METRICS_PORT=str(port))
    log_path = tmp_path / "monitor.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(monitor_cmd(), env=env, cwd=REPO, stderr=log_file)
    try:
        wait_for("the metrics endpoint", lambda: _scrape(port), timeout=60)
        job_id = new_job_id(3)
        job = objs.job(job_id, [PY, "-c", "import sys, time; time.sleep(1); sys.exit(3)"])
        objs.service(job_id, job["metadata"]["uid"])
        objs.lease(job_id)
        wait_for("the pod to fail", lambda: pod_phase(objs, job_id) == "Failed", timeout=60, interval=0.05)
        failed_at = time.monotonic()
        wait_for("nothing left of the job", lambda: not objs.left(job_id), timeout=60, interval=0.1)
        latency = time.monotonic() - failed_at
        print(f"\nfailed pod -> nothing left: {latency:.1f}s (watch on, interval 300 s)")
        text = wait_for("the cleanup counted", lambda: _scrape_if(port, 'reason="Failed:ExitCode3"} 1.0'))
    finally:
        stop(proc)
    log = log_path.read_text()
    assert proc.returncode == 0, log[-3000:]
    assert "monitor stopped" in log
    for family in ("gpu_allocation_ratio", "windows_in_use", "jobs{phase=", "oldest_pending_seconds",
                   "cleanups_total", "reconcile_duration_seconds", "last_reconcile_success_timestamp_seconds",
                   "watch_restarts_total"):
        assert f"spectrojobs_monitor_{family}" in text, family
    assert "spectrojobs_monitor_gpu_allocatable 4.0" in text


def _scrape_if(port: int, needle: str) -> str | None:
    text = _scrape(port)
    return text if text and needle in text else None


def _scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def test_watch_wakes_the_loop_and_counts_restarts(k8s_api, ns) -> None:
    import threading

    from glue.monitor.metrics import MonitorMetrics
    from glue.monitor.watch import Watcher

    objs = Objects(k8s_api, ns)
    wake, metrics = threading.Event(), MonitorMetrics()
    watcher = Watcher(k8s_api, ns, wake, metrics, timeout_s=1)
    watcher.start()
    try:
        restarts = lambda: metrics.registry.get_sample_value("spectrojobs_monitor_watch_restarts_total")  # noqa: E731
        wait_for("a watch re-opened after its timeout", lambda: restarts() >= 2, timeout=30)
        wake.clear()
        job_id = new_job_id(5)
        objs.job(job_id, [PY, "-c", "import sys; sys.exit(4)"])
        wait_for("the failing job to wake the loop", wake.is_set, timeout=60)
        assert pod_phase(objs, job_id) == "Failed" or job_condition(objs, job_id, "Failed")
    finally:
        watcher.stop()


def test_legacy_cpu_idle_rule_reads_pod_metrics(k8s_api, ns) -> None:
    from glue.monitor.config import MonitorConfig
    from glue.monitor.policies import decide
    from glue.monitor.snapshot import ClusterReader, Snapshotter

    objs = Objects(k8s_api, ns)
    job_id = new_job_id(4)
    job = objs.job(job_id, SLEEP)
    objs.service(job_id, job["metadata"]["uid"])
    objs.lease(job_id)
    wait_for("the pod running", lambda: pod_phase(objs, job_id) == "Running")
    cfg = MonitorConfig(namespace=ns, idle_rule="cpu", cpu_idle_checks=3, cpu_idle_spacing=0.5,
                        orphan_grace=0, amqp_url="")
    snapshotter = Snapshotter(cfg, ClusterReader(k8s_api, ns))

    def idle_decision() -> list:
        now = time.time()
        return [d for d in decide(snapshotter.take(now), now, cfg) if d.job_id == job_id]

    [decision] = wait_for("three low-CPU checks", idle_decision, timeout=60, interval=0.5)
    assert (decision.reason, decision.action) == ("Idle", "cleanup")
    assert len(snapshotter.state.cpu_samples[job_id]) == 3
