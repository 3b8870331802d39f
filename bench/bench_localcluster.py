"""Local cluster API benchmark: create/get/patch/delete throughput, labelled list over 1,000 Jobs and watch
event latency, as ratios against a bare `GET /version` round trip measured in the same process.

Run: .venv/bin/python -m bench.bench_localcluster [--jobs 1000] [--watch-events 100]
The cluster runs as its own process (`python -m localcluster --no-controllers`), the client uses
one keep-alive HTTP/1.1 connection, as the Python client and Ansible modules do.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localcluster.testing import running_cluster  # noqa: E402

NS = "default"
JOBS = f"/apis/batch/v1/namespaces/{NS}/jobs"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        payload = None if body is None else json.dumps(body)
        self.conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        return response.status, response.read()

    def patch(self, path: str, body: object) -> int:
        self.conn.request("PATCH", path, body=json.dumps(body),
                          headers={"Content-Type": "application/strategic-merge-patch+json"})
        response = self.conn.getresponse()
        response.read()
        return response.status

    def close(self) -> None:
        self.conn.close()


def timed(count: int, action: Callable[[int], None]) -> float:
    """Mean seconds per call of action(i) for i in range(count)."""
    start = time.perf_counter()
    for i in range(count):
        action(i)
    return (time.perf_counter() - start) / count


def job(i: int) -> dict:
    return {"metadata": {"name": f"bench-{i}", "labels": {"half": "a" if i % 2 else "b", "bench": "1"}},
            "spec": {"suspend": True, "template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "c", "image": "busybox:1.36", "command": ["sleep", "1"]}]}}}}


def check(status: int, expected: int, what: str) -> None:
    if status != expected:
        raise RuntimeError(f"{what}: HTTP {status}, expected {expected}")


def watch_latency(port: int, events: int) -> float:
    """Median seconds from sending a POST to reading its ADDED event on an open watch."""
    received: dict[str, float] = {}
    ready = threading.Event()

    def reader() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", f"{LEASES}?watch=true&resourceVersion={current_rv}&timeoutSeconds=120")
        response = conn.getresponse()
        ready.set()
        while len(received) < events:
            line = response.readline()
            if not line:
                break
            event = json.loads(line)
            received[event["object"]["metadata"]["name"]] = time.perf_counter()
        conn.close()

    client = Client(port)
    _, body = client.call("GET", LEASES)
    current_rv = json.loads(body)["metadata"]["resourceVersion"]
    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    ready.wait(10)
    sent: dict[str, float] = {}
    for i in range(events):
        name = f"w-{i}"
        sent[name] = time.perf_counter()
        check(client.call("POST", LEASES, {"metadata": {"name": name}, "spec": {"holderIdentity": "x"}})[0],
              201, "create lease")
        deadline = time.perf_counter() + 10
        while name not in received and time.perf_counter() < deadline:
            time.sleep(0.0002)
    thread.join(timeout=10)
    client.close()
    return statistics.median(received[n] - sent[n] for n in sent if n in received)


def run(jobs: int, watch_events: int) -> dict:
    with tempfile.TemporaryDirectory() as state, \
            running_cluster(state, extra_args=("--no-controllers",)) as cluster:
        client = Client(cluster.port)
        for _ in range(50):  # warm up connection and server threads
            client.call("GET", "/version")
        anchor = timed(500, lambda i: check(client.call("GET", "/version")[0], 200, "version"))
        create = timed(jobs, lambda i: check(client.call("POST", JOBS, job(i))[0], 201, "create"))
        get = timed(jobs, lambda i: check(client.call("GET", f"{JOBS}/bench-{i}")[0], 200, "get"))
        patch = timed(jobs, lambda i: check(client.patch(f"{JOBS}/bench-{i}", {"metadata": {"labels": {"p": "1"}}}),
                                            200, "patch"))
        labelled = timed(10, lambda i: check(client.call("GET", f"{JOBS}?labelSelector=half%3Da,bench%3D1")[0],
                                            200, "list"))
        full = timed(10, lambda i: check(client.call("GET", JOBS)[0], 200, "list"))
        delete = timed(jobs, lambda i: check(client.call("DELETE", f"{JOBS}/bench-{i}",
                                                         {"propagationPolicy": "Background"})[0], 200, "delete"))
        client.close()
        latency = watch_latency(cluster.port, watch_events)
    return {
        "anchor": "GET /version round trip on a keep-alive connection",
        "anchor_seconds": round(anchor, 6),
        "jobs": jobs,
        "ratios_to_anchor": {
            "create_job": round(create / anchor, 2),
            "get_job": round(get / anchor, 2),
            "patch_job_labels": round(patch / anchor, 2),
            "delete_job_background": round(delete / anchor, 2),
            f"list_{jobs // 2}_of_{jobs}_jobs_by_label": round(labelled / anchor, 1),
            f"list_all_{jobs}_jobs": round(full / anchor, 1),
            "watch_event_latency_median": round(latency / anchor, 2),
        },
        "throughput_per_second": {
            "create": round(1 / create), "get": round(1 / get), "patch": round(1 / patch),
            "delete": round(1 / delete)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--watch-events", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(run(args.jobs, args.watch_events), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
