"""Pure parts of the monitor: metrics values, idle inputs, watch filter, cleanup vars, config, CLI."""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest

from glue.errors import ConfigurationError
from glue.monitor import cmd
from glue.monitor.cleanup import cleaned_ids, cleanup_extravars
from glue.monitor.config import MonitorConfig, mask_url
from glue.monitor.idle import add_cpu_samples, cpu_millicores, pod_cpu, stream_targets
from glue.monitor.metrics import MonitorMetrics, cluster_gauges
from glue.monitor.policies import Decision, Snapshot
from glue.monitor.reconcile import PassReport, cleanup_reason, event_name
from glue.monitor.watch import wants_reconcile

FIX = yaml.safe_load(Path(__file__).with_name("test_monitor_objects.yaml").read_text())


def test_cluster_gauges() -> None:
    pending = copy.deepcopy(FIX["job_running"])
    pending["metadata"].update(uid="p-uid", creationTimestamp="2026-11-22T11:55:00Z")
    finished = copy.deepcopy(FIX["job_running"])
    finished["metadata"]["uid"] = "f-uid"
    finished["status"]["conditions"] = FIX["complete_conditions"]
    snap = Snapshot(jobs=(FIX["job_running"], pending, finished), pods=(FIX["pod_running"],),
                    leases=(FIX["lease"],), nodes=(FIX["node"],))
    now = 1795348800.0  # 2026-11-22T12:00:00Z
    gauges = cluster_gauges(snap, now, "nvidia.com/gpu.shared")
    assert (gauges.gpu_requested, gauges.gpu_allocatable, gauges.gpu_allocation_ratio) == (1, 4, 0.25)
    assert gauges.windows_in_use == 1
    assert gauges.jobs_by_phase == {"Pending": 1, "Running": 1, "Succeeded": 1, "Failed": 0, "Terminating": 0}
    assert gauges.oldest_pending_seconds == 300.0
    assert cluster_gauges(Snapshot(), now, "nvidia.com/gpu").gpu_allocation_ratio == 0.0


def test_metrics_families_are_exposed() -> None:
    metrics = MonitorMetrics()
    metrics.observe_cluster(cluster_gauges(Snapshot(nodes=(FIX["node"],)), 0.0, "nvidia.com/gpu.shared"))
    metrics.cleanups.labels(reason="Completed").inc()
    text = generate_latest(metrics.registry).decode()
    for family in ("gpu_allocation_ratio", "windows_in_use", "jobs{", "oldest_pending_seconds",
                   "cleanups_total", "reconcile_duration_seconds", "last_reconcile_success_timestamp_seconds",
                   "watch_restarts_total", "gpu_allocatable 4.0"):
        assert f"spectrojobs_monitor_{family}" in text


@pytest.mark.parametrize(("quantity", "mcpu"), [("2082398n", 2.082398), ("250u", 0.25), ("4m", 4.0),
                                                  ("1", 1000.0), ("0.5", 500.0)])
def test_cpu_millicores(quantity: str, mcpu: float) -> None:
    assert cpu_millicores(quantity) == pytest.approx(mcpu)


def test_cpu_samples_are_spaced_and_bounded() -> None:
    pods, pm = (FIX["pod_running"],), (FIX["podmetrics"],)
    usage = FIX["podmetrics"]["containers"][0]["usage"]["cpu"]
    assert pod_cpu(FIX["podmetrics"]) == pytest.approx(cpu_millicores(usage))
    history: dict = {}
    for t in (0.0, 4.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0):
        history = add_cpu_samples(history, pm, pods, t, spacing=10.0, keep=5)
    assert [t for t, _ in history["3-12345"]] == [20.0, 30.0, 40.0, 50.0, 60.0]
    assert add_cpu_samples(history, (), pods, 70.0, 10.0, 5) == {}


def test_stream_targets_use_the_node_port() -> None:
    port = FIX["service"]["spec"]["ports"][0]["nodePort"]
    targets = stream_targets((FIX["job_running"],), (FIX["pod_running"],), (FIX["service"],))
    assert targets == {"3-12345": f"{FIX['pod_running']['status']['hostIP']}:{port}"}
    assert stream_targets((FIX["job_running"],), (FIX["pod_running"],), (FIX["service"],), "node-a") == {
        "3-12345": f"node-a:{port}"}
    assert stream_targets((FIX["job_running"],), (), (FIX["service"],)) == {}


@pytest.mark.parametrize(
    ("event", "kind", "obj", "wanted"),
    [
        ("MODIFIED", "Job", FIX["job_running"], False),
        ("MODIFIED", "Job", {**FIX["job_running"], "status": {"conditions": FIX["failed_conditions"]}}, True),
        ("MODIFIED", "Pod", FIX["pod_running"], False),
        ("MODIFIED", "Pod", {**FIX["pod_running"], "status": {"phase": "Failed"}}, True),
        ("DELETED", "Job", FIX["job_running"], True),
        ("DELETED", "Pod", FIX["pod_running"], False),
    ],
)
def test_watch_filter(event: str, kind: str, obj: dict, wanted: bool) -> None:
    assert wants_reconcile(event, kind, obj) is wanted


