"""Pure helpers of the project's Ansible modules (module_utils/spectrojobs_common.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "module_utils" / "spectrojobs_common.py"
_SPEC = importlib.util.spec_from_file_location("spectrojobs_common", _PATH)
common = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(common)


def pod(phase="Pending", conditions=(), statuses=(), **extra):
    return {"metadata": {"name": "grpc-job-3-01234-abcde", "uid": "u1", **extra},
            "spec": {"nodeName": "localnode"},
            "status": {"phase": phase, "conditions": list(conditions), "containerStatuses": list(statuses)}}


UNSCHEDULABLE = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.shared."}


@pytest.mark.parametrize("job_id, window", [("0-00000", 0), ("12-70788", 12), ("29-99999", 29)])
def test_parse_job_id(job_id, window):
    assert common.parse_job_id(job_id, 30) == (window, job_id.split("-")[1])


@pytest.mark.parametrize("job_id", ["30-12345", "1-1234", "01-12345", "a-12345", "", None, 7, "3-123456"])
def test_parse_job_id_refuses_with_the_value_and_the_rule(job_id):
    with pytest.raises(common.SpectrojobsModuleError) as err:
        common.parse_job_id(job_id, 30)
    assert err.value.reason == "Invalid:job_id"
    assert repr(job_id) in err.value.message


def test_free_windows_lowest_first():
    assert common.free_windows([0, 2, 5], 6) == [1, 3, 4]
    assert common.free_windows(range(30), 30) == []


def test_window_of_lease_name():
    assert common.window_of_lease_name("window-12") == 12
    assert common.window_of_lease_name("window-x") is None
    assert common.window_of_lease_name("other-3") is None


def test_format_labels_fills_placeholders_without_touching_the_input():
    labels = {"app": "grpc-job-{job_id}", "spectrojobs.io/window": "{window}", "k": "v"}
    out = common.format_labels(labels, "3-01234", 3)
    assert out == {"app": "grpc-job-3-01234", "spectrojobs.io/window": "3", "k": "v"}
    assert labels["app"] == "grpc-job-{job_id}"


def test_classify_pending_unschedulable_keeps_the_scheduler_message():
    assert common.classify_pending(pod(conditions=[UNSCHEDULABLE])) == (
        "Unschedulable:0/1 nodes are available: 1 Insufficient nvidia.com/gpu.shared.")


def test_classify_pending_image_pull_and_unbound_pvc():
    pulling = pod(statuses=[{"name": "streamer", "state": {"waiting": {"reason": "ImagePullBackOff"}}}])
    assert common.classify_pending(pulling) == "ImagePullError"
    assert common.classify_pending(pod(), {"3-01234-data-pvc": "Pending"}) == "PVCUnbound"
    unbound = dict(UNSCHEDULABLE, message="0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.")
    assert common.classify_pending(pod(conditions=[unbound])) == "PVCUnbound"


def test_classify_pending_is_none_while_a_pod_just_starts():
    creating = pod(statuses=[{"name": "streamer", "state": {"waiting": {"reason": "ContainerCreating"}}}])
    assert common.classify_pending(creating) is None


def test_pod_failure_names_the_cause():
    oom = pod("Failed", statuses=[{"name": "s", "state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}])
    assert common.pod_failure(oom) == "Failed:OOMKilled"
    exit1 = pod("Failed", statuses=[{"name": "s", "state": {"terminated": {"reason": "Error", "exitCode": 1}}}])
    assert common.pod_failure(exit1) == "Failed:exit code 1"
    evicted = pod("Failed")
    evicted["status"]["reason"] = "Evicted"
    assert common.pod_failure(evicted) == "Failed:Evicted"
    assert common.pod_failure(pod("Running")) is None


def test_job_phase():
    complete = {"status": {"conditions": [{"type": "Complete", "status": "True", "reason": "CompletionsReached"}]}}
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]}}
    assert common.job_phase(complete, []) == ("Succeeded", "Completed")
    assert common.job_phase(failed, []) == ("Failed", "DeadlineExceeded")
    assert common.job_phase({"status": {}}, [pod("Running")]) == ("Running", None)
    assert common.job_phase({"status": {}}, [pod(conditions=[UNSCHEDULABLE])])[1].startswith("Unschedulable:")
    assert common.job_phase(None, [pod("Running")]) == ("Absent", "Orphan")
    assert common.job_phase(None, []) == ("Absent", None)


def test_queue_arguments_of_design_section_3():
    assert common.queue_arguments(600000, 256) == {"x-expires": 600000, "x-max-length": 256, "x-overflow": "drop-head"}


def test_is_subset_compares_what_the_manifest_names():
    live = {"metadata": {"name": "a", "uid": "u", "labels": {"x": "1"}}, "spec": {"ports": [{"port": 1, "nodePort": 3}]}}
    assert common.is_subset({"metadata": {"name": "a", "labels": {"x": "1"}}}, live)
    assert common.is_subset({"spec": {"ports": [{"port": "1"}]}}, live)
    assert not common.is_subset({"spec": {"ports": [{"port": 2}]}}, live)
    assert not common.is_subset({"spec": {"ports": []}}, live)
    assert not common.is_subset({"metadata": {"labels": {"y": "1"}}}, live)
    assert not common.is_subset({"a": True}, {"a": "True"})


def test_fill_owner_uids_uses_an_earlier_object_and_copies():
    service = {"kind": "Service", "metadata": {"name": "s", "ownerReferences": [{"kind": "Job", "name": "j", "uid": ""}]}}
    filled = common.fill_owner_uids(service, {("Job", "j"): "uid-1"})
    assert filled["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert service["metadata"]["ownerReferences"][0]["uid"] == ""
    with pytest.raises(common.SpectrojobsModuleError):
        common.fill_owner_uids(service, {})
