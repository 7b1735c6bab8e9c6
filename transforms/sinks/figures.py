"""The report's pictures as PNG bytes: histograms, bar charts and spectrograms.

Charts are drawn with matplotlib's object API on the Agg canvas (no pyplot state, safe in any
worker thread) with fixed margins (layout engines cost more than the drawing), and saved without
a timestamp, so the same data gives the same bytes. Spectrograms skip matplotlib's axes: the
dB image goes through a colormap straight into a PNG (the report labels its axes in text).
"""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

COLOUR = "#3b6ea8"
DPI = 96
CHAR_IN = 0.055  # width of one 7 pt label character, inches


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def histograms(values: dict[str, np.ndarray], bins: int = 40, columns: int = 3) -> bytes:
    """One histogram per named value list, in a grid, as one image."""
    names = list(values)
    rows = max(1, math.ceil(len(names) / columns))
    fig = Figure(figsize=(4.0 * columns, 2.3 * rows))
    fig.subplots_adjust(left=0.06, right=0.98, top=1 - 0.3 / (2.3 * rows), bottom=0.45 / (2.3 * rows),
                        wspace=0.28, hspace=0.75)
    for n, name in enumerate(names):
        ax = fig.add_subplot(rows, columns, n + 1)
        v = np.asarray(values[name], dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size:
            lo, hi = float(v.min()), float(v.max())
            ax.hist(v, bins=bins, range=(lo, hi if hi > lo else lo + 1.0), color=COLOUR)
        else:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    return _png(fig)


def bars(counts: dict, title: str, xlabel: str = "count") -> bytes:
    """Horizontal bars in the given order, first on top."""
    labels = [str(k) if len(str(k)) <= 32 else str(k)[:31] + "…" for k in counts]
    numbers = [float(v) for v in counts.values()]
    width, height = 4.4, max(1.5, 0.75 + 0.2 * len(labels))
    fig = Figure(figsize=(width, height))
    left = min(0.55, (0.15 + CHAR_IN * max((len(x) for x in labels), default=1)) / width)
    fig.subplots_adjust(left=left, right=0.96, top=1 - 0.3 / height, bottom=0.45 / height)
    ax = fig.add_subplot()
    ypos = np.arange(len(labels))[::-1]
    ax.barh(ypos, numbers, color=COLOUR)
    ax.set_yticks(ypos, labels, fontsize=7)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    return _png(fig)


def spectrogram(samples: np.ndarray, rate: int, n_fft: int = 512, height: int = 128, width: int = 360) -> bytes:
    """Log-magnitude STFT of a mono float signal (low frequencies at the bottom, 80 dB range)."""
    hop = n_fft // 4
    x = np.asarray(samples, dtype=np.float64)
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    db = 10 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-12)
    top = float(db.max())
    level = np.clip((db - (top - 80.0)) / 80.0, 0.0, 1.0).T[::-1]  # (freq high->low, time)
    rgb = (colormaps["magma"](level)[..., :3] * 255).astype(np.uint8)
    image = Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
