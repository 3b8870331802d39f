import copy
import random
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localcluster import strategies
from localcluster.errors import ApiError
from localcluster.patch import apply_merge_patch, apply_strategic_merge_patch
from tests.unit.test_localcluster_patch import SENT_JOB, STORED_JOB

UID = "0f6e0b7c-1111-4a8e-9c39-1d2b9f1e2d3c"
NOW = "2026-01-02T03:04:05Z"


def _created_job():
    return strategies.prepare_for_create("jobs", SENT_JOB, NOW, UID)


def _causes(error):
    return {(c["field"], c["reason"]) for c in error.details["causes"]}


def _invalid(plural, obj, old=None):
    with pytest.raises(ApiError) as e:
        strategies.validate(plural, obj, old)
    assert e.value.code == 422 and e.value.reason == "Invalid"
    return e.value


def test_job_create_matches_a_real_defaulted_job():
    job = _created_job()
    expected = copy.deepcopy(STORED_JOB)
    expected["metadata"].pop("resourceVersion")
    expected["status"] = {}
    assert job == expected
    strategies.validate("jobs", job)


def test_job_create_copies_template_labels_when_the_job_has_none():
    sent = copy.deepcopy(SENT_JOB)
    del sent["metadata"]["labels"]
    job = strategies.prepare_for_create("jobs", sent, NOW, UID)
    assert job["metadata"]["labels"] == job["spec"]["template"]["metadata"]["labels"]
    assert job["metadata"]["labels"]["job-name"] == "stream-abc"


def test_job_create_parallelism_and_status_rules():
    sent = copy.deepcopy(SENT_JOB)
    sent["spec"]["parallelism"] = 3
    sent["status"] = {"succeeded": 5}
    job = strategies.prepare_for_create("jobs", sent, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), UID)
    assert job["spec"]["parallelism"] == 3 and "completions" not in job["spec"]
    assert job["status"] == {}
    assert job["metadata"]["creationTimestamp"] == NOW
    assert job["metadata"]["generation"] == 1
    assert sent["status"] == {"succeeded": 5}  # input untouched


def test_ansible_update_of_unchanged_job_is_a_no_op():
    stored = _created_job()
    stored["metadata"]["resourceVersion"] = "7"
    stored["status"] = {"active": 1, "ready": 0, "terminating": 0}
    patched = apply_strategic_merge_patch(stored, SENT_JOB)
    new = strategies.prepare_for_update("jobs", stored, patched)
    strategies.validate("jobs", new, stored)
    assert new == stored
    assert strategies.semantically_equal(stored, new)


def test_job_template_is_immutable():
    stored = _created_job()
    sent = copy.deepcopy(SENT_JOB)
    sent["spec"]["template"]["spec"]["containers"][0]["command"] = ["other"]
    new = strategies.prepare_for_update("jobs", stored, apply_strategic_merge_patch(stored, sent))
    error = _invalid("jobs", new, stored)
    assert _causes(error) == {("spec.template", "FieldValueInvalid")}
    assert error.message.startswith('Job.batch "stream-abc" is invalid: spec.template: Invalid value: ')
    assert error.message.endswith("field is immutable")
    assert error.details["group"] == "batch" and error.details["kind"] == "Job"


def test_job_completions_and_selector_are_immutable_but_labels_are_not():
    stored = _created_job()
    new = apply_merge_patch(stored, {"spec": {"completions": 3}, "metadata": {"labels": {"x": "y"}}})
    assert _causes(_invalid("jobs", strategies.prepare_for_update("jobs", stored, new), stored)) == {
        ("spec.completions", "FieldValueInvalid")}
    new = apply_merge_patch(stored, {"spec": {"selector": {"matchLabels": {"a": "b"}}}})
    error = _invalid("jobs", strategies.prepare_for_update("jobs", stored, new), stored)
    assert ("spec.selector", "FieldValueInvalid") in _causes(error)
    relabelled = strategies.prepare_for_update("jobs", stored, apply_merge_patch(stored, {"metadata": {"labels": {"x": "y"}}}))
    strategies.validate("jobs", relabelled, stored)
    assert relabelled["metadata"]["generation"] == 1


