"""The `streamer` command: serve, record, publish, watch, status, export, bench.

Exit codes: 0 success, 1 runtime failure (source, broker, files), 2 bad input (every problem is
printed on its own line naming the flag, its environment variable, the value and the rule).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from streamer import config
from streamer.errors import SourceError, StreamerError, UsageError

log = logging.getLogger("streamer")

RECORD_FLAGS = {
    "out": ("path", None), "seconds": ("float", "60"), "start-time": ("float", None),
    "sample-rate": ("float", "2000"), "channels": ("int", "512"), "seed": ("int", "0"),
    "file-seconds": ("float", "30"), "dx": ("float", "1"),
}
PUBLISH_FLAGS = {
    "from": ("str", "synthetic"), "amqp-url": ("str", None), "exchange": ("str", "spectrojobs.live"),
    "seconds": ("float", None), "sample-rate": ("float", "2000"), "channels": ("int", "512"),
    "seed": ("int", "0"), "chunk-samples": ("int", "100"), "recordings-dir": ("path", None),
    "start-time": ("float", None), "end-time": ("float", None), "speed": ("float", "1"),
}


def _recordings_dir() -> str:
    home = os.environ.get("SPECTROJOBS_HOME") or str(Path.home() / ".spectrojobs")
    return os.environ.get("SPECTROJOBS_RECORDINGS_DIR") or str(Path(home) / "recordings")


def _amqp_url(values: dict) -> str:
    return values.get("amqp_url") or os.environ.get("SPECTROJOBS_AMQP_URL") or config.DEFAULT_AMQP_URL


def _job_values(args: argparse.Namespace, serve: bool) -> tuple[dict, object]:
    flags = config.VIEW_FLAGS | config.SOURCE_FLAGS | (config.SERVE_FLAGS if serve else {})
    values = config.parse_job(args, flags)
    if values.get("recordings_dir") is None and values["source"] == "recording":
        values["recordings_dir"] = Path(_recordings_dir())
    params = config.check_view(values, config.initial_sample_rate(values))
    return values, params


def cmd_serve(args: argparse.Namespace) -> int:
    from streamer import serve

    values, params = _job_values(args, serve=True)
    return serve.run(values, params)


def cmd_export(args: argparse.Namespace) -> int:
    from streamer.export import export
    from streamer.serve import choose_xp
    from streamer.sources.recording import RecordingSource

    if args.source is None and not os.environ.get(config.env_name("source")):
        args.source = "recording"  # export reads recordings; no need to say so
    values, _ = _job_values(args, serve=False)
    if values["source"] != "recording":
        raise UsageError([f"--source (STREAMER_SOURCE)={values['source']!r}: export reads recordings only"])
    if args.out is None:
        raise UsageError(["--out: required (the directory to write the export into)"])
    source = RecordingSource(values["recordings_dir"], round(values["start_time"] * 1e9),
                             round(values["end_time"] * 1e9), values["channel_min"], values["channel_max"])
    params = config.check_view(values, source.sample_rate_hz)
    meta = export(Path(args.out), source, params, xp=choose_xp(values["xp"]), job_id=values.get("job_id") or "")
    print(json.dumps({"out": str(args.out), "rows": meta["rows"]}))
    return 0


def _values(args: argparse.Namespace, flags: dict) -> dict:
    errors: list[str] = []
    values = config.convert_all(config.raw_values(args, flags, os.environ), flags, errors)
    if errors:
        raise UsageError(errors)
    return values


def cmd_record(args: argparse.Namespace) -> int:
    from streamer.sources.recording import RecordingWriter
    from streamer.sources.synthetic import Interrogator

    v = _values(args, RECORD_FLAGS)
    errors = [f"--{k} ({config.env_name(k)})={v[k.replace('-', '_')]!r}: must be > 0"
              for k in ("seconds", "sample-rate", "channels", "file-seconds", "dx") if v[k.replace("-", "_")] <= 0]
    if errors:
        raise UsageError(errors)
    out = Path(v["out"] or _recordings_dir())
    start = v["start_time"] if v["start_time"] is not None else time.time() - v["seconds"]
    gen = Interrogator(sample_rate_hz=v["sample_rate"], n_channels=v["channels"], dx_m=v["dx"], seed=v["seed"],
                       start_ns=round(start * 1e9))
    with RecordingWriter(out, v["sample_rate"], file_seconds=v["file_seconds"], dx_m=v["dx"]) as writer:
        for block in gen.blocks(max(1, round(v["sample_rate"])), realtime=False, limit_s=v["seconds"]):
            writer.append(block.data, block.t0_ns)
    files = writer.written
    print(json.dumps({"dir": str(out), "files": len(files), "start_time": files[0].start_ns / 1e9,
                      "end_time": files[-1].end_ns / 1e9, "channels": v["channels"],
                      "sources": [vars(s) for s in gen.sources or ()]}))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from streamer.serve import paced
    from streamer.sources.publish import Publisher
    from streamer.sources.recording import RecordingSource
    from streamer.sources.synthetic import Interrogator

    v = _values(args, PUBLISH_FLAGS)
    if v["from"] == "recording":
        if v["start_time"] is None or v["end_time"] is None:
            raise UsageError(["--start-time/--end-time: both required with --from recording"])
        rec = RecordingSource(Path(v["recordings_dir"] or _recordings_dir()), round(v["start_time"] * 1e9),
                              round(v["end_time"] * 1e9), 1, v["channels"], block_seconds=0.05)
        blocks = paced(rec.blocks(), v["speed"])
    elif v["from"] == "synthetic":
        if v["chunk_samples"] < 1 or v["sample_rate"] <= 0 or v["channels"] < 1:
            raise UsageError([f"--chunk-samples/--sample-rate/--channels={v['chunk_samples']}/{v['sample_rate']}/"
                              f"{v['channels']}: must be >= 1, > 0, >= 1"])
        gen = Interrogator(sample_rate_hz=v["sample_rate"], n_channels=v["channels"], seed=v["seed"],
                           start_ns=time.time_ns())
        blocks = gen.blocks(v["chunk_samples"], realtime=v["speed"] > 0, limit_s=v["seconds"])
    else:
        raise UsageError([f"--from (STREAMER_FROM)={v['from']!r}: must be one of synthetic, recording"])
    started = time.monotonic()
    with Publisher(_amqp_url(v), exchange=v["exchange"]) as pub:
        try:
            pub.publish_blocks(blocks)
        except KeyboardInterrupt:
            pass
        print(json.dumps({"messages": pub.messages, "slices": pub.seq, "stream_uuid": pub.stream_uuid,
                          "seconds": round(time.monotonic() - started, 3)}))
    return 0


def _metadata(client, wait_s: float):
    """The stream's metadata, waiting while the server starts or a live feed has not told its rate."""
    import grpc

    deadline = time.monotonic() + wait_s
    while True:
        try:
            return client.metadata()
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def cmd_watch(args: argparse.Namespace) -> int:
    import grpc

    try:
        return _watch(args)
    except grpc.RpcError as e:
        raise StreamerError(f"{args.target}: {e.code().name}: {e.details()}") from e


