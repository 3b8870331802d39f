"""`spectrojobs up|down|create|status|delete|watch|demo`: the stack and its jobs from a terminal.

The job commands talk to the trigger API (`--api`, else `$SPECTROJOBS_API`, else the local
stack's `stack.json`) with the bearer token in `$SPECTROJOBS_TOKEN` when set; `watch` then
reads the job's gRPC stream directly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from glue import stack
from glue.errors import SpectrojobsError

TERMINAL_PHASES = ("Running", "Failed", "Succeeded", "Orphan")


class ApiCallError(SpectrojobsError):
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body
        message = body.get("message") if isinstance(body, dict) else str(body)
        super().__init__(f"HTTP {status}: {message}")


def progress(text: str) -> None:
    print(text, end="", file=sys.stderr, flush=True)


# -- a small client of the API ------------------------------------------------------------------
class ApiClient:
    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 600) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def call(self, method: str, path: str, body: Any = None, headers: dict | None = None) -> tuple[int, Any, dict]:
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.status, json.loads(response.read() or b"null"), dict(response.headers)
        except urllib.error.HTTPError as exc:
            with exc:
                raw = exc.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode(errors="replace")
            raise ApiCallError(exc.code, payload) from exc

    def create(self, request_body: dict, show: bool = True) -> dict:
        """Configure asynchronously and poll the job until its stream is up (progress on stderr)."""
        return self.create_many([request_body], show)[0]

    def create_many(self, bodies: list[dict], show: bool = True) -> list[dict]:
        """Configure several jobs at once (async), then poll them all until each streams or fails."""
        accepted = [self.call("POST", "/configure", body, {"Prefer": "respond-async"})[1] for body in bodies]
        ids = [a["job_id"] for a in accepted]
        if show:
            progress(f"jobs {', '.join(ids)}: creating ")
        views: dict[str, dict] = {job_id: {"phase": "Creating"} for job_id in ids}
        while any(v["phase"] not in TERMINAL_PHASES for v in views.values()):
            time.sleep(0.5)
            for job_id in ids:
                if views[job_id]["phase"] not in TERMINAL_PHASES:
                    view = self.call("GET", f"/job/{job_id}")[1]
                    if show and view["phase"] != views[job_id]["phase"]:
                        progress(f"[{job_id} {view['phase']}] ")
                    views[job_id] = view
            if show and int(time.monotonic() * 2) % 4 == 0:
                progress(".")
        if show:
            progress("\n")
        failed = {j: v for j, v in views.items() if v["phase"] != "Running"}
        if failed:
            raise ApiCallError(409, {"message": "; ".join(f"job {j} ended {v['phase']}: {v.get('reason')}"
                                                          for j, v in failed.items())})
        return [{**a, **views[a["job_id"]], "status": "Running"} for a in accepted]

    def delete_many(self, job_ids: list[str], show: bool = True, timeout_s: float = 300) -> None:
        """Delete jobs at once (async cleanups), then wait until the API no longer knows them."""
        for job_id in job_ids:
            self.call("DELETE", f"/job/{job_id}", headers={"Prefer": "respond-async"})
        left, deadline = set(job_ids), time.monotonic() + timeout_s
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            for job_id in sorted(left):
                try:
                    self.call("GET", f"/job/{job_id}")
                except ApiCallError as exc:
                    if exc.status != 404:
                        raise
                    left.discard(job_id)
                    if show:
                        progress(f"[{job_id} deleted] ")
            if show and int(time.monotonic() * 2) % 4 == 0:
                progress(".")
        if show:
            progress("\n")
        if left:
            raise SpectrojobsError(f"jobs {sorted(left)} still exist after {timeout_s:.0f} s")


def api_client(args: argparse.Namespace) -> ApiClient:
    url = getattr(args, "api", None) or os.environ.get("SPECTROJOBS_API") or stack.api_url()
    if not url:
        raise SpectrojobsError("no API: pass --api URL, set SPECTROJOBS_API, or run `spectrojobs up`")
    return ApiClient(url, os.environ.get("SPECTROJOBS_TOKEN"))


def _range(text: str) -> tuple[float, float]:
    lo, sep, hi = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: expected MIN:MAX")
    return float(lo), float(hi)


def request_from_args(args: argparse.Namespace) -> dict:
    body: dict[str, Any] = {
        "view_type": args.view_type, "nfftSelection": args.nfft, "displayInfo": {"height": args.height},
        "channels": {"min": int(args.channels[0]), "max": int(args.channels[1])},
        "start_time": args.start, "end_time": args.end,
    }
    if args.view_type != 2:
        body["displayTimeAxisDuration"] = args.duration
        body["frequencyRange"] = {"min": args.freq[0], "max": args.freq[1]}
    return body


# -- commands -------------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    progress("starting: ")
    state = stack.up(gpus=args.gpus, monitor=not args.no_monitor, publisher=False if args.no_publisher else None,
                     progress=progress)
    progress("\n")
    print(json.dumps(state, indent=2))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    progress("stopping: ")
    report = stack.down(progress=progress)
    progress("\n")
    print(json.dumps(report, indent=2))
    return 0 if not report["left"] else 1


def cmd_create(args: argparse.Namespace) -> int:
    client = api_client(args)
    body = request_from_args(args)
    if args.sync:
        print(json.dumps(client.call("POST", "/configure", body)[1], indent=2))
    else:
        print(json.dumps(client.create(body), indent=2))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    client = api_client(args)
    if args.job_id:
        print(json.dumps(client.call("GET", f"/job/{args.job_id}")[1], indent=2))
        return 0
    jobs = client.call("GET", "/jobs")[1]["jobs"]
    print(f"{'JOB':<10} {'PHASE':<11} {'MODE':<9} {'WINDOW':>6} {'STREAM':<22} REASON")
    for job in jobs:
        stream = f"{job.get('stream_url')}:{job.get('stream_port')}" if job.get("stream_port") else "-"
        print(f"{job['job_id']:<10} {job['phase']:<11} {job.get('mode') or '-':<9} "
              f"{job.get('window') if job.get('window') is not None else '-':>6} {stream:<22} {job.get('reason') or ''}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    client = api_client(args)
    for job_id in args.job_ids:
        progress(f"deleting {job_id} ... ")
        print(json.dumps(client.call("DELETE", f"/job/{job_id}")[1]))
    return 0


def watch_job(client: ApiClient, job_id: str, seconds: float, png: Path | None, rows_limit: int = 0,
              show: bool = True) -> dict:
    """Read a job's stream for `seconds`; print a line per second or draw the rows into `png`."""
    import grpc
    import numpy as np

    from streamer.client import StreamClient, WatchStats
    from streamer.render import render_png

    view = client.call("GET", f"/job/{job_id}")[1]
    if not view.get("stream_port"):
        raise SpectrojobsError(f"job {job_id} has no stream (phase {view['phase']})")
    target = f"{view['stream_url']}:{view['stream_port']}"
    stats, rows, times = WatchStats(), [], []
    deadline, next_line = time.monotonic() + seconds, time.monotonic() + 1
    with StreamClient(target) as stream:
        try:
            meta = stream.metadata()
            stats.started = time.monotonic()
            for row in stream.rows():
                stats.add(row)
                rows.append(row.data)
                times.append(row.t_ns)
                if show and not png and time.monotonic() >= next_line:
                    next_line += 1
                    print(" ".join(f"{k}={v}" for k, v in stats.summary().items()), flush=True)
                if time.monotonic() >= deadline or (rows_limit and stats.rows >= rows_limit):
                    stream.cancel()
                    break
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise SpectrojobsError(f"stream {target} of job {job_id} failed: {exc.code().name}") from exc
    summary = {"job_id": job_id, "target": target, **stats.summary()}
    if png and rows:
        render_png(png, np.stack(rows), np.array(times), meta.channel_min, list(meta.frequencies),
                   title=f"job {job_id}: {meta.source} channels {meta.channel_min}-{meta.channel_max}")
        summary["png"] = str(png)
    return summary


