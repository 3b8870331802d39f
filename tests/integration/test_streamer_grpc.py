"""The gRPC server over real loopback channels: metadata, rows, health, reflection, fan-out, cancel."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from streamer.client import StreamClient
from streamer.export import compute_range
from streamer.sources.recording import RecordingSource, RecordingWriter
from streamer.sources.synthetic import Interrogator
from streamer.testing import VIEW, running_server, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

T0 = 1_795_346_300 * 10**9
RATE = 1000.0


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    root = tmp_path_factory.mktemp("recordings")
    gen = Interrogator(sample_rate_hz=RATE, n_channels=300, seed=1, start_ns=T0)
    with RecordingWriter(root, RATE, file_seconds=2.0) as w:
        for block in gen.blocks(250, realtime=False, limit_s=5.0):
            w.append(block.data, block.t0_ns)
    return root


def _historic(root, *extra):
    return ("--source", "recording", "--recordings-dir", str(root), "--start-time", str(T0 / 1e9 + 0.5),
            "--end-time", str(T0 / 1e9 + 4.5), "--replay-speed", "0", *VIEW, "--display-duration", "5",
            "--display-height", "100", *extra)


def test_metadata_rows_and_health_of_a_historic_range(recordings):
    argv = _historic(recordings, "--channel-min", "3", "--channel-max", "290", "--encoding", "float32")
    with running_server(*argv) as (srv, target), StreamClient(target) as client:
        client.wait_ready()
        meta = client.metadata()
        params = srv.job.spec.params
        np.testing.assert_allclose(meta.frequencies, params.frequencies)
        assert (meta.lines_dt, meta.channel_min, meta.channel_max, meta.stream_amount) == (0.05, 3, 290, 2)
        assert list(meta.row_shape) == [288, params.n_bins] and meta.encoding == 1 and meta.sample_rate_hz == RATE
        assert list(meta.channel_to_stream_index) == [0] * 256 + [1] * 32
        wait_for(lambda: client.health() == "SERVING", what="health SERVING")
        assert client.health("") == "SERVING"
        rows = list(client.rows())
        status = client.status()
    expected, times, _ = compute_range(
        RecordingSource(recordings, T0 + 500_000_000, T0 + 4_500_000_000, 3, 290), params)
    assert len(rows) == len(expected) == 75  # (4000 samples - 256) // hop 50 + 1
    np.testing.assert_array_equal(np.stack([r.data for r in rows]), expected)
    assert [r.t_ns for r in rows] == list(times) and [r.seq for r in rows] == list(range(75))
    assert all(r.dropped_rows == 0 for r in rows)
    assert status.done and status.rows_computed == 75 and status.rows_sent == 75 and status.source_state == "done"


def test_one_stream_of_a_view_and_uint8_rows(recordings):
    argv = _historic(recordings, "--channel-min", "3", "--channel-max", "290", "--encoding", "uint8")
    with running_server(*argv) as (srv, target), StreamClient(target) as client:
        rows = list(client.rows(stream_id=1))
        params = srv.job.spec.params
        with pytest.raises(grpc.RpcError) as bad:
            next(iter(client.rows(stream_id=2)))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "stream_id=2" in bad.value.details()
    expected, _, _ = compute_range(RecordingSource(recordings, T0 + 500_000_000, T0 + 4_500_000_000, 3, 290), params)
    assert {(r.channel_min, r.channel_max) for r in rows} == {(259, 290)}
    got = np.stack([r.data for r in rows])
    want = expected[:, 256:]
    span = want.reshape(len(want), -1).max(axis=1) - want.reshape(len(want), -1).min(axis=1)
    assert got.shape == want.shape
    assert (np.abs(got - want).reshape(len(want), -1).max(axis=1) <= span / 510 + 1e-4).all()


def test_reflection_lists_the_service(recordings):
    with running_server(*_historic(recordings, "--channel-min", "1", "--channel-max", "8")) as (_, target):
        with grpc.insecure_channel(target) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
            names = {s.name for s in next(replies).list_services_response.service}
    assert {"spectrojobs.streamer.v1.Streamer", "grpc.health.v1.Health"} <= names


SYNTHETIC = ("--source", "synthetic", "--channels", "512", "--channel-min", "1", "--channel-max", "512", *VIEW,
             "--display-duration", "1", "--display-height", "25", "--client-queue", "16")


def test_a_slow_client_loses_rows_and_is_told_while_a_fast_one_gets_everything():
    small_window = [("grpc.http2.bdp_probe", 0)]  # else the transport buffers megabytes for the slow reader
    with (running_server(*SYNTHETIC) as (_, target), StreamClient(target) as fast,
          StreamClient(target, options=small_window) as slow):
        fast_rows, slow_rows = [], []

        def read_fast():
            for row in fast.rows():
                fast_rows.append(row)
                if len(slow_rows) >= 10:
                    break

        reader = threading.Thread(target=read_fast)
        reader.start()
        for row in slow.rows():
            slow_rows.append(row)
            time.sleep(0.25)  # 4 rows/s against 25 rows/s
            if len(slow_rows) >= 10:
                break
        reader.join(10)
        slow.cancel()
    seqs = [r.seq for r in fast_rows]
    assert len(seqs) > 40 and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert fast_rows[-1].dropped_rows == 0
    assert slow_rows[-1].dropped_rows > 10, [(r.seq, r.dropped_rows) for r in slow_rows]
    missing = slow_rows[-1].seq - slow_rows[0].seq + 1 - len(slow_rows)
    assert missing == slow_rows[-1].dropped_rows - slow_rows[0].dropped_rows  # told exactly what it lost


def test_work_stops_when_the_last_client_cancels():
    with running_server(*SYNTHETIC) as (srv, target), StreamClient(target) as client:
        stream = client.rows()
        for _ in range(5):
            next(stream)
        assert client.status().clients == 1
        client.cancel()
        wait_for(lambda: client.status().clients == 0, what="the server to see the client leave")
        time.sleep(0.3)  # rows already in the engine's block may still complete
        before = client.status()
        # the feed goes on (10 more blocks of 50 ms arrive) but no FFT is computed for nobody
        wait_for(lambda: client.status().chunks_in >= before.chunks_in + 10, what="more input blocks")
        after = client.status()
    assert after.rows_computed == before.rows_computed and after.clients == 0 and after.source_state == "running"


def test_a_failing_source_ends_the_stream_with_an_error_and_marks_the_job_failed(tmp_path):
    gen = Interrogator(sample_rate_hz=RATE, n_channels=16, seed=1, start_ns=T0)
    with RecordingWriter(tmp_path, RATE, file_seconds=2.0) as w:
        for block in gen.blocks(500, realtime=False, limit_s=4.0):
            w.append(block.data, block.t0_ns)
    argv = _historic(tmp_path, "--channel-min", "1", "--channel-max", "8")
    with running_server(*argv) as (srv, target), StreamClient(target) as client:
        for header in w.written:  # the files vanish after the job opened them
            header.path.unlink()
        with pytest.raises(grpc.RpcError) as failed:
            list(client.rows())
        assert srv.job_state() == "failed" and srv.exit_decision() == ("failed", 1)
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert failed.value.details().startswith("the job failed: SourceError: "), failed.value.details()
    assert "cannot read samples" in failed.value.details()
