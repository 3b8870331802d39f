"""The playbooks against the local cluster and RabbitMQ, run through ansible-runner.

create -> rows through the node port -> query -> cleanup leaves nothing; live queue declared
and removed; the 31st create is refused; a failed create rolls back; check mode changes nothing.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from glue import labels
from tests.services import require_rabbitmq

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NS = "spectrojobs"


@dataclass
class Run:
    rc: int
    status: str
    stats: dict[str, Any]
    stdout: str


def run_playbook(tmp: Path, kubeconfig: Path, playbook: str, extravars: dict, check: bool = False,
                 env: dict | None = None) -> Run:
    import ansible_runner

    private = tmp / f"runner-{playbook}-{time.monotonic_ns()}"
    private.mkdir(parents=True)
    stats: dict[str, Any] = {}

    def on_event(event: dict) -> bool:
        if event.get("event") == "playbook_on_stats":
            stats.update((event.get("event_data") or {}).get("artifact_data") or {})
        return True

    run = ansible_runner.run(
        private_data_dir=str(private), project_dir=str(REPO / "playbooks"), playbook=playbook,
        inventory=str(REPO / "inventories" / "local"), extravars=extravars,
        cmdline="--check" if check else None, quiet=True, event_handler=on_event,
        envvars={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "K8S_AUTH_KUBECONFIG": str(kubeconfig),
                 "SPECTROJOBS_EVIDENCE_DIR": str(tmp / "evidence"), "ANSIBLE_NOCOLOR": "1",
                 "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                 **(env or {})})
    stdout_file = Path(run.config.artifact_dir) / "stdout"
    stdout = stdout_file.read_text(errors="replace") if stdout_file.exists() else ""
    return Run(run.rc, run.status, stats.get("spectrojobs", {}), stdout)


def leftovers(api, job_id: str) -> dict[str, list[str]]:
    """Everything of `job_id` still in the cluster (pods that are gone count as gone)."""
    from kubernetes import client

    selector = f"{labels.LABEL_JOB_ID}={job_id}"
    core, batch, coord = client.CoreV1Api(api), client.BatchV1Api(api), client.CoordinationV1Api(api)
    window = int(job_id.split("-")[0])
    return {
        "jobs": [j.metadata.name for j in batch.list_namespaced_job(NS).items if j.metadata.name.endswith(job_id)],
        "pods": [p.metadata.name for p in core.list_namespaced_pod(NS, label_selector=selector).items],
        "services": [s.metadata.name for s in core.list_namespaced_service(NS).items if s.metadata.name.endswith(job_id)],
        "pvcs": [c.metadata.name for c in core.list_namespaced_persistent_volume_claim(NS).items
                 if c.metadata.name.startswith(f"{job_id}-")],
        "leases": [le.metadata.name for le in coord.list_namespaced_lease(NS).items
                   if le.metadata.name == f"window-{window}"],
    }


def wait_gone(api, job_id: str, timeout: float = 30.0) -> dict[str, list[str]]:
    deadline = time.monotonic() + timeout
    while True:
        left = leftovers(api, job_id)
        if not any(left.values()) or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def queue_exists(url: str, name: str) -> bool:
    import pika
    from pika.exceptions import ChannelClosedByBroker

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().queue_declare(queue=name, passive=True)
        return True
    except ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()


@pytest.fixture
def play(cluster, tmp_path):
    def runner(playbook: str, check: bool = False, env: dict | None = None, **extravars) -> Run:
        return run_playbook(tmp_path, cluster.kubeconfig, playbook, extravars, check=check, env=env)

    return runner


def test_create_stream_read_rows_query_and_cleanup_leaves_nothing(play, k8s_api, tmp_path):
    from streamer.client import StreamClient

    require_rabbitmq()
    created = play("create.yml", job_owner="alice", stream_source="synthetic", gpu_count=1,
                   channel_min=1, channel_max=32, nfft=128, display_height=100, display_time_axis_duration=5)
    assert created.rc == 0, created.stdout[-3000:]
    facts = created.stats
    job_id = facts["job_id"]
    assert facts["status"] == "ready" and facts["phase"] == "Running" and facts["reason"] is None
    assert facts["stream_host"] == "127.0.0.1" and int(facts["stream_port"]) >= 30000
    assert int(facts["window"]) == int(job_id.split("-")[0])

    with StreamClient(f"{facts['stream_host']}:{facts['stream_port']}") as client:
        rows = list(itertools.islice(client.rows(), 3))
    assert len(rows) == 3

    queried = play("query.yml", job_id=job_id)
    assert queried.rc == 0, queried.stdout[-3000:]
    assert queried.stats["phase"] == "Running" and queried.stats["stream_port"] == facts["stream_port"]
    (entry,) = queried.stats["jobs"]
    assert entry["lease_holder"] == job_id and entry["pods"][0]["phase"] == "Running"

    checked = play("cleanup.yml", check=True, job_ids=job_id)
    assert checked.rc == 0 and checked.stats["check_mode"] is True, checked.stdout[-3000:]
    assert leftovers(k8s_api, job_id)["jobs"] == [labels.job_name(job_id)]  # check mode deleted nothing
    assert leftovers(k8s_api, job_id)["leases"] == [f"window-{facts['window']}"]

    cleaned = play("cleanup.yml", job_ids=job_id, cleanup_wait=True)
    assert cleaned.rc == 0, cleaned.stdout[-3000:]
    (result,) = cleaned.stats["jobs"]
    assert result["result"] == "deleted" and f"Job/{labels.job_name(job_id)}" in result["deleted"]
    assert wait_gone(k8s_api, job_id) == {"jobs": [], "pods": [], "services": [], "pvcs": [], "leases": []}
    assert (tmp_path / "evidence" / job_id / "job.json").is_file()
    pods = [p for p in (tmp_path / "evidence" / job_id).glob("*.log")]
    assert pods, "the pod log is kept as evidence"

    again = play("cleanup.yml", job_ids=job_id)
    assert again.rc == 0 and again.stats["jobs"][0]["result"] == "absent"


def test_live_job_declares_its_queue_and_cleanup_removes_it(play, k8s_api):
    url = require_rabbitmq()
    created = play("create.yml", job_owner="bob", wait_ready=False, gpu_count=0, channel_min=250, channel_max=300)
    assert created.rc == 0, created.stdout[-3000:]
    job_id, queue = created.stats["job_id"], created.stats["queue"]
    assert queue == labels.queue_name(job_id) and queue_exists(url, queue)

    cleaned = play("cleanup.yml", job_ids=[job_id], job_uids={job_id: created.stats["job_uid"]})
    assert cleaned.rc == 0, cleaned.stdout[-3000:]
    assert f"Queue/{queue}" in cleaned.stats["jobs"][0]["deleted"]
    assert not queue_exists(url, queue)
    assert wait_gone(k8s_api, job_id) == {"jobs": [], "pods": [], "services": [], "pvcs": [], "leases": []}


def test_31st_create_is_refused_with_a_clear_message_and_leaves_nothing(play, k8s_api):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    require_rabbitmq()
    coord, batch = client.CoordinationV1Api(k8s_api), client.BatchV1Api(k8s_api)
    jobs_before = {j.metadata.name for j in batch.list_namespaced_job(NS).items}
    made = []
    try:
        for window in range(30):  # 30 windows held (by these leases or by jobs of other tests)
            body = {"metadata": {"name": f"window-{window}"},
                    "spec": {"holderIdentity": f"{window}-00000", "leaseDurationSeconds": 60}}
            try:
                coord.create_namespaced_lease(NS, body)
                made.append(window)
            except ApiException as exc:
                if exc.status != 409:
                    raise
        leases_before = {(le.metadata.name, le.metadata.uid) for le in coord.list_namespaced_lease(NS).items}
        refused = play("create.yml", job_owner="carol", wait_ready=False, gpu_count=0)
        assert refused.rc != 0
        assert refused.stats["reason"] == "NoWindowFree" and refused.stats["status"] == "failed"
        assert "no free window: all 30 windows" in refused.stats["message"]
        assert {j.metadata.name for j in batch.list_namespaced_job(NS).items} == jobs_before
        assert {(le.metadata.name, le.metadata.uid) for le in coord.list_namespaced_lease(NS).items} == leases_before
    finally:
        for window in made:
            coord.delete_namespaced_lease(f"window-{window}", NS)


@pytest.mark.parametrize("extravars, reason", [
    ({"gpu_count": 5}, "Unschedulable:0/1 nodes are available: 1 Insufficient nvidia.com/gpu.shared"),
    ({"gpu_count": 0, "spectrojobs_streamer_image": "registry.invalid/spectrojobs/streamer:0"}, "ImagePullError"),
], ids=["unschedulable", "image-pull"])
def test_a_pending_create_fails_fast_with_the_reason_and_rolls_back(play, k8s_api, extravars, reason):
    url = require_rabbitmq()
    failed = play("create.yml", job_owner="dave", pending_timeout=2, channel_min=1, channel_max=10, **extravars)
    assert failed.rc != 0
    assert failed.stats["reason"].startswith(reason), failed.stats
    job_id = failed.stats["job_id"]
    assert {r["result"] for r in failed.stats["rolled_back"]} == {"deleted"}
    assert wait_gone(k8s_api, job_id) == {"jobs": [], "pods": [], "services": [], "pvcs": [], "leases": []}
    assert not queue_exists(url, labels.queue_name(job_id))


def test_invalid_request_names_the_field_and_creates_nothing(play, k8s_api):
    from kubernetes import client

    coord = client.CoordinationV1Api(k8s_api)
    before = {le.metadata.uid for le in coord.list_namespaced_lease(NS).items}
    refused = play("create.yml", job_owner="erin", nfft=3000, channel_min=9, channel_max=2, wait_ready=False)
    assert refused.rc != 0 and refused.stats["reason"] == "Invalid:nfft"
    assert "nfft=3000" in refused.stats["message"] and "power of two" in refused.stats["message"]
    assert "Invalid:channels: channels.min=9 channels.max=2" in refused.stats["message"]
    assert {le.metadata.uid for le in coord.list_namespaced_lease(NS).items} == before


def test_check_mode_changes_nothing(play, k8s_api):
    url = require_rabbitmq()
    checked = play("create.yml", check=True, job_owner="frank", job_id="7-00007", gpu_count=0)
    assert checked.rc == 0, checked.stdout[-3000:]
    assert checked.stats["check_mode"] is True and checked.stats["job_id"] == "7-00007"
    assert leftovers(k8s_api, "7-00007") == {"jobs": [], "pods": [], "services": [], "pvcs": [], "leases": []}
    assert not queue_exists(url, labels.queue_name("7-00007"))


def test_export_job_writes_files_to_its_output_pvc_which_outlives_the_job_until_cleanup(
        cluster, tmp_path, k8s_api):
    import subprocess

    from kubernetes import client

    require_rabbitmq()
    recordings = tmp_path / "recordings"
    subprocess.run([str(Path(sys.executable).parent / "streamer"), "record", "--out", str(recordings),
                    "--seconds", "20", "--start-time", "1700000000", "--channels", "16", "--sample-rate", "1000"],
                   check=True, capture_output=True, timeout=120)
    created = run_playbook(tmp_path, cluster.kubeconfig, "create.yml", {
        "job_owner": "gina", "job_kind": "export", "start_time": 1700000002, "end_time": 1700000012,
        "channel_min": 1, "channel_max": 16, "nfft": 128, "freq_max": 400, "display_time_axis_duration": 5,
        "display_height": 50, "gpu_count": 0}, env={"SPECTROJOBS_RECORDINGS_DIR": str(recordings)})
    assert created.rc == 0, created.stdout[-3000:]
    job_id = created.stats["job_id"]
    assert created.stats["phase"] == "Succeeded" and created.stats["output_pvc"] == f"{job_id}-output-pvc"
    output = Path(cluster.state_dir) / "volumes" / NS / f"{job_id}-output-pvc"
    assert {"spectrogram.npy", "times.npy", "frequencies.npy", "metadata.json", "waterfall.png"} <= {
        p.name for p in output.iterdir()}
    job = client.BatchV1Api(k8s_api).read_namespaced_job(labels.job_name(job_id), NS)
    assert any(c.type == "Complete" and c.status == "True" for c in job.status.conditions)
    pvcs = {c.metadata.name: c.status.phase for c in client.CoreV1Api(k8s_api).list_namespaced_persistent_volume_claim(NS).items}
    assert pvcs[f"{job_id}-output-pvc"] == "Bound" and f"{job_id}-data-pvc" in pvcs

    cleaned = run_playbook(tmp_path, cluster.kubeconfig, "cleanup.yml", {"job_ids": job_id})
    assert cleaned.rc == 0, cleaned.stdout[-3000:]
    assert f"PersistentVolumeClaim/{job_id}-output-pvc" in cleaned.stats["jobs"][0]["deleted"]
    assert wait_gone(k8s_api, job_id) == {"jobs": [], "pods": [], "services": [], "pvcs": [], "leases": []}


def test_verify_reports_every_check_of_the_local_cluster(play):
    require_rabbitmq()
    verified = play("verify.yml")
    assert verified.rc == 0, verified.stdout[-3000:]
    checks = verified.stats["checks"]
    assert set(checks) >= {"api_version", "namespace", "permissions", "gpu_capacity", "broker", "image"}
    assert all(check["ok"] for check in checks.values()), checks
    assert checks["gpu_capacity"]["value"]["allocatable"] == 4  # the fixture's nvidia.com/gpu.shared


def test_deploy_in_check_mode_and_rendered_manifests_validate(tmp_path):
    import json

    import kubernetes_validate
    import yaml

    secrets = {"platform_amqp_url": "amqp://u:p@broker:5672/%2F", "platform_api_tokens": [
        {"identity": "ops", "token": "t0ken", "admin": True}], "deploy_apply": False,
        "platform_manifest_dir": str(tmp_path / "platform")}
    checked = run_playbook(tmp_path, tmp_path / "no-kubeconfig", "deploy.yml", dict(secrets), check=True)
    assert checked.rc == 0, checked.stdout[-3000:]
    assert checked.stats["status"] == "rendered" and checked.stats["check_mode"] is True
    assert "Deployment/spectrojobs-monitor" in checked.stats["objects"]
    assert not (tmp_path / "platform").exists()
    assert "t0ken" not in checked.stdout and "u:p@broker" not in checked.stdout

    rendered = run_playbook(tmp_path, tmp_path / "no-kubeconfig", "deploy.yml", dict(secrets))
    assert rendered.rc == 0, rendered.stdout[-3000:]
    docs = yaml.safe_load((tmp_path / "platform" / "platform.yml").read_text())
    assert "Secret" not in {d["kind"] for d in docs}
    for doc in docs:
        kubernetes_validate.validate(json.loads(json.dumps(doc)), "1.33.0", strict=True)
