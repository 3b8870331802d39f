"""Support for the monitor's integration tests (no tests here): job objects created directly
with the kubernetes client, carrying the labels of design §3 (glue.labels) as create.yml makes them,
a tap on the events exchange, and the monitor run as the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from glue import labels

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


def wait_for(what: str, predicate: Callable[[], Any], timeout: float = 60.0, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(step)


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

    def drain(self) -> list[tuple[str, dict]]:
        out = []
        while True:
            method, _props, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return out
            out.append((method.routing_key, json.loads(body)))

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
