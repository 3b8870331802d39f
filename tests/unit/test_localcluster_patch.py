import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localcluster.errors import ApiError
from localcluster.patch import (
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    merge_key,
)

# A Job as the spectrojobs playbook sends it (Ansible `k8s` sends the full definition as an SMP).
SENT_JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "stream-abc", "namespace": "spectrojobs",
                 "labels": {"app.kubernetes.io/name": "streamer", "spectrojobs.io/owner": "alice"}},
    "spec": {
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": 300,
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "streamer"}},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "streamer",
                    "image": "spectrojobs/streamer:0.1",
                    "command": ["streamer", "serve"],
                    "args": ["--nfft", "1024"],
                    "env": [{"name": "STREAMER_PORT", "value": "5000"},
                            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                    "ports": [{"containerPort": 5000, "name": "grpc"}],
                    "resources": {"limits": {"nvidia.com/gpu": 1}, "requests": {"cpu": "500m"}},
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "recordings"}}],
            },
        },
    },
}

# The same Job as the server stores it after defaulting (a real 1.3x object, trimmed of status).
STORED_JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {
        "name": "stream-abc", "namespace": "spectrojobs", "uid": "0f6e0b7c-1111-4a8e-9c39-1d2b9f1e2d3c",
        "resourceVersion": "42", "generation": 1, "creationTimestamp": "2026-01-02T03:04:05Z",
        "labels": {"app.kubernetes.io/name": "streamer", "spectrojobs.io/owner": "alice"},
    },
    "spec": {
        "parallelism": 1, "completions": 1, "backoffLimit": 0, "ttlSecondsAfterFinished": 300,
        "completionMode": "NonIndexed", "suspend": False, "manualSelector": False,
        "podReplacementPolicy": "TerminatingOrFailed",
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "0f6e0b7c-1111-4a8e-9c39-1d2b9f1e2d3c"}},
        "template": {
            "metadata": {"labels": {
                "app.kubernetes.io/name": "streamer",
                "batch.kubernetes.io/controller-uid": "0f6e0b7c-1111-4a8e-9c39-1d2b9f1e2d3c",
                "batch.kubernetes.io/job-name": "stream-abc",
                "controller-uid": "0f6e0b7c-1111-4a8e-9c39-1d2b9f1e2d3c",
                "job-name": "stream-abc"}},
            "spec": {
                "restartPolicy": "Never", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                "terminationGracePeriodSeconds": 30, "securityContext": {},
                "containers": [{
                    "name": "streamer",
                    "image": "spectrojobs/streamer:0.1",
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["streamer", "serve"],
                    "args": ["--nfft", "1024"],
                    "env": [{"name": "STREAMER_PORT", "value": "5000"},
                            {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                          "fieldPath": "status.podIP"}}}],
                    "ports": [{"containerPort": 5000, "name": "grpc", "protocol": "TCP"}],
                    "resources": {"limits": {"nvidia.com/gpu": 1}, "requests": {"cpu": "500m"}},
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "recordings"}}],
            },
        },
    },
    "status": {"active": 1, "ready": 1, "terminating": 0, "uncountedTerminatedPods": {},
               "startTime": "2026-01-02T03:04:06Z"},
}


def test_ansible_full_object_smp_is_a_no_op_on_the_defaulted_job():
    before = copy.deepcopy((SENT_JOB, STORED_JOB))
    assert apply_strategic_merge_patch(STORED_JOB, SENT_JOB) == STORED_JOB
    assert (SENT_JOB, STORED_JOB) == before  # inputs untouched


def test_plain_merge_patch_of_the_same_job_loses_defaults_in_lists():
    merged = apply_merge_patch(STORED_JOB, SENT_JOB)
    assert "imagePullPolicy" not in merged["spec"]["template"]["spec"]["containers"][0]


