"""A cluster restart: pod processes stop with the cluster; pods that ran become Failed
(NodeRestart) and their Job fails (backoffLimit 0)."""

from __future__ import annotations

import psutil
import pytest

from localcluster.testing import running_cluster
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def test_pods_of_a_stopped_cluster_fail_with_node_restart(tmp_path):
    from kubernetes import client, config

    job = {"metadata": {"name": "sleeper"}, "spec": {"backoffLimit": 0, "template": {"spec": {
        "restartPolicy": "Never",
        "containers": [{"name": "c", "image": "python", "command": ["python", "-c", "import time; time.sleep(60)"]}]}}}}
    with running_cluster(tmp_path) as first:
        api = config.new_client_from_config(str(first.kubeconfig))
        try:
            client.BatchV1Api(api).create_namespaced_job("default", job)
            pod = wait_for("a running pod", lambda: next(
                (p for p in client.CoreV1Api(api).list_namespaced_pod("default").items if p.status.phase == "Running"),
                None))
            pids = (tmp_path / "pods.pids").read_text().split()
            assert len(pids) == 1
            leader = psutil.Process(int(pids[0]))
            assert leader.environ()["LOCALCLUSTER_POD_UID"] == pod.metadata.uid
        finally:
            api.close()
    try:
        assert not leader.is_running() or leader.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        pass  # gone between the two calls
    assert (tmp_path / "pods.pids").read_text() == ""
    with running_cluster(tmp_path) as second:
        api = config.new_client_from_config(str(second.kubeconfig))
        try:
            core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
            failed = wait_for("the pod to fail", lambda: (lambda p: p if p.status.phase == "Failed" else None)(
                core.read_namespaced_pod(pod.metadata.name, "default")))
            assert failed.status.reason == "NodeRestart"
            assert failed.status.container_statuses[0].state.terminated.exit_code == 137
            condition = wait_for("the job to fail", lambda: next(
                (c for c in batch.read_namespaced_job("sleeper", "default").status.conditions or []
                 if c.type == "Failed"), None))
            assert condition.reason == "BackoffLimitExceeded"
        finally:
            api.close()
