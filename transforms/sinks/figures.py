"""The report's pictures: bar charts and histograms as inline SVG text, spectrograms as PNG bytes.

The charts are rects and texts written here, not drawn by a plotting library, whose import and canvas
cost ~40 MiB at the end of a build, when the process is at its peak. Coordinates have one fixed decimal,
so the same data gives the same bytes. Spectrograms go through a colour table straight into a PNG.
"""

from __future__ import annotations

import html
import io
import math
import re

import numpy as np
import scipy.fft
from PIL import Image

COLOUR = "#3b6ea8"
CHAR_PX = 5.6  # width of one 10 px label character, about
# matplotlib's magma at 11 even steps; interpolated to 256 entries it is within 4/255 of the original.
MAGMA = "000004 140e36 3b0f70 641a80 8c2981 b73779 de4968 f7705c fe9f6d fecf92 fcfdbf".split()
LUT = np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(MAGMA)), [int(h[c:c + 2], 16) for h in MAGMA])
                for c in (0, 2, 4)], axis=1).round().astype(np.uint8)


def _esc(value) -> str:
    """Text for an SVG that must parse as XML: escaped, without the control characters XML forbids."""
    return html.escape(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", str(value)), quote=True)


def _ticks(hi: float, lo: float = 0.0, most: int = 5) -> list[float]:
    """Round-numbered ticks (1, 2 or 5 times a power of ten apart) from at most lo to at least hi."""
    span = hi - lo if hi > lo else 1.0
    power = 10 ** math.floor(math.log10(span / most))
    step = next(s * power for s in (1, 2, 5, 10) if s * power * most >= span)
    last = math.ceil(round(max(hi, lo + step) / step, 9))
    return [round(k * step, 10) for k in range(math.floor(round(lo / step, 9)), last + 1)]


def _text(x: float, y: float, text, anchor: str = "middle", size: int = 10) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}">{_esc(text)}</text>'


def _axis(ticks: list[float], at, y: float, x0: float, x1: float) -> str:
    """A horizontal axis from x0 to x1 with tick marks and labels below; `at` maps a tick value to x."""
    return f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#333"/>' + "".join(
        f'<line x1="{at(t):.1f}" x2="{at(t):.1f}" y1="{y:.1f}" y2="{y + 4:.1f}" stroke="#333"/>'
        + _text(at(t), y + 14, f"{t:g}") for t in ticks)


def _svg(width: float, height: float, label: str, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{_esc(label)}" '
            f'font-family="sans-serif">{body}</svg>')


def bars(counts: dict, title: str, xlabel: str = "count") -> str:
    """Horizontal bars in the given order, first on top; each bar's exact value is its tooltip."""
    labels = [str(k) if len(str(k)) <= 32 else str(k)[:31] + "…" for k in counts]
    numbers = [max(0.0, float(v)) for v in counts.values()]
    ticks = _ticks(max(numbers, default=0.0))
    left, width, row = 12 + CHAR_PX * max((len(x) for x in labels), default=1), 440.0, 18
    height, scale = 62.0 + row * len(labels), (420 - left) / ticks[-1]
    body = _text(width / 2, 16, title, size=12)
    for n, (label, value) in enumerate(zip(labels, numbers)):
        body += (f'<rect x="{left:.1f}" y="{28 + n * row:.1f}" width="{scale * value:.1f}" height="{row - 4}" '
                 f'fill="{COLOUR}"><title>{_esc(label)}: {value:g}</title></rect>'
                 + _text(left - 4, 38.5 + n * row, label, anchor="end"))
    body += _axis(ticks, lambda t: left + scale * t, 26 + row * len(labels), left, 420) + _text(
        (left + 420) / 2, height - 6, xlabel)
    return _svg(width, height, title, body)


def histograms(values: dict[str, np.ndarray], bins: int = 40, columns: int = 3) -> str:
    """One histogram per named value list (of its finite values, of which it has one or more), in a grid."""
    panel_w, panel_h, left, plot_w, plot_h = 320.0, 170.0, 40.0, 265.0, 110.0
    body = ""
    for n, (name, v) in enumerate(values.items()):
        x0, y0 = (n % columns) * panel_w + left, (n // columns) * panel_h + 24
        v = np.asarray(v, dtype=np.float64)[np.isfinite(v)]
        lo, hi = float(v.min()), float(v.max())
        hi = hi if hi > lo else lo + 1.0
        counts, _ = np.histogram(v, bins=bins, range=(lo, hi))
        yticks = _ticks(float(counts.max()), most=4)
        xticks = [t for t in _ticks(hi, lo, most=8) if lo <= t <= hi]
        body += _text(x0 + plot_w / 2, y0 - 8, name, size=12)
        for b, count in enumerate(counts):
            h = plot_h * count / yticks[-1]
            body += (f'<rect x="{x0 + b * plot_w / bins:.1f}" y="{y0 + plot_h - h:.1f}" '
                     f'width="{plot_w / bins:.1f}" height="{h:.1f}" fill="{COLOUR}"/>')
        body += "".join(_text(x0 - 4, y0 + plot_h - plot_h * t / yticks[-1] + 3.5, f"{t:g}", anchor="end")
                        for t in yticks)
        body += _axis(xticks, lambda t: x0 + plot_w * (t - lo) / (hi - lo), y0 + plot_h, x0, x0 + plot_w)
    return _svg(panel_w * min(columns, len(values)), panel_h * math.ceil(len(values) / columns),
                "histograms of " + ", ".join(values), body)


def spectrogram(samples: np.ndarray, rate: int, n_fft: int = 512, height: int = 128, width: int = 360) -> bytes:
    """Log-magnitude STFT of a mono float signal (low frequencies at the bottom, 80 dB range), in float32 and
    with scipy's FFT (numpy's holds ~5x its output in temporaries): ~10 MiB at the peak for a 10 s clip."""
    hop = n_fft // 4
    x = np.asarray(samples, dtype=np.float32)
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft).astype(np.float32)
    db = 10 * np.log10(np.abs(scipy.fft.rfft(frames, axis=1)) ** 2 + 1e-12)
    top = float(db.max())
    level = np.clip((db - (top - 80.0)) / 80.0, 0.0, 1.0).T[::-1]  # (freq high->low, time)
    image = Image.fromarray(LUT[(level * 255).round().astype(np.uint8)]).resize((width, height), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
