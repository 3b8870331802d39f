"""The cleanup policies over real object shapes (YAML fixtures), one case per reason of design §7."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from glue.monitor.config import MonitorConfig
from glue.monitor.objects import parse_time
from glue.monitor.policies import QueueInfo, Snapshot, decide, stream_idle_since, track_idle_queues

FIX = yaml.safe_load(Path(__file__).with_name("test_monitor_objects.yaml").read_text())
NOW = parse_time("2026-11-22T12:00:00Z")
CFG = MonitorConfig(idle_window=120, pending_timeout=300, max_age=86400, orphan_grace=60, warn_before=30)
JOB_ID = "3-12345"
QUEUE = "grpc-job-3-12345-live"


def ago(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(NOW - seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def variant(name: str, **changes: object) -> dict:
    """A deep copy of fixture `name` with dotted paths set (`status__phase="Failed"`)."""
    obj = copy.deepcopy(FIX[name])
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = obj
        for key in parents:
            target = target.setdefault(key, {})
        target[leaf] = copy.deepcopy(value)
    return obj


def healthy(**extra: object) -> dict:
    """A running live stream job with everything it needs: no decision."""
    parts = {
        "jobs": (FIX["job_running"],),
        "pods": (FIX["pod_running"],),
        "services": (FIX["service"],),
        "leases": (FIX["lease"],),
        "queues": {QUEUE: QueueInfo(QUEUE, 0, 1)},
        "queues_known": True,
        "streams": {JOB_ID: {"clients": 1, "last_activity_unix": NOW - 1, "rows_sent": 10, "started_unix": NOW - 600}},
    }
    parts.update(extra)
    return parts


def failed_pod(container: str) -> dict:
    return variant("pod_running", status__phase="Failed", status__containerStatuses=[FIX[container]])


def pending_pod(**status: object) -> dict:
    pod = variant("pod_running", status__phase="Pending")
    pod["status"].pop("containerStatuses")
    pod["status"]["conditions"] = []
    pod["status"].update(copy.deepcopy(status))
    return pod


CASES = {
    "healthy": (healthy(), None),
    "exit 1": (healthy(jobs=(variant("job_running", status__conditions=FIX["failed_conditions"]),),
                       pods=(failed_pod("terminated_exit1"),)), "Failed:ExitCode1"),
    "pod failed before the job condition": (healthy(pods=(failed_pod("terminated_exit1"),)), "Failed:ExitCode1"),
    "OOMKilled": (healthy(jobs=(variant("job_running", status__conditions=FIX["failed_conditions"]),),
                          pods=(failed_pod("terminated_oom"),)), "Failed:OOMKilled"),
    "evicted": (healthy(jobs=(variant("job_running", status__conditions=FIX["failed_conditions"]),),
                        pods=(variant("pod_running", status__phase="Failed", status__reason="Evicted"),)),
                "Failed:Evicted"),
    "failed without pods": (healthy(jobs=(variant("job_running", status__conditions=FIX["failed_conditions"]),),
                                    pods=()), "Failed:BackoffLimitExceeded"),
    "deadline": (healthy(jobs=(variant("job_running", status__conditions=FIX["deadline_conditions"]),)),
                 "DeadlineExceeded"),
    "completed": (healthy(jobs=(variant("job_running", status__conditions=FIX["complete_conditions"]),),
                          pods=(variant("pod_running", status__phase="Succeeded"),)), "Completed"),
    "unschedulable": (healthy(pods=(pending_pod(conditions=FIX["unschedulable_conditions"]),)),
                      "PendingTimeout:Unschedulable"),
    "image pull": (healthy(pods=(pending_pod(containerStatuses=[FIX["waiting_image_pull"]]),)),
                   "PendingTimeout:ImagePullError"),
    "pending within the timeout": (
        healthy(jobs=(variant("job_running", metadata__creationTimestamp=ago(100)),),
                pods=(pending_pod(conditions=FIX["unschedulable_conditions"]),)), None),
    "suspended": (healthy(jobs=(variant("job_running", spec__suspend=True),), pods=()), "PendingTimeout:Suspended"),
    "pod gone": (healthy(pods=()), "Lost"),
    "service gone": (healthy(services=()), "Lost"),
    "lease taken by another job": (healthy(leases=(variant("lease", spec__holderIdentity="3-99999"),)), "Lost"),
    "live queue gone": (healthy(queues={"grpc-job-9-00001-live": QueueInfo("grpc-job-9-00001-live", 0, 1)}), "Lost"),
    "live queue without consumer": (
        healthy(queues={QUEUE: QueueInfo(QUEUE, 5, 0)}, idle_queues_since={QUEUE: NOW - 61}), "Lost"),
    "idle": (healthy(streams={JOB_ID: {"clients": 0, "rows_sent": 0, "started_unix": NOW - 121}}), "Idle"),
    "client gone": (healthy(streams={JOB_ID: {"clients": 0, "rows_sent": 7, "last_activity_unix": NOW - 121,
                                              "started_unix": NOW - 600}}), "ClientGone"),
    "client connected": (healthy(streams={JOB_ID: {"clients": 2, "rows_sent": 0, "started_unix": NOW - 999}}), None),
    "no status (unreachable)": (healthy(streams={}), None),
    "no broker view": (healthy(queues={}, queues_known=False), None),
    "max age": (healthy(jobs=(variant("job_running", status__startTime=ago(86400)),)), "DeadlineExceeded"),
    "user cancel": (healthy(jobs=(variant("job_running", metadata__annotations={
        "spectrojobs.io/cancel-requested": "alice"}),)), "UserCancel"),
    "being deleted": (healthy(jobs=(variant("job_running", metadata__deletionTimestamp=ago(1),
                                            status__conditions=FIX["failed_conditions"]),)), None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_job_reasons(case: str) -> None:
    parts, expected = CASES[case]
    decisions = [d for d in decide(Snapshot(**parts), NOW, CFG) if d.action == "cleanup" and d.job_id == JOB_ID]
    if expected is None:
        assert decisions == []
        return
    [decision] = decisions
    assert decision.reason == expected
    assert decision.job_id == JOB_ID
    assert decision.uid == FIX["job_running"]["metadata"]["uid"]
    assert (decision.kind, decision.name) == ("Job", "grpc-job-3-12345")


def with_label(obj: dict, key: str, value: str) -> dict:
    obj = copy.deepcopy(obj)
    obj["metadata"]["labels"][key] = value
    return obj


def test_export_job_is_kept_for_its_retention() -> None:
    job = with_label(variant("job_running", status__conditions=FIX["complete_conditions"]),
                     "spectrojobs.io/kind", "export")
    parts = {"jobs": (job,), "pods": (variant("pod_running", status__phase="Succeeded"),)}
    assert decide(Snapshot(**parts), NOW, CFG) == []
    [decision] = decide(Snapshot(**parts), NOW + CFG.export_retention, CFG)
    assert (decision.reason, decision.action) == ("Completed", "cleanup")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"clients": 0, "rows_sent": 0, "started_unix": NOW - 100}, ("warn", "Idle")),
        ({"clients": 0, "rows_sent": 0, "started_unix": NOW - 80}, None),
        ({"clients": 0, "rows_sent": 3, "last_activity_unix": NOW - 95, "started_unix": NOW - 900}, ("warn", "ClientGone")),
    ],
)
def test_idle_warns_before_cleanup(status: dict, expected: tuple | None) -> None:
    decisions = decide(Snapshot(**healthy(streams={JOB_ID: status})), NOW, CFG)
    assert [(d.action, d.reason) for d in decisions] == ([expected] if expected else [])


def test_max_age_warns_before_cleanup() -> None:
    parts = healthy(jobs=(variant("job_running", status__startTime=ago(86400 - 20)),))
    [decision] = decide(Snapshot(**parts), NOW, CFG)
    assert (decision.action, decision.reason) == ("warn", "DeadlineExceeded")
    assert decide(Snapshot(**parts), NOW, MonitorConfig(max_age=0)) == []


@pytest.mark.parametrize(
    ("samples", "idle"),
    [
        ((2.0, 3.0, 1.0, 4.0, 0.5), True),
        ((2.0, 3.0, 1.0, 4.0), False),  # too few checks
        ((2.0, 3.0, 10.0, 4.0, 0.5), False),  # one busy check
        ((50.0, 2.0, 3.0, 1.0, 4.0, 0.5), True),  # only the last five count
    ],
)
def test_legacy_cpu_rule(samples: tuple, idle: bool) -> None:
    cfg = MonitorConfig(idle_rule="cpu")
    history = tuple((NOW - 10 * (len(samples) - i), mcpu) for i, mcpu in enumerate(samples))
    decisions = decide(Snapshot(**healthy(cpu_samples={JOB_ID: history}, streams={})), NOW, cfg)
    assert [d.reason for d in decisions] == (["Idle"] if idle else [])


def orphan_parts(**extra: object) -> dict:
    parts = {"jobs": (), "pods": (), "services": (FIX["service"],), "leases": (FIX["lease"],)}
    parts.update(extra)
    return parts


def test_orphan_service_and_lease_are_one_decision() -> None:
    [decision] = decide(Snapshot(**orphan_parts()), NOW, CFG)
    assert (decision.job_id, decision.reason, decision.uid) == (JOB_ID, "Orphan", None)
    assert (decision.kind, decision.name) == ("Service", "grpc-service-3-12345")
    assert decision.detail == "Service grpc-service-3-12345, Lease window-3 without Job"


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (orphan_parts(services=(variant("service", metadata__creationTimestamp=ago(30)),), leases=()), None),
        (orphan_parts(services=(), leases=(variant("lease", spec__renewTime=ago(10) + ""),)), None),
        (orphan_parts(services=(), leases=(variant("lease", spec__holderIdentity="not-a-job-id"),)), None),
        (orphan_parts(services=(), leases=(variant("lease", spec__holderIdentity=""),)), None),
        (orphan_parts(services=(), leases=(), pvcs=(FIX["pvc"],)), None),  # export output kept
        (orphan_parts(services=(), leases=(), queues={QUEUE: QueueInfo(QUEUE, 3, 0)},
                      idle_queues_since={QUEUE: NOW - 61}), ("Queue", QUEUE)),
        (orphan_parts(services=(), leases=(), queues={QUEUE: QueueInfo(QUEUE, 3, 0)},
                      idle_queues_since={QUEUE: NOW - 5}), None),
        (orphan_parts(services=(), leases=(), queues={QUEUE: QueueInfo(QUEUE, 3, 1)}), None),
    ],
)
def test_orphan_grace_and_kinds(parts: dict, expected: tuple | None) -> None:
    decisions = decide(Snapshot(**parts), NOW, CFG)
    assert [(d.kind, d.name) for d in decisions] == ([expected] if expected else [])


def test_orphan_pvc_after_export_retention() -> None:
    parts = orphan_parts(services=(), leases=(), pvcs=(FIX["pvc"],))
    [decision] = decide(Snapshot(**parts), NOW + CFG.export_retention, CFG)
    assert (decision.reason, decision.kind) == ("Orphan", "PersistentVolumeClaim")


def test_decide_does_not_mutate_and_is_sorted() -> None:
    other = with_label(FIX["job_running"], "spectrojobs.io/job-id", "1-00001")
    other["metadata"]["uid"] = "other-uid"
    other["status"]["conditions"] = FIX["complete_conditions"]
    parts = healthy(jobs=(variant("job_running", status__conditions=FIX["failed_conditions"]), other),
                    pods=(failed_pod("terminated_exit1"),))
    before = copy.deepcopy(parts)
    decisions = decide(Snapshot(**parts), NOW, CFG)
    assert parts == before
    assert [(d.job_id, d.reason, d.uid) for d in decisions] == [
        ("1-00001", "Completed", "other-uid"), (JOB_ID, "Failed:ExitCode1", FIX["job_running"]["metadata"]["uid"]),
    ]
    assert decisions[0].to_json() == {"job_id": "1-00001", "reason": "Completed", "uid": "other-uid"}


def test_stream_idle_since() -> None:
    assert stream_idle_since({"rows_sent": 0, "started_unix": 100.0, "last_activity_unix": 150.0}, 50.0) == ("Idle", 150.0)
    assert stream_idle_since({"rows_sent": 0}, 50.0) == ("Idle", 50.0)
    assert stream_idle_since({"rows_sent": 9, "last_activity_unix": 170.0}, 50.0) == ("ClientGone", 170.0)


def test_track_idle_queues_keeps_first_sighting() -> None:
    queues = {"a": QueueInfo("a", 0, 0), "b": QueueInfo("b", 0, 2)}
    first = track_idle_queues({}, queues, 10.0)
    assert first == {"a": 10.0}
    assert track_idle_queues(first, queues, 20.0) == {"a": 10.0}
    assert track_idle_queues(first, {"a": QueueInfo("a", 0, 1)}, 30.0) == {}


def test_a_cleanup_wins_over_an_earlier_warning() -> None:
    parts = healthy(jobs=(variant("job_running", status__startTime=ago(86400 - 20)),),
                    streams={JOB_ID: {"clients": 0, "rows_sent": 0, "started_unix": NOW - 200}})
    [decision] = decide(Snapshot(**parts), NOW, CFG)
    assert (decision.action, decision.reason) == ("cleanup", "Idle")