def test_generation_bumps_only_when_spec_changes():
    stored = _created_job()
    changed = strategies.prepare_for_update("jobs", stored, apply_merge_patch(stored, {"spec": {"suspend": True}}))
    assert changed["metadata"]["generation"] == 2
    same = strategies.prepare_for_update("jobs", stored, apply_merge_patch(stored, {"metadata": {"annotations": {"a": "b"}}}))
    assert same["metadata"]["generation"] == 1


def test_update_keeps_status_and_system_metadata():
    stored = _created_job()
    stored["status"] = {"active": 1}
    body = copy.deepcopy(stored)
    body["status"] = {"succeeded": 99}
    body["metadata"]["uid"] = "forged"
    body["metadata"]["creationTimestamp"] = "1999-01-01T00:00:00Z"
    new = strategies.prepare_for_update("jobs", stored, body)
    assert new["status"] == {"active": 1}
    assert new["metadata"]["uid"] == UID and new["metadata"]["creationTimestamp"] == NOW


def test_status_update_changes_only_status():
    stored = _created_job()
    body = copy.deepcopy(stored)
    body["spec"]["parallelism"] = 5
    body["metadata"]["labels"] = {"x": "y"}
    body["status"] = {"active": 1, "ready": 1}
    new = strategies.prepare_status_update("jobs", stored, body)
    assert new["spec"] == stored["spec"] and new["metadata"] == stored["metadata"]
    assert new["status"] == {"active": 1, "ready": 1}


@pytest.mark.parametrize("change, field, reason", [
    ({"spec": {"template": {"spec": {"restartPolicy": "Always"}}}}, "spec.template.spec.restartPolicy",
     "FieldValueNotSupported"),
    ({"spec": {"template": {"spec": {"containers": None}}}}, "spec.template.spec.containers", "FieldValueRequired"),
    ({"spec": {"template": None}}, "spec.template", "FieldValueRequired"),
    ({"spec": {"backoffLimit": -1}}, "spec.backoffLimit", "FieldValueInvalid"),
    ({"spec": {"activeDeadlineSeconds": 0}}, "spec.activeDeadlineSeconds", "FieldValueInvalid"),
    ({"metadata": {"name": "j" * 64}}, "metadata.name", "FieldValueInvalid"),
    ({"metadata": {"name": "Bad_Name"}}, "metadata.name", "FieldValueInvalid"),
    ({"metadata": {"labels": {"bad key": "v"}}}, "metadata.labels", "FieldValueInvalid"),
])
def test_job_validation_errors(change, field, reason):
    sent = apply_merge_patch(SENT_JOB, change)
    job = strategies.prepare_for_create("jobs", sent, NOW, UID)
    assert (field, reason) in _causes(_invalid("jobs", job))


