"""The real kubernetes.core modules against the local cluster, through ansible-runner (§10 rows).

One playbook with many tasks (each module task costs ~2 s); every task is checked from Python.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.integration
NS = "spectrojobs"
K8S = "kubernetes.core.k8s"
INFO = "kubernetes.core.k8s_info"


def job(name: str, command: list[str], labels: dict[str, str], suspend: bool = False) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"suspend": suspend, "backoffLimit": 0, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox:1.36", "command": command}]}}}}


def lease(name: str, labels: dict[str, str], holder: str = "a") -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 30}}


def service(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [{"port": 5000, "name": "grpc"}]}}


def no_idempotence_warning(result: dict[str, Any]) -> bool:
    return not any("may not be idempotent" in w for w in result["res"].get("warnings") or [])


def test_kubernetes_core_modules_behave_as_against_a_real_cluster(run_tasks, k8s_api):
    tag = uuid.uuid4().hex[:6]
    labels = {"suite": f"ans-{tag}"}
    idle_job = job(f"idle-{tag}", ["sleep", "600"], labels, suspend=True)
    quick_job = job(f"quick-{tag}", ["python", "-c", "print('done')"], labels)
    svc = service(f"svc-{tag}", labels)
    tasks: list[dict[str, Any]] = [
        {"name": "cluster info", K8S.replace("k8s", "k8s_cluster_info"): {}},
        {"name": "create job", K8S: {"state": "present", "definition": idle_job}},
        {"name": "same job again", K8S: {"state": "present", "definition": idle_job}},
        {"name": "relabel job", K8S: {"state": "present", "definition": {
            **idle_job, "metadata": {**idle_job["metadata"], "labels": {**labels, "extra": "1"}}}}},
        {"name": "change job command", K8S: {"state": "present", "definition": job(
            f"idle-{tag}", ["sleep", "1"], {**labels, "extra": "1"}, suspend=True)}, "ignore_errors": True},
        {"name": "check mode lease", K8S: {"state": "present", "definition": lease(f"cm-{tag}", labels)},
         "check_mode": True},
        {"name": "apply lease", K8S: {"state": "present", "apply": True, "definition": lease(f"ap-{tag}", labels)}},
        {"name": "apply lease again", K8S: {"state": "present", "apply": True,
                                            "definition": lease(f"ap-{tag}", labels)}},
        {"name": "apply lease change", K8S: {"state": "present", "apply": True,
                                             "definition": lease(f"ap-{tag}", labels, holder="b")}},
        {"name": "ssa service", K8S: {"state": "present", "definition": svc,
                                      "server_side_apply": {"field_manager": "ansible"}}},
        {"name": "ssa service again", K8S: {"state": "present", "definition": svc,
                                            "server_side_apply": {"field_manager": "ansible"}}},
        {"name": "force service", K8S: {"state": "present", "force": True, "definition": svc}},
        {"name": "info by labels and fields", INFO: {
            "kind": "Lease", "namespace": NS, "label_selectors": [f"suite=ans-{tag}"],
            "field_selectors": [f"metadata.name=ap-{tag}"]}},
        {"name": "info with unsupported field", INFO: {
            "kind": "Lease", "namespace": NS, "field_selectors": ["spec.holderIdentity=b"]}},
        {"name": "run job and wait", K8S: {
            "state": "present", "definition": quick_job, "wait": True, "wait_sleep": 1, "wait_timeout": 60,
            "wait_condition": {"type": "Complete", "status": "True"}}},
        {"name": "info job with wait", INFO: {
            "kind": "Job", "namespace": NS, "label_selectors": [f"suite=ans-{tag}"],
            "field_selectors": [f"metadata.name=quick-{tag}", "status.successful=1"], "wait": True,
            "wait_sleep": 1, "wait_timeout": 30, "wait_condition": {"type": "Complete", "status": "True"}}},
        {"name": "delete job foreground and wait", K8S: {
            "state": "absent", "kind": "Job", "namespace": NS, "name": f"quick-{tag}", "wait": True,
            "wait_sleep": 1, "wait_timeout": 60, "delete_options": {"propagationPolicy": "Foreground"}}},
        {"name": "delete idle job default policy and wait", K8S: {
            "state": "absent", "kind": "Job", "namespace": NS, "name": f"idle-{tag}", "wait": True,
            "wait_sleep": 1, "wait_timeout": 60}},
        {"name": "delete leases by label", K8S: {
            "state": "absent", "kind": "Lease", "namespace": NS, "label_selectors": [f"suite=ans-{tag}"]}},
        {"name": "namespace with leases", K8S: {"state": "present", "definition": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"all-{tag}"}},
            {**lease("x1", {}), "metadata": {"name": "x1", "namespace": f"all-{tag}"}},
            {**lease("x2", {}), "metadata": {"name": "x2", "namespace": f"all-{tag}"}}]}},
        {"name": "delete all leases", K8S: {"state": "absent", "kind": "Lease", "namespace": f"all-{tag}",
                                            "delete_all": True}},
        {"name": "delete namespace", K8S: {"state": "absent", "kind": "Namespace", "name": f"all-{tag}",
                                           "wait": True, "wait_sleep": 1}},
        {"name": "delete service", K8S: {"state": "absent", "definition": svc, "wait": True, "wait_sleep": 1}},
        {"name": "delete service again", K8S: {"state": "absent", "definition": svc}},
    ]
    run = run_tasks(tasks)
    result = run.result
    failed = [r["task"] for r in run.results if r["status"] == "failed"]
    assert failed == ["change job command"], run.stdout[-4000:]

    info = result("cluster info")["res"]
    assert info["version"]["server"]["kubernetes"]["gitVersion"].startswith("v1.")
    assert "batch/v1" in info["apis"] and "coordination.k8s.io/v1" in info["apis"]

    assert result("create job")["res"]["changed"] is True
    again = result("same job again")
    assert again["res"]["changed"] is False and no_idempotence_warning(again)
    assert result("relabel job")["res"]["changed"] is True
    immutable = result("change job command")["res"]
    assert "field is immutable" in immutable["msg"] or "422" in str(immutable.get("status", immutable["msg"]))

    assert result("check mode lease")["res"]["changed"] is True

    assert result("apply lease")["res"]["changed"] is True
    apply_again = result("apply lease again")
    assert apply_again["res"]["changed"] is False and no_idempotence_warning(apply_again)
    assert result("apply lease change")["res"]["result"]["spec"]["holderIdentity"] == "b"

    assert result("ssa service")["res"]["changed"] is True
    ssa_again = result("ssa service again")
    assert ssa_again["res"]["changed"] is False and no_idempotence_warning(ssa_again)
    node_port = result("ssa service")["res"]["result"]["spec"]["ports"][0]["nodePort"]
    assert result("force service")["res"]["result"]["spec"]["ports"][0]["nodePort"] == node_port

    [found] = result("info by labels and fields")["res"]["resources"]
    assert found["metadata"]["name"] == f"ap-{tag}"
    assert result("info with unsupported field")["res"]["resources"] == []

    waited = result("run job and wait")["res"]
    conditions = {c["type"]: c["status"] for c in waited["result"]["status"]["conditions"]}
    assert conditions["Complete"] == "True" and waited["result"]["status"]["succeeded"] == 1
    [info_job] = result("info job with wait")["res"]["resources"]
    assert info_job["metadata"]["name"] == f"quick-{tag}"

    assert result("delete job foreground and wait")["res"]["changed"] is True
    assert result("delete idle job default policy and wait")["res"]["changed"] is True
    assert result("delete leases by label")["res"]["changed"] is True
    assert result("namespace with leases")["res"]["changed"] is True
    assert result("delete all leases")["res"]["changed"] is True
    assert result("delete namespace")["res"]["changed"] is True
    assert result("delete service")["res"]["changed"] is True
    assert result("delete service again")["res"]["changed"] is False

    core = client.CoreV1Api(k8s_api)  # what the playbook left behind, read with the typed client
    with pytest.raises(ApiException) as check_mode_left_nothing:
        client.CoordinationV1Api(k8s_api).read_namespaced_lease(f"cm-{tag}", NS)
    assert check_mode_left_nothing.value.status == 404
    assert client.CoordinationV1Api(k8s_api).list_namespaced_lease(
        NS, label_selector=f"suite=ans-{tag}").items == []
    assert core.list_namespaced_pod(NS, label_selector=f"job-name=quick-{tag}").items == []