def test_smp_changes_one_container_field_and_keeps_the_rest():
    sent = copy.deepcopy(SENT_JOB)
    sent["spec"]["template"]["spec"]["containers"][0]["args"] = ["--nfft", "2048"]
    merged = apply_strategic_merge_patch(STORED_JOB, sent)
    container = merged["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["--nfft", "2048"]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["ports"] == [{"containerPort": 5000, "name": "grpc", "protocol": "TCP"}]


@pytest.mark.parametrize("path, key", [
    (("spec", "template", "spec", "containers"), "name"),
    (("spec", "containers"), "name"),
    (("spec", "initContainers", "env"), "name"),
    (("spec", "template", "spec", "containers", "ports"), "containerPort"),
    (("spec", "containers", "volumeMounts"), "mountPath"),
    (("spec", "containers", "volumeDevices"), "devicePath"),
    (("spec", "volumes"), "name"),
    (("spec", "imagePullSecrets"), "name"),
    (("spec", "schedulingGates"), "name"),
    (("spec", "ports"), "port"),
    (("metadata", "ownerReferences"), "uid"),
    (("metadata", "finalizers"), "<set>"),
    (("status", "conditions"), "type"),
    (("status", "addresses"), "type"),
    (("spec", "containers", "args"), None),
    (("spec", "tolerations"), None),
    (("spec", "finalizers"), None),
    ((), None),
])
def test_merge_keys_by_path(path, key):
    assert merge_key(path) == key


def test_service_ports_merge_by_port_keeping_node_port():
    live = {"spec": {"type": "NodePort", "ports": [
        {"port": 5000, "targetPort": 5000, "protocol": "TCP", "nodePort": 31234},
        {"port": 6000, "targetPort": 6000, "protocol": "TCP", "nodePort": 31235}]}}
    patch = {"spec": {"ports": [{"port": 5000, "targetPort": 5001}]}}
    merged = apply_strategic_merge_patch(live, patch)
    assert merged["spec"]["ports"] == [
        {"port": 5000, "targetPort": 5001, "protocol": "TCP", "nodePort": 31234},
        {"port": 6000, "targetPort": 6000, "protocol": "TCP", "nodePort": 31235}]


def test_new_list_items_go_before_remaining_server_only_items():
    live = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    merged = apply_strategic_merge_patch(live, {"spec": {"containers": [{"name": "c"}]}})
    assert [c["name"] for c in merged["spec"]["containers"]] == ["c", "a", "b"]
    merged = apply_strategic_merge_patch(live, {"spec": {"containers": [{"name": "b", "x": 1}]}})
    assert merged["spec"]["containers"] == [{"name": "a"}, {"name": "b", "x": 1}]


def test_patch_order_wins_for_items_in_the_patch():
    # mergeSortedSlice: a server-only item goes before the first patch item that followed it live.
    live = {"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}
    merged = apply_strategic_merge_patch(live, {"spec": {"containers": [{"name": "c"}, {"name": "a"}]}})
    assert [c["name"] for c in merged["spec"]["containers"]] == ["b", "c", "a"]
    merged = apply_strategic_merge_patch(live, {"spec": {"containers": [{"name": "a"}, {"name": "c"}]}})
    assert [c["name"] for c in merged["spec"]["containers"]] == ["a", "b", "c"]


def test_patch_delete_directive_in_list_and_map():
    live = {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}],
                     "affinity": {"nodeAffinity": {}}}}
    patch = {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "$patch": "delete"}]}],
                      "affinity": {"$patch": "delete"}}}
    merged = apply_strategic_merge_patch(live, patch)
    assert merged == {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]}}
    # a keyed list the live object lacks still drops directives
    merged = apply_strategic_merge_patch({"spec": {}}, {"spec": {"volumes": [{"name": "x", "$patch": "delete"},
                                                                               {"name": "y", "emptyDir": {}}]}})
    assert merged == {"spec": {"volumes": [{"name": "y", "emptyDir": {}}]}}


