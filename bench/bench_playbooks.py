"""Wall time of create.yml (no readiness wait) and cleanup.yml against the ansible floor.

The floor is a one-task playbook on the same inventory, run in the same process, so the
ratios hold on any machine: `python bench/bench_playbooks.py [--runs N]`. It starts its own
local cluster (localcluster.testing) and needs RabbitMQ on 127.0.0.1:5672 for the live queue.
Prints one line per playbook: median seconds and the ratio to the floor. The last line is one
cleanup.yml of --batch job ids at once (the monitor's pass; jobs already gone, so it measures the
per-job cost of the path, e.g. one queue module run per job or one for all).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLOOR = """\
- name: Ansible floor
  hosts: controller
  gather_facts: false
  tasks:
    - name: One task
      ansible.builtin.set_stats:
        data: {spectrojobs: {status: ok}}
"""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def playbook(path: Path, env: dict, *extra: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of ansible-playbook and every process it waited for)."""
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), str(path), "-i", str(REPO / "inventories" / "local"),
            *extra]
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{path.name} failed:\n{done.stdout[-3000:]}")
    return elapsed, children_cpu() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=20, help="job ids in the batch cleanup")
    args = parser.parse_args()
    from kubernetes import client, config

    from localcluster.testing import running_cluster

    with tempfile.TemporaryDirectory() as tmp, running_cluster(Path(tmp) / "cluster", gpus_shared=4) as cluster:
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        client.CoreV1Api(api).create_namespace({"metadata": {"name": "spectrojobs"}})
        api.close()
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "K8S_AUTH_KUBECONFIG": str(cluster.kubeconfig),
               "SPECTROJOBS_EVIDENCE_DIR": str(Path(tmp) / "evidence"),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        floor_file = Path(tmp) / "floor.yml"
        floor_file.write_text(FLOOR)
        times: dict[str, list[tuple[float, float]]] = {
            "floor": [], "create": [], "create (unchanged re-run)": [], "cleanup": [],
            f"cleanup of {args.batch} ids": []}
        for run in range(args.runs):
            job_id = f"5-{run:05d}"
            times["floor"].append(playbook(floor_file, env))
            times["create"].append(playbook(REPO / "playbooks" / "create.yml", env, "-e", f"job_id={job_id}",
                                            "-e", "wait_ready=false", "-e", "gpu_count=0"))
            times["create (unchanged re-run)"].append(playbook(
                REPO / "playbooks" / "create.yml", env, "-e", f"job_id={job_id}", "-e", "wait_ready=false",
                "-e", "gpu_count=0"))
            times["cleanup"].append(playbook(REPO / "playbooks" / "cleanup.yml", env, "-e", f"job_ids={job_id}"))
            batch = ",".join(f"{n % 30}-{run:02d}{n:03d}" for n in range(args.batch))
            times[f"cleanup of {args.batch} ids"].append(
                playbook(REPO / "playbooks" / "cleanup.yml", env, "-e", f"job_ids={batch}"))
        floor = statistics.median(w for w, _c in times["floor"])
        floor_cpu = statistics.median(c for _w, c in times["floor"])
        print(f"runs={args.runs} load={os.getloadavg()[0]:.1f} cpus={os.cpu_count()}")
        for name, values in times.items():
            wall, cpu = statistics.median(w for w, _c in values), statistics.median(c for _w, c in values)
            print(f"{name:26s} wall {wall:6.2f} s {wall / floor:5.2f}x floor | cpu {cpu:5.2f} s "
                  f"{cpu / floor_cpu:5.2f}x floor | walls {', '.join(f'{w:.2f}' for w, _c in values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
