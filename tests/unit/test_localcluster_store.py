"""The store and registry in-process: resourceVersion, no-op writes, event log, deletion rules,
status subresource, optimistic concurrency, dry run, snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from localcluster import errors
from localcluster.deletion import JOB_WARNING, DeleteOptions
from localcluster.persistence import Snapshotter
from localcluster.registry import APPLY_PATCH, MERGE_PATCH, STRATEGIC_PATCH, Registry
from localcluster.store import Store

NS = "default"


def make_registry(window: int = 100) -> Registry:
    registry = Registry(Store(window))
    registry.bootstrap()
    return registry


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS, "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1", "command": ["sleep", "9"]}], **spec}}


def job(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "busybox:1"}]}}}}


def lease(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS},
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}


def rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def test_one_global_resource_version_across_kinds():
    registry = make_registry()
    first = registry.create("pods", pod("a"))
    second = registry.create("leases", lease("l"))
    assert rv(second) == rv(first) + 1
    assert registry.store.resource_version == rv(second)


def test_no_op_patch_and_put_keep_resource_version_and_emit_nothing():
    registry = make_registry()
    created = registry.create("pods", pod("a"))
    events_before = len(registry.store._log)
    same, _ = registry.patch("pods", NS, "a", STRATEGIC_PATCH, pod("a"))
    put = registry.update("pods", {**created})
    assert rv(same) == rv(created) == rv(put)
    assert same["metadata"]["managedFields"] == created["metadata"]["managedFields"]
    assert len(registry.store._log) == events_before


def test_generation_bumps_only_when_spec_changes():
    registry = make_registry()
    registry.create("jobs", job("j"))
    labelled, _ = registry.patch("jobs", NS, "j", MERGE_PATCH, {"metadata": {"labels": {"a": "b"}}})
    assert labelled["metadata"]["generation"] == 1
    suspended, _ = registry.patch("jobs", NS, "j", MERGE_PATCH, {"spec": {"suspend": True}})
    assert suspended["metadata"]["generation"] == 2


def test_stale_put_conflicts_and_lease_put_needs_resource_version():
    registry = make_registry()
    created = registry.create("leases", lease("l"))
    registry.patch("leases", NS, "l", MERGE_PATCH, {"spec": {"holderIdentity": "b"}})
    with pytest.raises(errors.ApiError) as stale:
        registry.update("leases", created)
    assert stale.value.code == 409 and stale.value.reason == "Conflict"
    unversioned = {**created, "metadata": {k: v for k, v in created["metadata"].items() if k != "resourceVersion"}}
    with pytest.raises(errors.ApiError) as missing:
        registry.update("leases", unversioned)
    assert missing.value.code == 422
    assert "must be specified for an update" in missing.value.message


def test_status_subresource_rules():
    registry = make_registry()
    created = registry.create("pods", {**pod("a"), "status": {"phase": "Running"}})
    assert created["status"]["phase"] == "Pending"  # create drops client status
    main = registry.update("pods", {**created, "status": {"phase": "Failed"}})
    assert main["status"]["phase"] == "Pending"  # main resource keeps stored status
    status = registry.update_status("pods", {**main, "status": {**main["status"], "phase": "Running"},
                                             "metadata": {**main["metadata"], "labels": {"z": "z"}}})
    assert status["status"]["phase"] == "Running"
    assert status["metadata"]["labels"] == {"app": "x"}  # status write leaves the rest


def test_dry_run_writes_nothing():
    registry = make_registry()
    before = registry.store.resource_version
    out = registry.create("pods", pod("a"), dry_run=True)
    assert out["metadata"]["uid"] and registry.get("pods", NS, "a") is None
    assert registry.store.resource_version == before


def test_apply_patch_creates_then_prunes_fields_it_no_longer_applies():
    registry = make_registry()
    applied = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": {"one": "1", "two": "2"}},
               "spec": pod("a")["spec"]}
    created, was_created = registry.patch("pods", NS, "a", APPLY_PATCH, applied, manager="m")
    assert was_created and created["metadata"]["managedFields"][0]["operation"] == "Apply"
    fewer = {**applied, "metadata": {"name": "a", "labels": {"one": "1"}}}
    updated, was_created = registry.patch("pods", NS, "a", APPLY_PATCH, fewer, manager="m")
    assert not was_created and updated["metadata"]["labels"] == {"one": "1"}


def test_job_delete_defaults_to_orphan_with_warning_and_stays_until_finalizer_removed():
    registry = make_registry()
    registry.create("jobs", job("j"))
    obj, removed, warnings = registry.delete_object("jobs", NS, "j", DeleteOptions())
    assert not removed and warnings == (JOB_WARNING,)
    assert obj["metadata"]["finalizers"] == ["orphan"] and obj["metadata"]["deletionTimestamp"]
    registry.remove_finalizer("jobs", NS, "j", "orphan")
    assert registry.get("jobs", NS, "j") is None


def test_background_job_delete_is_immediate_and_silent():
    registry = make_registry()
    registry.create("jobs", job("j"))
    _, removed, warnings = registry.delete_object("jobs", NS, "j", DeleteOptions(propagation="Background"))
    assert removed and warnings == ()


def test_pod_graceful_delete_when_bound_immediate_when_unscheduled():
    registry = make_registry()
    registry.create("pods", pod("bound", nodeName="n1"))
    registry.create("pods", pod("loose"))
    obj, removed, _ = registry.delete_object("pods", NS, "bound", DeleteOptions())
    assert not removed and obj["metadata"]["deletionGracePeriodSeconds"] == 30
    again, removed, _ = registry.delete_object("pods", NS, "bound", DeleteOptions())
    assert not removed and rv(again) == rv(obj)  # already terminating: unchanged
    _, removed, _ = registry.delete_object("pods", NS, "bound", DeleteOptions(grace_period_seconds=0))
    assert removed
    _, removed, _ = registry.delete_object("pods", NS, "loose", DeleteOptions())
    assert removed


def test_delete_precondition_uid_mismatch_conflicts():
    registry = make_registry()
    registry.create("leases", lease("l"))
    with pytest.raises(errors.ApiError) as e:
        registry.delete_object("leases", NS, "l", DeleteOptions(uid="other"))
    assert e.value.code == 409 and "Precondition failed: UID in precondition: other" in e.value.message


def test_foreground_delete_sets_finalizer():
    registry = make_registry()
    registry.create("leases", lease("l"))
    obj, removed, _ = registry.delete_object("leases", NS, "l", DeleteOptions(propagation="Foreground"))
    assert not removed and obj["metadata"]["finalizers"] == ["foregroundDeletion"]


def test_watch_log_replays_after_revision_and_expires_beyond_window():
    registry = make_registry(window=5)
    start = registry.store.resource_version
    for i in range(8):
        registry.create("leases", lease(f"l{i}"))
    with pytest.raises(errors.ApiError) as gone:
        registry.store.subscribe("leases", NS, start)
    assert gone.value.code == 410
    recent = registry.store.resource_version - 2
    events, sub, _ = registry.store.subscribe("leases", NS, recent)
    registry.store.unsubscribe(sub)
    assert [e.obj["metadata"]["name"] for e in events] == ["l6", "l7"]


def test_create_into_missing_namespace_is_404_and_terminating_namespace_403():
    registry = make_registry()
    with pytest.raises(errors.ApiError) as missing:
        registry.create("pods", {**pod("a"), "metadata": {"name": "a", "namespace": "nope"}})
    assert missing.value.code == 404 and missing.value.message == 'namespaces "nope" not found'
    registry.create("namespaces", {"metadata": {"name": "gone"}})
    registry.create("pods", {**pod("a"), "metadata": {"name": "a", "namespace": "gone"}, "spec": {
        **pod("a")["spec"], "nodeName": "n1"}})
    registry.delete_object("namespaces", None, "gone", DeleteOptions())
    with pytest.raises(errors.ApiError) as closed:
        registry.create("leases", {**lease("l"), "metadata": {"name": "l", "namespace": "gone"}})
    assert closed.value.code == 403
    registry.delete("pods", "gone", "a", grace_period_seconds=0)  # the kubelet's final delete
    assert registry.get("namespaces", None, "gone") is None


def test_listeners_run_after_commit_with_the_new_object():
    registry = make_registry()
    seen: list[tuple[str, str, str]] = []
    registry.add_listener(lambda kind, resource, obj: seen.append((kind, resource, obj["metadata"]["name"])))
    registry.create("leases", lease("l"))
    registry.delete("leases", NS, "l")
    assert seen == [("ADDED", "leases", "l"), ("DELETED", "leases", "l")]


def test_record_event_counts_repeats():
    registry = make_registry()
    involved = registry.create("pods", pod("a"))
    for _ in range(3):
        registry.record_event(involved, "Warning", "FailedScheduling", "no fit", "default-scheduler")
    [event] = registry.list("events", NS)
    assert event["count"] == 3 and event["involvedObject"]["uid"] == involved["metadata"]["uid"]


def test_snapshot_round_trip_keeps_objects_and_revision(tmp_path):
    registry = make_registry()
    registry.create("services", {"metadata": {"name": "s", "namespace": NS},
                                 "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}})
    saver = Snapshotter(registry.store, tmp_path / "store.json")
    saver.save()
    revived = Registry(Store())
    assert Snapshotter(revived.store, tmp_path / "store.json").load()
    revived.bootstrap()
    assert revived.store.resource_version == registry.store.resource_version
    assert revived.get("services", NS, "s")["spec"]["ports"][0]["nodePort"] == 30080
    with pytest.raises(errors.ApiError) as taken:  # the allocator knows the port again
        revived.create("services", {"metadata": {"name": "t", "namespace": NS},
                                    "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}})
    assert taken.value.code == 422 and "provided port is already allocated" in taken.value.message


def test_events_into_a_terminating_namespace_are_dropped_not_raised():
    registry = make_registry()
    registry.create("namespaces", {"metadata": {"name": "closing"}})
    involved = registry.create("pods", {**pod("a"), "metadata": {"name": "a", "namespace": "closing"},
                                        "spec": {**pod("a")["spec"], "nodeName": "n1"}})
    registry.delete_object("namespaces", None, "closing", DeleteOptions())
    registry.record_event(involved, "Normal", "Killing", "Stopping container c", "kubelet")
    assert registry.list("events", "closing") == []


def test_events_expire_after_an_hour(monkeypatch):
    from datetime import UTC, datetime, timedelta

    from localcluster import events as registry_module
    from localcluster.timefmt import CLOCK

    registry = make_registry()
    involved = registry.create("pods", pod("a"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    monkeypatch.setattr(CLOCK, "utcnow", lambda: start)
    registry.record_event(involved, "Normal", "Old", "long ago", "kubelet")
    monkeypatch.setattr(CLOCK, "utcnow", lambda: start + timedelta(hours=2))
    for i in range(registry_module.EVENT_SWEEP_EVERY - 1):
        registry.record_event(involved, "Normal", "New", f"recent {i}", "kubelet")
    reasons = {e["reason"] for e in registry.list("events", NS)}
    assert reasons == {"New"}


def test_system_namespaces_may_not_be_deleted():
    registry = make_registry()
    with pytest.raises(errors.ApiError) as e:
        registry.delete_object("namespaces", None, "default", DeleteOptions())
    assert e.value.code == 403 and e.value.message == 'namespaces "default" is forbidden: this namespace may not be deleted'