def test_patch_replace_directive_in_list_and_map():
    live = {"spec": {"volumes": [{"name": "a"}, {"name": "b"}],
                     "securityContext": {"runAsUser": 1, "fsGroup": 2}}}
    patch = {"spec": {"volumes": [{"$patch": "replace"}, {"name": "c"}],
                      "securityContext": {"$patch": "replace", "runAsUser": 3}}}
    merged = apply_strategic_merge_patch(live, patch)
    assert merged == {"spec": {"volumes": [{"name": "c"}], "securityContext": {"runAsUser": 3}}}
    # every item carrying a directive is pruned from a replaced list
    merged = apply_strategic_merge_patch(live, {"spec": {"volumes": [{"name": "a", "$patch": "replace"}, {"name": "d"}]}})
    assert merged["spec"]["volumes"] == [{"name": "d"}]


def test_retain_keys_drops_other_fields():
    live = {"spec": {"volumes": [{"name": "v", "hostPath": {"path": "/x"}}]}}
    patch = {"spec": {"volumes": [{"name": "v", "$retainKeys": ["name", "emptyDir"], "emptyDir": {}}]}}
    assert apply_strategic_merge_patch(live, patch) == {"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}}


def test_finalizers_merge_as_a_set_and_delete_from_primitive_list():
    live = {"metadata": {"finalizers": ["kubernetes.io/pvc-protection"]}}
    merged = apply_strategic_merge_patch(live, {"metadata": {"finalizers": ["orphan"]}})
    assert sorted(merged["metadata"]["finalizers"]) == ["kubernetes.io/pvc-protection", "orphan"]
    merged = apply_strategic_merge_patch(live, {"metadata": {"finalizers": ["kubernetes.io/pvc-protection"]}})
    assert merged["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    merged = apply_strategic_merge_patch(
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert merged == {"metadata": {"finalizers": ["b"]}}
    merged = apply_strategic_merge_patch(live, {"metadata": {"finalizers": None}})
    assert merged == {"metadata": {}}


def test_set_element_order_is_ignored():
    live = {"spec": {"containers": [{"name": "a", "image": "x"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "a", "image": "y"}]}}
    assert apply_strategic_merge_patch(live, patch) == {"spec": {"containers": [{"name": "a", "image": "y"}]}}


def test_owner_references_by_uid_and_conditions_by_type():
    live = {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]},
            "status": {"conditions": [{"type": "Ready", "status": "False"},
                                      {"type": "PodScheduled", "status": "True"}]}}
    patch = {"metadata": {"ownerReferences": [{"uid": "2", "$patch": "delete"}]},
             "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    merged = apply_strategic_merge_patch(live, patch)
    assert merged["metadata"]["ownerReferences"] == [{"uid": "1", "name": "a"}]
    assert merged["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                             {"type": "PodScheduled", "status": "True"}]


def test_non_keyed_lists_replace_and_nulls_delete():
    live = {"spec": {"containers": [{"name": "a", "args": ["1", "2"], "workingDir": "/x"}]}}
    patch = {"spec": {"containers": [{"name": "a", "args": ["3"], "workingDir": None}]}}
    assert apply_strategic_merge_patch(live, patch) == {"spec": {"containers": [{"name": "a", "args": ["3"]}]}}


def test_smp_errors():
    with pytest.raises(ApiError) as e:
        apply_strategic_merge_patch({}, [1])
    assert e.value.code == 400
    with pytest.raises(ApiError) as e:
        apply_strategic_merge_patch({"spec": {"containers": [{"name": "a"}]}},
                                    {"spec": {"containers": [{"image": "x"}]}})
    assert e.value.code == 400 and "merge key 'name'" in e.value.message
    with pytest.raises(ApiError):
        apply_strategic_merge_patch({}, {"spec": {"$patch": "explode"}})
    with pytest.raises(ApiError) as e:
        apply_strategic_merge_patch({}, {"spec": {"containers": [{"name": "a", "$patch": "merge"}]}})
    assert e.value.code == 400 and "spec.containers" in e.value.message


def test_merge_patch_rfc7386_examples():
    target = {"a": "b", "c": {"d": "e", "f": "g"}}
    patch = {"a": "z", "c": {"f": None}}
    assert apply_merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}}
    assert apply_merge_patch({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}
    assert apply_merge_patch({"a": "b"}, ["c"]) == ["c"]
    assert apply_merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert apply_merge_patch([1, 2], {"a": "b", "c": None}) == {"a": "b"}
    assert apply_merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}
    assert target == {"a": "b", "c": {"d": "e", "f": "g"}}


