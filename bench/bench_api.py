"""Trigger API benchmark: configure → first row, and GET /job/<id> under 50 concurrent clients.

    .venv/bin/python bench/bench_api.py [--runs 3] [--clients 50] [--requests 40]

1. `POST /configure` (synchronous) until the first spectrogram row arrives, against the lower
   bound: the same Job, Service and Lease (read back from an API-made job) created directly
   with the kubernetes client, waited on until the first row. Reports p50/p95 of each and the
   ratio API / direct.
2. `GET /job/<id>` latency with N concurrent keep-alive clients, against the anchor `GET /healthz`
   (no cluster state) at the same concurrency: p50/p99 and the ratio.

Everything runs locally: a local cluster, the API in its own process (`spectrojobs api --open`),
CPU streamers reading a synthetic recording. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from kubernetes import client as k8s

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localcluster.testing import running_cluster  # noqa: E402
from streamer.client import StreamClient  # noqa: E402
from streamer.sources.recording import RecordingWriter  # noqa: E402
from streamer.sources.synthetic import Interrogator  # noqa: E402

NAMESPACE = "spectrojobs"
T0 = int(time.time()) - 3600


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def call(port: int, method: str, path: str, body=None, timeout=600):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def first_row(host: str, port: int, timeout_s: float = 60) -> None:
    with StreamClient(f"{host}:{port}", timeout_s=timeout_s) as stream:
        stream.wait_ready(timeout_s)
        for _ in stream.rows():
            stream.cancel()
            return


def request_body() -> dict:
    return {"displayTimeAxisDuration": 10, "nfftSelection": 256, "displayInfo": {"height": 100},
            "channels": {"min": 1, "max": 64}, "frequencyRange": {"min": 0, "max": 500},
            "start_time": T0, "end_time": T0 + 55, "view_type": 0}


def bare(obj: dict) -> dict:
    """An object read from the cluster, as a client would create it (no server-set fields)."""
    meta = obj["metadata"]
    keep = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if meta.get(k)}
    out = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": keep, "spec": dict(obj["spec"])}
    if obj["kind"] == "Job":
        out["spec"].pop("selector", None)
        labels = dict(out["spec"]["template"]["metadata"]["labels"])
        for key in ("controller-uid", "batch.kubernetes.io/controller-uid", "job-name",
                    "batch.kubernetes.io/job-name"):
            labels.pop(key, None)
        out["spec"]["template"] = {**out["spec"]["template"], "metadata": {"labels": labels}}
    if obj["kind"] == "Service":
        out["spec"] = {k: v for k, v in out["spec"].items() if k not in ("clusterIP", "clusterIPs")}
    return out


def direct_create(api: k8s.ApiClient, job: dict, service: dict, lease: dict) -> tuple[str, int]:
    batch, core, coord = k8s.BatchV1Api(api), k8s.CoreV1Api(api), k8s.CoordinationV1Api(api)
    coord.create_namespaced_lease(NAMESPACE, lease)
    made = batch.create_namespaced_job(NAMESPACE, job)
    owned = json.loads(json.dumps(service))
    owned["metadata"]["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "Job", "name": made.metadata.name,
                                             "uid": made.metadata.uid, "controller": True,
                                             "blockOwnerDeletion": True}]
    svc = core.create_namespaced_service(NAMESPACE, owned)
    return made.metadata.uid, svc.spec.ports[0].node_port


def direct_delete(api: k8s.ApiClient, job: dict, lease: dict, uid: str) -> None:
    body = {"propagationPolicy": "Background", "preconditions": {"uid": uid}}
    k8s.BatchV1Api(api).delete_namespaced_job(job["metadata"]["name"], NAMESPACE, body=body)
    k8s.CoordinationV1Api(api).delete_namespaced_lease(lease["metadata"]["name"], NAMESPACE)


def read_objects(api: k8s.ApiClient, job_id: str) -> tuple[dict, dict, dict]:
    raw = k8s.ApiClient.sanitize_for_serialization
    batch, core, coord = k8s.BatchV1Api(api), k8s.CoreV1Api(api), k8s.CoordinationV1Api(api)
    job = raw(api, batch.read_namespaced_job(f"grpc-job-{job_id}", NAMESPACE))
    service = raw(api, core.read_namespaced_service(f"grpc-service-{job_id}", NAMESPACE))
    lease = raw(api, coord.read_namespaced_lease(f"window-{job_id.split('-')[0]}", NAMESPACE))
    lease["spec"] = {"holderIdentity": lease["spec"]["holderIdentity"],
                     "leaseDurationSeconds": lease["spec"].get("leaseDurationSeconds")}
    return bare(job), bare(service), {**bare(lease), "apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}


def wait_gone(api: k8s.ApiClient, timeout_s: float = 60) -> None:
    core = k8s.CoreV1Api(api)
    deadline = time.monotonic() + timeout_s
    while core.list_namespaced_pod(NAMESPACE).items and time.monotonic() < deadline:
        time.sleep(0.2)


def bench_configure(port: int, api: k8s.ApiClient, runs: int) -> dict:
    api_times, direct_times, template = [], [], None
    for _ in range(runs):
        started = time.perf_counter()
        status, body = call(port, "POST", "/configure", request_body())
        if status != 200:
            raise SystemExit(f"configure failed: {status} {body}")
        first_row(body["stream_url"], body["stream_port"])
        api_times.append(time.perf_counter() - started)
        if template is None:
            template = read_objects(api, body["job_id"])
        call(port, "DELETE", f"/job/{body['job_id']}")
        wait_gone(api)
    job, service, lease = template
    for _ in range(runs):
        started = time.perf_counter()
        uid, node_port = direct_create(api, job, service, lease)
        first_row("127.0.0.1", node_port)
        direct_times.append(time.perf_counter() - started)
        direct_delete(api, job, lease, uid)
        wait_gone(api)
    return {"api_p50_s": statistics.median(api_times), "api_p95_s": pct(api_times, 0.95),
            "direct_p50_s": statistics.median(direct_times), "direct_p95_s": pct(direct_times, 0.95),
            "ratio_p50": statistics.median(api_times) / statistics.median(direct_times), "runs": runs}


def hammer(port: int, path: str, clients: int, requests: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        try:
            barrier.wait()
            for _ in range(requests):
                started = time.perf_counter()
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                mine.append(time.perf_counter() - started)
        finally:
            conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def bench_reads(port: int, clients: int, requests: int) -> dict:
    status, body = call(port, "POST", "/configure", request_body())
    job_id = body["job_id"]
    try:
        anchor = hammer(port, "/healthz", clients, requests)
        reads = hammer(port, f"/job/{job_id}", clients, requests)
    finally:
        call(port, "DELETE", f"/job/{job_id}")
    return {"get_job_p50_ms": 1000 * statistics.median(reads), "get_job_p99_ms": 1000 * pct(reads, 0.99),
            "healthz_p50_ms": 1000 * statistics.median(anchor), "healthz_p99_ms": 1000 * pct(anchor, 0.99),
            "ratio_p99": pct(reads, 0.99) / pct(anchor, 0.99), "clients": clients, "requests": len(reads)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="GETs per client")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        home = Path(tmp)
        gen = Interrogator(sample_rate_hz=2000.0, n_channels=64, start_ns=T0 * 10**9)
        with RecordingWriter(home / "recordings", 2000.0, file_seconds=30.0) as writer:
            for block in gen.blocks(2000, realtime=False, limit_s=60):
                writer.append(block.data, block.t0_ns)
        with running_cluster(home / "cluster") as cluster:
            api = k8s.ApiClient(_configuration(cluster.kubeconfig))
            k8s.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
            env = {**os.environ, "SPECTROJOBS_HOME": str(home), "K8S_AUTH_KUBECONFIG": str(cluster.kubeconfig),
                   "SPECTROJOBS_RECORDINGS_DIR": str(home / "recordings"),
                   "GLUE_CREATE_EXTRAVARS": json.dumps({"gpu_count": 0})}
            port_file = home / "api.port"
            server = subprocess.Popen([sys.executable, "-m", "glue.cli", "api", "--open", "--port", "0",
                                       "--port-file", str(port_file)], env=env, cwd=str(ROOT),
                                      stdout=subprocess.DEVNULL, stderr=open(home / "api.log", "wb"))
            try:
                while not port_file.exists():
                    time.sleep(0.1)
                port = int(port_file.read_text())
                while call(port, "GET", "/readyz")[0] != 200:
                    time.sleep(0.2)
                results = {"configure_to_first_row": bench_configure(port, api, args.runs),
                           "get_job_under_load": bench_reads(port, args.clients, args.requests)}
            finally:
                server.terminate()
                server.wait(60)
                api.close()
    print(json.dumps(results, indent=2))
    return 0


def _configuration(kubeconfig: Path) -> k8s.Configuration:
    from kubernetes import config

    configuration = k8s.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return configuration


if __name__ == "__main__":
    sys.exit(main())
