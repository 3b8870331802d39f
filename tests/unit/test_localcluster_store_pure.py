"""Pure pieces of the API side: routing, delete options and plans, watch transitions, managedFields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from localcluster import errors
from localcluster.deletion import DeleteOptions, gc_finalizers, parse_delete_options, plan_delete
from localcluster.discovery import api_group_list, resource_list
from localcluster.managed import (
    apply_conflicts,
    apply_to,
    changed_paths,
    conflict_error,
    manager_from_user_agent,
    paths_of,
    record_manager,
)
from localcluster.routing import DiscoveryRoute, ResourceRoute, resolve
from localcluster.store import Event
from localcluster.watch import parse_since, transform

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("path", "expected"), [
    ("/api/v1/namespaces/ns/pods", ("pods", "ns", None, None)),
    ("/api/v1/namespaces/ns/pods/p/status", ("pods", "ns", "p", "status")),
    ("/api/v1/namespaces/ns", ("namespaces", None, "ns", None)),
    ("/api/v1/namespaces/ns/status", ("namespaces", None, "ns", "status")),
    ("/api/v1/nodes/n1", ("nodes", None, "n1", None)),
    ("/apis/batch/v1/jobs", ("jobs", None, None, None)),
    ("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/p", ("pods", "ns", "p", None)),
])
def test_resource_routes(path, expected):
    route = resolve(path)
    assert isinstance(route, ResourceRoute)
    assert (route.rtype.plural, route.namespace, route.name, route.subresource) == expected


@pytest.mark.parametrize("path", ["/apis/batch/v1/namespaces/x", "/api/v1/pods/p", "/api/v1/namespaces/n/pods/p/exec",
                                  "/apis/batch/v2/jobs", "/openapi/v2", "/api/v1/namespaces/n/pods/p/log/x"])
def test_unknown_paths_are_404(path):
    with pytest.raises(errors.ApiError) as e:
        resolve(path)
    assert e.value.code == 404 and e.value.message == "the server could not find the requested resource"


def test_discovery_routes_and_documents():
    assert resolve("/apis/batch") == DiscoveryRoute("group", "batch")
    assert resolve("/healthz") == DiscoveryRoute("health")
    assert resolve("/api/v1") == DiscoveryRoute("resources", "v1")
    groups = {g["name"]: g for g in api_group_list()["groups"]}
    assert groups["batch"]["preferredVersion"] == {"groupVersion": "batch/v1", "version": "v1"}
    jobs = {r["name"]: r for r in resource_list("batch/v1")["resources"]}
    assert jobs["jobs"]["singularName"] == "job" and jobs["jobs/status"]["verbs"] == ["get", "patch", "update"]


def test_delete_options_come_from_the_body_when_there_is_one():
    query = {"propagationPolicy": "Orphan", "gracePeriodSeconds": "5"}
    body = {"kind": "DeleteOptions", "propagationPolicy": "Foreground", "gracePeriodSeconds": None,
            "preconditions": None}
    assert parse_delete_options(body, query) == DeleteOptions(propagation="Foreground")
    assert parse_delete_options(None, query) == DeleteOptions(propagation="Orphan", grace_period_seconds=5)
    assert parse_delete_options(None, {"orphanDependents": "false"}).orphan_dependents is False
    with pytest.raises(errors.ApiError) as bad:
        parse_delete_options({"propagationPolicy": "Sideways"}, {})
    assert bad.value.code == 400 and "Sideways" in bad.value.message


def test_gc_finalizers_explicit_policy_beats_existing_beats_default():
    job = {"metadata": {"name": "j", "finalizers": ["keep"]}}
    assert gc_finalizers("jobs", job, DeleteOptions()) == ["keep", "orphan"]
    assert gc_finalizers("jobs", job, DeleteOptions(propagation="Background")) == ["keep"]
    orphaned = {"metadata": {"name": "j", "finalizers": ["orphan"]}}
    assert gc_finalizers("leases", orphaned, DeleteOptions()) == ["orphan"]
    assert gc_finalizers("leases", orphaned, DeleteOptions(propagation="Foreground")) == ["foregroundDeletion"]


def test_pod_grace_period_is_zero_for_finished_pods_and_can_only_shrink():
    finished = {"metadata": {"name": "p"}, "spec": {"nodeName": "n", "terminationGracePeriodSeconds": 30},
                "status": {"phase": "Succeeded"}}
    assert plan_delete("pods", "pods", finished, DeleteOptions(), NOW).remove
    running = {**finished, "status": {"phase": "Running"}}
    plan = plan_delete("pods", "pods", running, DeleteOptions(grace_period_seconds=10), NOW)
    assert not plan.remove and plan.obj["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:10Z"
    shorter = plan_delete("pods", "pods", plan.obj, DeleteOptions(grace_period_seconds=4), NOW)
    assert shorter.obj["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:04Z"
    longer = plan_delete("pods", "pods", plan.obj, DeleteOptions(grace_period_seconds=60), NOW)
    assert longer.obj is plan.obj


def test_watch_transitions_follow_the_selector():
    def match(obj):
        return (obj["metadata"].get("labels") or {}).get("pick") == "yes"

    yes = {"metadata": {"name": "o", "labels": {"pick": "yes"}}}
    no = {"metadata": {"name": "o", "labels": {"pick": "no"}}}
    assert transform(Event(2, "MODIFIED", "leases", no, yes), match)["type"] == "DELETED"
    assert transform(Event(3, "MODIFIED", "leases", yes, no), match)["type"] == "ADDED"
    assert transform(Event(4, "MODIFIED", "leases", yes, yes), match)["type"] == "MODIFIED"
    assert transform(Event(5, "MODIFIED", "leases", no, no), match) is None
    assert transform(Event(6, "DELETED", "leases", no), match) is None


def test_parse_since():
    assert parse_since(None, None) is None and parse_since("0", None) is None
    assert parse_since("12", None) == 12 and parse_since("12", True) is None


def test_updates_gain_the_fields_they_change_and_others_lose_them():
    obj = {"metadata": {"name": "o"}, "spec": {"a": 1, "b": 1}}
    created = record_manager(obj, "creator", "Update", "v1", paths_of(obj), set(), None, "t1")
    assert created["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {"f:a": {}, "f:b": {}}}
    changed = {**created, "spec": {"a": 2, "b": 1}}
    owned = changed_paths(created, changed)
    assert owned == {("spec", "a")}
    updated = record_manager(changed, "editor", "Update", "v1", owned, owned, None, "t2")
    fields = {e["manager"]: e["fieldsV1"] for e in updated["metadata"]["managedFields"]}
    assert fields == {"creator": {"f:spec": {"f:b": {}}}, "editor": {"f:spec": {"f:a": {}}}}
    again = record_manager(updated, "editor", "Update", "v1", set(), set(), None, "t3")
    assert len(again["metadata"]["managedFields"]) == 2  # one entry per manager and operation
    assert obj == {"metadata": {"name": "o"}, "spec": {"a": 1, "b": 1}}  # inputs untouched


def test_apply_conflicts_only_on_values_another_manager_owns_and_would_change():
    live = record_manager({"metadata": {"name": "o"}, "spec": {"a": 1, "b": 1}}, "creator", "Update", "v1",
                          {("spec", "a"), ("spec", "b")}, set(), None, "t1")
    same = {"spec": {"a": 1}}
    assert apply_conflicts(live, apply_to(live, same, "ssa"), same, "ssa") == []
    different = {"spec": {"a": 2, "b": 1}}
    conflicts = apply_conflicts(live, apply_to(live, different, "ssa"), different, "ssa")
    assert conflicts == [('"creator" using v1', ("spec", "a"))]
    error = conflict_error("leases", "coordination.k8s.io", "o", conflicts)
    assert error.code == 409 and error.reason == "Conflict"
    assert error.message == 'Apply failed with 1 conflict: conflict with "creator" using v1: .spec.a'
    assert error.details["causes"] == [{"type": "FieldManagerConflict", "field": ".spec.a",
                                        "message": 'conflict with "creator" using v1'}]
    two = conflict_error("leases", "", "o", [('"m"', ("spec", "a")), ('"m"', ("spec", "b"))])
    assert two.message == 'Apply failed with 2 conflicts: conflicts with "m":\n- .spec.a\n- .spec.b'


def test_apply_drops_fields_it_stopped_applying_unless_someone_else_owns_them():
    base = {"metadata": {"name": "o"}, "spec": {"a": 1, "b": 2, "c": 3}}
    applied = record_manager(base, "ssa", "Apply", "v1", {("spec", "a"), ("spec", "b"), ("spec", "c")},
                             set(), None, "t1")
    shared = record_manager(applied, "other", "Update", "v1", {("spec", "c")}, set(), None, "t2")
    pruned = apply_to(shared, {"spec": {"a": 1}}, "ssa")
    assert pruned["spec"] == {"a": 1, "c": 3}


def test_default_field_manager_is_the_user_agent_product():
    assert manager_from_user_agent("OpenAPI-Generator/37.0.2/python") == "OpenAPI-Generator"
    assert manager_from_user_agent("") == "unknown"
