"""Waterfall / spectrogram pictures of received rows (matplotlib, Agg backend, no display).

- multichannel rows (channels, bins): left, time x channel of the strongest bin (moving sources
  draw tracks); right, time x frequency averaged over channels (their tones draw lines);
- single channel rows (bins,): time x frequency;
- waterfall rows (channels,): time x channel band energy.
Colours span the 2nd..99.8th percentile of the values.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _limits(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [2, 99.8])
    return float(lo), float(hi if hi > lo else lo + 1)


def _panel(ax, image: np.ndarray, extent: list[float], xlabel: str, title: str, fig) -> None:
    lo, hi = _limits(image)
    im = ax.imshow(image, aspect="auto", origin="upper", extent=extent, cmap="viridis", vmin=lo, vmax=hi,
                   interpolation="nearest")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("time since first row (s)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label="dB")


def render_png(path: Path | str, rows: np.ndarray, t_ns: np.ndarray, channel_min: int,
               frequencies: np.ndarray | list[float] | None = None, title: str = "") -> Path:
    """Draw rows (n_rows, *row_shape) against time; returns the path written."""
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim < 2 or not len(rows):
        raise ValueError(f"rows of shape {rows.shape}: need at least one row of data")
    freqs = np.asarray(frequencies if frequencies is not None else [], dtype=np.float64)
    t = (np.asarray(t_ns, dtype=np.int64) - int(t_ns[0])) / 1e9
    t_end = float(t[-1]) if len(t) > 1 else 1.0
    n_cols = 2 if rows.ndim == 3 else 1
    fig, axes = plt.subplots(1, n_cols, figsize=(6.5 * n_cols, 6), squeeze=False)
    try:
        if rows.ndim == 3:
            channels = [channel_min - 0.5, channel_min + rows.shape[1] - 0.5]
            _panel(axes[0][0], rows.max(axis=2), channels + [t_end, 0], "channel", "strongest bin per channel", fig)
            fr = [float(freqs[0]), float(freqs[-1])] if freqs.size else [0, rows.shape[2]]
            _panel(axes[0][1], rows.mean(axis=1), fr + [t_end, 0], "frequency (Hz)", "mean over channels", fig)
        elif freqs.size == rows.shape[1]:
            _panel(axes[0][0], rows, [float(freqs[0]), float(freqs[-1]), t_end, 0], "frequency (Hz)",
                   f"channel {channel_min}", fig)
        else:
            _panel(axes[0][0], rows, [channel_min - 0.5, channel_min + rows.shape[1] - 0.5, t_end, 0],
                   "channel", "band energy", fig)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
    finally:
        plt.close(fig)
    return Path(path)
