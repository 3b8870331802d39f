"""The trigger API over real HTTP: local cluster, real playbooks through ansible-runner, real streamer.

One API server (werkzeug, port 0, in a thread) per module, in a namespace of its own so the
window count is exact. Admission runs with SPECTROJOBS_TEST_API_WINDOWS windows (default 30, the
production count, with 2x as many parallel requests: about 100 s on these 2-core machines).
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import hypothesis
import numpy as np
import pytest
import schemathesis
from kubernetes import client as k8s
from schemathesis import checks
from werkzeug.serving import make_server

from glue.api import create_app, shutdown
from glue.api.webhooks import SIGNATURE_HEADER, signature
from streamer.client import StreamClient
from streamer.sources.recording import RecordingWriter
from streamer.sources.synthetic import Interrogator

pytestmark = pytest.mark.integration

WINDOWS = int(os.environ.get("SPECTROJOBS_TEST_API_WINDOWS", "30"))
TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789", "root": "root-token-0123456789"}
SECRET = "webhook-secret-0123456789"
T0 = int(time.time()) - 3600


class Api:
    def __init__(self, base: str, namespace: str, app, kubeconfig: Path, marker_dir: Path) -> None:
        self.base, self.namespace, self.app, self.kubeconfig = base, namespace, app, kubeconfig
        self.marker_dir = marker_dir

    def call(self, method: str, path: str, body=None, who: str | None = "alice", headers=None, raw=None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if who:
            all_headers["Authorization"] = f"Bearer {TOKENS[who]}"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return response.status, json.loads(response.read() or b"null"), response.headers
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read() or b"null"), exc.headers

    def leftovers(self) -> dict[str, list[str]]:
        with k8s.ApiClient(_configuration(self.kubeconfig)) as api:
            core, batch, coord = k8s.CoreV1Api(api), k8s.BatchV1Api(api), k8s.CoordinationV1Api(api)
            found = {
                "jobs": batch.list_namespaced_job(self.namespace).items,
                "pods": core.list_namespaced_pod(self.namespace).items,
                "services": core.list_namespaced_service(self.namespace).items,
                "leases": coord.list_namespaced_lease(self.namespace).items,
                "pvcs": core.list_namespaced_persistent_volume_claim(self.namespace).items,
            }
        return {kind: [o.metadata.name for o in items] for kind, items in found.items() if items}

    def wait_nothing_left(self, timeout_s: float = 60) -> dict:
        deadline = time.monotonic() + timeout_s
        while (left := self.leftovers()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return left


def _configuration(kubeconfig: Path):
    from kubernetes import config

    configuration = k8s.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return configuration


def write_recording(root: Path) -> tuple[float, float]:
    gen = Interrogator(sample_rate_hz=1000.0, n_channels=32, start_ns=T0 * 10**9)
    with RecordingWriter(root, 1000.0, file_seconds=5.0) as writer:
        for block in gen.blocks(1000, realtime=False, limit_s=10):
            writer.append(block.data, block.t0_ns)
    return T0, T0 + 9.9


@pytest.fixture(scope="module")
def api(cluster, tmp_path_factory):
    home = tmp_path_factory.mktemp("api")
    namespace = f"apitest-{uuid.uuid4().hex[:6]}"
    with k8s.ApiClient(_configuration(cluster.kubeconfig)) as kube:
        k8s.CoreV1Api(kube).create_namespace({"metadata": {"name": namespace}})
    write_recording(home / "recordings")
    app = create_app({
        "NAMESPACE": namespace, "KUBECONFIG": str(cluster.kubeconfig), "RUNS_DIR": str(home / "runs"),
        "EVIDENCE_DIR": str(home / "evidence"), "RECORDINGS_DIR": str(home / "recordings"),
        "HISTORY_URL": f"sqlite:///{home / 'history.sqlite3'}", "MAX_WINDOWS": WINDOWS,
        "CREATE_EXTRAVARS": {"gpu_count": 0}, "RUNNER_WORKERS": 4, "CACHE_WATCH_TIMEOUT_S": 5,
        "TOKENS": [{"identity": name, "token": token, "admin": name == "root"} for name, token in TOKENS.items()],
        "WEBHOOKS": {
            "query": {"playbook": "query.yml", "secret": SECRET, "variables": {"job_id": "job_id"}},
            "cleanup": {"playbook": "cleanup.yml", "secret": SECRET,
                        "variables": {"job_ids": "job_ids", "cleanup_reason": "text"}},
        },
    })
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api = Api(f"http://127.0.0.1:{server.server_port}", namespace, app, cluster.kubeconfig, home / "markers")
    api.marker_dir.mkdir()
    deadline = time.monotonic() + 30
    while api.call("GET", "/readyz")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        yield api
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        shutdown(app, cancel_runs=True)
        with k8s.ApiClient(_configuration(cluster.kubeconfig)) as kube:
            k8s.CoreV1Api(kube).delete_namespace(namespace)


def request_body(**overrides):
    body = {"displayTimeAxisDuration": 10, "nfftSelection": 128, "displayInfo": {"height": 100},
            "channels": {"min": 1, "max": 16}, "frequencyRange": {"min": 0, "max": 400},
            "start_time": T0, "end_time": T0 + 9.9, "view_type": 0}
    body.update(overrides)
    return body


def test_configure_stream_forbid_delete_nothing_left(api):
    marker = api.marker_dir / "configure"
    inert = {"comment": f"{{{{ lookup('pipe', 'touch {marker}') }}}}", "owner": f"$(touch {marker})"}
    status, body, _ = api.call("POST", "/configure", request_body(**inert))
    assert status == 200, body
    for field in ("status", "job_id", "stream_url", "stream_port", "view_type", "frequencies_list",
                  "frequencies_amount", "lines_dt", "channel_amount", "stream_amount", "channel_to_stream_index"):
        assert field in body, field
    assert body["channel_amount"] == 16 and body["lines_dt"] == pytest.approx(0.1)
    job_id = body["job_id"]

    with StreamClient(f"{body['stream_url']}:{body['stream_port']}") as stream:
        rows = []
        for row in stream.rows():
            rows.append(row)
            if len(rows) == 5:
                stream.cancel()
                break
    assert rows[0].data.shape == (16, body["frequencies_amount"])
    assert np.isfinite(rows[0].data).all()

    view = api.call("GET", f"/job/{job_id}")[1]
    assert view["phase"] == "Running" and view["mode"] == "historic"
    assert job_id in [j["job_id"] for j in api.call("GET", "/jobs", who="bob")[1]["jobs"]]
    assert api.call("GET", f"/metadata/{job_id}")[1]["frequencies_list"] == body["frequencies_list"]

    status, refused, _ = api.call("DELETE", f"/job/{job_id}", who="bob")
    assert status == 403, refused
    assert api.call("GET", f"/job/{job_id}")[1]["phase"] == "Running"
    assert api.leftovers()["jobs"] == [f"grpc-job-{job_id}"]

    status, deleted, _ = api.call("DELETE", f"/job/{job_id}")
    assert status == 200 and deleted["status"] == "Deleted", deleted
    assert api.wait_nothing_left() == {}
    assert api.call("GET", f"/job/{job_id}")[0] == 404
    events = api.call("GET", f"/job/{job_id}/events")[1]["events"]
    assert [(e["what"], e["who"]) for e in events] == [("Created", "alice"), ("Deleted", "alice")]
    assert not marker.exists()


def test_admission_is_exact_and_nothing_leaks(api):
    free = WINDOWS - len(api.app.extensions["spectrojobs.service"].windows_in_use())
    assert free > 0

    def configure(i: int):
        return api.call("POST", "/configure", request_body(), who=("alice", "bob")[i % 2],
                        headers={"Prefer": "respond-async"})

    with ThreadPoolExecutor(2 * free) as pool:
        answers = list(pool.map(configure, range(2 * free)))
    accepted = [body for status, body, _ in answers if status == 202]
    refused = [(body, headers) for status, body, headers in answers if status == 429]
    assert len(accepted) == free and len(refused) == free, [a[0] for a in answers]
    assert all(h["Retry-After"] and b["error"] == "NoWindowFree" for b, h in refused)
    assert len({b["job_id"].split("-")[0] for b in accepted}) == free  # one window each
    admin = api.call("GET", "/jobs", who="root")[1]["jobs"]
    assert {j["job_id"] for j in admin} >= {b["job_id"] for b in accepted}

    for body in accepted:  # the admin stops the creates in flight and cleans up after them
        status, answer, _ = api.call("DELETE", f"/job/{body['job_id']}", who="root",
                                     headers={"Prefer": "respond-async"})
        assert status == 202, answer
    left, deadline = {b["job_id"] for b in accepted}, time.monotonic() + 240
    while left and time.monotonic() < deadline:
        left = {job_id for job_id in left if api.call("GET", f"/job/{job_id}", who="root")[0] != 404}
        time.sleep(0.5)
    assert left == set()
    assert api.wait_nothing_left() == {}
    assert api.app.extensions["spectrojobs.service"].windows_in_use() == set()


def test_injection_attempts_reach_no_shell_and_no_template(api):
    marker = api.marker_dir / "injected"
    payloads = [f"{{{{ lookup('pipe', 'touch {marker}') }}}}", f"$(touch {marker})", f"1; touch {marker}",
                f"`touch {marker}`", f"{{% if lookup('pipe', 'touch {marker}') %}}{{% endif %}}"]
    for payload in payloads:
        every_field = {"displayTimeAxisDuration": payload, "nfftSelection": payload, "view_type": payload,
                       "displayInfo": {"height": payload}, "channels": {"min": payload, "max": payload},
                       "frequencyRange": {"min": payload, "max": payload}, "start_time": payload,
                       "end_time": payload}
        status, body, _ = api.call("POST", "/configure", every_field)
        assert status == 422 and len(body["errors"]) >= 10, body
        assert api.call("GET", f"/job/{urllib.parse.quote(payload, safe='')}")[0] == 404
        assert api.call("POST", "/recordings_in_time_range", {"start_time": payload, "end_time": payload})[0] == 422
        for hook, variables in (("query", {"job_id": payload}),
                                ("cleanup", {"job_ids": ["1-12345"], "cleanup_reason": payload})):
            raw = json.dumps(variables).encode()
            status, body, _ = api.call("POST", f"/webhooks/{hook}", raw=raw, who=None,
                                       headers={SIGNATURE_HEADER: signature(SECRET, raw)})
            assert status == 422, body
    assert not marker.exists()


def test_webhooks_need_a_valid_signature_and_known_variables(api):
    raw = json.dumps({"job_id": "0-12345"}).encode()
    for headers in ({}, {SIGNATURE_HEADER: "sha256=" + "0" * 64},
                    {SIGNATURE_HEADER: signature("wrong-secret-0123456789", raw)}):
        status, body, _ = api.call("POST", "/webhooks/query", raw=raw, who=None, headers=headers)
        assert status == 401 and body["error"] == "BadSignature"
    unknown = json.dumps({"job_id": "0-12345", "namespace": "kube-system"}).encode()
    status, body, _ = api.call("POST", "/webhooks/query", raw=unknown, who=None,
                               headers={SIGNATURE_HEADER: signature(SECRET, unknown)})
    assert status == 422 and body["errors"][0]["field"] == "namespace"
    status, body, _ = api.call("POST", "/webhooks/query", raw=raw, who=None,
                               headers={SIGNATURE_HEADER: signature(SECRET, raw)})
    assert status == 202 and body["playbook"] == "query.yml"


def test_metrics_count_runs_requests_and_windows(api):
    raw = json.dumps({}).encode()
    assert api.call("POST", "/webhooks/query", raw=raw, who=None,
                    headers={SIGNATURE_HEADER: signature(SECRET, raw)})[0] == 202
    assert api.call("POST", "/configure", {"view_type": 9})[0] == 422
    runner = api.app.extensions["spectrojobs.runner"]
    deadline = time.monotonic() + 120
    while (runner.queue_depth() or runner.running()) and time.monotonic() < deadline:
        time.sleep(0.2)
    text = urllib.request.urlopen(api.base + "/metrics", timeout=10).read().decode()
    assert 'spectrojobs_api_runs_total{playbook="query.yml",status="successful"}' in text
    assert "spectrojobs_api_windows_in_use 0.0" in text
    assert "spectrojobs_api_runner_queue_depth 0.0" in text
    assert 'spectrojobs_api_request_seconds_bucket{endpoint="/configure",le="0.005",method="POST",status="422"}' in text


# -- the OpenAPI contract (schemathesis) ------------------------------------------------------------
# Endpoints that start or stop jobs or playbook runs (configure, delete, webhooks) are covered by
# the explicit tests above; generating hundreds of their requests would mean hundreds of runs.
CONTRACT_CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
                   checks.response_schema_conformance, checks.response_headers_conformance]


def test_openapi_contract_no_5xx_and_responses_match(api):
    schema = (schemathesis.openapi.from_url(api.base + "/openapi.json")
              .exclude(method="POST", path="/configure").exclude(method="DELETE").exclude(path_regex="^/webhooks"))
    headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=12, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        def contract(case):
            case.call_and_validate(headers=headers, checks=CONTRACT_CHECKS)

        contract()
        tested.append(operation.label)
    assert len(tested) >= 10, tested
