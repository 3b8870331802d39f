"""The controllers against a real local cluster over HTTP, driven by the typed client:
scheduler, kubelet (local processes), Job, TTL, GC, NodePort proxy, PVC binder, metrics."""

from __future__ import annotations

import urllib.request
import uuid
from typing import Any

import psutil
import pytest

from tests.waiting import wait_for

pytestmark = pytest.mark.integration
NS = "spectrojobs"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def job_body(name: str, command: list[str], **spec: Any) -> dict:
    container = {"name": "main", "image": "python:3.11", "command": command,
                 "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}
    container.update(spec.pop("container", {}))
    pod_spec = {"restartPolicy": "Never", "containers": [container], **spec.pop("pod", {})}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "labels": {"test": name}},
            "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": {"test": name}}, "spec": pod_spec},
                     **spec}}


@pytest.fixture
def api(k8s_api):
    from kubernetes import client

    class Api:
        core = client.CoreV1Api(k8s_api)
        batch = client.BatchV1Api(k8s_api)
        custom = client.CustomObjectsApi(k8s_api)
        ApiException = client.ApiException

        def job(self, name):
            try:
                return self.batch.read_namespaced_job(name, NS)
            except client.ApiException as e:
                if e.status == 404:
                    return None
                raise

        def pods(self, job_name):
            return self.core.list_namespaced_pod(NS, label_selector=f"batch.kubernetes.io/job-name={job_name}").items

        def running_pod(self, job_name):
            return wait_for(f"a Running pod of {job_name}",
                            lambda: next((p for p in self.pods(job_name) if p.status.phase == "Running"), None))

        def condition(self, name, kind):
            job = self.job(name)
            return next((c for c in (job.status.conditions or []) if c.type == kind and c.status == "True"), None)

        def delete_job(self, name, policy="Background"):
            try:
                self.batch.delete_namespaced_job(name, NS, propagation_policy=policy)
            except client.ApiException as e:
                if e.status != 404:
                    raise

    return Api()


