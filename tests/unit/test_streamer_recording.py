"""Recording round trip: PRODML writer -> index -> hyperslab reader."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from streamer.errors import SourceError
from streamer.sources import Block, Reset
from streamer.sources.prodml import RAW_DATA, RAW_TIME, read_header, read_slab, write_file
from streamer.sources.recording import (
    RecordingSource,
    RecordingWriter,
    file_path,
    files_in_range,
    recordings_in_time_range,
)

RATE = 1000.0
T0 = 1_763_769_590 * 10**9  # 2025-11-21T23:59:50Z: the recording crosses midnight


def _ramp(n_samples: int, n_loci: int, first_sample: int = 0) -> np.ndarray:
    """Value = sample index * 400 + locus (exact in float32): every element says where it came from."""
    t = np.arange(first_sample, first_sample + n_samples, dtype=np.float64)[:, None]
    return (t * 400 + np.arange(n_loci)[None, :]).astype(np.float32)


def _record(root, seconds=25.0, file_seconds=10.0, n_loci=300, t0=T0, first_sample=0):
    n = round(seconds * RATE)
    with RecordingWriter(root, RATE, file_seconds=file_seconds) as w:
        for i in range(0, n, 700):  # block size unrelated to file size
            m = min(700, n - i)
            w.append(_ramp(m, n_loci, first_sample + i), t0 + round(i * 1e9 / RATE))
    return w.written


def test_file_has_the_prodml_attributes(tmp_path):
    h = write_file(tmp_path / "a.h5", _ramp(1500, 300), T0, RATE, dx_m=2.0, gauge_length_m=8.0)
    with h5py.File(h.path, "r") as f:
        assert "uuid" in f.attrs
        acq = f["Acquisition"].attrs
        for key in ("schemaVersion", "uuid", "PulseRate", "PulseWidth", "NumberOfLoci", "StartLocusIndex",
                    "SpatialSamplingInterval", "GaugeLength", "MeasurementStartTime"):
            assert key in acq, key
        assert acq["schemaVersion"] == "2.0" and acq["NumberOfLoci"] == 300 and acq["PulseRate"] == RATE
        raw = f["Acquisition/Raw[0]"].attrs
        for key in ("OutputDataRate", "RawDescription", "RawDataUnit", "NumberOfLoci", "StartLocusIndex"):
            assert key in raw, key
        data, times = f[RAW_DATA], f[RAW_TIME]
        assert data.dtype == np.float32 and data.shape == (1500, 300)
        assert data.chunks == (1000, 256)
        assert [bytes(d) for d in data.attrs["Dimensions"]] == [b"time", b"locus"]
        assert times.dtype == np.int64 and times[1] - times[0] == 1000  # µs
        for ds in (data, times):
            for key in ("PartStartTime", "PartEndTime"):
                value = ds.attrs[key]
                assert isinstance(value, np.bytes_), (ds.name, key, type(value))
                assert ds.attrs.get_id(key).get_type().is_variable_str() is False
        assert data.attrs["PartStartTime"].decode() == "2025-11-21T23:59:50.000000+00:00"
        assert times.attrs["StartTime"] == T0 // 1000 and times.attrs["EndTime"] == T0 // 1000 + 1_499_000


def test_writer_splits_into_fixed_length_files_in_day_folders(tmp_path):
    written = _record(tmp_path)
    assert [h.n_samples for h in written] == [10_000, 10_000, 5_000]
    assert [h.path.parent.name for h in written] == ["2025-11-21", "2025-11-22", "2025-11-22"]
    assert written[1].path == file_path(tmp_path, T0 + 10 * 10**9)
    assert read_header(written[1].path).start_ns == T0 + 10 * 10**9


def test_slab_reads_exactly_the_requested_hyperslab(tmp_path):
    h = write_file(tmp_path / "a.h5", _ramp(3000, 300), T0, RATE, start_locus=100)
    data, t0 = read_slab(h, T0 + 1_000_500_000, T0 + 1_200_000_000, 150, 169)
    assert t0 == T0 + 1_001_000_000  # first sample at or after the start
    np.testing.assert_array_equal(data, _ramp(3000, 300)[1001:1200, 50:70])
    with pytest.raises(SourceError, match="outside"):
        read_slab(h, T0, T0 + 10**9, 90, 120)


def test_index_answers_ranges_across_file_boundaries(tmp_path):
    _record(tmp_path)
    assert [h.n_samples for h in files_in_range(tmp_path, T0 + 9 * 10**9, T0 + 11 * 10**9)] == [10_000, 10_000]
    s = T0 / 1e9
    assert recordings_in_time_range(tmp_path, s + 5, s + 22) == [[s + 5, s + 22]]
    assert recordings_in_time_range(tmp_path, s - 100, s + 1000) == [[s, s + 24.999]]
    assert recordings_in_time_range(tmp_path, s + 30, s + 40) == []
    # a second recording after a pause is a separate span
    _record(tmp_path, seconds=5, t0=T0 + 60 * 10**9)
    assert recordings_in_time_range(tmp_path, s, s + 100) == [[s, s + 24.999], [s + 60, s + 64.999]]


def test_source_yields_the_range_and_channels_across_files(tmp_path):
    _record(tmp_path)
    src = RecordingSource(tmp_path, T0 + 8 * 10**9, T0 + 12_500_000_000, channel_min=11, channel_max=20)
    items = list(src.blocks())
    assert all(isinstance(b, Block) for b in items)
    data = np.concatenate([b.data for b in items])
    np.testing.assert_array_equal(data, _ramp(25_000, 300)[8000:12_500, 10:20])
    assert items[0].t0_ns == T0 + 8 * 10**9 and src.sample_rate_hz == RATE


def test_source_signals_a_gap_between_recordings(tmp_path):
    _record(tmp_path, seconds=3, file_seconds=10)
    _record(tmp_path, seconds=3, t0=T0 + 10 * 10**9)
    items = list(RecordingSource(tmp_path, T0, T0 + 20 * 10**9, 1, 5).blocks())
    assert [type(i).__name__ for i in items].count("Reset") == 1
    assert isinstance(items[3], Reset) and items[4].t0_ns == T0 + 10 * 10**9


def test_source_refuses_missing_data_and_channels(tmp_path):
    _record(tmp_path, seconds=3)
    with pytest.raises(SourceError, match="no recordings"):
        RecordingSource(tmp_path, T0 + 100 * 10**9, T0 + 200 * 10**9, 1, 5)
    with pytest.raises(SourceError, match=r"channels 290\.\.310 not in"):
        RecordingSource(tmp_path, T0, T0 + 10**9, 290, 310)
