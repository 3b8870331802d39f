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
    from kubernetes.client.rest import ApiException

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


def call_json(call, *args, **kwargs):
    """A typed-client call answered as the API's JSON dict, without building the client's
    pydantic models (most of a module's CPU time otherwise); errors still raise ApiException."""
    response = call(*args, _preload_content=False, **kwargs)
    data = response.data
    return json.loads(data) if data else None


def get_or_none(call, *args, **kwargs):
    """The JSON dict of a read call, or None on 404."""
    try:
        return call_json(call, *args, **kwargs)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def items(call, *args, **kwargs):
    """The `items` of a list call as JSON dicts."""
    return (call_json(call, *args, **kwargs) or {}).get("items") or []


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