def cmd_watch(args: argparse.Namespace) -> int:
    summary = watch_job(api_client(args), args.job_id, args.seconds, args.png, args.rows)
    print(json.dumps(summary))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from glue.demo import run_demo

    return run_demo(args)


def _guard(func):
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (SpectrojobsError, OSError) as exc:  # the CLI boundary: one line, no traceback
            progress("\n")
            print(f"spectrojobs {args.command}: {exc}", file=sys.stderr)
            if isinstance(exc, ApiCallError) and isinstance(exc.body, dict) and exc.body.get("errors"):
                for err in exc.body["errors"]:
                    print(f"  {err['field']}={err['value']!r}: {err['rule']}", file=sys.stderr)
            return 1
    return run


def _with_api(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--api", help="API base URL (default: $SPECTROJOBS_API or the local stack)")
    return parser


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("up", help="start the local stack in the background")
    p.add_argument("--gpus", type=int, default=0, help="GPUs the local cluster offers, 4 shared slots each (0: CPU jobs)")
    p.add_argument("--no-monitor", action="store_true", help="do not start the monitor")
    p.add_argument("--no-publisher", action="store_true", help="do not start the synthetic interrogator")
    p.set_defaults(func=_guard(cmd_up))
    p = subparsers.add_parser("down", help="stop the local stack; nothing is left running")
    p.set_defaults(func=_guard(cmd_down))

    p = subparsers.add_parser("create", help="configure a streaming job and wait until it streams")
    p.add_argument("--view-type", type=int, choices=(0, 1, 2), default=0)
    p.add_argument("--nfft", type=int, default=256)
    p.add_argument("--channels", type=_range, default=(1, 64), metavar="MIN:MAX")
    p.add_argument("--freq", type=_range, default=(0, 500), metavar="MIN:MAX", help="Hz")
    p.add_argument("--duration", type=float, default=10.0, help="displayTimeAxisDuration (s)")
    p.add_argument("--height", type=int, default=200, help="displayInfo.height (rows)")
    p.add_argument("--start", type=float, help="historic: start (epoch s)")
    p.add_argument("--end", type=float, help="historic: end (epoch s)")
    p.add_argument("--sync", action="store_true", help="one synchronous POST /configure (no progress)")
    _with_api(p).set_defaults(func=_guard(cmd_create))
    p = subparsers.add_parser("status", help="one job or all jobs")
    p.add_argument("job_id", nargs="?")
    _with_api(p).set_defaults(func=_guard(cmd_status))
    p = subparsers.add_parser("delete", help="delete jobs (their owner or an admin)")
    p.add_argument("job_ids", nargs="+")
    _with_api(p).set_defaults(func=_guard(cmd_delete))
    p = subparsers.add_parser("watch", help="read a job's stream: a line per second, or a PNG")
    p.add_argument("job_id")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--rows", type=int, default=0, help="stop after this many rows")
    p.add_argument("--png", type=Path, help="draw the rows into this PNG instead of printing lines")
    _with_api(p).set_defaults(func=_guard(cmd_watch))
    p = subparsers.add_parser("demo", help="the end-to-end demo on the embedded default")
    p.add_argument("--seconds", type=float, default=4.0, help="seconds to stream each job")
    p.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    p.set_defaults(func=_guard(cmd_demo))