def test_json_patch_operations_and_failures():
    obj = {"metadata": {"labels": {"a": "1"}}, "spec": {"x": [1, 2]}}
    ops = [{"op": "add", "path": "/metadata/labels/b", "value": "2"},
           {"op": "remove", "path": "/metadata/labels/a"},
           {"op": "replace", "path": "/spec/x/0", "value": 9},
           {"op": "copy", "from": "/spec/x", "path": "/spec/y"},
           {"op": "move", "from": "/spec/y", "path": "/spec/z"},
           {"op": "test", "path": "/spec/z", "value": [9, 2]}]
    assert apply_json_patch(obj, ops) == {"metadata": {"labels": {"b": "2"}}, "spec": {"x": [9, 2], "z": [9, 2]}}
    assert obj == {"metadata": {"labels": {"a": "1"}}, "spec": {"x": [1, 2]}}
    for bad in ([{"op": "test", "path": "/spec/x", "value": []}],
                [{"op": "remove", "path": "/nope"}],
                [{"op": "frobnicate", "path": "/a"}],
                [{"path": "/a"}],
                {"op": "add"}):
        with pytest.raises(ApiError) as e:
            apply_json_patch(obj, bad)
        assert e.value.code == 422


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=10,
)
_objects = st.dictionaries(st.text(max_size=4), _json, max_size=4)


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_objects)
def test_merge_patch_with_itself_is_identity(obj):
    clean = _without_nulls(obj)
    assert apply_merge_patch(clean, clean) == clean


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_objects)
def test_smp_with_itself_is_identity(obj):
    clean = _without_nulls(obj)
    assert apply_strategic_merge_patch(clean, clean) == clean


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_objects, _objects)
def test_smp_equals_merge_patch_without_keyed_lists(obj, patch):
    # Random keys never hit a merge-key path, so SMP degrades to RFC 7386.
    assert apply_strategic_merge_patch(obj, patch) == apply_merge_patch(obj, patch)


def test_merge_keys_agree_with_kubernetes_core_for_our_kinds():
    apply = pytest.importorskip("ansible_collections.kubernetes.core.plugins.module_utils.apply")
    ours = {"Pod", "Job", "Service"}
    checked = 0
    for dotted, key in apply.STRATEGIC_MERGE_PATCH_KEYS.items():
        kind, *path = dotted.split(".")
        if kind not in ours:
            continue
        assert merge_key(tuple(path)) == key, dotted
        checked += 1
    assert checked == 2 * len(apply.POD_SPEC_SUFFIXES) + 1


@pytest.mark.parametrize("engine", [apply_strategic_merge_patch, apply_merge_patch])
def test_results_share_nothing_with_the_inputs(engine):
    live, sent = copy.deepcopy(STORED_JOB), copy.deepcopy(SENT_JOB)
    sent["spec"]["template"]["spec"]["containers"].append({"name": "extra", "image": "x", "args": ["a"]})
    before = copy.deepcopy((live, sent))
    merged = engine(live, sent)
    for container in merged["spec"]["template"]["spec"]["containers"]:
        container["env"] = container.get("env", []) + [{"name": "NEW"}]
        container.setdefault("args", []).append("mutated")
        container["resources"]["x"] = 1 if "resources" in container else container.setdefault("resources", {})
    merged["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] = "other"
    merged["metadata"]["labels"]["z"] = "z"
    merged["status"]["uncountedTerminatedPods"]["x"] = 1
    assert (live, sent) == before
