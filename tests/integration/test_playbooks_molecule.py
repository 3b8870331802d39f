"""The molecule scenarios (delegated driver) against the session's local cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import require_rabbitmq

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def molecule(scenario: str, kubeconfig: Path) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    env = {**os.environ, "K8S_AUTH_KUBECONFIG": str(kubeconfig), "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
           "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1", "NO_COLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0"}
    return subprocess.run([str(bindir / "molecule"), "test", "-s", scenario], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def test_molecule_default_create_idempotence_verify_cleanup(cluster):
    require_rabbitmq()
    done = molecule("default", cluster.kubeconfig)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    assert "idempotence: Executed: Successful" in done.stdout + done.stderr


def test_molecule_reap_cleans_failed_finished_and_orphaned_and_dry_run_changes_nothing(cluster):
    require_rabbitmq()
    done = molecule("reap", cluster.kubeconfig)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    assert "verify: Executed: Successful" in done.stdout + done.stderr
