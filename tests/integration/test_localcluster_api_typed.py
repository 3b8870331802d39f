"""Conformance of the local cluster with the real kubernetes Python client (typed and dynamic):
the §0 traps, §3 paths and codes, §4 selectors, §5 content types, §6 write semantics, §11 shapes."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError

pytestmark = pytest.mark.integration
NS = "spectrojobs"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def raw(cluster: Any, method: str, path: str, body: Any = None,
        content_type: str | None = "application/json") -> tuple[int, dict[str, str], Any]:
    """One request on a fresh connection: (status, headers, decoded JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", cluster.port, timeout=10)
    try:
        payload = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if content_type else {}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if not (response.getheader("Content-Type") or "").startswith("application/json"):
            return response.status, dict(response.headers), data.decode()
        return response.status, dict(response.headers), json.loads(data) if data else None
    finally:
        conn.close()


def pod_body(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A pod no controller touches: no scheduler serves its schedulerName, so it stays unbound."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}],
                     "schedulerName": "no-scheduler"}}


def job_body(name: str, command: list[str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"suspend": True, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox:1.36", "command": command or ["true"]}]}}}}


def test_discovery_documents_satisfy_the_clients(cluster):
    _, _, version = raw(cluster, "GET", "/version")
    assert set(version) >= {"major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate",
                            "goVersion", "compiler", "platform"}
    _, _, groups = raw(cluster, "GET", "/apis")
    for group in groups["groups"]:
        assert group["preferredVersion"] in group["versions"]
    _, _, core = raw(cluster, "GET", "/api/v1")
    names = {r["name"]: r for r in core["resources"]}
    assert {"pods/status", "pods/log", "pods/binding", "nodes/status", "persistentvolumeclaims/status"} <= set(names)
    assert names["pods"]["singularName"] == "pod" and names["pods"]["shortNames"] == ["po"]
    _, _, metrics = raw(cluster, "GET", "/apis/metrics.k8s.io/v1beta1")
    assert {(r["name"], r["kind"], r["singularName"]) for r in metrics["resources"]} == {
        ("pods", "PodMetrics", ""), ("nodes", "NodeMetrics", "")}
    assert raw(cluster, "GET", "/healthz")[2] == "ok"
    status, _, missing = raw(cluster, "GET", "/apis/nope/v1")
    assert status == 404 and missing["message"] == "the server could not find the requested resource"


def test_crud_and_label_and_field_selectors(k8s_api):
    core = client.CoreV1Api(k8s_api)
    tag = unique("sel")
    for name, tier in ((f"{tag}-a", "web"), (f"{tag}-b", "db"), (f"{tag}-c", None)):
        labels = {"set": tag, **({"tier": tier} if tier else {})}
        core.create_namespaced_pod(NS, pod_body(name, labels))

    def names(**kwargs: Any) -> list[str]:
        return sorted(p.metadata.name for p in core.list_namespaced_pod(NS, **kwargs).items)

    assert names(label_selector=f"set={tag},tier in (web,db)") == [f"{tag}-a", f"{tag}-b"]
    assert names(label_selector=f"set=={tag},tier!=web") == [f"{tag}-b", f"{tag}-c"]
    assert names(label_selector=f"set={tag},tier notin (db)") == [f"{tag}-a", f"{tag}-c"]
    assert names(label_selector=f"set={tag},!tier") == [f"{tag}-c"]
    assert names(label_selector=f"set={tag}", field_selector=f"metadata.name={tag}-b,status.phase=Pending") == [
        f"{tag}-b"]
    assert names(label_selector=f"set={tag}", field_selector=f"metadata.name!={tag}-b") == [f"{tag}-a", f"{tag}-c"]
    with pytest.raises(ApiException) as bad:
        core.list_namespaced_pod(NS, field_selector="spec.foo=1")
    assert bad.value.status == 400 and "field label not supported: spec.foo" in bad.value.body
    with pytest.raises(ApiException) as bad_label:
        core.list_namespaced_pod(NS, label_selector="a in (b")
    assert bad_label.value.status == 400
    listed = core.list_pod_for_all_namespaces(label_selector=f"set={tag}")
    assert len(listed.items) == 3 and int(listed.metadata.resource_version) > 0
    assert core.list_namespaced_pod("no-such-namespace").items == []


def test_no_op_patch_keeps_resource_version_trap_1(k8s_api):
    coordination = client.CoordinationV1Api(k8s_api)
    name = unique("noop")
    created = coordination.create_namespaced_lease(NS, {"metadata": {"name": name, "labels": {"a": "1"}},
                                                        "spec": {"holderIdentity": "x"}})
    same = coordination.patch_namespaced_lease(name, NS, {"metadata": {"labels": {"a": "1"}}})
    assert same.metadata.resource_version == created.metadata.resource_version
    assert same.metadata.managed_fields == created.metadata.managed_fields
    replaced = coordination.replace_namespaced_lease(name, NS, same)
    assert replaced.metadata.resource_version == created.metadata.resource_version
    changed = coordination.patch_namespaced_lease(name, NS, {"metadata": {"labels": {"a": "2"}}})
    assert int(changed.metadata.resource_version) > int(created.metadata.resource_version)
    core = client.CoreV1Api(k8s_api)  # a pod sent back whole as a strategic merge patch (Ansible's way)
    core.create_namespaced_pod(NS, pod_body(name, {"a": "1"}))
    current = k8s_api.sanitize_for_serialization(core.read_namespaced_pod(name, NS))
    again = core.patch_namespaced_pod(name, NS, pod_body(name, {"a": "1"}))
    assert again.metadata.resource_version == current["metadata"]["resourceVersion"]


def test_delete_options_body_wins_over_query_trap_2(k8s_api):
    batch = client.BatchV1Api(k8s_api)
    name = unique("job")
    batch.create_namespaced_job(NS, job_body(name))
    _, code, headers = batch.delete_namespaced_job_with_http_info(
        name, NS, propagation_policy="Orphan", body=client.V1DeleteOptions(propagation_policy="Background"))
    assert code == 200 and "Warning" not in headers
    with pytest.raises(ApiException) as gone:
        batch.read_namespaced_job(name, NS)
    assert gone.value.status == 404


def test_job_delete_defaults_to_orphan_with_warning_trap_3(cluster, k8s_api):
    batch = client.BatchV1Api(k8s_api)
    name = unique("job")
    batch.create_namespaced_job(NS, job_body(name))
    status, headers, body = raw(cluster, "DELETE", f"/apis/batch/v1/namespaces/{NS}/jobs/{name}", None, None)
    assert status == 200
    assert "child pods are preserved by default when jobs are deleted" in headers["Warning"]
    assert headers["Warning"].startswith('299 - "')
    assert body["kind"] == "Job" and "orphan" in body["metadata"]["finalizers"]
    assert body["metadata"]["deletionTimestamp"]  # the GC then orphans the pods and drops the finalizer


def test_delete_bodies_per_kind_trap_4(k8s_api):
    core = client.CoreV1Api(k8s_api)
    coordination = client.CoordinationV1Api(k8s_api)
    name = unique("del")
    core.create_namespaced_pod(NS, pod_body(name))
    core.create_namespaced_service(NS, {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}})
    core.create_namespaced_persistent_volume_claim(NS, {"metadata": {"name": name}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    coordination.create_namespaced_lease(NS, {"metadata": {"name": name}, "spec": {"holderIdentity": "x"}})
    assert isinstance(core.delete_namespaced_pod(name, NS), client.V1Pod)
    assert isinstance(core.delete_namespaced_service(name, NS), client.V1Service)
    pvc = core.delete_namespaced_persistent_volume_claim(name, NS)
    assert isinstance(pvc, client.V1PersistentVolumeClaim)
    status = coordination.delete_namespaced_lease(name, NS)  # the client hands a Status back as a dict
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["kind"] == "leases" and status["details"]["group"] == "coordination.k8s.io"


def test_lease_rules_trap_5(k8s_api):
    coordination = client.CoordinationV1Api(k8s_api)
    name = unique("lease")
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = client.V1Lease(metadata=client.V1ObjectMeta(name=name), spec=client.V1LeaseSpec(
        holder_identity="a", lease_duration_seconds=15, acquire_time=now, renew_time=now))
    created = coordination.create_namespaced_lease(NS, body)
    assert created.spec.renew_time == now
    with pytest.raises(ApiException) as exists:
        coordination.create_namespaced_lease(NS, body)
    assert exists.value.status == 409 and json.loads(exists.value.body)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as unversioned:
        coordination.replace_namespaced_lease(name, NS, body)
    assert unversioned.value.status == 422
    assert "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update" in unversioned.value.body
    created.spec.holder_identity = "b"
    renewed = coordination.replace_namespaced_lease(name, NS, created)
    with pytest.raises(ApiException) as stale:
        coordination.replace_namespaced_lease(name, NS, created)
    assert stale.value.status == 409
    assert json.loads(stale.value.body)["message"] == (
        f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again")
    assert renewed.spec.holder_identity == "b"


def test_lease_micro_time_is_emitted_with_six_digits(cluster, k8s_api):
    coordination = client.CoordinationV1Api(k8s_api)
    name = unique("lease")
    coordination.create_namespaced_lease(NS, {"metadata": {"name": name}, "spec": {
        "holderIdentity": "a", "renewTime": "2026-01-02T03:04:05+00:00"}})
    _, _, body = raw(cluster, "GET", f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{name}")
    assert body["spec"]["renewTime"] == "2026-01-02T03:04:05.000000Z"
    assert body["metadata"]["creationTimestamp"].endswith("Z") and "." not in body["metadata"]["creationTimestamp"]


def test_job_template_is_immutable_trap_6(k8s_api):
    batch = client.BatchV1Api(k8s_api)
    name = unique("job")
    batch.create_namespaced_job(NS, job_body(name, ["true"]))
    with pytest.raises(ApiException) as e:
        batch.patch_namespaced_job(name, NS, {"spec": {"template": {"spec": {
            "containers": [{"name": "c", "command": ["false"]}]}}}})
    assert e.value.status == 422 and json.loads(e.value.body)["reason"] == "Invalid"
    batch.delete_namespaced_job(name, NS, propagation_policy="Background")


def test_job_defaults_and_generate_name(k8s_api):
    batch = client.BatchV1Api(k8s_api)
    job = batch.create_namespaced_job(NS, {**job_body(""), "metadata": {"generateName": "gen-"}})
    assert job.metadata.name.startswith("gen-") and len(job.metadata.name) == 9
    assert job.metadata.generation == 1 and job.spec.backoff_limit == 6
    assert job.spec.completions == 1 and job.spec.parallelism == 1
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.spec.template.metadata.labels["job-name"] == job.metadata.name
    batch.delete_namespaced_job(job.metadata.name, NS, propagation_policy="Background")


def test_paths_and_checks_of_section_3(cluster):
    base = f"/api/v1/namespaces/{NS}/pods"
    status, _, body = raw(cluster, "POST", "/api/v1/namespaces/absent-ns/pods", pod_body("x"))
    assert status == 404 and body["message"] == 'namespaces "absent-ns" not found'
    other = {**pod_body("x"), "metadata": {"name": "x", "namespace": "default"}}
    assert raw(cluster, "POST", base, other)[0] == 400
    name = unique("p")
    assert raw(cluster, "POST", base, pod_body(name))[0] == 201
    assert raw(cluster, "POST", f"{base}/{name}", pod_body(name))[0] == 405
    assert raw(cluster, "PUT", f"{base}/{name}", pod_body("other-name"))[0] == 400
    status, _, body = raw(cluster, "GET", f"{base}/absent")
    assert status == 404 and body["details"] == {"name": "absent", "kind": "pods"}
    status, _, body = raw(cluster, "GET", f"/apis/batch/v1/namespaces/{NS}/jobs/absent")
    assert body["message"] == 'jobs.batch "absent" not found' and body["details"]["group"] == "batch"
    assert raw(cluster, "PATCH", f"{base}/{name}", {"a": 1}, "text/plain")[0] == 415
    assert raw(cluster, "POST", f"{base}?dryRun=Some", pod_body("y"))[0] == 400
    assert raw(cluster, "GET", f"{base}/{name}/binding")[0] == 405
    assert raw(cluster, "GET", f"{base}/{name}/status")[2]["metadata"]["name"] == name


def test_dry_run_creates_nothing_and_bumps_nothing(cluster, k8s_api):
    core = client.CoreV1Api(k8s_api)
    name = unique("dry")
    before = core.list_namespaced_pod(NS).metadata.resource_version
    status, _, body = raw(cluster, "POST", f"/api/v1/namespaces/{NS}/pods?dryRun=All", pod_body(name))
    assert status == 201 and body["spec"]["restartPolicy"] == "Always" and body["metadata"]["uid"]
    assert core.list_namespaced_pod(NS).metadata.resource_version == before
    with pytest.raises(ApiException):
        core.read_namespaced_pod(name, NS)


def test_status_subresource_and_patch_types(cluster, k8s_api):
    core = client.CoreV1Api(k8s_api)
    name = unique("st")
    core.create_namespaced_pod(NS, pod_body(name))
    path = f"/api/v1/namespaces/{NS}/pods/{name}"
    core.patch_namespaced_pod_status(name, NS, {"status": {"phase": "Running"}})
    ignored = core.patch_namespaced_pod(name, NS, {"status": {"phase": "Failed"}})
    assert ignored.status.phase == "Running"
    json_patched = core.patch_namespaced_pod(name, NS, [{"op": "add", "path": "/metadata/labels", "value": {"j": "p"}}])
    assert json_patched.metadata.labels == {"j": "p"}
    status, _, failed = raw(cluster, "PATCH", path, [{"op": "test", "path": "/metadata/name", "value": "x"}],
                            "application/json-patch+json")
    assert status == 422
    status, _, merged = raw(cluster, "PATCH", path, {"metadata": {"labels": {"j": None, "m": "1"}}},
                            "application/merge-patch+json")
    assert status == 200 and merged["metadata"]["labels"] == {"m": "1"}
    status, _, smp = raw(cluster, "PATCH", path, {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}},
                         "application/strategic-merge-patch+json")
    assert status == 200 and smp["spec"]["containers"][0]["command"] == ["sleep", "3600"]


def test_apply_patch_creates_with_201_and_needs_field_manager(cluster):
    name = unique("ssa")
    path = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{name}"
    body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": "a"}}
    assert raw(cluster, "PATCH", path, body, "application/apply-patch+yaml")[0] == 400
    status, _, created = raw(cluster, "PATCH", f"{path}?fieldManager=t&force=false", body,
                             "application/apply-patch+yaml")
    assert status == 201 and created["metadata"]["managedFields"][0]["manager"] == "t"
    status, _, again = raw(cluster, "PATCH", f"{path}?fieldManager=t&force=false", body,
                           "application/apply-patch+yaml")
    assert status == 200 and again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    status, _, _ = raw(cluster, "PATCH", path, {"spec": {"holderIdentity": "edited"}}, "application/merge-patch+json")
    assert status == 200  # another manager (no User-Agent: "unknown") now owns spec.holderIdentity
    change = {**body, "spec": {"holderIdentity": "b"}}
    status, _, conflict = raw(cluster, "PATCH", f"{path}?fieldManager=t&force=false", change,
                              "application/apply-patch+yaml")
    assert status == 409 and conflict["reason"] == "Conflict"
    assert conflict["message"].startswith("Apply failed with 1 conflict: conflict with ")
    assert conflict["message"].endswith(": .spec.holderIdentity")
    assert conflict["details"]["causes"][0]["type"] == "FieldManagerConflict"
    status, _, forced = raw(cluster, "PATCH", f"{path}?fieldManager=t&force=true", change,
                            "application/apply-patch+yaml")
    assert status == 200 and forced["spec"]["holderIdentity"] == "b"
    owners = {e["manager"]: e["fieldsV1"] for e in forced["metadata"]["managedFields"]}
    assert owners["t"] == {"f:spec": {"f:holderIdentity": {}}} and len(owners) == 1


def test_service_allocation_errors_have_the_real_shape(k8s_api):
    core = client.CoreV1Api(k8s_api)
    first = unique("svc")
    created = core.create_namespaced_service(NS, {"metadata": {"name": first}, "spec": {
        "type": "NodePort", "ports": [{"port": 80}]}})
    port = created.spec.ports[0].node_port
    assert 30000 <= port <= 32767 and created.spec.ports[0].target_port == 80
    assert created.spec.cluster_ip.startswith("10.") and created.spec.cluster_ips == [created.spec.cluster_ip]
    second = unique("svc")
    with pytest.raises(ApiException) as taken:  # cluster-wide: another namespace cannot take it
        core.create_namespaced_service("default", {"metadata": {"name": second}, "spec": {
            "type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}})
    body = json.loads(taken.value.body)
    assert taken.value.status == 422
    assert body["message"] == (f'Service "{second}" is invalid: spec.ports[0].nodePort: Invalid value: {port}: '
                               "provided port is already allocated")
    assert body["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "spec.ports[0].nodePort",
                                          "message": f"Invalid value: {port}: provided port is already allocated"}]
    kept = core.patch_namespaced_service(first, NS, {"metadata": {"labels": {"x": "y"}}})
    assert kept.spec.ports[0].node_port == port and kept.spec.cluster_ip == created.spec.cluster_ip
    core.delete_namespaced_service(first, NS)
    reused = core.create_namespaced_service("default", {"metadata": {"name": second}, "spec": {
        "type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}})
    assert reused.spec.ports[0].node_port == port
    core.delete_namespaced_service(second, "default")


def test_nodes_and_namespaces_are_complete_for_the_typed_client(k8s_api):
    core = client.CoreV1Api(k8s_api)
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease", NS} <= names
    for node in core.list_node().items:  # deserialises every required field, or raises
        assert node.status.node_info.kubelet_version


def test_metrics_api_lists_and_404s(cluster, k8s_api):
    custom = client.CustomObjectsApi(k8s_api)
    listed = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", NS, "pods")
    assert listed["kind"] == "PodMetricsList" and isinstance(listed["items"], list)
    with pytest.raises(ApiException) as missing:
        custom.get_namespaced_custom_object("metrics.k8s.io", "v1beta1", NS, "pods", "absent")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["message"] == f'podmetrics.metrics.k8s.io "{NS}/absent" not found'
    assert raw(cluster, "GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods?watch=true")[0] == 405


def test_dynamic_client_crud_conflict_and_watch(k8s_api):
    dynamic = DynamicClient(k8s_api)
    leases = dynamic.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
    name = unique("dyn")
    created = leases.create(body={"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                  "metadata": {"name": name}, "spec": {"holderIdentity": "a"}}, namespace=NS)
    with pytest.raises(ConflictError):
        leases.create(body=created.to_dict(), namespace=NS)
    patched = leases.patch(name=name, namespace=NS, body={"spec": {"holderIdentity": "b"}},
                           content_type="application/merge-patch+json")
    assert patched.spec.holderIdentity == "b"
    jobs = dynamic.resources.get(api_version="batch/v1", kind="Job")
    assert jobs.get().kind == "JobList"  # every namespace
    events = [e["type"] for e in leases.watch(namespace=NS, field_selector=f"metadata.name={name}", timeout=1)]
    assert events == ["ADDED"]
    leases.delete(name=name, namespace=NS)
    with pytest.raises(NotFoundError):
        leases.get(name=name, namespace=NS)


def test_binding_logs_and_delete_collection(k8s_api):
    core = client.CoreV1Api(k8s_api)
    name = unique("bind")
    core.create_namespaced_pod(NS, pod_body(name))
    core.create_namespaced_pod_binding(name, NS, {"metadata": {"name": name},
                                                  "target": {"kind": "Node", "name": "elsewhere"}},
                                       _preload_content=False).release_conn()
    assert core.read_namespaced_pod(name, NS).spec.node_name == "elsewhere"
    with pytest.raises(ApiException) as twice:
        core.create_namespaced_pod_binding(name, NS, {"metadata": {"name": name}, "target": {"name": "n2"}})
    assert twice.value.status == 409
    core.delete_namespaced_pod(name, NS, grace_period_seconds=0)

    talker = unique("log")
    core.create_namespaced_pod(NS, {"metadata": {"name": talker}, "spec": {"restartPolicy": "Never", "containers": [
        {"name": "c", "image": "python:3.11", "command": ["python", "-c", "print('hello from the pod')"]}]}})
    deadline = time.monotonic() + 30
    while core.read_namespaced_pod(talker, NS).status.phase != "Succeeded":
        assert time.monotonic() < deadline, "the pod did not succeed in 30 s"
        time.sleep(0.2)
    assert core.read_namespaced_pod_log(talker, NS) == "hello from the pod\n"
    with pytest.raises(ApiException) as wrong:
        core.read_namespaced_pod_log(talker, NS, container="nope")
    assert wrong.value.status == 400

    coordination = client.CoordinationV1Api(k8s_api)
    batch_tag = unique("coll")
    for i in range(3):
        coordination.create_namespaced_lease(NS, {"metadata": {"name": f"{batch_tag}-{i}", "labels": {"b": batch_tag}},
                                                  "spec": {"holderIdentity": "x"}})
    coordination.delete_collection_namespaced_lease(NS, label_selector=f"b={batch_tag}")
    assert coordination.list_namespaced_lease(NS, label_selector=f"b={batch_tag}").items == []


def test_namespace_deletion_cascades_through_running_pods(k8s_api):
    core = client.CoreV1Api(k8s_api)
    batch = client.BatchV1Api(k8s_api)
    ns = unique("nsdel")
    core.create_namespace({"metadata": {"name": ns}})
    batch.create_namespaced_job(ns, {"metadata": {"name": "j"}, "spec": {"template": {"spec": {
        "restartPolicy": "Never", "terminationGracePeriodSeconds": 2,
        "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "300"]}]}}}})
    core.create_namespaced_service(ns, {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}})
    leases = client.CoordinationV1Api(k8s_api)  # a finalizer holds the namespace until we drop it
    leases.create_namespaced_lease(ns, {"metadata": {"name": "held", "finalizers": ["test.local/hold"]},
                                        "spec": {"holderIdentity": "x"}})
    deadline = time.monotonic() + 30
    while not [p for p in core.list_namespaced_pod(ns).items if p.status.phase == "Running"]:
        assert time.monotonic() < deadline, "the job's pod did not start"
        time.sleep(0.2)
    terminating = core.delete_namespace(ns)
    assert terminating["status"]["phase"] == "Terminating"
    with pytest.raises(ApiException) as closed:
        core.create_namespaced_service(ns, {"metadata": {"name": "late"}, "spec": {"ports": [{"port": 80}]}})
    assert closed.value.status == 403
    assert leases.read_namespaced_lease("held", ns).metadata.deletion_timestamp is not None
    deadline = time.monotonic() + 30
    while core.list_namespaced_pod(ns).items or core.list_namespaced_service(ns).items:
        assert time.monotonic() < deadline, "the namespace's pods and services were not deleted"
        time.sleep(0.2)
    assert core.read_namespace(ns).status.phase == "Terminating"
    leases.patch_namespaced_lease("held", ns, {"metadata": {"finalizers": None}})
    deadline = time.monotonic() + 30
    while True:
        try:
            core.read_namespace(ns)
        except ApiException as e:
            assert e.status == 404
            break
        assert time.monotonic() < deadline, f"namespace still there: {core.list_namespaced_pod(ns).items}"
        time.sleep(0.2)


def test_the_python_lease_lock_of_leader_election(k8s_api):
    from kubernetes.leaderelection.leaderelectionrecord import LeaderElectionRecord
    from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

    name = unique("lock")
    locks = []
    for identity in ("a", "b"):
        lock = LeaseLock(name, NS, identity)
        lock.api_instance = client.CoordinationV1Api(k8s_api)
        locks.append(lock)
    first, second = locks
    now = str(datetime.now().replace(microsecond=0))  # no fraction: the MicroTime edge of §6
    assert first.create(name, NS, LeaderElectionRecord("a", "15", now, now)) is True
    assert second.create(name, NS, LeaderElectionRecord("b", "15", now, now)) is False  # 409 → lost
    found, record = second.get(name, NS)
    assert found and record.holder_identity == "a" and record.lease_duration == "15"
    later = str(datetime.now().replace(microsecond=0) + timedelta(seconds=5))
    assert first.update(name, NS, LeaderElectionRecord("a", "15", now, later)) is True  # renew
    assert second.update(name, NS, LeaderElectionRecord("b", "15", now, now)) is False  # stale → 409
    found, record = first.get(name, NS)
    assert record.holder_identity == "a"


def test_follow_streams_the_log_until_the_container_ends(k8s_api):
    core = client.CoreV1Api(k8s_api)
    name = unique("follow")
    core.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": {"restartPolicy": "Never", "containers": [
        {"name": "c", "image": "python:3.11",
         "command": ["python", "-u", "-c", "import time; print('one'); time.sleep(1.5); print('two')"]}]}})
    deadline = time.monotonic() + 30
    while core.read_namespaced_pod(name, NS).status.phase == "Pending":
        assert time.monotonic() < deadline, "the pod did not start"
        time.sleep(0.1)
    response = core.read_namespaced_pod_log(name, NS, follow=True, _preload_content=False)
    try:
        text = b"".join(response.stream(64)).decode()
    finally:
        response.release_conn()
    assert text == "one\ntwo\n"


def test_delete_answers_202_when_dependents_are_not_orphaned_and_the_object_stays(cluster, k8s_api):
    name = unique("held")
    leases = client.CoordinationV1Api(k8s_api)
    leases.create_namespaced_lease(NS, {"metadata": {"name": name, "finalizers": ["test.local/hold"]},
                                        "spec": {"holderIdentity": "x"}})
    path = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{name}"
    status, _, body = raw(cluster, "DELETE", path, {"kind": "DeleteOptions", "apiVersion": "v1",
                                                    "orphanDependents": False})
    assert status == 202 and body["metadata"]["deletionTimestamp"]
    status, _, again = raw(cluster, "DELETE", path, None, None)  # already terminating: the object, 200
    assert status == 200 and again["metadata"]["name"] == name
    status, _, wrong = raw(cluster, "DELETE", path, {"preconditions": {"uid": "not-it"}})
    assert status == 409 and wrong["message"].startswith(
        f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}": Precondition failed: UID')
    leases.patch_namespaced_lease(name, NS, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as gone:
        leases.read_namespaced_lease(name, NS)
    assert gone.value.status == 404
