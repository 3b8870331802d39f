"""`spectrojobs demo`: the whole lifecycle on the embedded default, in a few minutes.

Starts the stack (local cluster, API in open mode, monitor, synthetic interrogator when RabbitMQ
answers), writes a synthetic recording, configures a historic multichannel job (and a live one
when the broker is reachable), streams a few seconds of each into waterfall PNGs, deletes the
jobs, shows that nothing of them is left in the cluster, and stops the stack it started.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from glue import stack
from glue.commands import ApiClient, progress, watch_job
from glue.errors import SpectrojobsError
from glue.labels import MANAGED_SELECTOR

KINDS = (("batch/v1", "Job"), ("v1", "Pod"), ("v1", "Service"), ("coordination.k8s.io/v1", "Lease"),
         ("v1", "PersistentVolumeClaim"))


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def leftovers(kubeconfig: str, namespace: str) -> dict[str, int]:
    """Objects labelled managed-by=spectrojobs still in the namespace, by kind."""
    from kubernetes import client

    from glue.kube import load_api_client

    with load_api_client(kubeconfig) as api_client:
        core, batch = client.CoreV1Api(api_client), client.BatchV1Api(api_client)
        coord = client.CoordinationV1Api(api_client)
        listers = {
            "jobs": batch.list_namespaced_job, "pods": core.list_namespaced_pod,
            "services": core.list_namespaced_service, "leases": coord.list_namespaced_lease,
            "pvcs": core.list_namespaced_persistent_volume_claim,
        }
        return {kind: len(lister(namespace, label_selector=MANAGED_SELECTOR).items)
                for kind, lister in listers.items()}


def write_recording(seconds: float, channels: int) -> dict:
    p = stack.paths()
    done = subprocess.run(
        [sys.executable, "-m", "streamer", "record", "--seconds", str(seconds), "--channels", str(channels),
         "--file-seconds", "10"], env=stack.stack_env(p), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SpectrojobsError(f"streamer record failed: {done.stderr.strip()[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    p = stack.paths()
    was_running = stack.running_pid(p, "api") is not None
    step("1/7 starting the stack: local cluster, API (open mode), monitor, synthetic interrogator")
    state = stack.up(progress=progress)
    print(f"\nAPI at {state['api_url']}; kubeconfig {state['kubeconfig']}")
    client = ApiClient(state["api_url"])
    jobs: list[str] = []
    try:
        step("2/7 writing a synthetic recording (PRODML HDF5)")
        rec = write_recording(seconds=20, channels=128)
        print(f"{rec['files']} files in {rec['dir']}, {rec['start_time']:.0f} .. {rec['end_time']:.0f}")

        step("3/7 configuring jobs through POST /configure")
        historic = {"view_type": 0, "nfftSelection": 256, "displayInfo": {"height": 200},
                    "displayTimeAxisDuration": 10, "channels": {"min": 1, "max": 128},
                    "frequencyRange": {"min": 0, "max": 500},
                    "start_time": rec["start_time"], "end_time": rec["end_time"]}
        bodies = [historic]
        if state["components"].get("publisher"):
            bodies.append({**historic, "start_time": None, "end_time": None, "channels": {"min": 1, "max": 256}})
        else:
            print("RabbitMQ not reachable on 127.0.0.1:5672: no live job")
        made = client.create_many(bodies)
        jobs.extend(job["job_id"] for job in made)
        for job, mode in zip(made, ("historic", "live"), strict=False):
            print(f"{mode} multichannel job {job['job_id']}: {job['stream_url']}:{job['stream_port']}, "
                  f"{job['frequencies_amount']} bins, lines_dt {job['lines_dt']:.3f} s, "
                  f"{job['channel_amount']} channels in {job['stream_amount']} stream(s)")

        step(f"4/7 streaming {args.seconds:g} s from each job into waterfall PNGs")
        out = p.home / "demo"
        out.mkdir(parents=True, exist_ok=True)
        for job_id in jobs:
            summary = watch_job(client, job_id, args.seconds, out / f"waterfall-{job_id}.png", show=False)
            print(f"job {job_id}: {summary['rows']} rows, {summary.get('rows_per_s')} rows/s -> "
                  f"{summary.get('png', 'no rows received')}")
    finally:
        step("5/7 deleting the jobs (DELETE /job/<id>, cleanup.yml)")
        client.delete_many(jobs)

    step("6/7 checking that nothing is left")
    namespace = "spectrojobs"
    deadline = time.monotonic() + 60
    left = leftovers(state["kubeconfig"], namespace)
    while any(left.values()) and time.monotonic() < deadline:
        time.sleep(1)
        left = leftovers(state["kubeconfig"], namespace)
    print(f"GET /jobs -> {client.call('GET', '/jobs')[1]['jobs']}")
    print("objects labelled " + MANAGED_SELECTOR + ": " + ", ".join(f"{k}={v}" for k, v in left.items()))

    if args.keep or was_running:
        step("7/7 leaving the stack running (`spectrojobs down` stops it)")
    else:
        step("7/7 stopping the stack")
        report = stack.down(progress=progress)
        print(f"\nstopped: {report['stopped']}; still running: {report['left'] or 'nothing'}")
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s")
    return 0 if not any(left.values()) else 1
