"""Integration fixtures: one local cluster per session, a typed client, an ansible-runner helper.

- `cluster`: `localcluster.testing.running_cluster` with gpus_shared=4, gpus=1, namespace
  `spectrojobs` created, and `K8S_AUTH_KUBECONFIG` / `KUBECONFIG` exported for the session.
- `k8s_api`: a `kubernetes.client.ApiClient` for it.
- `ns`: a fresh namespace of its own for one test; `amqp`: the broker URL (RabbitMQ required).
- `run_tasks`: run a list of Ansible tasks (one play on localhost, the venv's python as the
  interpreter) through ansible-runner and get back every task result, in order.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster.testing import ClusterHandle, running_cluster
from tests.services import require_rabbitmq

TEST_NAMESPACE = "spectrojobs"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHandle]:
    state_dir = tmp_path_factory.mktemp("localcluster")
    with running_cluster(state_dir, gpus_shared=4, gpus=1,
                         extra_args=("--bookmark-interval", "2")) as handle:
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=str(handle.kubeconfig))
        try:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": TEST_NAMESPACE}})
        finally:
            api.close()
        saved = {k: os.environ.get(k) for k in ("K8S_AUTH_KUBECONFIG", "KUBECONFIG")}
        os.environ["K8S_AUTH_KUBECONFIG"] = str(handle.kubeconfig)
        os.environ["KUBECONFIG"] = str(handle.kubeconfig)
        try:
            yield handle
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture
def k8s_api(cluster: ClusterHandle) -> Iterator[Any]:
    from kubernetes import config

    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        yield api
    finally:
        api.close()


@dataclass
class PlaybookRun:
    status: str
    rc: int
    results: list[dict[str, Any]] = field(default_factory=list)  # one per task, in order
    stdout: str = ""

    def result(self, name: str) -> dict[str, Any]:
        """The result of the task called `name` (the last one when it looped or repeated)."""
        found = [r for r in self.results if r["task"] == name]
        if not found:
            raise KeyError(f"no task named {name!r}; tasks: {[r['task'] for r in self.results]}")
        return found[-1]


def run_ansible_tasks(tmp_dir: Path, kubeconfig: Path, tasks: list[dict[str, Any]],
                      extravars: dict[str, Any] | None = None) -> PlaybookRun:
    """Run `tasks` as one play on localhost through ansible-runner (no mocks: the real modules)."""
    import ansible_runner

    private = tmp_dir / "runner"
    (private / "project").mkdir(parents=True, exist_ok=True)
    play = [{"name": "localcluster conformance", "hosts": "localhost", "gather_facts": False,
             "tasks": tasks}]
    (private / "project" / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    (private / "inventory").mkdir(exist_ok=True)
    (private / "inventory" / "hosts").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    results: list[dict[str, Any]] = []

    def on_event(event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        if kind in ("runner_on_ok", "runner_on_failed", "runner_on_skipped"):
            data = event["event_data"]
            results.append({"task": data.get("task"), "status": kind.removeprefix("runner_on_"),
                            "res": data.get("res") or {}})
        return True

    run = ansible_runner.run(
        private_data_dir=str(private), playbook="play.yml", extravars=extravars or {},
        envvars={"K8S_AUTH_KUBECONFIG": str(kubeconfig), "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                 "ANSIBLE_NOCOLOR": "1",
                 "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
        event_handler=on_event, quiet=True, rotate_artifacts=1)
    stdout_file = Path(run.config.artifact_dir) / "stdout"
    stdout = stdout_file.read_text(errors="replace") if stdout_file.exists() else ""
    return PlaybookRun(run.status, run.rc, results, stdout)


@pytest.fixture
def ns(k8s_api: Any) -> Iterator[str]:
    from kubernetes import client

    name = f"test-{secrets.token_hex(3)}"
    client.CoreV1Api(k8s_api).create_namespace({"metadata": {"name": name}})
    yield name


@pytest.fixture
def amqp() -> str:
    return require_rabbitmq()


@pytest.fixture
def run_tasks(cluster: ClusterHandle, tmp_path: Path) -> Callable[..., PlaybookRun]:
    def runner(tasks: list[dict[str, Any]], extravars: dict[str, Any] | None = None) -> PlaybookRun:
        return run_ansible_tasks(tmp_path, cluster.kubeconfig, tasks, extravars)

    return runner
