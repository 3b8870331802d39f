#!/usr/bin/python
"""Read everything of one, several or all spectrogram jobs in one call; optionally keep evidence."""

from __future__ import annotations

import datetime
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.spectrojobs_common import (
    SpectrojobsModuleError,
    job_phase,
    parse_job_id,
    pod_state,
    window_of_lease_name,
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
module: spectrojobs_job_info
short_description: State of spectrogram jobs (Job, pods, Service, Lease, PVCs, events)
description:
  - For each job id returns the Job's uid, phase and reason, its pods, node port, window Lease
    (uid and holder), PVC phases and age - the facts cleanup needs for its uid preconditions.
  - Without O(job_ids) every job is reported - those with a Job labelled
    O(managed_selector) and those only holding a window Lease.
  - With O(evidence_dir) the Job, pods, events, Service and Lease are written as JSON and each
    pod's log as text under C(<evidence_dir>/<job_id>/) (not in check mode). Evidence files are
    artifacts, not managed state, so C(changed) stays false.
options:
  namespace: {description: Namespace., type: str, required: true}
  kubeconfig: {description: Path to a kubeconfig (default from the environment)., type: path}
  context: {description: Kubeconfig context., type: str}
  job_ids: {description: Job ids; empty means all jobs., type: list, elements: str, default: []}
  evidence_dir: {description: Directory for evidence files; empty keeps none., type: path, default: ""}
  job_label: {description: Label holding the job id., type: str, default: spectrojobs.io/job-id}
  managed_selector: {description: Selector of managed Jobs., type: str, default: app.kubernetes.io/managed-by=spectrojobs}
  lease_prefix: {description: Lease name prefix., type: str, default: window-}
  log_tail_lines: {description: Lines of each pod log kept as evidence., type: int, default: 2000}
author: spectrojobs
"""

EXAMPLES = r"""
- name: Read one job
  spectrojobs_job_info:
    namespace: spectrojobs
    job_ids: [3-01234]
"""

RETURN = r"""
jobs:
  description: One entry per job (job_id, window, exists, job_uid, phase, reason, kind, mode,
    pods, node_port, service_uid, lease_uid, lease_holder, pvcs, age_seconds, evidence).
  returned: always
  type: list
"""

def age_seconds(obj):
    stamp = ((obj or {}).get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return None
    created = datetime.datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.UTC)
    return int((datetime.datetime.now(datetime.UTC) - created).total_seconds())


class Reader:
    def __init__(self, params, api_client):
        self.p = params
        self.ns = params["namespace"]
        self.kube = Kube(api_client, self.ns)

    def all_job_ids(self):
        ids = set()
        for job in self.kube.list("Job", labelSelector=self.p["managed_selector"]):
            job_id = (job["metadata"].get("labels") or {}).get(self.p["job_label"])
            if job_id:
                ids.add(job_id)
        for lease in self.kube.list("Lease"):
            holder = (lease.get("spec") or {}).get("holderIdentity")
            if window_of_lease_name(lease["metadata"]["name"], self.p["lease_prefix"]) is not None and holder:
                ids.add(holder)
        return sorted(ids, key=lambda j: [int(x) if x.isdigit() else x for x in j.split("-")])

    def events_for(self, names):
        events = []
        for name in sorted(names):
            events += self.kube.list("Event", fieldSelector=f"involvedObject.name={name}")
        return events

    def read(self, job_id):
        window, _unique = parse_job_id(job_id, 10000)
        job = self.kube.get("Job", f"grpc-job-{job_id}")
        pods = self.kube.list("Pod", labelSelector="{}={}".format(self.p["job_label"], job_id))
        service = self.kube.get("Service", f"grpc-service-{job_id}")
        lease = self.kube.get("Lease", f"{self.p['lease_prefix']}{window}")
        pvcs = {}
        for name in (f"{job_id}-data-pvc", f"{job_id}-output-pvc"):
            pvc = self.kube.get("PersistentVolumeClaim", name)
            if pvc is not None:
                pvcs[name] = (pvc.get("status") or {}).get("phase", "Unknown")
        labels = ((job or service or {}).get("metadata") or {}).get("labels") or {}
        phase, reason = job_phase(job, pods)
        lease_spec = (lease or {}).get("spec") or {}
        ports = ((service or {}).get("spec") or {}).get("ports") or [{}]
        return {
            "job_id": job_id,
            "window": window,
            "exists": job is not None,
            "job_uid": ((job or {}).get("metadata") or {}).get("uid", ""),
            "phase": phase,
            "reason": reason,
            "kind": labels.get("spectrojobs.io/kind", ""),
            "mode": labels.get("spectrojobs.io/mode", ""),
            "owner": labels.get("spectrojobs.io/owner", ""),
            "pods": [pod_state(p) for p in pods],
            "service": (service or {}).get("metadata", {}).get("name", ""),
            "service_uid": ((service or {}).get("metadata") or {}).get("uid", ""),
            "node_port": ports[0].get("nodePort"),
            "lease_uid": ((lease or {}).get("metadata") or {}).get("uid", ""),
            "lease_holder": lease_spec.get("holderIdentity") or "",
            "pvcs": pvcs,
            "age_seconds": age_seconds(job or service or lease),
        }, {"job": job, "pods": pods, "service": service, "lease": lease}

    def keep_evidence(self, job_id, objects, directory):
        target = os.path.join(directory, job_id)
        os.makedirs(target, exist_ok=True)
        names = {f"grpc-job-{job_id}"} | {p["metadata"]["name"] for p in objects["pods"]}
        files = []
        payload = dict(objects, events=self.events_for(names))
        for key, value in sorted(payload.items()):
            path = os.path.join(target, f"{key}.json")
            with open(path, "w") as handle:
                json.dump(value, handle, indent=2, sort_keys=True, default=str)
            files.append(path)
        for pod in objects["pods"]:
            path = os.path.join(target, "{}.log".format(pod["metadata"]["name"]))
            try:
                text = self.kube.pod_log(pod["metadata"]["name"], tail_lines=self.p["log_tail_lines"])
            except ApiException as exc:
                text = f"log unavailable: {api_error_message(exc)}\n"
            with open(path, "w") as handle:
                handle.write(text or "")
            files.append(path)
        return files


def main():
    module = AnsibleModule(
        argument_spec=dict(
            K8S_ARGS,
            job_ids=dict(type="list", elements="str", default=[]),
            evidence_dir=dict(type="path", default=""),
            job_label=dict(type="str", default="spectrojobs.io/job-id"),
            managed_selector=dict(type="str", default="app.kubernetes.io/managed-by=spectrojobs"),
            lease_prefix=dict(type="str", default="window-"),
            log_tail_lines=dict(type="int", default=2000),
        ),
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=f"the kubernetes Python package is required: {KUBERNETES_IMPORT_ERROR}")
    params = module.params
    jobs = []
    try:
        reader = Reader(params, load_api_client(params["kubeconfig"], params["context"]))
        for job_id in params["job_ids"] or reader.all_job_ids():
            info, objects = reader.read(job_id)
            has_something = any(objects[k] for k in ("job", "pods", "service")) or info["lease_holder"] == job_id
            if params["evidence_dir"] and has_something and not module.check_mode:
                info["evidence"] = reader.keep_evidence(job_id, objects, params["evidence_dir"])
            jobs.append(info)
    except SpectrojobsModuleError as exc:
        module.fail_json(msg=exc.message, reason=exc.reason)
    except ApiException as exc:
        module.fail_json(msg=f"Kubernetes API error: {api_error_message(exc)}", reason="ApiError")
    module.exit_json(changed=False, jobs=jobs)


if __name__ == "__main__":
    main()
