"""`python -m localcluster --port P --state-dir D --gpus-shared N --gpus N`: run the cluster in
the foreground until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from localcluster.cluster import DEFAULT_PORT, ClusterConfig, default_state_dir, run


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be an integer >= 0")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: must be a number > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localcluster", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=non_negative, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--state-dir", type=Path, default=default_state_dir())
    parser.add_argument("--gpus-shared", type=non_negative, default=0,
                        help="capacity of nvidia.com/gpu.shared (time-sliced slots)")
    parser.add_argument("--gpus", type=non_negative, default=None,
                        help="capacity of nvidia.com/gpu (default: count nvidia-smi -L)")
    parser.add_argument("--node-name", default="localnode")
    parser.add_argument("--bookmark-interval", type=positive_float, default=60.0,
                        help="seconds between watch BOOKMARK events")
    parser.add_argument("--event-window", type=non_negative, default=10000,
                        help="watch events kept for resuming (older resourceVersions get 410)")
    parser.add_argument("--job-backoff-base", type=float, default=None,
                        help="seconds before a failed Job pod is recreated (doubles each time)")
    parser.add_argument("--no-controllers", action="store_true", help="API server only")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = ClusterConfig(
        state_dir=args.state_dir, port=args.port, gpus_shared=args.gpus_shared, gpus=args.gpus,
        node_name=args.node_name, bookmark_interval=args.bookmark_interval, event_window=args.event_window,
        controllers=not args.no_controllers, job_backoff_base_seconds=args.job_backoff_base)
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
