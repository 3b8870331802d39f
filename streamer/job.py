"""One streaming job: a source, the DSP engine, and the producer thread feeding the fan-out.

The producer computes every row once, encodes it, serialises one `Row` message per stream id
that some client asked for, and publishes it. Work follows the clients: with no client
connected a live or synthetic feed is drained without FFTs (the STFT restarts cleanly when a
client comes), and a historic range pauses where it is (the range resumes for the next client).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from streamer.dsp.encode import encode_rows
from streamer.dsp.params import ViewParams, ViewType
from streamer.dsp.stft import Rows, StreamingSpectrogram
from streamer.fanout import Fanout
from streamer.protos import streamer_pb2 as pb
from streamer.sources import Block, Reset
from streamer.wire import ENCODINGS

log = logging.getLogger(__name__)

WAIT_S = 0.2


@dataclass
class JobStats:
    rows_computed: int = 0
    chunks_in: int = 0
    resets: int = 0
    rate_mismatches: int = 0


@dataclass
class JobSpec:
    params: ViewParams
    source_name: str  # live | recording | synthetic
    encoding: str = "float32"
    historic: bool = False
    start_time_ns: int = 0
    end_time_ns: int = 0
    job_id: str = ""
    xp: str | None = None


def stream_slices(params: ViewParams) -> dict[int, slice]:
    """Row-axis-0 slice of each stream (channels grouped `channels_per_stream`); pure."""
    if params.view_type == ViewType.SINGLECHANNEL:
        return {0: slice(None)}
    cps = params.channels_per_stream
    return {k: slice(k * cps, min((k + 1) * cps, params.n_channels)) for k in range(params.stream_amount)}


def metadata_message(spec: JobSpec) -> pb.Metadata:
    p = spec.params
    index = p.channel_to_stream_index()
    return pb.Metadata(
        job_id=spec.job_id, view_type=int(p.view_type), frequencies=[float(f) for f in p.frequencies],
        lines_dt=p.lines_dt, channel_min=p.channel_min, channel_max=p.channel_max, channel_amount=p.n_channels,
        stream_amount=p.stream_amount if p.view_type != ViewType.SINGLECHANNEL else 1,
        channel_to_stream_index=[index[str(c)] for c in range(p.channel_min, p.channel_max + 1)],
        row_shape=list(p.row_shape), encoding=ENCODINGS[spec.encoding], sample_rate_hz=p.sample_rate_hz,
        nfft=p.nfft, source=spec.source_name, start_time_ns=spec.start_time_ns, end_time_ns=spec.end_time_ns)


@dataclass
class Job:
    spec: JobSpec
    source_blocks: Callable[[], Iterator[Block | Reset]]
    fanout: Fanout
    stop_source: Callable[[], None] = lambda: None
    stats: JobStats = field(default_factory=JobStats)
    state: str = "starting"  # starting | running | done | failed | stopped
    error: str = ""
    started_unix: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._slices = stream_slices(self.spec.params)
        self._channel_ranges = self._ranges()
        self._engine = StreamingSpectrogram(self.spec.params, xp=self.spec.xp)
        self._thread = threading.Thread(target=self._run, name="producer", daemon=True)

    def _ranges(self) -> dict[int, tuple[int, int]]:
        p = self.spec.params
        if p.view_type == ViewType.SINGLECHANNEL:
            return {0: (p.channel_min, p.channel_max)}
        return {k: (p.channel_min + s.start, p.channel_min + s.stop - 1) for k, s in self._slices.items()}

    def start(self) -> None:
        """Produce in a thread of its own."""
        self._thread.start()

    def run(self) -> None:
        """Produce in the calling thread (it must be the one that may iterate the source)."""
        self._run()

    def stop(self) -> None:
        self._stop.set()
        self.stop_source()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.ident is not None:  # not started when `run()` produced in another thread
            self._thread.join(timeout)

    @property
    def done(self) -> bool:
        return self.state == "done"

    def _run(self) -> None:
        try:
            self.state = "running"
            self._produce()
            if not self._stop.is_set():
                self.state = "done"
                log.info("range done: %d rows computed", self.stats.rows_computed)
        except Exception as e:  # the producer's boundary: log, mark failed, let serve exit non-zero
            log.exception("producer failed")
            self.state, self.error = "failed", f"{type(e).__name__}: {e}"
        finally:
            if self.state == "running":
                self.state = "stopped"
            self.fanout.finish()

    def _wait_for_client(self) -> bool:
        while not self._stop.is_set():
            if self.fanout.wait_for_client(WAIT_S):
                return True
        return False

    def _produce(self) -> None:
        clean = True  # engine state is continuous with the next block
        for item in self.source_blocks():
            if self._stop.is_set():
                return
            if self.spec.historic and not self._wait_for_client():
                return
            if isinstance(item, Reset):
                self.stats.resets += 1
                clean = False
                continue
            self.stats.chunks_in += 1
            if item.sample_rate_hz != self.spec.params.sample_rate_hz:
                self._rate_mismatch(item)
                continue
            if not self.fanout.n_clients:
                clean = False  # nobody listens: skip the FFTs
                continue
            if not clean:
                self._engine.reset()
                clean = True
            self._publish(self._engine.feed(item.data, item.t0_ns))

    def _rate_mismatch(self, block: Block) -> None:
        self.stats.rate_mismatches += 1
        if self.stats.rate_mismatches == 1 or self.stats.rate_mismatches % 1000 == 0:
            log.error("dropped block at %.1f Hz: the job computes for %.1f Hz (%d dropped); re-create the job",
                      block.sample_rate_hz, self.spec.params.sample_rate_hz, self.stats.rate_mismatches)

    def _publish(self, rows: Rows) -> None:
        """Encode and serialise the rows once per stream id in use, then hand them to the fan-out."""
        if not len(rows):
            return
        first_seq = self.stats.rows_computed
        self.stats.rows_computed += len(rows)
        encoding = ENCODINGS[self.spec.encoding]
        per_stream = {}
        for stream_id in self.fanout.stream_ids():
            cut = self._slices.get(stream_id, slice(None))
            part = rows.data[:, cut]
            lo, hi = self._channel_ranges.get(stream_id, (self.spec.params.channel_min,
                                                           self.spec.params.channel_max))
            shape = list(part.shape[1:])
            per_stream[stream_id] = [
                pb.Row(seq=first_seq + i, t_ns=int(rows.t_ns[i]), channel_min=lo, channel_max=hi, shape=shape,
                       encoding=encoding, vmin=vmin, vmax=vmax, data=data).SerializeToString()
                for i, (data, vmin, vmax) in enumerate(encode_rows(part, self.spec.encoding))
            ]
        for i in range(len(rows)):
            self.fanout.publish({k: v[i] for k, v in per_stream.items()})