def test_job_without_restart_policy_is_rejected_as_always():
    sent = apply_merge_patch(SENT_JOB, {"spec": {"template": {"spec": {"restartPolicy": None}}}})
    error = _invalid("jobs", strategies.prepare_for_create("jobs", sent, NOW, UID))
    assert error.details["causes"][0]["message"] == \
        'Unsupported value: "Always": supported values: "OnFailure", "Never"'


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": "ns"},
       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def test_pod_create_defaults_and_status():
    pod = strategies.prepare_for_create("pods", {**POD, "status": {"phase": "Running"}}, NOW, "u1")
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always" and spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler" and spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {} and spec["enableServiceLinks"] is True
    assert spec["containers"][0] == {
        "name": "c", "image": "busybox", "imagePullPolicy": "Always", "resources": {},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert pod["metadata"]["generation"] == 1 and pod["metadata"]["uid"] == "u1"


@pytest.mark.parametrize("image, policy", [
    ("busybox", "Always"), ("busybox:latest", "Always"), ("busybox:1.36", "IfNotPresent"),
    ("registry:5000/team/img", "Always"), ("registry:5000/team/img:v2", "IfNotPresent"),
    ("img@sha256:abc", "IfNotPresent"),
])
def test_image_pull_policy(image, policy):
    pod = strategies.prepare_for_create("pods", apply_merge_patch(POD, {}) | {
        "spec": {"containers": [{"name": "c", "image": image}]}})
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy


@pytest.mark.parametrize("resources, qos", [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
    ({"limits": {"cpu": "1"}}, "Burstable"),
    ({"limits": {"nvidia.com/gpu": 1}}, "BestEffort"),
    ({"limits": {"cpu": "1000m", "memory": "1024Mi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
])
def test_qos_class(resources, qos):
    pod = strategies.prepare_for_create("pods", {**POD, "spec": {"containers": [
        {"name": "c", "image": "x:1", "resources": resources}]}})
    assert pod["status"]["qosClass"] == qos


def test_extended_resource_requests_must_equal_limits():
    pod = strategies.prepare_for_create("pods", {**POD, "spec": {"containers": [{
        "name": "c", "image": "x:1", "resources": {"limits": {"nvidia.com/gpu": 2}, "requests": {"nvidia.com/gpu": 1}}}]}})
    error = _invalid("pods", pod)
    assert error.details["causes"] == [{
        "field": "spec.containers[0].resources.requests[nvidia.com/gpu]", "reason": "FieldValueInvalid",
        "message": "Invalid value: 1: must be equal to nvidia.com/gpu limit of 2"}]
    only_requests = apply_merge_patch(SENT_JOB, {"spec": {"template": {"spec": {"containers": [{
        "name": "c", "image": "x:1", "resources": {"requests": {"nvidia.com/gpu": "1"}}}]}}}})
    error = _invalid("jobs", strategies.prepare_for_create("jobs", only_requests, NOW, UID))
    assert ("spec.template.spec.containers[0].resources.limits", "FieldValueRequired") in _causes(error)
    half = apply_merge_patch(SENT_JOB, {"spec": {"template": {"spec": {"containers": [{
        "name": "c", "image": "x:1", "resources": {"limits": {"nvidia.com/gpu": "0.5"}}}]}}}})
    assert ("spec.template.spec.containers[0].resources.limits[nvidia.com/gpu]", "FieldValueInvalid") in \
        _causes(_invalid("jobs", strategies.prepare_for_create("jobs", half, NOW, UID)))


def test_pod_validation_errors():
    bad = {**POD, "spec": {"containers": [{"name": "c"}, {"name": "c", "image": "x"}], "restartPolicy": "Sometimes"}}
    causes = _causes(_invalid("pods", strategies.prepare_for_create("pods", bad)))
    assert causes == {("spec.containers[0].image", "FieldValueRequired"),
                      ("spec.containers[1].name", "FieldValueDuplicate"),
                      ("spec.restartPolicy", "FieldValueNotSupported")}
    assert ("spec.containers", "FieldValueRequired") in _causes(
        _invalid("pods", strategies.prepare_for_create("pods", {**POD, "spec": {}})))


def test_pod_update_allows_binding_and_image_but_not_other_spec_changes():
    stored = strategies.prepare_for_create("pods", POD, NOW, "u1")
    bound = apply_merge_patch(stored, {"spec": {"nodeName": "node-1"}})
    strategies.validate("pods", strategies.prepare_for_update("pods", stored, bound), stored)
    image = copy.deepcopy(stored)
    image["spec"]["containers"][0]["image"] = "busybox:2"
    strategies.validate("pods", strategies.prepare_for_update("pods", stored, image), stored)
    command = copy.deepcopy(stored)
    command["spec"]["containers"][0]["command"] = ["sleep"]
    error = _invalid("pods", strategies.prepare_for_update("pods", stored, command), stored)
    assert _causes(error) == {("spec", "FieldValueForbidden")}
    unbind = apply_merge_patch(bound, {"spec": {"nodeName": "other"}})
    assert ("spec.nodeName", "FieldValueInvalid") in _causes(
        _invalid("pods", strategies.prepare_for_update("pods", bound, unbind), bound))


def test_pod_status_update_keeps_qos_class():
    stored = strategies.prepare_for_create("pods", POD, NOW, "u1")
    new = strategies.prepare_status_update("pods", stored, {"status": {"phase": "Running"}})
    assert new["status"] == {"phase": "Running", "qosClass": "BestEffort"}
    assert strategies.prepare_status_update("pods", stored, {"metadata": {}}).get("status") is None


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "stream-abc", "namespace": "ns"},
           "spec": {"type": "NodePort", "selector": {"job-name": "stream-abc"}, "ports": [{"port": 5000}]}}


def test_service_defaults():
    svc = strategies.prepare_for_create("services", {**SERVICE, "status": {"x": 1}}, NOW, "u2")
    assert svc["spec"] == {
        "type": "NodePort", "selector": {"job-name": "stream-abc"},
        "ports": [{"port": 5000, "protocol": "TCP", "targetPort": 5000}],
        "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
        "internalTrafficPolicy": "Cluster", "externalTrafficPolicy": "Cluster"}
    assert svc["status"] == {"loadBalancer": {}}
    assert "generation" not in svc["metadata"]
    strategies.validate("services", svc)
    headless = strategies.prepare_for_create("services", {**SERVICE, "spec": {"clusterIP": "None"}})
    assert headless["spec"]["clusterIPs"] == ["None"] and headless["spec"]["type"] == "ClusterIP"
    strategies.validate("services", headless)


def test_service_update_keeps_allocations_when_omitted():
    stored = strategies.prepare_for_create("services", SERVICE, NOW, "u2")
    stored["spec"].update(clusterIP="10.96.0.7", clusterIPs=["10.96.0.7"])
    stored["spec"]["ports"][0]["nodePort"] = 31000
    new = strategies.prepare_for_update("services", stored, SERVICE)
    assert new["spec"]["clusterIP"] == "10.96.0.7" and new["spec"]["ports"][0]["nodePort"] == 31000
    assert new == stored
    strategies.validate("services", new, stored)
    moved = apply_merge_patch(stored, {"spec": {"clusterIP": "10.96.0.9", "clusterIPs": ["10.96.0.9"]}})
    error = _invalid("services", strategies.prepare_for_update("services", stored, moved), stored)
    assert error.details["causes"][0]["field"] == "spec.clusterIPs[0]"
    assert "may not change once set" in error.message
    to_cluster_ip = apply_merge_patch(stored, {"spec": {"type": "ClusterIP"}})
    new = strategies.prepare_for_update("services", stored, to_cluster_ip)
    assert "nodePort" not in new["spec"]["ports"][0] and "externalTrafficPolicy" not in new["spec"]
    strategies.validate("services", new, stored)


@pytest.mark.parametrize("change, field, reason", [
    ({"metadata": {"name": "1svc"}}, "metadata.name", "FieldValueInvalid"),
    ({"metadata": {"name": "a.b"}}, "metadata.name", "FieldValueInvalid"),
    ({"spec": {"type": "ClusterIP", "ports": [{"port": 80, "nodePort": 30080}]}}, "spec.ports[0].nodePort",
     "FieldValueForbidden"),
    ({"spec": {"ports": []}}, "spec.ports", "FieldValueRequired"),
    ({"spec": {"ports": [{"port": 80}, {"port": 81}]}}, "spec.ports[0].name", "FieldValueRequired"),
    ({"spec": {"ports": [{"port": 70000}]}}, "spec.ports[0].port", "FieldValueInvalid"),
    ({"spec": {"type": "Magic"}}, "spec.type", "FieldValueNotSupported"),
])
def test_service_validation_errors(change, field, reason):
    svc = strategies.prepare_for_create("services", apply_merge_patch(SERVICE, change))
    assert (field, reason) in _causes(_invalid("services", svc))


def test_service_name_error_message_is_dns1035():
    svc = strategies.prepare_for_create("services", apply_merge_patch(SERVICE, {"metadata": {"name": "1svc"}}))
    assert "a DNS-1035 label must consist of" in _invalid("services", svc).message


PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "recordings", "namespace": "ns"},
       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def test_pvc_admission_defaults_and_immutability():
    pvc = strategies.prepare_for_create("persistentvolumeclaims", PVC, NOW, "u3")
    assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert pvc["spec"]["storageClassName"] == "standard" and pvc["spec"]["volumeMode"] == "Filesystem"
    assert pvc["status"] == {"phase": "Pending"}
    strategies.validate("persistentvolumeclaims", pvc)
    explicit = strategies.prepare_for_create("persistentvolumeclaims", apply_merge_patch(PVC, {"spec": {"storageClassName": ""}}))
    assert explicit["spec"]["storageClassName"] == ""
    bound = apply_merge_patch(pvc, {"spec": {"volumeName": "pv-1"}})
    strategies.validate("persistentvolumeclaims", strategies.prepare_for_update("persistentvolumeclaims", pvc, bound), pvc)
    again = strategies.prepare_for_update("persistentvolumeclaims", bound, apply_strategic_merge_patch(bound, PVC))
    assert again == bound
    grown = apply_merge_patch(bound, {"spec": {"resources": {"requests": {"storage": "2Gi"}}}})
    strategies.validate("persistentvolumeclaims", grown, bound)
    moved = apply_merge_patch(bound, {"spec": {"accessModes": ["ReadWriteMany"]}})
    assert _causes(_invalid("persistentvolumeclaims", moved, bound)) == {("spec", "FieldValueForbidden")}
    missing = strategies.prepare_for_create("persistentvolumeclaims", apply_merge_patch(PVC, {"spec": {"accessModes": None, "resources": None}}))
    assert _causes(_invalid("persistentvolumeclaims", missing)) == {
        ("spec.accessModes", "FieldValueRequired"), ("spec.resources[storage]", "FieldValueRequired")}


def test_namespace_create_and_update():
    ns = strategies.prepare_for_create("namespaces", {"metadata": {"name": "spectrojobs"}}, NOW, "u4")
    assert ns["status"] == {"phase": "Active"} and ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "spectrojobs"}
    new = strategies.prepare_for_update("namespaces", ns, {"metadata": {"name": "spectrojobs"}, "spec": {}})
    assert new == ns
    bad = strategies.prepare_for_create("namespaces", {"metadata": {"name": "a.b"}})
    assert _causes(_invalid("namespaces", bad)) == {("metadata.name", "FieldValueInvalid")}


LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "leader", "namespace": "ns"},
         "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "acquireTime": "2026-01-02T03:04:05+00:00",
                  "renewTime": "2026-01-02T03:04:05.123456+00:00"}}


def test_lease_microtimes_and_duration():
    lease = strategies.prepare_for_create("leases", LEASE, NOW, "u5")
    assert lease["spec"]["acquireTime"] == "2026-01-02T03:04:05.000000Z"
    assert lease["spec"]["renewTime"] == "2026-01-02T03:04:05.123456Z"
    assert "status" not in lease and "generation" not in lease["metadata"]
    strategies.validate("leases", lease)
    zero = strategies.prepare_for_create("leases", apply_merge_patch(LEASE, {"spec": {"leaseDurationSeconds": 0}}))
    error = _invalid("leases", zero)
    assert error.message == ('Lease.coordination.k8s.io "leader" is invalid: spec.leaseDurationSeconds: '
                             "Invalid value: 0: must be greater than 0")
    bad_time = strategies.prepare_for_create("leases", apply_merge_patch(LEASE, {"spec": {"renewTime": "soon"}}))
    assert _causes(_invalid("leases", bad_time)) == {("spec.renewTime", "FieldValueInvalid")}


def test_lease_update_needs_resource_version():
    with pytest.raises(ApiError) as e:
        strategies.validate_lease_update(LEASE)
    assert e.value.code == 422
    assert e.value.message == ('Lease.coordination.k8s.io "leader" is invalid: metadata.resourceVersion: '
                               "Invalid value: 0x0: must be specified for an update")
    strategies.validate_lease_update(apply_merge_patch(LEASE, {"metadata": {"resourceVersion": "12"}}))


