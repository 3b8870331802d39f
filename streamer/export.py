"""`streamer export`: a historic range computed at full speed into files (export jobs).

Writes into `out`: `spectrogram.npy` float32 (n_rows, *row_shape) dB, `times.npy` int64 ns,
`frequencies.npy` float64 Hz, `metadata.json` (the view's metadata, the range, the counts) and
`waterfall.png`. Files appear atomically (written under a temporary name, then renamed).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from streamer.dsp.params import ViewParams, view_metadata
from streamer.dsp.stft import StreamingSpectrogram
from streamer.render import render_png
from streamer.sources import Reset
from streamer.sources.recording import RecordingSource


def compute_range(source: RecordingSource, params: ViewParams, xp: str | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """(rows, times, resets) of the whole range."""
    engine = StreamingSpectrogram(params, xp=xp)
    rows, times, resets = [], [], 0
    for item in source.blocks():
        if isinstance(item, Reset):
            engine.reset()
            resets += 1
            continue
        out = engine.feed(item.data, item.t0_ns)
        if len(out):
            rows.append(out.data)
            times.append(out.t_ns)
    if not rows:
        return np.zeros((0, *params.row_shape), dtype=np.float32), np.zeros(0, dtype=np.int64), resets
    return np.concatenate(rows), np.concatenate(times), resets


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)


def export(out: Path, source: RecordingSource, params: ViewParams, xp: str | None = None,
           job_id: str = "") -> dict:
    """Compute and write every file; returns the metadata written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, times, resets = compute_range(source, params, xp)
    meta = view_metadata(params) | {
        "job_id": job_id, "channel_min": params.channel_min, "channel_max": params.channel_max,
        "start_time": source.start_ns / 1e9, "end_time": source.end_ns / 1e9, "rows": int(len(rows)),
        "resets": resets, "files": ["spectrogram.npy", "times.npy", "frequencies.npy", "waterfall.png"],
    }
    _save_npy(out / "spectrogram.npy", rows.astype(np.float32))
    _save_npy(out / "times.npy", times.astype(np.int64))
    _save_npy(out / "frequencies.npy", np.asarray(params.frequencies, dtype=np.float64))
    if len(rows):
        render_png(out / "waterfall.png", rows, times, params.channel_min, params.frequencies,
                   title=f"export {job_id} channels {params.channel_min}-{params.channel_max}".strip())
    else:
        meta["files"].remove("waterfall.png")
    tmp = out / "metadata.json.part"
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, out / "metadata.json")
    return meta
