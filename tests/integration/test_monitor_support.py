"""Support for the monitor's integration tests (no tests here): job objects created directly
with the kubernetes client, carrying the labels of design §3 (glue.labels) as create.yml makes them,
a tap on the events exchange, and the monitor run as the real CLI in a subprocess.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from glue import labels
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


def new_job_id(window: int) -> str:
    return f"{window}-{secrets.randbelow(100000):05d}"


def job_manifest(job_id: str, command: list[str], *, kind: str = "stream", mode: str = "historic",
                 gpu: int = 0, suspend: bool = False, deadline: int | None = None,
                 env: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict:
    window = int(job_id.split("-")[0])
    lab = labels.job_labels(job_id, window, "monitor-test", kind, mode)
    resources = {"requests": {"nvidia.com/gpu.shared": str(gpu)},
                 "limits": {"nvidia.com/gpu.shared": str(gpu)}} if gpu else {}
    container = {"name": "streamer", "image": "localhost/spectrojobs/streamer:0.1.0", "command": command,
                 "resources": resources, "ports": [{"containerPort": labels.STREAM_CONTAINER_PORT}],
                 "env": [{"name": k, "value": v} for k, v in (env or {}).items()]
                 + [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}
    spec: dict[str, Any] = {"backoffLimit": 0, "suspend": suspend, "template": {
        "metadata": {"labels": lab}, "spec": {"restartPolicy": "Never", "containers": [container]}}}
    if deadline:
        spec["activeDeadlineSeconds"] = deadline
    meta = {"name": labels.job_name(job_id), "labels": lab, "annotations": annotations or {}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec}


def service_manifest(job_id: str, job_uid: str | None, mode: str = "historic") -> dict:
    window = int(job_id.split("-")[0])
    meta: dict[str, Any] = {"name": labels.service_name(job_id),
                            "labels": labels.job_labels(job_id, window, "monitor-test", "stream", mode)}
    if job_uid:
        meta["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "Job", "name": labels.job_name(job_id),
                                    "uid": job_uid}]
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {
        "type": "NodePort", "selector": {labels.LABEL_JOB_ID: job_id},
        "ports": [{"port": labels.SERVICE_BASE_PORT + window, "targetPort": labels.STREAM_CONTAINER_PORT}]}}


def lease_manifest(job_id: str) -> dict:
    window = int(job_id.split("-")[0])
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {
        "name": labels.lease_name(window), "labels": {labels.LABEL_MANAGED_BY: labels.MANAGED_BY,
                                                     labels.LABEL_JOB_ID: job_id}},
        "spec": {"holderIdentity": job_id, "leaseDurationSeconds": 3600, "acquireTime": now, "renewTime": now}}


class Objects:
    """Create and inspect one namespace's job objects."""

    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.ns = namespace
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.coord = client.CoordinationV1Api(api_client)

    def job(self, job_id: str, command: list[str], **kw: Any) -> dict:
        return self.batch.create_namespaced_job(self.ns, job_manifest(job_id, command, **kw)).to_dict()

    def service(self, job_id: str, job_uid: str | None = None, mode: str = "historic") -> None:
        self.core.create_namespaced_service(self.ns, service_manifest(job_id, job_uid, mode))

    def lease(self, job_id: str) -> None:
        self.coord.create_namespaced_lease(self.ns, lease_manifest(job_id))

    def job_uid(self, job_id: str) -> str | None:
        try:
            return self.batch.read_namespaced_job(labels.job_name(job_id), self.ns).metadata.uid
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def left(self, job_id: str) -> list[str]:
        """Every object of the job still in the cluster (pods included)."""
        window = int(job_id.split("-")[0])
        found = []
        sel = f"{labels.LABEL_JOB_ID}={job_id}"
        for kind, call in (("Job", self.batch.list_namespaced_job), ("Pod", self.core.list_namespaced_pod),
                           ("Service", self.core.list_namespaced_service),
                           ("PVC", self.core.list_namespaced_persistent_volume_claim)):
            found += [f"{kind}/{item.metadata.name}" for item in call(self.ns, label_selector=sel).items]
        for lease in self.coord.list_namespaced_lease(self.ns).items:
            if lease.metadata.name == labels.lease_name(window) and lease.spec.holder_identity == job_id:
                found.append(f"Lease/{lease.metadata.name}")
        return found

    def events_about(self, name: str) -> list:
        return [e for e in self.core.list_namespaced_event(self.ns).items
                if e.involved_object.name == name and e.source and e.source.component == "spectrojobs-monitor"]


def declare_queue(amqp_url: str, name: str) -> None:
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as conn:
        conn.channel().queue_declare(name, arguments={"x-expires": 600_000})


