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
from types import ModuleType
from typing import Any

import numpy as np
import scipy.fft

try:  # optional: the GPU extra (`pip install .[gpu]`)
    import cupy as _cupy
except ImportError:  # pragma: no cover - depends on the machine
    _cupy = None

#: Threads for the CPU FFT; the STFT batches every channel into one call.
DEFAULT_WORKERS = os.cpu_count() or 1


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
    """Real FFT along `axis`; float32 in gives complex64 out on both backends."""
    if xp is np:
        return scipy.fft.rfft(x, axis=axis, workers=workers or DEFAULT_WORKERS, overwrite_x=True)
    return xp.fft.rfft(x, axis=axis)


def as_strided(xp: ModuleType, x: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """A read-only strided view (frames over a sample buffer) without copying."""
    if xp is np:
        return np.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def synchronize(xp: ModuleType) -> None:
    """Wait until queued device work is done (a no-op on NumPy); for timing only."""
    if xp is not np:
        xp.cuda.Device().synchronize()