def test_event_and_node_rules():
    event = {"metadata": {"name": "p1.abc", "namespace": "ns"}, "involvedObject": {"kind": "Pod", "namespace": "ns"},
             "firstTimestamp": "2026-01-02T03:04:05.5+00:00", "eventTime": "2026-01-02T03:04:05Z"}
    created = strategies.prepare_for_create("events", event)
    assert created["firstTimestamp"] == NOW and created["eventTime"] == "2026-01-02T03:04:05.000000Z"
    strategies.validate("events", created)
    assert _causes(_invalid("events", {"metadata": {"name": "e"}})) == {("involvedObject", "FieldValueRequired")}
    node = {"metadata": {"name": "node-1"}, "status": {"capacity": {"cpu": "4"}}}
    assert strategies.prepare_for_create("nodes", node)["status"] == {"capacity": {"cpu": "4"}}
    bad_taint = {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}}
    assert _causes(_invalid("nodes", bad_taint)) == {("spec.taints[0].effect", "FieldValueNotSupported")}


def test_metadata_rules():
    assert _causes(_invalid("pods", strategies.prepare_for_create("pods", {**POD, "metadata": {}}))) == {
        ("metadata.name", "FieldValueRequired")}
    orphan = apply_merge_patch(POD, {"metadata": {"ownerReferences": [{"kind": "Job", "name": "j"}]}})
    causes = _causes(_invalid("pods", strategies.prepare_for_create("pods", orphan)))
    assert causes == {("metadata.ownerReferences[0].apiVersion", "FieldValueInvalid"),
                      ("metadata.ownerReferences[0].uid", "FieldValueInvalid")}


