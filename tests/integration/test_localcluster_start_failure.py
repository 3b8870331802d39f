"""A cluster whose start fails part way exits with the reason in its log; it does not hang.

Regression: `Cluster.stop()` after a failed start called `HTTPServer.shutdown()` on a server
whose serve loop never ran, which waits forever; the exception was never printed and SIGTERM
(which only sets an event) could not end the process.
"""

from __future__ import annotations

import socket
import threading

import psutil
import pytest

from localcluster.procs import ClusterStartError
from localcluster.server import LocalApiServer
from localcluster.testing import running_cluster

pytestmark = pytest.mark.integration


def test_a_start_that_fails_after_the_server_exists_exits_with_the_reason(tmp_path):
    # ControllerConfig rejects a negative back-off after the API server was created
    with pytest.raises(ClusterStartError) as caught:
        with running_cluster(tmp_path, extra_args=("--job-backoff-base", "-1"), timeout=60):
            pass
    message = str(caught.value)
    assert "exited with code 1" in message
    assert "the cluster failed" in message and "back-off" in message
    assert not (tmp_path / "kubeconfig").exists()
    assert not (tmp_path / "store.json").exists()  # nothing was saved over a snapshot
    assert not [p for p in psutil.process_iter(["cmdline"])
                if str(tmp_path) in " ".join(p.info["cmdline"] or [])]


def test_stopping_a_server_that_never_started_returns_and_frees_its_port():
    server = LocalApiServer(port=0)
    port = server.port
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive(), "LocalApiServer.stop() hangs when start() was never called"
    with socket.create_server(("127.0.0.1", port)):
        pass

