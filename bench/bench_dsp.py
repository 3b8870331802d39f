"""DSP throughput of StreamingSpectrogram against scipy's ShortTimeFFT and a bare rfft floor.

    python -m bench.bench_dsp                 # CPU (NumPy + scipy.fft)
    python -m bench.bench_dsp --xp cupy       # GPU pipeline (CuPy), same anchors

Workload: the Focus full load — 2,222 channels at 2 kHz, multichannel view, nfft 1024,
0–500 Hz (257 bins pooled to 32 display bins), hop 78 (30 s / 768 rows) and hop 512.
Three ways to the same frames, timed in one process, interleaved, best of --repeats:

- pipeline: `StreamingSpectrogram.feed` on chunks of --chunk-ms (1 s; live chunks are 50 ms),
  rows to the host; the engine is warmed up once (its sample store allocated, as in a stream
  that runs for hours) and `reset()` before each timed pass;
- ShortTimeFFT: `scipy.signal.ShortTimeFFT.stft` on the whole signal (its best case: no
  streaming), then the same crop, power, pooling and dB; run in blocks of 256 channels to bound
  memory; its rows are checked against the pipeline's;
- FFT floor: only the `rfft` of the already windowed, contiguous frames (scipy.fft with the same
  number of workers, or cupy.fft), in the same channel blocks: the cost of the FFT alone;
- input copy: one memcpy of the input (what merely reading the data costs; the floor excludes it).

Prints rows/s, channel-frames/s, the real-time factor (seconds of data per second of work) and
the ratios pipeline/ShortTimeFFT (speed-up) and floor/pipeline (fraction of the FFT floor).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import scipy.fft
from scipy.signal import ShortTimeFFT
from scipy.signal.windows import hann

from streamer.dsp import xp as xpmod
from streamer.dsp.params import ViewParams, validate_view
from streamer.dsp.stft import EPS, StreamingSpectrogram

FS = 2000.0
CHANNELS = 2222
BLOCK_CHANNELS = 256
HOPS = {78: (30.0, 768), 512: (25.6, 100)}  # hop -> (displayTimeAxisDuration, displayInfo.height)


def make_params(hop: int, channels: int) -> ViewParams:
    duration, height = HOPS[hop]
    params = validate_view(view_type=0, nfft=1024, channel_min=1, channel_max=channels, freq_min=0.0,
                           freq_max=500.0, display_duration_s=duration, display_height=height, sample_rate_hz=FS)
    assert params.hop == hop, params.hop
    return params


def pipeline_runner(params: ViewParams, x: np.ndarray, chunk: int, xp: str, workers: int | None,
                    ) -> Callable[[], np.ndarray]:
    """A warmed-up engine (its sample store allocated, as in a long-running stream) fed x in chunks."""
    spec = StreamingSpectrogram(params, xp=xp, workers=workers)

    def run() -> np.ndarray:
        spec.reset()
        rows = [spec.feed(x[i:i + chunk], i * 500_000).data for i in range(0, len(x), chunk)]
        return np.concatenate(rows)

    run()
    return run


def short_time_fft(params: ViewParams) -> tuple[ShortTimeFFT, int]:
    """The ShortTimeFFT of the view, and the sample where its first full frame starts."""
    sft = ShortTimeFFT(hann(params.nfft, sym=False), hop=params.hop, fs=params.sample_rate_hz,
                       fft_mode="onesided", scale_to="magnitude")
    first = -(-(params.nfft // 2) // params.hop)  # ShortTimeFFT frame p starts at p*hop - nfft/2
    return sft, first * params.hop - params.nfft // 2


def run_short_time_fft(params: ViewParams, x: np.ndarray) -> np.ndarray:
    """ShortTimeFFT's full frames of x, cropped, pooled and in dB: the pipeline's rows of x[skip:]."""
    sft, skip = short_time_fft(params)
    first = (skip + params.nfft // 2) // params.hop
    last = (len(x) - params.nfft + params.nfft // 2) // params.hop + 1
    starts, scale = params.pool_edges[:-1], 1.0 / np.diff(params.pool_edges)
    out = []
    for c in range(0, x.shape[1], BLOCK_CHANNELS):
        spec = sft.stft(x[:, c:c + BLOCK_CHANNELS].T, p0=first, p1=last)  # (channels, freqs, frames)
        power = np.abs(spec[:, params.bin_slice, :]) ** 2
        pooled = np.add.reduceat(power, starts, axis=1) * scale[:, None]
        out.append(10 * np.log10(pooled + EPS).transpose(2, 0, 1))
    return np.concatenate(out, axis=1)


def floor_timer(params: ViewParams, x: np.ndarray, xp_name: str, workers: int | None,
                ) -> Callable[[], tuple[float, float]]:
    """A function timing the bare rfft of every frame (windowing and copies untimed)."""
    xp = xpmod.select(xp_name)
    n_frames = (len(x) - params.nfft) // params.hop + 1
    window = (hann(params.nfft, sym=False) / hann(params.nfft, sym=False).sum()).astype(np.float32)

    def timed_floor() -> tuple[float, float]:
        wall = cpu = 0.0
        for c in range(0, x.shape[1], BLOCK_CHANNELS):
            block = np.ascontiguousarray(x[:, c:c + BLOCK_CHANNELS].T)
            frames = np.lib.stride_tricks.as_strided(
                block, (block.shape[0], n_frames, params.nfft), (block.strides[0], params.hop * 4, 4))
            windowed = xp.asarray(frames * window)
            xpmod.synchronize(xp)
            start, start_cpu = time.perf_counter(), time.process_time()
            xpmod.rfft(xp, windowed, axis=-1, workers=workers)
            xpmod.synchronize(xp)
            wall += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
        return wall, cpu

    return timed_floor


def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    """Wall seconds, CPU seconds of the process (all threads) and the result of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def bench_hop(hop: int, x: np.ndarray, args: argparse.Namespace) -> None:
    params = make_params(hop, x.shape[1])
    skip = short_time_fft(params)[1]  # ShortTimeFFT centres frames on multiples of hop
    full, x = x, x[skip:]
    chunk = max(1, round(args.chunk_ms * FS / 1000))
    pipeline = pipeline_runner(params, x, chunk, args.xp, args.workers)
    methods: dict[str, Callable[[], tuple[float, float, object]]] = {
        "pipeline": lambda: timed(pipeline),
        "ShortTimeFFT": lambda: timed(lambda: run_short_time_fft(params, full)),
        "FFT floor": lambda: (*floor_timer(params, x, args.xp, args.workers)(), None),
    }
    target = np.empty_like(x)
    methods["input copy"] = lambda: timed(lambda: np.copyto(target, x))  # touching the input once
    if args.xp != "numpy":
        cpu_pipeline = pipeline_runner(params, x, chunk, "numpy", args.workers)
        methods["CPU pipeline"] = lambda: timed(cpu_pipeline)
    wall = dict.fromkeys(methods, np.inf)
    cpu = dict.fromkeys(methods, np.inf)
    results = {}
    for _ in range(args.repeats):  # interleaved, best of: the machine may be shared
        for name, run in methods.items():
            seconds, cpu_seconds, results[name] = run()
            wall[name], cpu[name] = min(wall[name], seconds), min(cpu[name], cpu_seconds)
    rows, reference = results["pipeline"], results["ShortTimeFFT"]
    if rows.shape != reference.shape:
        raise AssertionError(f"pipeline rows {rows.shape} != ShortTimeFFT rows {reference.shape}")
    data_s = len(x) / FS
    print(f"\nhop {hop}: nfft {params.nfft}, {x.shape[1]} channels, {data_s:g} s of data, {len(rows)} rows "
          f"of {params.row_shape}, chunks of {chunk} samples; max |pipeline - ShortTimeFFT| = "
          f"{np.abs(rows - reference).max():.2g} dB; load average {os.getloadavg()[0]:.1f}")
    print(f"  {'method':<14}{'wall s':>8}{'CPU s':>8}{'rows/s':>9}{'ch-frames/s':>13}{'x real time':>13}")
    for name in methods:
        print(f"  {name:<14}{wall[name]:>8.3f}{cpu[name]:>8.3f}{len(rows) / wall[name]:>9.1f}"
              f"{len(rows) * x.shape[1] / wall[name]:>13.3g}{data_s / wall[name]:>13.1f}")
    for label, t in (("wall", wall), ("CPU", cpu)):
        print(f"  {label:>4}: pipeline speed-up over ShortTimeFFT {t['ShortTimeFFT'] / t['pipeline']:.2f}x "
              f"(target >= 3); pipeline / FFT floor {t['FFT floor'] / t['pipeline']:.2f} (target >= 0.7)")
    if "CPU pipeline" in methods:
        print(f"  {args.xp} pipeline over CPU pipeline (wall): {wall['CPU pipeline'] / wall['pipeline']:.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xp", choices=["numpy", "cupy"], default="numpy")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of data (default 2)")
    parser.add_argument("--channels", type=int, default=CHANNELS)
    parser.add_argument("--chunk-ms", type=float, default=1000.0, help="feed size in ms (live: 50)")
    parser.add_argument("--hops", type=int, nargs="+", default=sorted(HOPS), choices=sorted(HOPS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help=f"CPU threads (default {xpmod.DEFAULT_WORKERS})")
    args = parser.parse_args(argv)
    x = np.random.default_rng(0).standard_normal((round(args.seconds * FS), args.channels)).astype(np.float32)
    print(f"DSP bench: numpy {np.__version__}, scipy {scipy.__version__}, "
          f"workers {args.workers or xpmod.DEFAULT_WORKERS}, xp {args.xp}")
    for hop in args.hops:
        bench_hop(hop, x, args)


if __name__ == "__main__":
    main()