def pod_processes(uid: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("LOCALCLUSTER_POD_UID") == uid:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_job_runs_to_completion_then_ttl_deletes_it(api, cluster):
    name = unique("ok")
    body = job_body(name, ["python", "-c", "import os, time; print('pod ip', os.environ['POD_IP']); time.sleep(1); print('done')"],
                    ttlSecondsAfterFinished=1)
    api.batch.create_namespaced_job(NS, body)
    pod = api.running_pod(name)
    assert pod.status.pod_ip.startswith("127.64.") and pod.status.host_ip == "127.0.0.1"
    assert pod.metadata.finalizers == ["batch.kubernetes.io/job-tracking"]
    assert pod.metadata.owner_references[0].kind == "Job"
    status = pod.status.container_statuses[0]
    assert status.state.running is not None and status.ready and status.image_id == ""
    complete = wait_for("Complete", lambda: api.condition(name, "Complete"))
    assert complete.reason == "CompletionsReached"
    job = api.job(name)
    assert job.status.succeeded == 1 and job.status.completion_time is not None and not job.status.active
    done = api.core.read_namespaced_pod(pod.metadata.name, NS)
    terminated = done.status.container_statuses[0].state.terminated
    assert done.status.phase == "Succeeded" and terminated.exit_code == 0 and terminated.reason == "Completed"
    assert api.core.read_namespaced_pod_log(pod.metadata.name, NS) == f"pod ip {pod.status.pod_ip}\ndone\n"
    assert api.core.read_namespaced_pod_log(pod.metadata.name, NS, tail_lines=1) == "done\n"
    wait_for("the TTL to delete the job", lambda: api.job(name) is None, timeout=15)
    wait_for("its pod to go", lambda: not api.pods(name))
    reasons = {e.reason for e in api.core.list_namespaced_event(NS).items if e.involved_object.name == name}
    assert {"SuccessfulCreate", "Completed"} <= reasons


def test_too_many_shared_gpus_stays_pending(api):
    name = unique("gpu")
    gpus = {"nvidia.com/gpu.shared": "5"}  # the session cluster has 4
    api.batch.create_namespaced_job(NS, job_body(name, ["python", "-c", "pass"],
                                                 container={"resources": {"requests": gpus, "limits": gpus}}))
    try:
        def unschedulable():
            pods = api.pods(name)
            conds = [c for p in pods for c in (p.status.conditions or []) if c.type == "PodScheduled"]
            return next((c for c in conds if c.status == "False"), None)

        cond = wait_for("PodScheduled=False", unschedulable)
        assert cond.reason == "Unschedulable"
        assert cond.message == ("0/1 nodes are available: 1 Insufficient nvidia.com/gpu.shared. preemption: 0/1 "
                                "nodes are available: 1 No preemption victims found for incoming pod.")
        pod = api.pods(name)[0]
        assert pod.status.phase == "Pending" and not pod.spec.node_name
        events = wait_for("FailedScheduling", lambda: [
            e for e in api.core.list_namespaced_event(NS).items
            if e.involved_object.name == pod.metadata.name and e.reason == "FailedScheduling"])
        assert events[0].type == "Warning" and "Insufficient nvidia.com/gpu.shared" in events[0].message
    finally:
        api.delete_job(name)
    wait_for("its pod to go", lambda: not api.pods(name))


def test_background_delete_kills_the_process_and_collects_the_owned_service(api):
    name = unique("bg")
    job = api.batch.create_namespaced_job(NS, job_body(name, ["python", "-c", "import time; time.sleep(60)"]))
    owner = {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": job.metadata.uid,
             "controller": False, "blockOwnerDeletion": True}
    api.core.create_namespaced_service(NS, {"metadata": {"name": name, "ownerReferences": [owner]},
                                            "spec": {"selector": {"test": name}, "ports": [{"port": 80}]}})
    pod = api.running_pod(name)
    procs = wait_for("the pod's process", lambda: pod_processes(pod.metadata.uid))
    api.delete_job(name, "Background")
    wait_for("the process to be killed", lambda: not any(map(alive, procs)))
    wait_for("the pod to go", lambda: not api.pods(name))
    wait_for("the owned service to be collected", lambda: not [
        s for s in api.core.list_namespaced_service(NS).items if s.metadata.name == name])


def test_orphan_delete_leaves_the_pod_running(api):
    name = unique("orphan")
    api.batch.create_namespaced_job(NS, job_body(name, ["python", "-c", "import time; time.sleep(60)"]))
    pod = api.running_pod(name)
    api.delete_job(name, "Orphan")
    wait_for("the job to go", lambda: api.job(name) is None)
    orphan = wait_for("the pod to lose its owner and finalizer", lambda: next(
        (p for p in api.pods(name) if not p.metadata.owner_references and not p.metadata.finalizers), None))
    assert orphan.status.phase == "Running"
    procs = pod_processes(pod.metadata.uid)
    assert procs and all(map(alive, procs))
    api.core.delete_namespaced_pod(pod.metadata.name, NS, grace_period_seconds=1)
    wait_for("the orphan pod to go", lambda: not api.pods(name))
    assert not pod_processes(pod.metadata.uid)


def test_failing_command_with_backoff_limit_zero_fails_the_job(api):
    name = unique("fail")
    api.batch.create_namespaced_job(NS, job_body(
        name, ["python", "-c", "import sys; print('boom', file=sys.stderr); raise SystemExit(3)"],
        container={"terminationMessagePolicy": "FallbackToLogsOnError"}))
    failed = wait_for("Failed", lambda: api.condition(name, "Failed"))
    assert failed.reason == "BackoffLimitExceeded"
    assert failed.message == "Job has reached the specified backoff limit"
    assert api.condition(name, "FailureTarget") is not None
    job = api.job(name)
    assert job.status.failed == 1 and job.status.completion_time is None
    pod = api.pods(name)[0]
    terminated = pod.status.container_statuses[0].state.terminated
    assert pod.status.phase == "Failed" and terminated.exit_code == 3 and terminated.reason == "Error"
    assert terminated.message == "boom\n"
    api.delete_job(name)
    wait_for("its pod to go", lambda: not api.pods(name))


def test_active_deadline_kills_the_pod_and_fails_the_job(api):
    name = unique("deadline")
    api.batch.create_namespaced_job(NS, job_body(name, ["python", "-c", "import time; time.sleep(60)"],
                                                 activeDeadlineSeconds=2))
    pod = wait_for("its pod", lambda: next(iter(api.pods(name)), None))
    failed = wait_for("Failed", lambda: api.condition(name, "Failed"))
    assert (failed.reason, failed.message) == ("DeadlineExceeded", "Job was active longer than specified deadline")
    assert api.job(name).status.failed == 1  # the killed pod counts as failed
    assert not pod_processes(pod.metadata.uid)
    api.delete_job(name)
    wait_for("its pod to go", lambda: not api.pods(name))


def test_node_port_carries_bytes_to_the_pod(api):
    name = unique("web")
    api.batch.create_namespaced_job(NS, job_body(
        name, ["python", "-m", "http.server", "--bind", "$(POD_IP)", "8000"],
        container={"ports": [{"name": "http", "containerPort": 8000}]}))
    svc = api.core.create_namespaced_service(NS, {"metadata": {"name": name}, "spec": {
        "type": "NodePort", "selector": {"test": name}, "ports": [{"port": 8000, "targetPort": "http"}]}})
    try:
        node_port = svc.spec.ports[0].node_port
        api.running_pod(name)

        def fetch():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{node_port}/", timeout=2) as response:
                    return response.status, response.read()
            except OSError:
                return None

        status, body = wait_for("the server behind the node port", fetch)
        assert status == 200 and b"Directory listing" in body
    finally:
        api.core.delete_namespaced_service(name, NS)
        api.delete_job(name)
    wait_for("its pod to go", lambda: not api.pods(name))


def test_pvc_is_bound_used_and_released(api, cluster):
    claim = unique("data")
    api.core.create_namespaced_persistent_volume_claim(NS, {"metadata": {"name": claim}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    bound = wait_for("Bound", lambda: (lambda c: c if c.status.phase == "Bound" else None)(
        api.core.read_namespaced_persistent_volume_claim(claim, NS)))
    assert bound.spec.volume_name and bound.status.capacity == {"storage": "1Gi"}
    assert bound.metadata.annotations["pv.kubernetes.io/bind-completed"] == "yes"
    host_dir = cluster.state_dir / "volumes" / NS / claim
    assert host_dir.is_dir()
    name = unique("writer")
    api.batch.create_namespaced_job(NS, job_body(
        name, ["python", "-c", "import sys; open(sys.argv[1], 'w').write('hello')", "/data/out.txt"],
        container={"volumeMounts": [{"name": "d", "mountPath": "/data"}]},
        pod={"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]}))
    wait_for("Complete", lambda: api.condition(name, "Complete"))
    assert (host_dir / "out.txt").read_text() == "hello"
    api.delete_job(name)
    wait_for("its pod to go", lambda: not api.pods(name))
    api.core.delete_namespaced_persistent_volume_claim(claim, NS)
    wait_for("the claim to go", lambda: claim not in {
        c.metadata.name for c in api.core.list_namespaced_persistent_volume_claim(NS).items})


def test_unbindable_claim_keeps_the_pod_pending(api):
    claim = unique("unbound")
    api.core.create_namespaced_persistent_volume_claim(NS, {"metadata": {"name": claim}, "spec": {
        "storageClassName": "unbindable", "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}}}})
    name = unique("blocked")
    api.batch.create_namespaced_job(NS, job_body(
        name, ["python", "-c", "pass"], container={"volumeMounts": [{"name": "d", "mountPath": "/data"}]},
        pod={"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]}))
    try:
        cond = wait_for("PodScheduled=False", lambda: next(
            (c for p in api.pods(name) for c in (p.status.conditions or [])
             if c.type == "PodScheduled" and c.status == "False"), None))
        assert "pod has unbound immediate PersistentVolumeClaims" in cond.message
        assert api.core.read_namespaced_persistent_volume_claim(claim, NS).status.phase == "Pending"
    finally:
        api.delete_job(name)
        api.core.delete_namespaced_persistent_volume_claim(claim, NS)


def test_pod_metrics_show_cpu_of_a_busy_pod(api):
    name = unique("busy")
    api.batch.create_namespaced_job(NS, job_body(
        name, ["python", "-c", "import time\nend = time.time() + 30\nwhile time.time() < end: pass"]))
    try:
        pod = api.running_pod(name)

        def cpu():
            try:
                metrics = api.custom.get_namespaced_custom_object("metrics.k8s.io", "v1beta1", NS, "pods",
                                                                  pod.metadata.name)
            except api.ApiException:
                return None
            usage = metrics["containers"][0]["usage"]
            return metrics if int(usage["cpu"].rstrip("n")) > 0 and usage["memory"].endswith("Ki") else None

        metrics = wait_for("CPU usage", cpu, timeout=10, interval=0.5)
        assert metrics["kind"] == "PodMetrics" and metrics["containers"][0]["name"] == "main"
        listed = api.custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", NS, "pods",
                                                          label_selector=f"test={name}")
        assert [m["metadata"]["name"] for m in listed["items"]] == [pod.metadata.name]
        node = api.custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")["items"][0]
        assert node["usage"]["memory"].endswith("Ki")
    finally:
        api.delete_job(name)
    wait_for("its pod to go", lambda: not api.pods(name))


def test_init_container_runs_first_and_shares_an_empty_dir(api):
    name = unique("init")
    mount = [{"name": "scratch", "mountPath": "/scratch"}]
    api.core.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": {
        "restartPolicy": "Never", "volumes": [{"name": "scratch", "emptyDir": {}}],
        "initContainers": [{"name": "prepare", "image": "python", "volumeMounts": mount, "command": [
            "python", "-c", "import sys; open(sys.argv[1], 'w').write('prepared')", "/scratch/x"]}],
        "containers": [{"name": "main", "image": "python", "volumeMounts": mount, "command": [
            "python", "-c", "import sys; print(open(sys.argv[1]).read())", "/scratch/x"]}]}})
    try:
        pod = wait_for("the pod to succeed", lambda: (lambda p: p if p.status.phase in ("Succeeded", "Failed") else None)(
            api.core.read_namespaced_pod(name, NS)))
        assert pod.status.phase == "Succeeded"
        assert pod.status.init_container_statuses[0].state.terminated.exit_code == 0
        assert api.core.read_namespaced_pod_log(name, NS) == "prepared\n"
    finally:
        api.core.delete_namespaced_pod(name, NS)


GRPC_SERVER = """
import os
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
server = grpc.server(futures.ThreadPoolExecutor(4))
servicer = health.HealthServicer()
health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
server.add_insecure_port(os.environ["POD_IP"] + ":5000")
server.start()
servicer.set("", health_pb2.HealthCheckResponse.SERVING)
server.wait_for_termination()
"""


def test_node_port_carries_grpc_streams(api):
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    name = unique("grpc")
    api.batch.create_namespaced_job(NS, job_body(name, ["python", "-c", GRPC_SERVER],
                                                 container={"ports": [{"name": "grpc", "containerPort": 5000}]}))
    svc = api.core.create_namespaced_service(NS, {"metadata": {"name": name}, "spec": {
        "type": "NodePort", "selector": {"test": name}, "ports": [{"port": 12301, "targetPort": 5000}]}})
    channel = grpc.insecure_channel(f"127.0.0.1:{svc.spec.ports[0].node_port}")
    try:
        api.running_pod(name)
        stub = health_pb2_grpc.HealthStub(channel)

        def check():
            try:
                return stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
            except grpc.RpcError:
                return None

        assert wait_for("gRPC through the node port", check).status == health_pb2.HealthCheckResponse.SERVING
        stream = stub.Watch(health_pb2.HealthCheckRequest(), timeout=5)
        assert next(stream).status == health_pb2.HealthCheckResponse.SERVING  # a server stream, over HTTP/2
        stream.cancel()
    finally:
        channel.close()
        api.core.delete_namespaced_service(name, NS)
        api.delete_job(name)
    wait_for("its pod to go", lambda: not api.pods(name))


def test_force_deleted_pod_loses_its_process(api):
    name = unique("force")
    api.core.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": {"containers": [
        {"name": "main", "image": "python", "command": ["python", "-c", "import time; time.sleep(60)"]}]}})
    pod = wait_for("Running", lambda: (lambda p: p if p.status.phase == "Running" else None)(
        api.core.read_namespaced_pod(name, NS)))
    procs = wait_for("the pod's process", lambda: pod_processes(pod.metadata.uid))
    api.core.delete_namespaced_pod(name, NS, grace_period_seconds=0)
    wait_for("the process to be killed", lambda: not any(map(alive, procs)))


def test_foreground_delete_waits_for_the_pods(api):
    name = unique("fg")
    api.batch.create_namespaced_job(NS, job_body(name, ["python", "-c", "import time; time.sleep(60)"]))
    pod = api.running_pod(name)
    api.delete_job(name, "Foreground")
    job = api.job(name)
    assert job is None or (job.metadata.deletion_timestamp and "foregroundDeletion" in job.metadata.finalizers)
    wait_for("the job to go after its pod", lambda: api.job(name) is None)
    assert not api.pods(name) and not pod_processes(pod.metadata.uid)


def test_an_image_from_an_invalid_registry_cannot_be_pulled(api):
    name = unique("pull")
    api.batch.create_namespaced_job(NS, job_body(name, ["python", "-c", "pass"],
                                                 container={"image": "registry.invalid/streamer:1"}))
    try:
        def backoff():
            for pod in api.pods(name):
                for status in pod.status.container_statuses or []:
                    if status.state.waiting and status.state.waiting.reason == "ImagePullBackOff":
                        return pod
            return None

        pod = wait_for("ImagePullBackOff", backoff)
        assert pod.status.phase == "Pending"
        reasons = {e.reason for e in api.core.list_namespaced_event(NS).items
                   if e.involved_object.name == pod.metadata.name}
        assert {"Pulling", "Failed", "BackOff"} <= reasons
    finally:
        api.delete_job(name)
    wait_for("its pod to go", lambda: not api.pods(name))


def test_pod_active_deadline_fails_the_pod(api):
    name = unique("poddl")
    api.core.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": {
        "restartPolicy": "Never", "activeDeadlineSeconds": 1, "containers": [
            {"name": "main", "image": "python", "command": ["python", "-c", "import time; time.sleep(60)"]}]}})
    try:
        pod = wait_for("Failed", lambda: (lambda p: p if p.status.phase == "Failed" else None)(
            api.core.read_namespaced_pod(name, NS)))
        assert pod.status.reason == "DeadlineExceeded"
        assert not pod_processes(pod.metadata.uid)
    finally:
        api.core.delete_namespaced_pod(name, NS)


def test_scheduling_gates_hold_a_pod(api):
    name = unique("gated")
    api.core.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": {
        "schedulingGates": [{"name": "example.com/wait"}],
        "containers": [{"name": "main", "image": "python", "command": ["python", "-c", "pass"]}]}})
    try:
        cond = wait_for("SchedulingGated", lambda: next(
            (c for c in api.core.read_namespaced_pod(name, NS).status.conditions or [] if c.type == "PodScheduled"),
            None))
        assert (cond.status, cond.reason) == ("False", "SchedulingGated")
        assert not api.core.read_namespaced_pod(name, NS).spec.node_name
    finally:
        api.core.delete_namespaced_pod(name, NS)