def queue_exists(amqp_url: str, name: str) -> bool:
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as conn:
        try:
            conn.channel().queue_declare(name, passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            return False
        return True


class EventTap:
    """A private queue bound to `spectrojobs.events` with `job.#`: what the monitor published."""

    def __init__(self, amqp_url: str) -> None:
        self.conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self.conn.channel()
        self.channel.exchange_declare(labels.EVENTS_EXCHANGE, exchange_type="topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(self.queue, labels.EVENTS_EXCHANGE, routing_key="job.#")

    def drain(self, namespace: str) -> list[tuple[str, dict]]:
        """(routing key, body) of the events about `namespace` (other monitors share the exchange)."""
        out = []
        while True:
            method, _props, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return out
            event = json.loads(body)
            if event.get("namespace") == namespace:
                out.append((method.routing_key, event))

    def close(self) -> None:
        self.conn.close()


def monitor_cmd(*args: str) -> list[str]:
    return [PY, "-m", "glue.cli", "monitor", *args]


def monitor_env(namespace: str, history_url: str, amqp_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SPECTROJOBS_NAMESPACE": namespace, "SPECTROJOBS_HISTORY_URL": history_url,
        "SPECTROJOBS_AMQP_URL": amqp_url, "SPECTROJOBS_MONITOR_METRICS_PORT": "0",
        "SPECTROJOBS_MONITOR_RABBITMQ_API": "",
        "SPECTROJOBS_EVIDENCE_DIR": str(Path(history_url.removeprefix("sqlite:///")).parent / "evidence"),
        "SPECTROJOBS_HOME": str(Path(history_url.removeprefix("sqlite:///")).parent / "home"),
    })
    env.update(extra)
    return env


def run_once(env: dict[str, str], *args: str, timeout: float = 180) -> dict:
    proc = subprocess.run(monitor_cmd("--once", "--json", *args), env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (the monitor's graceful shutdown), SIGKILL if it does not end within 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# --- the unit tests' object fixtures, captured from the local cluster ------------------------------

FIXTURE_JOB_ID = "3-12345"
FIXTURE_PATH = REPO / "tests" / "unit" / "test_monitor_objects.yaml"


def _plain(obj: Any) -> Any:
    """The served JSON without managedFields (noise for the policies)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items() if k != "managedFields"}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def raw_json(call: Callable, *args: Any, **kwargs: Any) -> Any:
    return _plain(json.loads(call(*args, _preload_content=False, **kwargs).data))


def capture_fixtures(objs: Objects, amqp_url: str) -> dict[str, Any]:
    """Create one object of each shape the policies read and return them as the cluster serves
    them: a running stream job with its pod, Service, lease and an export PVC; the conditions of a
    failed, a completed and a deadline job; terminated, waiting and unschedulable pod states."""
    jid = FIXTURE_JOB_ID
    running = objs.job(jid, [PY, "-c", "import time; time.sleep(600)"], mode="live", gpu=1)
    objs.service(jid, running["metadata"]["uid"], mode="live")
    objs.lease(jid)
    pvc = {"metadata": {"name": f"{jid}-output-pvc", "labels": {labels.LABEL_JOB_ID: jid, labels.LABEL_KIND: "export"}},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    objs.core.create_namespaced_persistent_volume_claim(objs.ns, pvc)
    failed, oom, done, deadline, pending = (new_job_id(w) for w in (4, 5, 6, 7, 8))
    objs.job(failed, [PY, "-c", "import sys; sys.exit(1)"])
    objs.job(oom, [PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    objs.job(done, [PY, "-c", "pass"])
    objs.job(deadline, [PY, "-c", "import time; time.sleep(60)"], deadline=1)
    objs.job(pending, ["true"], gpu=99)
    objs.job(new_job_id(9), ["/nonexistent/streamer"])

    def job_json(job_id: str) -> dict:
        return raw_json(objs.batch.read_namespaced_job, labels.job_name(job_id), objs.ns)

    def pod_json(job_id: str) -> dict | None:
        items = raw_json(objs.core.list_namespaced_pod, objs.ns, label_selector=f"{labels.LABEL_JOB_ID}={job_id}")["items"]
        return items[0] if items else None

    def conditions(job_id: str, kind: str) -> list | None:
        conds = job_json(job_id).get("status", {}).get("conditions") or []
        return conds if any(c["type"] == kind for c in conds) else None

    wait_for("the running pod", lambda: (pod_json(jid) or {}).get("status", {}).get("phase") == "Running")
    failed_conds = wait_for("the failed job", lambda: conditions(failed, "Failed"))
    complete_conds = wait_for("the completed job", lambda: conditions(done, "Complete"))
    deadline_conds = wait_for("the deadline job", lambda: conditions(deadline, "Failed"))
    wait_for("the pending pod", lambda: (pod_json(pending) or {}).get("status", {}).get("conditions"))
    wait_for("the PVC bound", lambda: raw_json(objs.core.read_namespaced_persistent_volume_claim,
                                           pvc["metadata"]["name"], objs.ns).get("status", {}).get("phase") == "Bound")
    metrics = wait_for("the pod's metrics", lambda: raw_json(
        client.CustomObjectsApi(objs.core.api_client).list_namespaced_custom_object,
        "metrics.k8s.io", "v1beta1", objs.ns, "pods")["items"])
    return {
        "job_running": job_json(jid),
        "pod_running": pod_json(jid),
        "failed_conditions": failed_conds,
        "deadline_conditions": deadline_conds,
        "complete_conditions": complete_conds,
        "terminated_exit1": pod_json(failed)["status"]["containerStatuses"][0],
        "terminated_signal": pod_json(oom)["status"]["containerStatuses"][0],
        "unschedulable_conditions": pod_json(pending)["status"]["conditions"],
        "service": raw_json(objs.core.read_namespaced_service, labels.service_name(jid), objs.ns),
        "lease": raw_json(objs.coord.read_namespaced_lease, labels.lease_name(3), objs.ns),
        "pvc": raw_json(objs.core.read_namespaced_persistent_volume_claim, pvc["metadata"]["name"], objs.ns),
        "node": raw_json(objs.core.list_node)["items"][0],
        "podmetrics": next(m for m in metrics if m["metadata"]["name"] == pod_json(jid)["metadata"]["name"]),
    }


def key_paths(obj: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON value (list items merged): the shape, without the values."""
    if isinstance(obj, dict):
        paths = set()
        for key, value in obj.items():
            paths |= {f"{prefix}/{key}"} | key_paths(value, f"{prefix}/{key}")
        return paths
    if isinstance(obj, list):
        return set().union(*(key_paths(v, prefix + "[]") for v in obj)) if obj else set()
    return set()


def shift_times(obj: Any, delta: float) -> Any:
    """Every RFC 3339 timestamp moved by `delta` seconds (the fixtures live around a fixed NOW)."""
    if isinstance(obj, dict):
        return {k: shift_times(v, delta) for k, v in obj.items()}
    if isinstance(obj, list):
        return [shift_times(v, delta) for v in obj]
    if isinstance(obj, str) and len(obj) >= 20 and obj[4] == "-" and obj[10] == "T" and obj.endswith("Z"):
        fraction = "." in obj
        moved = datetime.fromisoformat(obj.replace("Z", "+00:00")).timestamp() + delta
        fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if fraction else "%Y-%m-%dT%H:%M:%SZ"
        return datetime.fromtimestamp(moved, UTC).strftime(fmt)
    return obj


def main() -> None:
    """`python -m tests.integration.test_monitor_support`: regenerate the unit tests' fixtures."""
    import tempfile

    from kubernetes import config

    from localcluster.testing import running_cluster

    amqp = os.environ.get("SPECTROJOBS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    with tempfile.TemporaryDirectory() as tmp, running_cluster(Path(tmp) / "c", gpus_shared=4) as cluster:
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        client.CoreV1Api(api).create_namespace({"metadata": {"name": "spectrojobs"}})
        captured = capture_fixtures(Objects(api, "spectrojobs"), amqp)
        api.close()
    created = datetime.fromisoformat(captured["job_running"]["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    target = datetime(2026, 11, 22, 11, 50, tzinfo=UTC)
    write_fixtures(shift_times(captured, (target - created).total_seconds()))


def real_cluster_only(captured: dict[str, Any]) -> dict[str, Any]:
    """Kubelet states the local cluster cannot produce (no image pulls, no cgroup OOM killer),
    derived from captured ones the way a real kubelet reports them."""
    oom = copy.deepcopy(captured["terminated_signal"])
    oom["state"]["terminated"]["reason"] = "OOMKilled"
    pull = copy.deepcopy(captured["terminated_exit1"])
    pull["state"] = {"waiting": {"reason": "ImagePullBackOff",
                                 "message": 'Back-off pulling image "registry.invalid/streamer:0.1.0"'}}
    return {"terminated_oom": oom, "waiting_image_pull": pull}


def write_fixtures(captured: dict[str, Any]) -> None:
    import yaml

    header = ("# Objects as the local cluster serves them (managedFields dropped), captured by\n"
              "# `python -m tests.integration.test_monitor_support`; times shifted so that the running job\n"
              "# was created at 2026-11-22T11:50:00Z (the unit tests' NOW is 12:00:00Z).\n"
              "# terminated_oom and waiting_image_pull are derived (real kubelets only): real_cluster_only().\n")
    data = {**captured, **real_cluster_only(captured)}
    FIXTURE_PATH.write_text(header + yaml.safe_dump(data, sort_keys=False, width=110))


if __name__ == "__main__":
    main()
