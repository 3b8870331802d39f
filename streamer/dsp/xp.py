"""The array-module seam: the DSP maths is written once against `xp` (NumPy or CuPy).

CuPy is optional: without it (or without a CUDA device) everything runs on NumPy. The few
operations whose spelling differs between the two libraries live here, so the maths in
`stft.py` has no `if cupy` branches:

- `rfft`: `scipy.fft.rfft` with `workers` threads on the CPU, `cupy.fft.rfft` (cuFFT) on a GPU;
- `as_strided`: `numpy.lib.stride_tricks.as_strided` / `cupy.lib.stride_tricks.as_strided`;
- `to_host`: a NumPy array from either; `synchronize`: wait for queued GPU work (benchmarks).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import numpy as np
import scipy.fft

try:  # optional: the GPU extra (`pip install .[gpu]`)
    import cupy as _cupy
except ImportError:  # pragma: no cover - depends on the machine
    _cupy = None

#: CPU threads for the DSP: tiles of (channels x frames) run in parallel, one thread each.
DEFAULT_WORKERS = os.cpu_count() or 1
#: Samples per tile: on the CPU small enough that a tile's window/FFT/power stay in cache,
#: on a GPU large enough to fill the device with one batched cuFFT call.
CPU_TILE_VALUES = 1 << 18
GPU_TILE_VALUES = 1 << 26
CPU_TILE_CHANNELS = 32  # 32 adjacent float32 channels: two whole cache lines per sample row
GPU_TILE_CHANNELS = 1 << 30
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def cupy_module() -> ModuleType | None:
    """The cupy module when it imports, else None."""
    return _cupy


def gpu_available() -> bool:
    """True when cupy imports and sees at least one CUDA device."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - any CUDA runtime error means "no usable GPU"
        return False


def select(name: str | ModuleType | None) -> ModuleType:
    """The array module for a name: None or "numpy" -> numpy, "cupy" -> cupy (must be usable)."""
    if name is None or name is np or name == "numpy":
        return np
    if name is _cupy or name == "cupy":
        if not gpu_available():
            raise RuntimeError("xp 'cupy' requested but cupy or a CUDA device is not available")
        return _cupy
    raise ValueError(f"xp {name!r}: must be 'numpy', 'cupy', or the module itself")


def get_array_module(*arrays: Any) -> ModuleType:
    """numpy or cupy, whichever owns the arrays (cupy's own rule; numpy without cupy)."""
    if _cupy is None:
        return np
    return _cupy.get_array_module(*arrays)


def to_host(x: Any) -> np.ndarray:
    """A NumPy array from a NumPy or CuPy array (copies device memory to the host)."""
    if isinstance(x, np.ndarray):
        return x
    if _cupy is not None and isinstance(x, _cupy.ndarray):
        return _cupy.asnumpy(x)
    return np.asarray(x)


def rfft(xp: ModuleType, x: Any, axis: int = -1, workers: int | None = None) -> Any:
    """Real FFT along `axis` of any strided view; float32 in gives C-contiguous complex64 out on
    both backends (cupy.fft may hand back a swapped-axes view; the DSP reinterprets the result's
    last axis as interleaved floats, which needs it contiguous)."""
    if xp is np:
        return scipy.fft.rfft(x, axis=axis, workers=workers or DEFAULT_WORKERS)
    return xp.ascontiguousarray(xp.fft.rfft(x, axis=axis))


def as_strided(xp: ModuleType, x: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """A read-only strided view (frames over a sample buffer) without copying."""
    if xp is np:
        return np.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def synchronize(xp: ModuleType) -> None:
    """Wait until queued device work is done (a no-op on NumPy); for timing only."""
    if xp is not np:
        xp.cuda.Device().synchronize()


def tile_values(xp: ModuleType) -> int:
    """Default number of samples per tile for the backend."""
    return CPU_TILE_VALUES if xp is np else GPU_TILE_VALUES


def tile_threads(xp: ModuleType, workers: int | None) -> int:
    """Host threads that process tiles: `workers` on the CPU, one on a GPU (the device is parallel)."""
    return max(1, workers or DEFAULT_WORKERS) if xp is np else 1


def tile_channels(xp: ModuleType) -> int:
    """Most channels per tile for the backend."""
    return CPU_TILE_CHANNELS if xp is np else GPU_TILE_CHANNELS


def run_tiles(work: Callable[[Any], None], tiles: Sequence[Any], threads: int) -> None:
    """Call `work(tile)` for every tile, on a shared pool of `threads` threads (NumPy and
    scipy.fft release the GIL); exceptions propagate to the caller."""
    if threads <= 1 or len(tiles) <= 1:
        for item in tiles:
            work(item)
        return
    with _pools_lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="dsp")
    for _ in pool.map(work, tiles):
        pass
