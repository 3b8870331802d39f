"""`spectrojobs cluster up|status|down`: the local cluster as a background process."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localcluster import procs
from localcluster.cluster import DEFAULT_PORT, KUBECONFIG, default_state_dir


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    cluster = subparsers.add_parser("cluster", help="run the local Kubernetes-compatible cluster")
    actions = cluster.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)

    up = actions.add_parser("up", help="start the cluster in the background; print the kubeconfig path")
    up.add_argument("--port", type=int, default=DEFAULT_PORT)
    up.add_argument("--gpus", type=int, default=None, help="nvidia.com/gpu capacity (default: nvidia-smi)")
    up.add_argument("--gpus-shared", type=int, default=0, help="nvidia.com/gpu.shared capacity")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for /version")
    up.set_defaults(func=cmd_up)

    status = actions.add_parser("status", help="is the cluster running, and where")
    status.set_defaults(func=cmd_status)

    down = actions.add_parser("down", help="stop the cluster and every pod process")
    down.add_argument("--timeout", type=float, default=30.0, help="seconds before SIGKILL")
    down.set_defaults(func=cmd_down)

    for sub in (up, status, down):
        sub.add_argument("--state-dir", type=Path, default=default_state_dir())


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    for flag, value in (("--port", args.port), ("--gpus-shared", args.gpus_shared)):
        if value < 0 or (flag == "--port" and value > 65535):
            print(f"{flag} {value}: must be between 0 and 65535" if flag == "--port"
                  else f"{flag} {value}: must be an integer >= 0", file=sys.stderr)
            return 2
    if args.gpus is not None and args.gpus < 0:
        print(f"--gpus {args.gpus}: must be an integer >= 0", file=sys.stderr)
        return 2
    pid = procs.read_pid(state_dir)
    if pid is not None:
        print(f"already running (pid {pid}): {state_dir / KUBECONFIG}")
        return 0
    procs.kill_pod_leftovers(state_dir)
    extra = ["--port", str(args.port), "--gpus-shared", str(args.gpus_shared)]
    if args.gpus is not None:
        extra += ["--gpus", str(args.gpus)]
    log_file = state_dir / "cluster.log"
    proc = procs.spawn(state_dir, extra, log_file)
    try:
        url = procs.wait_ready(state_dir, proc, args.timeout, log_file)
    except procs.ClusterStartError as e:
        procs.stop(proc.pid, proc, timeout=5)
        print(f"cluster up failed: {e}", file=sys.stderr)
        return 1
    proc.returncode = 0  # detached on purpose: `cluster down` stops it, not this process
    print(f"cluster running at {url} (pid {proc.pid}, log {log_file})", file=sys.stderr)
    print(state_dir / KUBECONFIG)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    pid = procs.read_pid(state_dir)
    url = procs.server_url(state_dir)
    if pid is None:
        print(f"not running (state dir {state_dir})")
        return 1
    healthy = bool(url and procs.answers(url))
    print(f"running: pid {pid}, {url} ({'answers' if healthy else 'NOT answering'}), "
          f"kubeconfig {state_dir / KUBECONFIG}")
    return 0 if healthy else 1


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    pid = procs.read_pid(state_dir)
    if pid is not None:
        procs.stop(pid, timeout=args.timeout)
    leftovers = procs.kill_pod_leftovers(state_dir)
    (state_dir / "cluster.pid").unlink(missing_ok=True)
    message = "stopped" if pid is not None else "not running"
    if leftovers:
        message += f"; killed {len(leftovers)} leftover pod process group(s)"
    print(message)
    return 0
