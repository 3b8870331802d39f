"""Recordings on disk: fixed-length PRODML files in UTC day folders, their index, and a source.

Layout: `<root>/<YYYY-MM-DD>/<YYYYMMDDTHHMMSS.ffffff>Z.h5`, the folder and the name given by the
UTC start time of the file's first sample. Files of one recording have the same duration
(`file_seconds`); the last one may be shorter. The index finds the files of a time range from
the names and opens only those (plus the one that starts before the range).

Channels of a view are 1-based; channel c is locus c-1.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from streamer.errors import SourceError
from streamer.sources import Block, Reset
from streamer.sources.prodml import FileHeader, read_header, read_slab, write_file

log = logging.getLogger(__name__)

NAME_FORMAT = "%Y%m%dT%H%M%S.%fZ.h5"
DAY_FORMAT = "%Y-%m-%d"
CONTIGUOUS_SAMPLES = 1.5  # files closer than this many sample periods form one recording


def _utc(t_ns: int) -> datetime:
    return datetime.fromtimestamp(t_ns // 1000 / 1e6, tz=UTC)


def file_path(root: Path, start_ns: int) -> Path:
    t = _utc(start_ns)
    return Path(root) / t.strftime(DAY_FORMAT) / t.strftime(NAME_FORMAT)


def _name_start_ns(path: Path) -> int | None:
    try:
        t = datetime.strptime(path.name, NAME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


def _listed_files(root: Path, start_ns: int, end_ns: int) -> list[tuple[int, Path]]:
    """(name start, path) of every recording file in the day folders around [start, end)."""
    day = _utc(start_ns).date() - timedelta(days=1)
    last = _utc(end_ns).date()
    found = []
    while day <= last:
        folder = Path(root) / day.strftime(DAY_FORMAT)
        if folder.is_dir():
            for path in folder.glob("*.h5"):
                t = _name_start_ns(path)
                if t is not None:
                    found.append((t, path))
        day += timedelta(days=1)
    return sorted(found)


def files_in_range(root: Path, start_ns: int, end_ns: int) -> list[FileHeader]:
    """Headers of the files holding samples in [start_ns, end_ns), in time order."""
    if end_ns <= start_ns:
        raise ValueError(f"end {end_ns} must be after start {start_ns}")
    listed = _listed_files(root, start_ns, end_ns)
    before = [p for t, p in listed if t <= start_ns][-1:]
    inside = [p for t, p in listed if start_ns < t < end_ns]
    headers = [read_header(p) for p in before + inside]
    return [h for h in headers if h.end_ns >= start_ns and h.start_ns < end_ns]


def merge_spans(headers: list[FileHeader]) -> list[tuple[int, int]]:
    """Contiguous (start_ns, end_ns) spans covered by the files (pure)."""
    spans: list[list[int]] = []
    for h in sorted(headers, key=lambda h: h.start_ns):
        tolerance = CONTIGUOUS_SAMPLES * 1e9 / h.sample_rate_hz
        if spans and h.start_ns - spans[-1][1] <= tolerance:
            spans[-1][1] = max(spans[-1][1], h.end_ns)
        else:
            spans.append([h.start_ns, h.end_ns])
    return [(s, e) for s, e in spans]


def recordings_in_time_range(root: Path | str, start: float, end: float) -> list[list[float]]:
    """`[[start, end], ...]` in epoch seconds: recorded spans inside [start, end], clipped."""
    start_ns, end_ns = round(start * 1e9), round(end * 1e9)
    spans = merge_spans(files_in_range(Path(root), start_ns, end_ns))
    return [[max(s, start_ns) / 1e9, min(e, end_ns) / 1e9] for s, e in spans]


class RecordingWriter:
    """Appends contiguous blocks and writes them as fixed-length files (context manager)."""

    def __init__(self, root: Path | str, sample_rate_hz: float, file_seconds: float = 30.0,
                 dx_m: float = 1.0, gauge_length_m: float = 10.0, start_locus: int = 0) -> None:
        if sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz={sample_rate_hz}: must be > 0")
        self.root = Path(root)
        self.sample_rate_hz = sample_rate_hz
        self.samples_per_file = max(1, round(file_seconds * sample_rate_hz))
        self._file_kwargs = {"dx_m": dx_m, "gauge_length_m": gauge_length_m, "start_locus": start_locus}
        self._parts: list[np.ndarray] = []
        self._buffered = 0
        self._start_ns: int | None = None
        self.written: list[FileHeader] = []

    def _expected_ns(self) -> int:
        assert self._start_ns is not None
        return self._start_ns + round(self._buffered * 1e9 / self.sample_rate_hz)

    def append(self, data: np.ndarray, t0_ns: int) -> None:
        if self._start_ns is not None and abs(t0_ns - self._expected_ns()) > 1e9 / self.sample_rate_hz / 2:
            self.flush()  # discontinuity: start a new file
        if self._start_ns is None:
            self._start_ns = t0_ns
        self._parts.append(np.asarray(data, dtype=np.float32))
        self._buffered += data.shape[0]
        while self._buffered >= self.samples_per_file:
            self._write(self.samples_per_file)

    def _write(self, n: int) -> None:
        buf = np.concatenate(self._parts, axis=0)
        start_ns = self._start_ns
        assert start_ns is not None
        header = write_file(file_path(self.root, start_ns), buf[:n], start_ns, self.sample_rate_hz,
                            **self._file_kwargs)
        self.written.append(header)
        rest = buf[n:]
        self._parts = [rest] if rest.shape[0] else []
        self._start_ns = start_ns + round(n * 1e9 / self.sample_rate_hz)
        self._buffered = rest.shape[0]
        if not self._buffered:
            self._start_ns = None

    def flush(self) -> None:
        if self._buffered:
            self._write(self._buffered)
        self._start_ns = None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


@dataclass
class RecordingSource:
    """Yields the view's channels of [start_ns, end_ns) from the recordings, ~1 s per block."""

    root: Path
    start_ns: int
    end_ns: int
    channel_min: int  # 1-based, inclusive
    channel_max: int
    block_seconds: float = 1.0

    def __post_init__(self) -> None:
        self.headers = files_in_range(Path(self.root), self.start_ns, self.end_ns)
        if not self.headers:
            raise SourceError(
                f"no recordings in {self.root} between {self.start_ns / 1e9:.3f} and {self.end_ns / 1e9:.3f}"
            )
        rates = {h.sample_rate_hz for h in self.headers}
        if len(rates) != 1:
            raise SourceError(f"recordings in the range mix sample rates {sorted(rates)}")
        self.sample_rate_hz = rates.pop()
        for h in self.headers:
            if self.channel_min - 1 < h.start_locus or self.channel_max > h.start_locus + h.n_loci:
                raise SourceError(
                    f"channels {self.channel_min}..{self.channel_max} not in {h.path.name} "
                    f"(channels {h.start_locus + 1}..{h.start_locus + h.n_loci})"
                )

    def blocks(self) -> Iterator[Block | Reset]:
        period_ns = 1e9 / self.sample_rate_hz
        step_ns = round(self.block_seconds * 1e9)
        expected: int | None = None
        for h in self.headers:
            t = max(self.start_ns, h.start_ns)
            stop = min(self.end_ns, h.end_ns + 1)
            while t < stop:
                data, t0 = read_slab(h, t, min(t + step_ns, stop), self.channel_min - 1, self.channel_max - 1)
                t = min(t + step_ns, stop)
                if not data.shape[0]:
                    continue
                if expected is not None and abs(t0 - expected) > CONTIGUOUS_SAMPLES * period_ns:
                    log.info("recording gap of %.3f s before %s", (t0 - expected) / 1e9, h.path.name)
                    yield Reset("gap")
                expected = t0 + round(data.shape[0] * period_ns)
                yield Block(data, t0, self.sample_rate_hz)
