"""`streamer serve`: open the source, start the producer and the gRPC server, exit when done.

Exit rules (checked every POLL_S): with no client connected, exit 0 once the idle window has
passed since the last client activity (so the Kubernetes Job completes), or at once when a
historic range is done and its last client has left; exit 1 when the producer failed. SIGTERM
and SIGINT stop gracefully with exit 0.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from streamer.config import check_view
from streamer.dsp import xp as xpmod
from streamer.errors import SourceError, StreamerError, UsageError
from streamer.fanout import Fanout
from streamer.job import Job, JobSpec, metadata_message
from streamer.service import StreamerService, create_server
from streamer.sources import Block, Reset
from streamer.sources.live import LiveSource
from streamer.sources.recording import RecordingSource
from streamer.sources.synthetic import Interrogator

log = logging.getLogger(__name__)

POLL_S = 0.2
SYNTHETIC_CHUNK_S = 0.05


def exit_decision(now: float, clients: int, last_activity: float, idle_timeout: float, job_state: str,
                  clients_seen: int) -> tuple[str, int] | None:
    """(reason, exit code) when the server should stop, else None (pure)."""
    if clients:
        return None
    if job_state == "failed":
        return "failed", 1
    if job_state == "done" and clients_seen:
        return "done", 0
    if now - last_activity >= idle_timeout:
        return "idle", 0
    return None


def bind_address(bind: str | None, port: int, environ: dict | None = None) -> str:
    host = bind or (environ if environ is not None else os.environ).get("POD_IP") or "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def paced(blocks: Iterator[Block | Reset], speed: float) -> Iterator[Block | Reset]:
    """Replay blocks at `speed` x real time (0 = as fast as they come)."""
    began, first_t = time.monotonic(), None
    for item in blocks:
        if speed > 0 and isinstance(item, Block):
            first_t = item.t0_ns if first_t is None else first_t
            ahead = (item.t0_ns - first_t) / 1e9 / speed - (time.monotonic() - began)
            if ahead > 0:
                time.sleep(ahead)
        yield item


@dataclass
class OpenedSource:
    blocks: Callable[[], Iterator[Block | Reset]]
    stop: Callable[[], None]
    sample_rate_hz: float | None  # None: a live feed tells it with its first chunk
    ready: Callable[[], bool]
    state: Callable[[], str]
    counters: object = None


def open_source(values: dict, channel_min: int, channel_max: int) -> OpenedSource:
    source = values["source"]
    stopped = threading.Event()
    if source == "synthetic":
        rate = values.get("sample_rate") or 2000.0
        gen = Interrogator(sample_rate_hz=rate, n_channels=values["channels"], seed=values["seed"],
                           start_ns=time.time_ns())
        chunk = max(1, round(rate * SYNTHETIC_CHUNK_S))

        def synthetic_blocks() -> Iterator[Block | Reset]:
            for block in gen.blocks(chunk, channel_min, channel_max, realtime=True):
                if stopped.is_set():
                    return
                yield block

        return OpenedSource(synthetic_blocks, stopped.set, rate, lambda: True, lambda: "running")
    if source == "recording":
        rec = RecordingSource(values["recordings_dir"], round(values["start_time"] * 1e9),
                              round(values["end_time"] * 1e9), channel_min, channel_max)
        if values.get("sample_rate") is not None and values["sample_rate"] != rec.sample_rate_hz:
            raise UsageError([f"--sample-rate (STREAMER_SAMPLE_RATE)={values['sample_rate']!r}: the recordings "
                              f"are sampled at {rec.sample_rate_hz} Hz"])

        def recorded_blocks() -> Iterator[Block | Reset]:
            for item in paced(rec.blocks(), values["replay_speed"]):
                if stopped.is_set():
                    return
                yield item

        return OpenedSource(recorded_blocks, stopped.set, rec.sample_rate_hz, lambda: True, lambda: "running")
    live = LiveSource(values.get("amqp_url") or os.environ.get("SPECTROJOBS_AMQP_URL")
                      or "amqp://guest:guest@127.0.0.1:5672/%2F", values["queue"], channel_min, channel_max,
                      connection_name=f"streamer-{values.get('job_id') or values['queue']}")
    return OpenedSource(live.blocks, live.stop, values.get("sample_rate"), live.connected.is_set,
                        lambda: live.state, live.counters)


def choose_xp(name: str) -> str:
    if name == "auto":
        return "cupy" if xpmod.gpu_available() else "numpy"
    return name


class Server:
    """Wires source, job, fan-out and gRPC for one `streamer serve` run."""

    def __init__(self, values: dict, params) -> None:
        self.values = values
        self.params = params
        self.fanout = Fanout(queue_rows=values["client_queue"])
        self.service = StreamerService(self.fanout)
        self.source = open_source(values, params.channel_min, params.channel_max)
        if self.source.sample_rate_hz is not None:  # the real rate (a recording's) may break the view
            self.params = check_view(values, self.source.sample_rate_hz)
        self.service.source_state = self.source.state
        self.service.source_counters = self.source.counters
        self.xp = choose_xp(values["xp"])
        self.job: Job | None = None
        self._stop = threading.Event()
        self._boot_error = ""

    def _spec(self, params) -> JobSpec:
        v = self.values
        historic = v.get("start_time") is not None
        return JobSpec(params=params, source_name=v["source"], encoding=v["encoding"], historic=historic,
                       start_time_ns=round(v["start_time"] * 1e9) if historic else 0,
                       end_time_ns=round(v["end_time"] * 1e9) if historic else 0,
                       job_id=v.get("job_id") or "", xp=self.xp)

    def _install(self, params, blocks: Callable[[], Iterator[Block | Reset]]) -> Job:
        spec = self._spec(params)
        job = Job(spec, blocks, self.fanout, stop_source=self.source.stop)
        self.service.metadata = metadata_message(spec)
        self.service.job = job
        self.job = job
        return job

    def _boot_live(self) -> None:
        """Learn the rate from the first live block, then run the job in this thread."""
        it = self.source.blocks()
        for item in it:
            if self._stop.is_set():
                return
            if isinstance(item, Block):
                try:
                    params = check_view(self.values, item.sample_rate_hz)
                except UsageError as e:
                    self._boot_error = f"the live feed's rate {item.sample_rate_hz} Hz breaks the view: {e}"
                    log.error("%s", self._boot_error)
                    return
                log.info("live feed at %.1f Hz: view ready", item.sample_rate_hz)
                self._install(params, lambda first=item: itertools.chain([first], it)).run()
                return

    def start(self) -> None:
        """Start producing (or, for a live feed of unknown rate, wait for its first block) and keep
        the health status current: SERVING while the view is known, the source delivers and the
        job runs (or is done)."""
        if self.source.sample_rate_hz is None:
            threading.Thread(target=self._boot_live, name="boot", daemon=True).start()
        else:
            self._install(self.params, self.source.blocks).start()
        threading.Thread(target=self._watch_health, name="health", daemon=True).start()

    def serving(self) -> bool:
        return (self.service.metadata is not None and self.source.ready()
                and self.job_state() in ("running", "done"))

    def _watch_health(self) -> None:
        while not self._stop.wait(POLL_S / 2):
            self.service.set_serving(self.serving())
        self.service.set_serving(False)

    def exit_decision(self) -> tuple[str, int] | None:
        return exit_decision(time.time(), self.fanout.n_clients, self.fanout.last_activity,
                             self.values["idle_timeout"], self.job_state(), self.fanout.clients_seen)

    def stop(self) -> None:
        self._stop.set()
        self.service.set_serving(False)
        if self.job is not None:
            self.job.stop()
        else:
            self.source.stop()

    def job_state(self) -> str:
        if self._boot_error:
            return "failed"
        return self.job.state if self.job is not None else "starting"


def run(values: dict, params) -> int:
    """Serve until an exit rule fires; returns the exit code."""
    try:
        srv = Server(values, params)
    except SourceError as e:
        log.error("cannot open the %s source: %s", values["source"], e)
        return 1
    address = bind_address(values.get("bind"), values["port"])
    grpc_server, port = create_server(address, srv.service)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    grpc_server.start()
    srv.start()
    log.info("serving %s source on %s (port %d), idle window %.0f s", values["source"], address, port,
             values["idle_timeout"])
    print(f"listening {address.rsplit(':', 1)[0]}:{port}", flush=True)
    decision = None
    try:
        while decision is None and not stopping.wait(POLL_S):
            decision = srv.exit_decision()
    except StreamerError as e:
        log.error("%s", e)
        decision = ("failed", 1)
    reason, code = decision or ("signal", 0)
    sent, dropped = srv.fanout.totals()
    log.info("exiting (%s): %d rows computed, %d sent, %d dropped", reason,
             srv.job.stats.rows_computed if srv.job else 0, sent, dropped)
    srv.stop()
    grpc_server.stop(1.0).wait(2.0)
    if srv.job is not None:
        srv.job.join(2.0)
    return code