def test_generate_name():
    name = strategies.generate_name("stream-", random.Random(1))
    assert name.startswith("stream-") and len(name) == len("stream-") + 5
    assert set(name[len("stream-"):]) <= set(strategies.GENERATE_ALPHABET)
    assert len(strategies.generate_name("x" * 80)) == 63


def test_semantically_equal_ignores_bookkeeping_only():
    a = {"metadata": {"name": "x", "resourceVersion": "1",
                      "managedFields": [{"manager": "m", "time": "2026-01-01T00:00:00Z"}]}, "spec": {"a": 1}}
    b = apply_merge_patch(a, {"metadata": {"resourceVersion": "2"}})
    b["metadata"]["managedFields"] = [{"manager": "m", "time": "2026-02-02T00:00:00Z"}]
    assert strategies.semantically_equal(a, b)
    assert not strategies.semantically_equal(a, apply_merge_patch(a, {"spec": {"a": 2}}))
    assert not strategies.semantically_equal(a, apply_merge_patch(a, {"metadata": {"labels": {"x": "y"}}}))


def test_inputs_are_not_mutated():
    for plural, obj in (("jobs", SENT_JOB), ("pods", POD), ("services", SERVICE),
                        ("persistentvolumeclaims", PVC), ("leases", LEASE)):
        before = copy.deepcopy(obj)
        created = strategies.prepare_for_create(plural, obj, NOW, "u")
        strategies.prepare_for_update(plural, created, obj)
        strategies.prepare_status_update(plural, created, obj)
        assert obj == before


def test_non_object_body_is_400():
    with pytest.raises(ApiError) as e:
        strategies.prepare_for_create("pods", ["not", "an", "object"])
    assert e.value.code == 400


_names = st.from_regex(r"[a-z]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
_env = st.lists(st.builds(lambda n, v: {"name": n.upper().replace("-", "_"), "value": v}, _names, _names),
                max_size=3, unique_by=lambda e: e["name"])
_ports = st.lists(st.builds(lambda p: {"containerPort": p}, st.integers(1, 65535)), max_size=2,
                  unique_by=lambda p: p["containerPort"])
_resources = st.sampled_from([{}, {"limits": {"cpu": "1", "memory": "1Gi"}}, {"requests": {"cpu": "100m"}},
                              {"limits": {"nvidia.com/gpu": 1}}])
_containers = st.lists(
    st.builds(lambda n, tag, env, ports, res: {"name": n, "image": f"img{tag}", "env": env, "ports": ports,
                                               "resources": res},
              _names, st.sampled_from(["", ":latest", ":1.0"]), _env, _ports, _resources),
    min_size=1, max_size=3, unique_by=lambda c: c["name"])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_containers, st.sampled_from([None, "Never", "OnFailure"]))
def test_full_object_smp_of_what_was_sent_is_a_no_op(containers, restart):
    spec = {"containers": containers}
    if restart:
        spec["restartPolicy"] = restart
    sent = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "spec": spec}
    stored = strategies.prepare_for_create("pods", sent, NOW, "u")
    strategies.validate("pods", stored)
    updated = strategies.prepare_for_update("pods", stored, apply_strategic_merge_patch(stored, sent))
    strategies.validate("pods", updated, stored)
    assert updated == stored


def test_update_of_a_stored_object_with_itself_changes_nothing():
    event = {"metadata": {"name": "e.1", "namespace": "ns"}, "involvedObject": {"kind": "Pod"}}
    for plural, obj in (("jobs", SENT_JOB), ("pods", POD), ("services", SERVICE), ("persistentvolumeclaims", PVC),
                        ("leases", LEASE), ("events", event), ("namespaces", {"metadata": {"name": "n"}}),
                        ("nodes", {"metadata": {"name": "node-1"}, "status": {"phase": "Running"}})):
        stored = strategies.prepare_for_create(plural, obj, NOW, "u")
        strategies.validate(plural, stored)
        assert strategies.prepare_for_update(plural, stored, stored) == stored, plural


def test_lease_without_microtimes_gets_none_added():
    bare = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "window-3"},
            "spec": {"holderIdentity": "3-12345", "leaseDurationSeconds": 60}}
    lease = strategies.prepare_for_create("leases", bare, NOW, "u6")
    assert "acquireTime" not in lease["spec"] and "renewTime" not in lease["spec"]
