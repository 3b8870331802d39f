"""Garbage collector, PVC binder, node port and log decisions (contract §8, §13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcluster.controllers.gc import gc_actions, plural_of
from localcluster.controllers.jobs import TRACKING_FINALIZER
from localcluster.controllers.logs import LogMarks, container_for_log, read_log, tail
from localcluster.controllers.nodeport import backends, desired_ports, target_port
from localcluster.controllers.pvc import bound_spec, bound_status, claim_in_use, needs_binding
from localcluster.errors import ApiError


def obj(name, uid, ns="ns", owners=(), finalizers=None, deleting=False, **extra):
    meta = {"name": name, "uid": uid, "namespace": ns}
    if owners:
        meta["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "Job", "name": o, "uid": o, "controller": True,
                                    "blockOwnerDeletion": True} for o in owners]
    if finalizers:
        meta["finalizers"] = finalizers
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, **extra}


def verbs(actions):
    return sorted((a.verb, a.obj["metadata"]["name"], a.finalizer) for a in actions)


def test_dependent_of_a_missing_owner_is_deleted():
    svc = obj("svc", "s1", owners=["job-uid"])
    assert verbs(gc_actions({"services": [svc], "jobs": []})) == [("delete", "svc", "")]


def test_same_name_new_uid_counts_as_gone():
    job = obj("job-uid-name", "new-uid")
    svc = obj("svc", "s1", owners=["old-uid"])
    assert verbs(gc_actions({"services": [svc], "jobs": [job]})) == [("delete", "svc", "")]


def test_live_owner_keeps_dependent_and_other_owner_is_only_dropped():
    job = obj("j", "j1")
    svc = obj("svc", "s1", owners=["j1", "gone"])
    actions = gc_actions({"services": [svc], "jobs": [job]})
    assert verbs(actions) == [("drop_refs", "svc", "")]
    assert actions[0].owner_uids == ("gone",)


def test_cross_namespace_owner_is_absent():
    job = obj("j", "j1", ns="other")
    svc = obj("svc", "s1", owners=["j1"])
    assert verbs(gc_actions({"services": [svc], "jobs": [job]})) == [("delete", "svc", "")]


def test_foreground_owner_deletes_dependents_then_loses_its_finalizer():
    job = obj("j", "j1", finalizers=["foregroundDeletion"], deleting=True)
    pod = obj("p", "p1", owners=["j1"])
    assert verbs(gc_actions({"jobs": [job], "pods": [pod]})) == [("delete", "p", "")]
    assert verbs(gc_actions({"jobs": [job], "pods": []})) == [("remove_finalizer", "j", "foregroundDeletion")]


def test_orphan_owner_strips_refs_then_loses_its_finalizer():
    job = obj("j", "j1", finalizers=["orphan"], deleting=True)
    pod = obj("p", "p1", owners=["j1"])
    assert verbs(gc_actions({"jobs": [job], "pods": [pod]})) == [("drop_refs", "p", "")]
    assert verbs(gc_actions({"jobs": [job], "pods": [obj("p", "p1")]})) == [("remove_finalizer", "j", "orphan")]


def test_tracking_finalizer_goes_when_the_job_is_gone_or_orphaned():
    tracked = obj("p", "p1", owners=["j1"], finalizers=[TRACKING_FINALIZER])
    assert verbs(gc_actions({"jobs": [obj("j", "j1")], "pods": [tracked]})) == []
    assert verbs(gc_actions({"jobs": [], "pods": [tracked]})) == [
        ("delete", "p", ""), ("remove_finalizer", "p", TRACKING_FINALIZER)]
    orphaned = obj("p", "p1", finalizers=[TRACKING_FINALIZER])
    assert verbs(gc_actions({"pods": [orphaned]})) == [("remove_finalizer", "p", TRACKING_FINALIZER)]


def test_plural_of_owner_reference():
    assert plural_of({"apiVersion": "batch/v1", "kind": "Job"}) == "jobs"
    assert plural_of({"apiVersion": "v1", "kind": "Pod"}) == "pods"
    assert plural_of({"apiVersion": "x/v1", "kind": "Thing"}) is None


def claim(**kw):
    base = {"metadata": {"name": "c", "namespace": "ns", "uid": "cu"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                     "storageClassName": "standard"},
            "status": {"phase": "Pending"}}
    base["spec"].update(kw)
    return base


def test_pvc_binding():
    assert needs_binding(claim())
    assert not needs_binding(claim(storageClassName="unbindable"))
    c = claim()
    bound = bound_spec(c)
    assert bound["spec"]["volumeName"] == "pvc-cu"
    assert bound["metadata"]["annotations"] == {"pv.kubernetes.io/bind-completed": "yes",
                                                "pv.kubernetes.io/bound-by-controller": "yes"}
    assert "annotations" not in c["metadata"] and "volumeName" not in c["spec"]
    assert bound_status(c) == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}


def test_claim_in_use_by_non_terminal_pods_only():
    def pod(phase):
        return {"metadata": {"namespace": "ns"}, "status": {"phase": phase},
                "spec": {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]}}

    assert claim_in_use(claim(), [pod("Running")])
    assert not claim_in_use(claim(), [pod("Succeeded")])


def service(kind="NodePort", selector=None):
    return {"metadata": {"name": "s", "namespace": "ns"},
            "spec": {"type": kind, "selector": selector or {"app": "a"},
                     "ports": [{"port": 12301, "targetPort": "grpc", "nodePort": 30001, "protocol": "TCP"}]}}


def ready_pod(name, ip, labels):
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"ports": [{"name": "grpc", "containerPort": 5000}]}]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}}


def test_node_ports_wanted():
    assert list(desired_ports([service()])) == [30001]
    assert desired_ports([service("ClusterIP")]) == {}


def test_backends_match_selector_and_resolve_named_ports():
    port = service()["spec"]["ports"][0]
    pods = [ready_pod("b", "127.64.0.2", {"app": "a"}), ready_pod("a", "127.64.0.1", {"app": "a"}),
            ready_pod("x", "127.64.0.3", {"app": "other"})]
    assert backends({"app": "a"}, pods, port) == [("127.64.0.1", 5000), ("127.64.0.2", 5000)]
    assert backends(None, pods, port) == []
    assert target_port(pods[0], {"port": 80}) == 80


def test_log_tail_and_since(tmp_path: Path):
    path = tmp_path / "l.log"
    path.write_text("one\ntwo\n")
    marks = LogMarks()
    marks.sample(path, now=100.0)
    with path.open("a") as f:
        f.write("three\n")
    marks.sample(path, now=200.0)
    assert read_log(path, "p", "c", tail_lines=2) == "two\nthree\n"
    assert marks.offset_since(path, 150.0) == len("one\ntwo\n")
    assert marks.offset_since(path, 50.0) == 0
    assert tail("a\nb\n", 0) == ""
    with pytest.raises(ApiError, match="waiting to start"):
        read_log(tmp_path / "missing.log", "p", "c")


def test_container_for_log():
    pod = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    assert container_for_log(pod, "ns", "p", "b") == "b"
    with pytest.raises(ApiError, match="must be specified"):
        container_for_log(pod, "ns", "p", None)
    with pytest.raises(ApiError) as e:
        container_for_log(None, "ns", "p", None)
    assert e.value.code == 404


def test_rate_tracker_uses_the_window_then_the_lifetime_average():
    from localcluster.controllers.metrics import RateTracker

    rates = RateTracker()
    assert rates.rate("k", now=110.0, value=5.0, since=100.0) == pytest.approx(0.5)  # lifetime average
    assert rates.rate("k", now=112.0, value=7.0, since=100.0) == pytest.approx(1.0)  # over the last 2 s
    assert rates.rate("k", now=200.0, value=8.0, since=100.0) == pytest.approx(8.0 / 100)  # old samples dropped


def test_tree_usage_of_this_process():
    import os

    from localcluster.controllers.metrics import tree_usage

    cpu, rss, created = tree_usage(os.getpid())
    assert cpu > 0 and rss > 0 and created > 0