def decision(job_id: str, reason: str, uid: str | None) -> Decision:
    return Decision(job_id=job_id, reason=reason, uid=uid, name=f"grpc-job-{job_id}", object_uid=uid or "")


def test_cleanup_vars_carry_uid_preconditions() -> None:
    ds = [decision("1-00001", "Completed", "u1"), decision("2-00002", "Orphan", None)]
    assert cleanup_extravars(ds, "X") == {
        "job_ids": ["1-00001", "2-00002"], "job_uids": {"1-00001": "u1"}, "cleanup_reason": "X"}
    assert cleanup_reason(ds) == "Reconcile:Completed,Orphan"
    assert cleanup_reason(ds[:1]) == "Completed"


@pytest.mark.parametrize(
    ("stats", "ok", "gone"),
    [
        ({}, True, {"a", "b"}),
        ({}, False, set()),
        ({"jobs": [{"job_id": "a", "status": "cleaned"}, {"job_id": "b", "status": "failed"}]}, False, {"a"}),
        ({"jobs": {"a": {"cleaned": True}, "b": {"cleaned": False}}}, True, {"a"}),
        ({"jobs": [{"job_id": "zzz"}]}, True, set()),
        ({"jobs": [{"job_id": "a", "result": "deleted"}, {"job_id": "b", "result": "skipped"}]}, True, {"a"}),
    ],
)
def test_cleaned_ids(stats: dict, ok: bool, gone: set) -> None:
    assert cleaned_ids(stats, ok, ["a", "b"]) == gone


def test_event_names_are_deterministic_and_valid() -> None:
    d = decision("1-00001", "Failed:ExitCode1", "u1")
    assert event_name(d, "cleanup") == event_name(d, "cleanup")
    assert event_name(d, "cleanup") != event_name(d, "warn")
    assert event_name(d, "cleanup").startswith("grpc-job-1-00001.cleanup.")


def test_pass_report_json_shape() -> None:
    d = decision("1-00001", "Completed", "u1")
    report = PassReport(False, (d,), (), ("1-00001",), (), 0.5)
    assert report.to_json() == {"dry_run": False, "decisions": [{"job_id": "1-00001", "reason": "Completed",
                                                                   "uid": "u1"}], "cleaned": ["1-00001"]}
    assert report.counters() == {"decided": 1, "warned": 0, "cleaned": 1, "skipped": 0}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("interval", 0, "interval=0: must be > 0"), ("idle_rule", "gpu", "idle_rule='gpu'"),
     ("orphan_grace", -1, "orphan_grace=-1"), ("metrics_port", 70000, "metrics_port=70000")],
)
def test_config_rejects_bad_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        MonitorConfig(**{field: value})


def test_config_log_masks_credentials() -> None:
    assert mask_url("amqp://guest:guest@127.0.0.1:5672/%2F") == "amqp://guest:***@127.0.0.1:5672/%2F"
    assert MonitorConfig().loggable()["amqp_url"] == "amqp://guest:***@127.0.0.1:5672/%2F"


def parse(argv: list[str], environ: dict) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cmd.add_parser(parser.add_subparsers(), environ=environ)
    return parser.parse_args(["monitor", *argv])


def test_flags_default_from_environment() -> None:
    env = {"SPECTROJOBS_NAMESPACE": "ns1", "SPECTROJOBS_MONITOR_INTERVAL": "2.5",
           "SPECTROJOBS_MONITOR_WATCH": "off", "SPECTROJOBS_MONITOR_DRY_RUN": "yes",
           "SPECTROJOBS_MONITOR_IDLE_RULE": "cpu"}
    cfg = cmd.config_from_args(parse([], env))
    assert (cfg.namespace, cfg.interval, cfg.watch, cfg.dry_run, cfg.idle_rule) == ("ns1", 2.5, False, True, "cpu")
    cfg = cmd.config_from_args(parse(["--interval", "7", "--watch", "--no-dry-run"], env))
    assert (cfg.interval, cfg.watch, cfg.dry_run) == (7.0, True, False)
    assert cmd.config_from_args(parse([], {})) == MonitorConfig()


@pytest.mark.parametrize(
    ("env", "message"),
    [({"SPECTROJOBS_MONITOR_INTERVAL": "soon"}, "SPECTROJOBS_MONITOR_INTERVAL='soon': must be a float"),
     ({"SPECTROJOBS_MONITOR_REAPER": "maybe"}, "SPECTROJOBS_MONITOR_REAPER='maybe': must be one of")],
)
def test_bad_environment_names_variable_value_and_rule(env: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        cmd.config_from_args(parse([], env))


def test_job_ids_present_cover_every_kind_of_object() -> None:
    from glue.monitor.policies import QueueInfo
    from glue.monitor.reconcile import job_ids_present

    snap = Snapshot(jobs=(FIX["job_running"],), leases=(FIX["lease"],),
                    queues={"grpc-job-7-00007-live": QueueInfo("grpc-job-7-00007-live", 0, 0), "other": QueueInfo("other", 0, 0)})
    assert job_ids_present(snap) == {"3-12345", "7-00007"}
    assert job_ids_present(Snapshot()) == set()
