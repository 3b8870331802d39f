"""gRPC fan-out benchmark on loopback: 1 client (the anchor) against N clients, same run.

Two modes, each a real server (`streamer.testing.running_server`) and real gRPC clients:
- `live`: a synthetic feed in real time (2 kHz); the producer makes `row_rate` rows/s and the
  question is whether every client receives that full rate (fraction 1.0 = no loss);
- `replay`: a recorded range (1 kHz) replayed unpaced, measured until it ends; the producer runs as fast as the DSP and the
  fan-out allow, so rows/s per client against the 1-client anchor shows the cost of fan-out.
Results are rates and ratios measured in this process; nothing is compared with a fixed number.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from streamer.client import StreamClient, WatchStats
from streamer.sources.recording import RecordingWriter
from streamer.sources.synthetic import Interrogator
from streamer.testing import running_server, wait_for

VIEW = ["--view-type", "0", "--nfft", "256", "--freq-min", "0", "--freq-max", "500",
        "--display-duration", "30", "--display-height", "768"]  # lines_dt 0.039 s, 25.6 rows/s


def _read(target: str, seconds: float, stats: WatchStats, started: threading.Barrier) -> None:
    with StreamClient(target) as client:
        rows = client.rows()
        next(rows)  # connected and flowing
        started.wait()
        stats.started = time.monotonic()
        deadline = stats.started + seconds
        for row in rows:
            stats.add(row)
            if time.monotonic() >= deadline:
                break
        stats.stop()


def _measure(target: str, srv, n_clients: int, seconds: float) -> dict:
    stats = [WatchStats() for _ in range(n_clients)]
    barrier = threading.Barrier(n_clients + 1)
    threads = [threading.Thread(target=_read, args=(target, seconds, s, barrier)) for s in stats]
    for t in threads:
        t.start()
    barrier.wait(timeout=60)
    computed0, t0 = srv.job.stats.rows_computed, time.monotonic()
    for t in threads:
        t.join(seconds + 60)
    computed1 = srv.job.stats.rows_computed
    last_end = max(s.ended or time.monotonic() for s in stats)
    produced = (computed1 - computed0) / max(last_end - t0, 1e-9)
    wait_for(lambda: srv.fanout.n_clients == 0, timeout=30, what="clients to leave")
    summaries = [s.summary() for s in stats]
    per_client = sum(s["rows_per_s"] for s in summaries) / n_clients
    return {
        "clients": n_clients,
        "producer_rows_per_s": round(produced, 2),
        "per_client_rows_per_s": round(per_client, 2),
        "per_client_mb_per_s": round(sum(s["mb_per_s"] for s in summaries) / n_clients, 2),
        "total_mb_per_s": round(sum(s["mb_per_s"] for s in summaries), 2),
        "min_fraction_of_producer_rate": round(min(s["rows_per_s"] for s in summaries) / max(produced, 1e-9), 3),
        "dropped_rows": sum(s["dropped_rows"] for s in summaries),
    }


def _modes(channels: int, workdir: Path, replay_seconds: float) -> dict[str, list[str]]:
    live = ["--source", "synthetic", "--channels", str(channels), "--channel-min", "1",
            "--channel-max", str(channels), *VIEW]
    gen = Interrogator(sample_rate_hz=1000.0, n_channels=channels, seed=0, start_ns=1_795_346_300 * 10**9)
    with RecordingWriter(workdir, 1000.0, file_seconds=replay_seconds) as w:
        for block in gen.blocks(1000, realtime=False, limit_s=replay_seconds):
            w.append(block.data, block.t0_ns)
    replay = ["--source", "recording", "--recordings-dir", str(workdir), "--start-time", "1795346300",
              "--end-time", str(1_795_346_300 + replay_seconds), "--replay-speed", "0", "--channel-min", "1",
              "--channel-max", str(channels), *VIEW]
    return {"live": live, "replay": replay}


def run_fanout_bench(clients: int = 8, seconds: float = 5.0, channels: int = 2222, encoding: str = "float32",
                     replay_seconds: float = 8.0) -> dict:
    """Rates for 1 and `clients` clients in both modes, with the N-vs-1 ratios."""
    out: dict = {"channels": channels, "encoding": encoding, "seconds": seconds, "modes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, argv in _modes(channels, Path(tmp), replay_seconds).items():
            results = []
            for n in (1, clients):
                queue = ["--client-queue", "100000"] if mode == "replay" else []
                with running_server(*argv, "--encoding", encoding, *queue) as (srv, target):
                    wait_for(lambda s=srv: s.job is not None, what="the job")
                    # replay: each measurement gets a fresh server; the range must outlast `seconds`
                    results.append(_measure(target, srv, n, seconds))
            anchor, fan = results
            out["modes"][mode] = {
                "anchor_1_client": anchor, f"{clients}_clients": fan,
                "per_client_rate_ratio": round(fan["per_client_rows_per_s"] / max(anchor["per_client_rows_per_s"], 1e-9), 3),
                "total_throughput_ratio": round(fan["total_mb_per_s"] / max(anchor["total_mb_per_s"], 1e-9), 3),
            }
    return out
