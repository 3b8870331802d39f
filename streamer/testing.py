"""Test helpers: a real in-process streamer on a loopback port, parsed by the real CLI code."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from streamer import config
from streamer.cli import build_parser
from streamer.serve import Server
from streamer.service import create_server

VIEW = ["--view-type", "0", "--nfft", "256", "--freq-min", "0", "--freq-max", "500"]


def serve_values(*argv: str) -> tuple[dict, object]:
    """Values and view of `streamer serve ARGV`, parsed by the real CLI code (no environment)."""
    args = build_parser().parse_args(["serve", *argv])
    values = config.parse_job(args, config.VIEW_FLAGS | config.SOURCE_FLAGS | config.SERVE_FLAGS, environ={})
    return values, config.check_view(values, config.initial_sample_rate(values))


@contextlib.contextmanager
def running_server(*argv: str) -> Iterator[tuple[Server, str]]:
    values, params = serve_values(*argv)
    srv = Server(values, params)
    grpc_server, port = create_server("127.0.0.1:0", srv.service)
    grpc_server.start()
    srv.start()
    try:
        yield srv, f"127.0.0.1:{port}"
    finally:
        srv.stop()
        grpc_server.stop(0).wait(5)
        if srv.job is not None:
            srv.job.join(5)


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
