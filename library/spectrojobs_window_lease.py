#!/usr/bin/python
"""Admission: acquire the Lease `window-<n>` of a spectrogram job (job_cleanup releases it)."""

from __future__ import annotations

import secrets

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.spectrojobs_common import (
    SpectrojobsModuleError,
    format_labels,
    free_windows,
    parse_job_id,
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
    micro_time_now,
)

DOCUMENTATION = r"""
module: spectrojobs_window_lease
short_description: Acquire a window slot for a job by creating Lease window-<n>
description:
  - Creating the Lease is the atomic admission step (design §3). A 409 on create means the
    slot is taken and the next free one is tried; no free slot fails with reason C(NoWindowFree).
  - With a fixed O(job_id) only that job's window is tried; a Lease already held by the same
    job id is reported unchanged, so a re-run is idempotent.
  - In check mode nothing is created; the window that would be taken is reported.
options:
  namespace: {description: Namespace of the leases., type: str, required: true}
  kubeconfig: {description: Path to a kubeconfig (default from the environment)., type: path}
  context: {description: Kubeconfig context., type: str}
  job_id: {description: Fixed job id C(<window>-<5 digits>); empty picks a free window., type: str, default: ""}
  max_windows: {description: Number of window slots., type: int, default: 30}
  lease_duration_seconds: {description: leaseDurationSeconds written in the Lease., type: int, default: 3600}
  labels: {description: Labels; values may contain C({job_id}) and C({window})., type: dict, default: {}}
  lease_prefix: {description: Lease name prefix., type: str, default: window-}
author: spectrojobs
"""

EXAMPLES = r"""
- name: Acquire a window
  spectrojobs_window_lease:
    namespace: spectrojobs
    labels: {app: "grpc-job-{job_id}", spectrojobs.io/window: "{window}"}
  register: __window_lease_result
"""

RETURN = r"""
job_id: {description: The job id holding the lease., returned: success, type: str}
window: {description: The window index., returned: success, type: int}
lease_name: {description: Name of the Lease., returned: success, type: str}
lease_uid: {description: uid of the Lease (empty in check mode)., returned: success, type: str}
reason: {description: Failure reason (C(NoWindowFree), C(Invalid:job_id))., returned: failure, type: str}
"""

def lease_body(params, name, job_id, window):
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": params["namespace"],
            "labels": format_labels(params["labels"], job_id, window),
        },
        "spec": {
            "holderIdentity": job_id,
            "leaseDurationSeconds": params["lease_duration_seconds"],
            "acquireTime": micro_time_now(),
            "renewTime": micro_time_now(),
            "leaseTransitions": 0,
        },
    }


def result_for(lease, job_id, window, changed):
    meta = (lease or {}).get("metadata") or {}
    return dict(changed=changed, job_id=job_id, window=window, lease_name=meta.get("name", ""),
                lease_uid=meta.get("uid", ""))


class Admission:
    def __init__(self, module, kube):
        self.module = module
        self.params = module.params
        self.kube = kube

    def _name(self, window):
        return f"{self.params['lease_prefix']}{window}"

    def _read(self, name):
        return self.kube.get("Lease", name)

    def _create(self, name, job_id, window):
        """The created Lease as a dict, or None on 409 (slot taken)."""
        body = lease_body(self.params, name, job_id, window)
        if self.module.check_mode:
            return body
        try:
            created = self.kube.create(body)
        except ApiException as exc:
            if exc.status == 409:
                return None
            raise
        return created

    def fixed(self, job_id):
        window, _unique = parse_job_id(job_id, self.params["max_windows"])
        name = self._name(window)
        for _attempt in range(2):
            lease = self._read(name)
            if lease is not None:
                holder = (lease.get("spec") or {}).get("holderIdentity")
                if holder == job_id:
                    return result_for(lease, job_id, window, changed=False)
                raise SpectrojobsModuleError(
                    "NoWindowFree",
                    f"window {window} (Lease {name}) is held by job {holder}, so job {job_id} cannot take it",
                    window=window,
                )
            created = self._create(name, job_id, window)
            if created is not None:
                return result_for(created, job_id, window, changed=True)
        raise SpectrojobsModuleError("NoWindowFree", f"window {window} (Lease {name}) was taken concurrently")

    def any_free(self):
        max_windows = self.params["max_windows"]
        prefix = self.params["lease_prefix"]
        listed = self.kube.list("Lease")
        held = [window_of_lease_name(item["metadata"]["name"], prefix) for item in listed]
        for window in free_windows([w for w in held if w is not None], max_windows):
            job_id = f"{window}-{secrets.randbelow(100000):05d}"
            created = self._create(self._name(window), job_id, window)
            if created is not None:
                return result_for(created, job_id, window, changed=True)
        raise SpectrojobsModuleError(
            "NoWindowFree",
            f"no free window: all {max_windows} windows (Lease {prefix}0..{prefix}{max_windows - 1} "
            f"in namespace {self.params['namespace']}) are held; retry after a job ends",
            max_windows=max_windows,
        )


def main():
    argument_spec = dict(
        K8S_ARGS,
        job_id=dict(type="str", default=""),
        max_windows=dict(type="int", default=30),
        lease_duration_seconds=dict(type="int", default=3600),
        labels=dict(type="dict", default={}),
        lease_prefix=dict(type="str", default="window-"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=f"the kubernetes Python package is required: {KUBERNETES_IMPORT_ERROR}")
    try:
        api_client = load_api_client(module.params["kubeconfig"], module.params["context"])
        admission = Admission(module, Kube(api_client, module.params["namespace"]))
        job_id = module.params["job_id"]
        result = admission.fixed(job_id) if job_id else admission.any_free()
    except SpectrojobsModuleError as exc:
        module.fail_json(msg=exc.message, reason=exc.reason, **exc.details)
    except ApiException as exc:
        module.fail_json(msg=f"Kubernetes API error: {api_error_message(exc)}", reason="ApiError")
    if module.check_mode:
        result["lease_uid"] = ""
    module.exit_json(**result)


if __name__ == "__main__":
    main()