def _watch(args: argparse.Namespace) -> int:
    import grpc
    import numpy as np

    from streamer.client import StreamClient, WatchStats
    from streamer.render import render_png

    stats, rows, times = WatchStats(), [], []
    with StreamClient(args.target) as client:
        meta = _metadata(client, args.wait)
        every = max(1, round(1 / max(meta.lines_dt, 1e-3)))  # about one line a second
        stats.started = time.monotonic()
        deadline = stats.started + args.seconds if args.seconds else None
        try:
            for row in client.rows(args.stream_id):
                stats.add(row)
                if args.png:
                    rows.append(row.data)
                    times.append(row.t_ns)
                if not args.json and stats.rows % every == 0:
                    print(" ".join(f"{k}={v}" for k, v in stats.summary().items()), flush=True)
                if (deadline and time.monotonic() >= deadline) or (args.rows and stats.rows >= args.rows):
                    break
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise
        except KeyboardInterrupt:
            pass
        stats.stop()
    summary = stats.summary()
    if args.png and rows:
        render_png(args.png, np.stack(rows), np.array(times), meta.channel_min, list(meta.frequencies),
                   title=f"{meta.source} channels {meta.channel_min}-{meta.channel_max}")
        summary["png"] = str(args.png)
    print(json.dumps(summary) if args.json else " ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """GetStatus + health as JSON; with --wait-serving, wait until health is SERVING (readiness)."""
    import grpc

    from streamer.client import StreamClient

    deadline = time.monotonic() + args.wait_serving
    with StreamClient(args.target, timeout_s=5) as client:
        while True:
            try:
                health = client.health("")
                if health == "SERVING" or time.monotonic() >= deadline:
                    break
            except grpc.RpcError as e:
                if time.monotonic() >= deadline:
                    raise StreamerError(f"{args.target}: {e.code().name}: {e.details()}") from e
            time.sleep(0.5)
        try:
            reply = client.status()
            status = {f.name: getattr(reply, f.name) for f in reply.DESCRIPTOR.fields}
        except grpc.RpcError as e:
            raise StreamerError(f"{args.target}: {e.code().name}: {e.details()}") from e
    print(json.dumps({"health": health, **status}))
    return 0 if health == "SERVING" or not args.wait_serving else 1


def cmd_bench(args: argparse.Namespace) -> int:
    from streamer.benchmark import run_fanout_bench

    print(json.dumps(run_fanout_bench(clients=args.clients, seconds=args.seconds, channels=args.channels), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamer", description="DAS spectrogram streamer")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="compute a view and stream it over gRPC")
    for flags in (config.VIEW_FLAGS, config.SOURCE_FLAGS, config.SERVE_FLAGS):
        config.add_flags(p, flags)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("export", help="compute a historic range into files")
    config.add_flags(p, config.VIEW_FLAGS | config.SOURCE_FLAGS)
    p.add_argument("--out", type=Path, help="output directory")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("record", help="write synthetic data as PRODML recordings")
    config.add_flags(p, RECORD_FLAGS)
    p.set_defaults(func=cmd_record)
    p = sub.add_parser("publish", help="publish synthetic or recorded data to RabbitMQ")
    config.add_flags(p, PUBLISH_FLAGS)
    p.set_defaults(func=cmd_publish)
    p = sub.add_parser("watch", help="read a stream: rows/s, latency, drops; optionally a PNG")
    p.add_argument("target", metavar="HOST:PORT")
    p.add_argument("--stream-id", type=int, default=-1, help="one stream of the view (default: all)")
    p.add_argument("--seconds", type=float, default=0, help="stop after this long (default: until the end)")
    p.add_argument("--rows", type=int, default=0, help="stop after this many rows")
    p.add_argument("--png", type=Path, help="draw the rows received into this PNG")
    p.add_argument("--json", action="store_true", help="print one JSON summary only")
    p.add_argument("--wait", type=float, default=30, help="seconds to wait for the stream to be ready (30)")
    p.set_defaults(func=cmd_watch)
    p = sub.add_parser("status", help="a streamer's health and GetStatus as JSON")
    p.add_argument("target", metavar="HOST:PORT")
    p.add_argument("--wait-serving", type=float, default=0,
                   help="wait up to S seconds for health SERVING; exit 1 if it never comes")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("bench", help="gRPC fan-out benchmark on loopback")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--channels", type=int, default=2222)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except UsageError as e:
        for line in e.lines:
            print(f"streamer {args.command}: {line}", file=sys.stderr)
        return 2
    except (SourceError, StreamerError, OSError) as e:
        print(f"streamer {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
