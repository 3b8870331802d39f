#!/usr/bin/python
"""Wait until a job's pod runs and its stream answers grpc.health.v1 through the node port."""

from __future__ import annotations

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.spectrojobs_common import (
    SpectrojobsModuleError,
    classify_pending,
    job_finished,
    pod_failure,
)
from ansible.module_utils.spectrojobs_k8s import (
    HAS_KUBERNETES,
    K8S_ARGS,
    KUBERNETES_IMPORT_ERROR,
    ApiException,
    Kube,
    api_error_message,
    load_api_client,
)

DOCUMENTATION = r"""
module: spectrojobs_job_ready
short_description: Wait for a spectrogram job to be ready, classifying why it is not
description:
  - Polls the job's pods (label O(job_label)=O(job_id)). A pod that stays Pending longer than
    O(pending_timeout) fails with the reason it is pending - C(Unschedulable:<scheduler message>),
    C(ImagePullError) or C(PVCUnbound) - or C(ReadinessTimeout) when no reason is known.
  - For O(kind=stream) the job is ready when its pod is Running and the gRPC health service
    answers SERVING on O(stream_host):<nodePort of O(service_name)>.
  - For O(kind=export) the job is ready when the Job has completed (its files are written).
  - A failed pod or Job fails at once with C(Failed:<cause>).
  - Reads only; never changes anything.
options:
  namespace: {description: Namespace., type: str, required: true}
  kubeconfig: {description: Path to a kubeconfig (default from the environment)., type: path}
  context: {description: Kubeconfig context., type: str}
  job_id: {description: Job id., type: str, required: true}
  job_name: {description: Name of the Job., type: str, required: true}
  service_name: {description: Name of the Service (stream jobs)., type: str, default: ""}
  kind: {description: Job kind., type: str, choices: [stream, export], default: stream}
  job_label: {description: Pod label holding the job id., type: str, default: spectrojobs.io/job-id}
  stream_host: {description: Host where node ports are reached., type: str, default: 127.0.0.1}
  pending_timeout: {description: Seconds a pod may stay Pending., type: float, default: 60}
  ready_timeout: {description: Seconds until the whole job must be ready., type: float, default: 120}
  poll_interval: {description: Seconds between polls., type: float, default: 0.5}
author: spectrojobs
"""

EXAMPLES = r"""
- name: Wait for the stream
  spectrojobs_job_ready:
    namespace: spectrojobs
    job_id: 3-01234
    job_name: grpc-job-3-01234
    service_name: grpc-service-3-01234
"""

RETURN = r"""
phase: {description: Pod phase when ready (Running or Succeeded)., returned: success, type: str}
pod_name: {description: The job's pod., returned: success, type: str}
pod_ip: {description: Pod IP., returned: success, type: str}
node_port: {description: Node port of the stream (stream jobs)., returned: success, type: int}
reason: {description: Failure reason of the contract., returned: failure, type: str}
"""

try:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    HAS_GRPC = True
except ImportError:
    HAS_GRPC = False


def health_serving(target, timeout=2.0):
    """True when grpc.health.v1 Check("") answers SERVING at `target`."""
    channel = grpc.insecure_channel(target)
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        return reply.status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False
    finally:
        channel.close()


class Watcher:
    def __init__(self, module, api_client):
        self.p = module.params
        self.kube = Kube(api_client, self.p["namespace"])

    def pods(self):
        selector = "{}={}".format(self.p["job_label"], self.p["job_id"])
        pods = self.kube.list("Pod", labelSelector=selector)
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def pvc_phases(self, pod):
        phases = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                pvc = self.kube.get("PersistentVolumeClaim", claim)
                phases[claim] = (pvc.get("status") or {}).get("phase", "Pending") if pvc is not None else "Missing"
        return phases

    def job(self):
        job = self.kube.get("Job", self.p["job_name"])
        if job is None:
            raise SpectrojobsModuleError("Failed:JobMissing", "Job {} does not exist".format(self.p["job_name"]))
        return job

    def node_port(self):
        service = self.kube.get("Service", self.p["service_name"])
        if service is None:
            raise SpectrojobsModuleError("Failed:ServiceMissing", f"Service {self.p['service_name']} does not exist")
        return service["spec"]["ports"][0].get("nodePort")

    def check_once(self, pending_for):
        """A result dict when ready; None to keep waiting; raises when it never will be."""
        finished = job_finished(self.job())
        if finished and finished[0] == "Failed":
            raise SpectrojobsModuleError(f"Failed:{finished[1]}", "Job {} failed: {}".format(self.p["job_name"], finished[1]))
        pods = self.pods()
        for pod in pods:
            failure = pod_failure(pod)
            if failure:
                raise SpectrojobsModuleError(failure, "pod {} failed: {}".format(pod["metadata"]["name"], failure))
        if self.p["kind"] == "export":
            return {"phase": "Succeeded", "pod_name": pods[0]["metadata"]["name"] if pods else ""} if finished else None
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        if running:
            pod = running[0]
            port = self.node_port()
            if health_serving("{}:{}".format(self.p["stream_host"], port)):
                return {"phase": "Running", "pod_name": pod["metadata"]["name"],
                        "pod_ip": pod["status"].get("podIP"), "node_port": port}
            return None
        if pending_for >= self.p["pending_timeout"]:
            reasons = [classify_pending(p, self.pvc_phases(p)) for p in pods] or [None]
            reason = next((r for r in reasons if r), "ReadinessTimeout")
            raise SpectrojobsModuleError(
                reason, "job {} still pending after {:.0f} s: {}".format(self.p["job_id"], pending_for, reason),
                pods=[p["metadata"]["name"] for p in pods])
        return None


def wait(module, watcher):
    start = time.monotonic()
    pending_since = None
    while True:
        now = time.monotonic()
        result = watcher.check_once(now - (pending_since or now))
        if result is not None:
            return dict(result, waited_seconds=round(time.monotonic() - start, 2))
        if pending_since is None:
            pending_since = now
        if now - start >= module.params["ready_timeout"]:
            raise SpectrojobsModuleError(
                "ReadinessTimeout", "job {} not ready within {:.0f} s (no pod running with a serving stream)".format(module.params["job_id"], module.params["ready_timeout"]))
        time.sleep(module.params["poll_interval"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            K8S_ARGS,
            job_id=dict(type="str", required=True),
            job_name=dict(type="str", required=True),
            service_name=dict(type="str", default=""),
            kind=dict(type="str", choices=["stream", "export"], default="stream"),
            job_label=dict(type="str", default="spectrojobs.io/job-id"),
            stream_host=dict(type="str", default="127.0.0.1"),
            pending_timeout=dict(type="float", default=60),
            ready_timeout=dict(type="float", default=120),
            poll_interval=dict(type="float", default=0.5),
        ),
        required_if=[("kind", "stream", ("service_name",))],
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=f"the kubernetes Python package is required: {KUBERNETES_IMPORT_ERROR}")
    if not HAS_GRPC:
        module.fail_json(msg="grpcio and grpcio-health-checking are required")
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, msg="readiness is not checked in check mode")
    try:
        api_client = load_api_client(module.params["kubeconfig"], module.params["context"])
        result = wait(module, Watcher(module, api_client))
    except SpectrojobsModuleError as exc:
        module.fail_json(msg=exc.message, reason=exc.reason, **exc.details)
    except ApiException as exc:
        module.fail_json(msg=f"Kubernetes API error: {api_error_message(exc)}", reason="ApiError")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
