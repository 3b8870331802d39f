"""One PRODML v2-style HDF5 recording file: write it, read its header and hyperslabs of it.

Layout (see /work/shared/das-notes.md, "Recording format"): `/Acquisition` carries the
acquisition attributes DASCore and xdas look for; `/Acquisition/Raw[0]/RawData` is float32
`(time, locus)` chunked about 1 s x 256 loci; `/Acquisition/Raw[0]/RawDataTime` holds the Unix
time of every sample in microseconds. Part times are fixed-length byte strings (ISO 8601 with
offset) on both datasets.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from streamer.errors import SourceError

RAW = "/Acquisition/Raw[0]"
RAW_DATA = f"{RAW}/RawData"
RAW_TIME = f"{RAW}/RawDataTime"
CHUNK_LOCI = 256
READ_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class FileHeader:
    path: Path
    start_ns: int  # first sample
    end_ns: int  # last sample
    sample_rate_hz: float
    n_samples: int
    start_locus: int  # 0-based locus index of column 0
    n_loci: int
    dx_m: float
    gauge_length_m: float


def iso_time(t_ns: int) -> str:
    """ISO 8601 with an explicit UTC offset and microseconds, as PRODML writes part times."""
    return datetime.fromtimestamp(t_ns / 1e9, tz=UTC).isoformat(timespec="microseconds")


def sample_times_us(start_ns: int, n_samples: int, sample_rate_hz: float) -> np.ndarray:
    offsets_ns = np.round(np.arange(n_samples, dtype=np.float64) * (1e9 / sample_rate_hz))
    return (start_ns + offsets_ns.astype(np.int64)) // 1000


def write_file(
    path: Path,
    data: np.ndarray,
    start_ns: int,
    sample_rate_hz: float,
    dx_m: float = 1.0,
    gauge_length_m: float = 10.0,
    start_locus: int = 0,
    pulse_width_ns: float = 100.0,
) -> FileHeader:
    """Write `data` (time, locus) as one recording file; returns its header."""
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(f"data shape {data.shape}: must be (time>0, locus>0)")
    n_samples, n_loci = data.shape
    times_us = sample_times_us(start_ns, n_samples, sample_rate_hz)
    end_ns = int(times_us[-1]) * 1000
    part_start = np.bytes_(iso_time(start_ns).encode())
    part_end = np.bytes_(iso_time(end_ns).encode())
    file_uuid = str(uuidlib.uuid4())
    chunks = (max(1, min(n_samples, round(sample_rate_hz))), min(n_loci, CHUNK_LOCI))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".h5.part")
    with h5py.File(tmp, "w") as f:
        f.attrs["uuid"] = file_uuid
        acq = f.create_group("Acquisition")
        acq.attrs.update(
            {
                "schemaVersion": "2.0",
                "uuid": file_uuid,
                "PulseRate": float(sample_rate_hz),
                "PulseRateUnit": "Hz",
                "PulseWidth": float(pulse_width_ns),
                "PulseWidthUnit": "ns",
                "NumberOfLoci": np.int64(n_loci),
                "StartLocusIndex": np.int64(start_locus),
                "SpatialSamplingInterval": float(dx_m),
                "SpatialSamplingIntervalUnit": "m",
                "GaugeLength": float(gauge_length_m),
                "GaugeLengthUnit": "m",
                "MeasurementStartTime": np.bytes_(iso_time(start_ns).encode()),
            }
        )
        raw = f.create_group(RAW)
        raw.attrs.update(
            {
                "OutputDataRate": float(sample_rate_hz),
                "RawDescription": "spectrojobs recording (float32 strain rate)",
                "RawDataUnit": "1/s",
                "NumberOfLoci": np.int64(n_loci),
                "StartLocusIndex": np.int64(start_locus),
            }
        )
        ds = raw.create_dataset("RawData", data=np.asarray(data, dtype=np.float32), chunks=chunks)
        ds.attrs["Dimensions"] = np.array([b"time", b"locus"])
        ds.attrs["PartStartTime"] = part_start
        ds.attrs["PartEndTime"] = part_end
        ts = raw.create_dataset("RawDataTime", data=times_us)
        ts.attrs["StartTime"] = np.int64(times_us[0])
        ts.attrs["EndTime"] = np.int64(times_us[-1])
        ts.attrs["PartStartTime"] = part_start
        ts.attrs["PartEndTime"] = part_end
    tmp.replace(path)  # readers never see a half-written file
    return FileHeader(path, start_ns, end_ns, float(sample_rate_hz), n_samples, start_locus, n_loci,
                      float(dx_m), float(gauge_length_m))


def read_header(path: Path) -> FileHeader:
    try:
        with h5py.File(path, "r") as f:
            acq = f["Acquisition"].attrs
            ts = f[RAW_TIME]
            n_samples = ts.shape[0]
            return FileHeader(
                path=Path(path),
                start_ns=int(ts.attrs["StartTime"]) * 1000,
                end_ns=int(ts.attrs["EndTime"]) * 1000,
                sample_rate_hz=float(acq["PulseRate"]),
                n_samples=int(n_samples),
                start_locus=int(acq["StartLocusIndex"]),
                n_loci=int(acq["NumberOfLoci"]),
                dx_m=float(acq["SpatialSamplingInterval"]),
                gauge_length_m=float(acq["GaugeLength"]),
            )
    except (OSError, KeyError) as e:
        raise SourceError(f"{path}: not a readable PRODML recording ({e})") from e


def read_slab(
    header: FileHeader, start_ns: int, end_ns: int, locus_min: int, locus_max: int
) -> tuple[np.ndarray, int]:
    """Samples with start_ns <= t < end_ns of loci [locus_min, locus_max] (0-based, inclusive).

    Reads only that hyperslab from disk. Returns (data (time, locus) float32, t0_ns); the array
    is empty (0 rows) when the file has no sample in the range.
    """
    c0 = locus_min - header.start_locus
    c1 = locus_max - header.start_locus + 1
    if c0 < 0 or c1 > header.n_loci:
        raise SourceError(
            f"{header.path}: loci {locus_min}..{locus_max} outside the file's "
            f"{header.start_locus}..{header.start_locus + header.n_loci - 1}"
        )
    try:
        return _read(header, start_ns, end_ns, c0, c1)
    except (OSError, KeyError) as e:
        raise SourceError(f"{header.path}: cannot read samples ({e})") from e


def _read(header: FileHeader, start_ns: int, end_ns: int, c0: int, c1: int) -> tuple[np.ndarray, int]:
    with h5py.File(header.path, "r", rdcc_nbytes=READ_CACHE_BYTES) as f:
        times_us = f[RAW_TIME][:]
        i0 = int(np.searchsorted(times_us, -(-start_ns // 1000), side="left"))
        i1 = int(np.searchsorted(times_us, -(-end_ns // 1000), side="left"))
        if i1 <= i0:
            return np.empty((0, c1 - c0), dtype=np.float32), start_ns
        data = f[RAW_DATA][i0:i1, c0:c1]
        return np.asarray(data, dtype=np.float32), int(times_us[i0]) * 1000
