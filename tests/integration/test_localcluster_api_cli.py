"""`spectrojobs cluster up|status|down` end to end, and what survives a restart."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.waiting import wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spectrojobs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glue.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def processes_mentioning(text: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(text in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_cluster_up_serves_the_client_and_down_leaves_no_process(tmp_path):
    state_dir = tmp_path / "cluster"
    port = str(free_port())
    up = spectrojobs("cluster", "up", "--port", port, "--state-dir", str(state_dir), "--gpus", "1",
                     "--gpus-shared", "2")
    try:
        assert up.returncode == 0, up.stderr
        kubeconfig = Path(up.stdout.strip().splitlines()[-1])
        assert kubeconfig == state_dir / "kubeconfig" and f"127.0.0.1:{port}" in kubeconfig.read_text()
        assert spectrojobs("cluster", "status", "--state-dir", str(state_dir)).returncode == 0

        marker = f"lc-{uuid.uuid4().hex[:8]}"
        with config.new_client_from_config(config_file=str(kubeconfig)) as api:
            core = client.CoreV1Api(api)
            [node] = core.list_node().items
            assert node.status.capacity["nvidia.com/gpu"] == "1"
            core.create_namespaced_pod("default", {"metadata": {"name": "sleeper"}, "spec": {
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "python:3.11",
                                "command": ["python", "-c", "import time; time.sleep(300)", marker]}]}})
            wait_for("the pod to run",
                     lambda: core.read_namespaced_pod("sleeper", "default").status.phase == "Running")
        assert processes_mentioning(marker), "the pod's process should be running"
    finally:
        down = spectrojobs("cluster", "down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert processes_mentioning(str(state_dir)) == []
    wait_for("the pod process to go", lambda: processes_mentioning(marker) == [], timeout=10)
    assert spectrojobs("cluster", "status", "--state-dir", str(state_dir)).returncode == 1


def test_objects_and_revision_survive_a_restart_but_old_watches_get_410(tmp_path):
    from localcluster.testing import running_cluster

    state_dir = tmp_path / "cluster"
    with running_cluster(state_dir) as handle, \
            config.new_client_from_config(config_file=str(handle.kubeconfig)) as api:
        leases = client.CoordinationV1Api(api)
        before = leases.create_namespaced_lease("default", {"metadata": {"name": "kept"},
                                                            "spec": {"holderIdentity": "a"}})
        handle.stop()
    with running_cluster(state_dir) as handle, \
            config.new_client_from_config(config_file=str(handle.kubeconfig)) as api:
        leases = client.CoordinationV1Api(api)
        after = leases.read_namespaced_lease("kept", "default")
        assert after.metadata.uid == before.metadata.uid
        assert after.metadata.resource_version == before.metadata.resource_version
        older = str(int(before.metadata.resource_version) - 1)
        with pytest.raises(ApiException) as gone:
            list(watch.Watch().stream(leases.list_namespaced_lease, "default", resource_version=older,
                                      timeout_seconds=1))
        assert gone.value.status == 410
        created = leases.create_namespaced_lease("default", {"metadata": {"name": "new"},
                                                             "spec": {"holderIdentity": "b"}})
        assert int(created.metadata.resource_version) > int(before.metadata.resource_version)
