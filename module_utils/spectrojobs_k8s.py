"""Kubernetes client access for the spectrojobs modules: one loader, typed errors, JSON dicts.

In-cluster configuration first (AWX execution environments, the monitor's pod), else the
kubeconfig given to the module, else `K8S_AUTH_KUBECONFIG` / `KUBECONFIG` / ~/.kube/config.
Objects are returned as plain JSON dicts (the API's own field names) so the pure helpers in
spectrojobs_common work on the same shapes as the unit tests' fixtures.
"""

from __future__ import annotations

import datetime
import json
import os

try:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module through fail_json
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc
    ApiException = Exception

K8S_ARGS = dict(
    kubeconfig=dict(type="path", aliases=["kubeconfig_path"]),
    context=dict(type="str"),
    namespace=dict(type="str", required=True),
)


def load_api_client(kubeconfig=None, context=None):
    """An ApiClient; raises ConfigException (from the kubernetes package) when none loads."""
    if not kubeconfig and os.environ.get("KUBERNETES_SERVICE_HOST") and not context:
        try:
            config.load_incluster_config()
            return client.ApiClient()
        except config.ConfigException:
            pass
    path = kubeconfig or os.environ.get("K8S_AUTH_KUBECONFIG") or os.environ.get("KUBECONFIG") or None
    if path and os.pathsep in path:
        path = path.split(os.pathsep)[0]
    return config.new_client_from_config(config_file=path, context=context)


# Namespaced collection paths of the kinds the modules touch (the typed API classes' paths).
RESOURCES = {
    "Job": "/apis/batch/v1/namespaces/{namespace}/jobs",
    "Service": "/api/v1/namespaces/{namespace}/services",
    "PersistentVolumeClaim": "/api/v1/namespaces/{namespace}/persistentvolumeclaims",
    "Pod": "/api/v1/namespaces/{namespace}/pods",
    "Event": "/api/v1/namespaces/{namespace}/events",
    "Lease": "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases",
}


class Kube:
    """Namespaced calls through the kubernetes client's ApiClient, answered as the API's JSON dicts.

    The typed API classes (CoreV1Api, BatchV1Api, ...) import hundreds of pydantic model modules
    on first use - about 2 CPU-seconds per module run on a small machine, more than the whole
    call. ApiClient.param_serialize/call_api are what those classes call underneath: the same
    URL building, authentication and TLS; errors raise the same ApiException.
    """

    def __init__(self, api_client, namespace):
        self.api_client = api_client
        self.namespace = namespace

    def request(self, method, kind, name=None, subresource=None, query=None, body=None, content_type=None):
        """The response body (bytes) of one call; raises ApiException on a non-2xx status."""
        # "{name}" is a path parameter: param_serialize fills it in, URL-quoted.
        path = RESOURCES[kind] + ("/{name}" if name else "") + (f"/{subresource}" if subresource else "")  # noqa: RUF027
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        serialized = self.api_client.param_serialize(
            method, path, path_params={"namespace": self.namespace, **({"name": name} if name else {})},
            query_params=[(k, v) for k, v in (query or {}).items() if v is not None],
            header_params=headers, body=body, auth_settings=["BearerToken"])
        response = self.api_client.call_api(*serialized)
        response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.data

    def json(self, method, kind, name=None, **kwargs):
        data = self.request(method, kind, name, **kwargs)
        return json.loads(data) if data else None

    def get(self, kind, name):
        """The object as a dict, or None on 404."""
        try:
            return self.json("GET", kind, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, kind, **query):
        """The `items` of a list call (query: labelSelector, fieldSelector, ...)."""
        return (self.json("GET", kind, query=query) or {}).get("items") or []

    def create(self, body, dry_run=None):
        return self.json("POST", body["kind"], body=body, query={"dryRun": dry_run})

    def patch(self, body, dry_run=None):
        """A strategic merge patch of the object named in body."""
        return self.json("PATCH", body["kind"], body["metadata"]["name"], body=body, query={"dryRun": dry_run},
                         content_type="application/strategic-merge-patch+json")

    def delete(self, kind, name, options, dry_run=None):
        return self.json("DELETE", kind, name, body=options, query={"dryRun": dry_run})

    def pod_log(self, name, tail_lines=None):
        return self.request("GET", "Pod", name, subresource="log", query={"tailLines": tail_lines}).decode(
            "utf-8", errors="replace")


def micro_time_now():
    """Lease MicroTime with six fraction digits, as the API server expects."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def api_error_message(exc):
    """A short message from an ApiException (the Status message when there is one)."""
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        body = {}
    return "{} {}: {}".format(exc.status, exc.reason, body.get("message") or exc.body)
