"""gRPC fan-out benchmark: 1 client (anchor) vs 8 clients for a 2,222-channel view, loopback.

Run: .venv/bin/python bench/bench_grpc.py [--clients 8] [--seconds 5] [--channels 2222]
                                          [--encoding float32|float16|uint8]
Prints JSON: per mode (live = real-time synthetic feed, replay = unpaced recording) the rows/s and
MB/s per client and in total for each client count, the fraction of the producer's row rate the
slowest client received, and the N-vs-1 ratios. Target: with 8 clients each receives the full
row rate in live mode (min_fraction_of_producer_rate ~ 1.0, no dropped rows).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamer.benchmark import run_fanout_bench  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--channels", type=int, default=2222)
    parser.add_argument("--encoding", default="float32", choices=("float32", "float16", "uint8"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = run_fanout_bench(args.clients, args.seconds, args.channels, args.encoding)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
