"""Monitor benchmark.

1. Decision step: CPU time of `decide` + `cluster_gauges` over a snapshot of 1,000 jobs (with their
   pods, Services and leases, in five states), as a ratio against an anchor measured in the same
   process: decoding the same objects from JSON once (what listing them costs the client anyway).
2. Reaction latency by reason (`--latency`, needs RabbitMQ and the playbooks): a local cluster, the
   real `spectrojobs monitor` with its watch on, one job per reason; the time from the condition
   being observable (pod failed, job complete, pending timeout or orphan grace reached) to nothing
   of the job left, as a ratio against the anchor of a bare `cleanup.yml` run for an already-clean
   job id (the playbook floor) measured in the same run.

Run: .venv/bin/python -m bench.bench_monitor [--jobs 1000] [--latency]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glue.monitor.config import MonitorConfig  # noqa: E402
from glue.monitor.metrics import cluster_gauges  # noqa: E402
from glue.monitor.objects import parse_time  # noqa: E402
from glue.monitor.policies import Snapshot, decide  # noqa: E402

FIX = yaml.safe_load((ROOT / "tests" / "unit" / "test_monitor_objects.yaml").read_text())
NOW = parse_time("2026-11-22T12:00:00Z")


def renamed(obj: dict, job_id: str, uid: str, job_uid: str) -> dict:
    obj = copy.deepcopy(obj)
    meta = obj["metadata"]
    meta["name"] = meta["name"].replace("3-12345", job_id)
    meta["uid"] = uid
    meta.setdefault("labels", {})["spectrojobs.io/job-id"] = job_id
    for ref in meta.get("ownerReferences") or ():
        ref["uid"] = job_uid
    return obj


def snapshot(n: int) -> Snapshot:
    """n jobs: healthy, failed, completed, pending and idle, each with pod, Service and lease."""
    jobs, pods, services, leases, streams = [], [], [], [], {}
    for i in range(n):
        job_id, uid = f"{i}-{i:05d}", f"job-{i}"  # one window per job (real clusters cap windows at 30)
        job = renamed(FIX["job_running"], job_id, uid, uid)
        job["metadata"]["labels"]["spectrojobs.io/window"] = str(i)
        pod = renamed(FIX["pod_running"], job_id, f"pod-{i}", uid)
        state = i % 5
        if state == 1:
            job["status"]["conditions"] = FIX["failed_conditions"]
            pod["status"].update(phase="Failed", containerStatuses=[FIX["terminated_exit1"]])
        elif state == 2:
            job["status"]["conditions"] = FIX["complete_conditions"]
            pod["status"]["phase"] = "Succeeded"
        elif state == 3:
            pod["status"].update(phase="Pending", conditions=FIX["unschedulable_conditions"])
        streams[job_id] = {"clients": 0 if state == 4 else 1, "rows_sent": 0, "started_unix": NOW - 600}
        lease = renamed(FIX["lease"], job_id, f"lease-{i}", uid)
        lease["spec"]["holderIdentity"] = job_id
        lease["metadata"]["name"] = f"window-{i}"
        jobs.append(job)
        pods.append(pod)
        services.append(renamed(FIX["service"], job_id, f"svc-{i}", uid))
        services[-1]["metadata"]["name"] = f"grpc-service-{job_id}"
        leases.append(lease)
    return Snapshot(jobs=tuple(jobs), pods=tuple(pods), services=tuple(services), leases=tuple(leases),
                    nodes=(FIX["node"],), streams=streams)


def cpu_per_call(action, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        action()
        samples.append(time.process_time() - start)
    return statistics.median(samples)


def bench_decisions(n: int, repeat: int) -> None:
    snap = snapshot(n)
    cfg = MonitorConfig()
    payload = json.dumps({"items": [*snap.jobs, *snap.pods, *snap.services, *snap.leases]})
    anchor = cpu_per_call(lambda: json.loads(payload), repeat)
    decision = cpu_per_call(lambda: decide(snap, NOW, cfg), repeat)
    gauges = cpu_per_call(lambda: cluster_gauges(snap, NOW, cfg.gpu_resource), repeat)
    decided = decide(snap, NOW, cfg)
    print(f"decision step over {n} jobs ({len(decided)} decisions), median of {repeat}:")
    print(f"  anchor  json.loads of the {4 * n} objects: {anchor * 1e3:8.1f} ms CPU")
    print(f"  decide                                : {decision * 1e3:8.1f} ms CPU  ratio {decision / anchor:5.2f}")
    print(f"  cluster_gauges (metrics)              : {gauges * 1e3:8.1f} ms CPU  ratio {gauges / anchor:5.2f}")


def bench_latency() -> None:
    from kubernetes import client, config

    from glue.runner import Runner
    from localcluster.testing import running_cluster
    from tests.integration.test_monitor_support import (
        PY,
        Objects,
        declare_queue,
        monitor_cmd,
        monitor_env,
        new_job_id,
        stop,
        wait_for,
    )

    amqp = os.environ.get("SPECTROJOBS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    with tempfile.TemporaryDirectory() as tmp, running_cluster(Path(tmp) / "cluster", gpus_shared=4) as cluster:
        os.environ["K8S_AUTH_KUBECONFIG"] = str(cluster.kubeconfig)
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        client.CoreV1Api(api).create_namespace({"metadata": {"name": "bench"}})
        objs = Objects(api, "bench")
        env = monitor_env("bench", f"sqlite:///{tmp}/history.sqlite3", amqp, SPECTROJOBS_MONITOR_WATCH="true",
                          SPECTROJOBS_MONITOR_INTERVAL="1", SPECTROJOBS_MONITOR_PENDING_TIMEOUT="2",
                          SPECTROJOBS_MONITOR_ORPHAN_GRACE="2")
        runner = Runner(Path(tmp) / "runs", workers=1, envvars={"SPECTROJOBS_NAMESPACE": "bench",
                                                               "SPECTROJOBS_AMQP_URL": amqp})
        started = time.monotonic()
        runner.run("cleanup.yml", {"job_ids": ["0-00000"], "spectrojobs_namespace": "bench"})
        floor = time.monotonic() - started
        runner.shutdown()
        with open(Path(tmp) / "monitor.log", "w") as log:
            proc = subprocess.Popen(monitor_cmd(), env=env, cwd=ROOT, stderr=log)
        results = {}
        try:
            time.sleep(5)  # the monitor's start-up
            cases = {
                "Failed:ExitCode1": lambda j: objs.job(j, [PY, "-c", "import sys, time; time.sleep(1); sys.exit(1)"]),
                "Completed": lambda j: objs.job(j, [PY, "-c", "import time; time.sleep(1)"]),
                "PendingTimeout:Unschedulable": lambda j: objs.job(j, ["true"], gpu=99),
                "Orphan": lambda j: (objs.service(j, mode="live"), declare_queue(amqp, f"grpc-job-{j}-live")),
            }
            ready = {
                "Failed:ExitCode1": lambda j: _pod_phase(objs, j) == "Failed",
                "Completed": lambda j: _pod_phase(objs, j) == "Succeeded",
                "PendingTimeout:Unschedulable": lambda j: True,
                "Orphan": lambda j: True,
            }
            delay = {"PendingTimeout:Unschedulable": 2.0, "Orphan": 2.0}
            for window, (reason, create) in enumerate(cases.items()):
                job_id = new_job_id(window)
                create(job_id)
                t0 = time.monotonic()
                wait_for(f"{reason} observable", lambda j=job_id, r=reason: ready[r](j), timeout=60, step=0.02)
                observable = max(time.monotonic(), t0 + delay.get(reason, 0.0))
                wait_for(f"{reason} cleaned", lambda j=job_id: not objs.left(j), timeout=120, step=0.05)
                results[reason] = time.monotonic() - observable
        finally:
            stop(proc)
            api.close()
    print(f"reaction latency (watch on), anchor = bare cleanup.yml run {floor:.1f} s:")
    for reason, latency in results.items():
        print(f"  {reason:30s} {latency:6.1f} s  ratio {latency / floor:5.2f}")


def _pod_phase(objs, job_id: str) -> str:
    pods = objs.core.list_namespaced_pod(objs.ns, label_selector=f"spectrojobs.io/job-id={job_id}").items
    return pods[0].status.phase if pods else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--latency", action="store_true", help="also measure reaction latency (cluster, broker)")
    args = parser.parse_args()
    bench_decisions(args.jobs, args.repeat)
    if args.latency:
        bench_latency()


if __name__ == "__main__":
    main()
