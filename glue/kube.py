"""Kubernetes client loading: in-cluster config first, then a kubeconfig file.

The kubeconfig is the one kubernetes.core reads too: `K8S_AUTH_KUBECONFIG`, then `KUBECONFIG`
(first entry), then `~/.kube/config`. Each call returns a fresh `ApiClient`; nothing global
is configured, so several clusters can be used in one process (tests do).
"""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from glue.errors import ConfigurationError


def kubeconfig_path(explicit: str | None = None) -> Path:
    for candidate in (explicit, os.environ.get("K8S_AUTH_KUBECONFIG"), os.environ.get("KUBECONFIG")):
        if candidate:
            return Path(candidate.split(os.pathsep)[0]).expanduser()
    return Path("~/.kube/config").expanduser()


def load_api_client(kubeconfig: str | None = None) -> client.ApiClient:
    """An ApiClient for the cluster: in-cluster service account first, else the kubeconfig."""
    configuration = client.Configuration()
    if not kubeconfig and os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        except ConfigException:
            pass  # not really in a pod: fall back to the kubeconfig
    path = kubeconfig_path(kubeconfig)
    if not path.is_file():
        raise ConfigurationError(
            f"no Kubernetes configuration: not in a cluster and kubeconfig {str(path)!r} does not exist "
            "(set K8S_AUTH_KUBECONFIG or run `spectrojobs cluster up`)"
        )
    try:
        config.load_kube_config(config_file=str(path), client_configuration=configuration)
    except (ConfigException, OSError, ValueError) as exc:
        raise ConfigurationError(f"kubeconfig {str(path)!r} is invalid: {exc}") from exc
    return client.ApiClient(configuration)
