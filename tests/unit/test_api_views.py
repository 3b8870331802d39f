"""The job view: pure functions over the cluster objects of one job."""

from __future__ import annotations

from glue.api.views import job_view, node_port, phase_of, pod_reason
from glue.labels import job_labels, owner_hash

LABELS = job_labels("3-12345", 3, "alice", "stream", "historic")


def job(conditions=(), deleting=False):
    meta = {"name": "grpc-job-3-12345", "uid": "u-1", "labels": LABELS, "creationTimestamp": "2026-01-01T00:00:00Z"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    return {"metadata": meta, "status": {"conditions": list(conditions)}}


def pod(phase="Running", statuses=(), conditions=(), name="grpc-job-3-12345-abcde"):
    return {"metadata": {"name": name, "labels": LABELS, "creationTimestamp": "2026-01-01T00:00:01Z"},
            "status": {"phase": phase, "podIP": "127.64.0.3", "containerStatuses": list(statuses),
                       "conditions": list(conditions)}}


SERVICE = {"metadata": {"name": "grpc-service-3-12345", "labels": LABELS},
           "spec": {"ports": [{"port": 12304, "targetPort": 5000, "nodePort": 30123}]}}
LEASE = {"metadata": {"name": "window-3", "labels": LABELS}, "spec": {"holderIdentity": "3-12345"}}


def test_a_running_job_shows_its_stream_and_owner():
    view = job_view("3-12345", {"jobs": [job()], "pods": [pod()], "services": [SERVICE], "leases": [LEASE]},
                    "127.0.0.1")
    assert view["phase"] == "Running" and view["reason"] is None
    assert (view["stream_url"], view["stream_port"], view["window"]) == ("127.0.0.1", 30123, 3)
    assert view["owner"] == owner_hash("alice") and view["mode"] == "historic" and view["uid"] == "u-1"
    assert view["objects"]["leases"] == ["window-3"]


def test_nothing_cached_is_no_view():
    assert job_view("3-12345", {"jobs": [], "pods": [], "services": [], "leases": []}, "h") is None


def test_phases_from_conditions_and_pods():
    complete = {"type": "Complete", "status": "True"}
    failed = {"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}
    assert phase_of(job([complete]), []) == ("Succeeded", "Completed")
    assert phase_of(job([failed]), [pod()]) == ("Failed", "DeadlineExceeded")
    assert phase_of(job(deleting=True), [pod()]) == ("Terminating", None)
    assert phase_of(job(), []) == ("Pending", "no pod yet")
    assert phase_of(None, [pod()])[0] == "Orphan"
    waiting = pod("Pending", statuses=[{"state": {"waiting": {"reason": "ImagePullBackOff"}}}])
    assert phase_of(job(), [waiting]) == ("Pending", "ImagePullBackOff")


def test_pod_reason_reports_the_schedulers_message():
    unschedulable = pod("Pending", conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                                 "message": "0/1 nodes: insufficient nvidia.com/gpu.shared"}])
    assert pod_reason(unschedulable) == "Unschedulable: 0/1 nodes: insufficient nvidia.com/gpu.shared"
    assert pod_reason(pod()) is None


def test_node_port_of_a_service():
    assert node_port(SERVICE) == 30123
    assert node_port(None) is None
    assert node_port({"spec": {"ports": [{"port": 1}]}}) is None
