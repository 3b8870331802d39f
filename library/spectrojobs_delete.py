#!/usr/bin/python
"""Delete a job's objects in a fixed order, each with its own propagation policy and uid precondition."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.spectrojobs_amqp import HAS_PIKA, AMQPError, Broker, ChannelClosedByBroker
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
module: spectrojobs_delete
short_description: Delete objects in order with per-object propagation policy and uid precondition
description:
  - The cleanup path in one module run (kubernetes.core.k8s takes one task per distinct uid
    precondition and costs about 1.5-4 s per task on small machines).
  - A missing object (404) counts as deleted (C(absent)).
  - A uid precondition that no longer holds (409) means a newer object reuses the name; it is
    left alone and reported as C(conflict), and the module fails unless O(conflict_ok).
  - Check mode sends the deletes with C(dryRun=All).
  - A C(Queue) entry deletes a RabbitMQ queue (O(amqp_url)) at its place in the order, so the
    cleanup of any number of jobs (Services, Jobs, PVCs, live queues, leases) is one module run.
    After a conflict, later C(Queue) and C(Lease) entries are left alone (C(skipped)): the name is
    reused by a newer job, whose queue and window they now are.
options:
  namespace: {description: Namespace of the objects., type: str, required: true}
  kubeconfig: {description: Path to a kubeconfig (default from the environment)., type: path}
  context: {description: Kubeconfig context., type: str}
  objects:
    description: Objects to delete, in order - C(kind), C(name), optional C(uid) (precondition)
      and C(propagation_policy) (Background by default; a Job without it would orphan its pods);
      kind C(Queue) names a RabbitMQ queue.
    type: list
    elements: dict
    required: true
  conflict_ok: {description: Do not fail when a precondition no longer holds., type: bool, default: false}
  amqp_url: {description: AMQP URL for C(Queue) entries (never logged)., type: str}
  amqp_timeout: {description: Broker connection timeout in seconds., type: float, default: 5}
author: spectrojobs
"""

EXAMPLES = r"""
- name: Delete a job
  spectrojobs_delete:
    namespace: spectrojobs
    objects:
      - {kind: Service, name: grpc-service-3-01234}
      - {kind: Job, name: grpc-job-3-01234, uid: 0c9d..., propagation_policy: Background}
      - {kind: Lease, name: window-3, uid: 5e1f...}
"""

RETURN = r"""
objects:
  description: Per object - kind, name and result (deleted, absent, conflict, skipped).
  returned: always
  type: list
"""

KINDS = ("Job", "Service", "PersistentVolumeClaim", "Lease", "Pod", "Queue")
# Entries that belong to whoever holds the job id: never touched after a uid conflict.
AFTER_CONFLICT_SKIPPED = ("Queue", "Lease")


def delete_options(obj):
    body = {"apiVersion": "v1", "kind": "DeleteOptions",
            "propagationPolicy": obj.get("propagation_policy") or "Background"}
    if obj.get("uid"):
        body["preconditions"] = {"uid": obj["uid"]}
    return body


class Deleter:
    """Deletes entries in order: Kubernetes objects through the ApiClient, queues over one lazily
    opened broker connection."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.kube = Kube(load_api_client(self.params["kubeconfig"], self.params["context"]), self.params["namespace"])
        self.broker = None

    def close(self):
        if self.broker is not None:
            self.broker.close()

    def delete_queue(self, name):
        if self.broker is None:
            if not HAS_PIKA or not self.params["amqp_url"]:
                self.module.fail_json(msg=f"Queue/{name}: amqp_url and the pika package are required for Queue entries",
                                      reason="Invalid:amqp_url")
            self.broker = Broker(self.params["amqp_url"], self.params["amqp_timeout"])
        return "deleted" if self.broker.delete_queue(name, self.module.check_mode) else "absent"

    def delete_object(self, obj):
        try:
            self.kube.delete(obj["kind"], obj["name"], delete_options(obj),
                             dry_run="All" if self.module.check_mode else None)
        except ApiException as exc:
            if exc.status == 404:
                return "absent"
            if exc.status == 409 and obj.get("uid"):
                return "conflict"
            raise
        return "deleted"

    def run(self, objects, results):
        for obj in objects:
            if obj["kind"] in AFTER_CONFLICT_SKIPPED and any(r["result"] == "conflict" for r in results):
                outcome = "skipped"
            elif obj["kind"] == "Queue":
                outcome = self.delete_queue(obj["name"])
            else:
                outcome = self.delete_object(obj)
            results.append({"kind": obj["kind"], "name": obj["name"], "result": outcome})


def main():
    module = AnsibleModule(
        argument_spec=dict(
            K8S_ARGS,
            objects=dict(type="list", elements="dict", required=True),
            conflict_ok=dict(type="bool", default=False),
            amqp_url=dict(type="str", no_log=True),
            amqp_timeout=dict(type="float", default=5),
        ),
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=f"the kubernetes Python package is required: {KUBERNETES_IMPORT_ERROR}")
    params = module.params
    unknown = [o.get("kind") for o in params["objects"] if o.get("kind") not in KINDS]
    if unknown or any(not o.get("name") for o in params["objects"]):
        module.fail_json(msg=f"objects need a name and a kind among {sorted(KINDS)}; got kinds {unknown}",
                         reason="Invalid:objects")
    results = []
    deleter = Deleter(module)
    try:
        deleter.run(params["objects"], results)
    except ApiException as exc:
        module.fail_json(msg=f"Kubernetes API error: {api_error_message(exc)}", reason="ApiError", objects=results)
    except ChannelClosedByBroker as exc:
        module.fail_json(msg=f"broker refused: {exc.reply_code} {exc.reply_text}", reason="BrokerError", objects=results)
    except AMQPError as exc:
        module.fail_json(msg=f"broker unreachable: {type(exc).__name__}", reason="BrokerUnreachable", objects=results)
    finally:
        deleter.close()
    conflicts = [r for r in results if r["result"] == "conflict"]
    changed = any(r["result"] == "deleted" for r in results)
    if conflicts and not params["conflict_ok"]:
        module.fail_json(msg="uid precondition failed (a newer object reuses the name): "
                         + ", ".join(f"{r['kind']}/{r['name']}" for r in conflicts),
                         reason="Conflict", objects=results, changed=changed)
    module.exit_json(changed=changed, objects=results)


if __name__ == "__main__":
    main()
