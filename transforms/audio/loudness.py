"""Loudness and peaks as broadcast meters measure them: ITU-R BS.1770-4 and EBU Tech 3342.

Own vectorised implementation rather than pyloudnorm: the same K-weighting and gating, but the
400 ms gating blocks and 3 s short-term windows are sums of 100 ms energies computed once, so a
clip costs two biquad passes and a few array reductions (pyloudnorm loops in Python per block).
tests/transforms/audio/test_stats.py checks it against pyloudnorm and the standards' reference signals.
"""

from __future__ import annotations

import functools
import glob
import importlib.machinery
import math
import os

import numpy as np

FLOOR_DB = -120.0  # reported instead of -inf for digital silence
ABSOLUTE_GATE_LUFS = -70.0
CHUNK_S = 0.1  # gating-block hop (BS.1770: 75 % overlap of 400 ms blocks)
BLOCK_CHUNKS = 4  # 400 ms momentary block
SHORT_TERM_CHUNKS = 30  # 3 s short-term window (EBU Tech 3342)

# BS.1770-4 Annex 2: the 48-tap, 4-phase interpolation filter of the true-peak meter.
_TRUE_PEAK_PHASES = np.array([
    [0.0017089843750, 0.0109863281250, -0.0196533203125, 0.0332031250000, -0.0594482421875,
     0.1373291015625, 0.9721679687500, -0.1022949218750, 0.0476074218750, -0.0266113281250,
     0.0148925781250, -0.0083007812500],
    [-0.0291748046875, 0.0292968750000, -0.0517578125000, 0.0891113281250, -0.1665039062500,
     0.4650878906250, 0.7797851562500, -0.2003173828125, 0.1015625000000, -0.0582275390625,
     0.0330810546875, -0.0189208984375],
    [-0.0189208984375, 0.0330810546875, -0.0582275390625, 0.1015625000000, -0.2003173828125,
     0.7797851562500, 0.4650878906250, -0.1665039062500, 0.0891113281250, -0.0517578125000,
     0.0292968750000, -0.0291748046875],
    [-0.0083007812500, 0.0148925781250, -0.0266113281250, 0.0476074218750, -0.1022949218750,
     0.9721679687500, 0.1373291015625, -0.0594482421875, 0.0332031250000, -0.0196533203125,
     0.0109863281250, 0.0017089843750],
], dtype=np.float32)
_TAPS = _TRUE_PEAK_PHASES.shape[1]
# No interpolated value can exceed the largest input in its 12-sample window times this gain,
# so only windows that could beat the sample peak need interpolating.
_TRUE_PEAK_GAIN = float(np.abs(_TRUE_PEAK_PHASES).sum(axis=1).max())
_TP_CHUNK = 4096
_TAPS_BY_PHASE = _TRUE_PEAK_PHASES[:, ::-1].T.copy()  # (taps, phases): a dot product is a convolution


def db(x: float) -> float:
    return float(max(FLOOR_DB, 20.0 * math.log10(x))) if x > 0 else FLOOR_DB


def k_weighting(rate: int) -> np.ndarray:
    """The K-weighting filter (high shelf + RLB high-pass) as second-order sections for any rate.

    The analogue prototypes are those libebur128 uses; at 48 kHz they reproduce the
    coefficients tabulated in BS.1770."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass])


@functools.lru_cache(maxsize=16)
def _k_weighting32(rate: int) -> np.ndarray:
    """k_weighting(rate) in float32, computed once per rate (private: sosfilt wants it writeable)."""
    return k_weighting(rate).astype(np.float32)


def _lufs(energy):
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(energy)


@functools.lru_cache(maxsize=1)
def _sosfilt_kernel():
    """scipy's compiled kernel behind `scipy.signal.sosfilt`, loaded from its file without the
    `scipy.signal` package: importing that package imports scipy.stats, optimize and sparse
    with it, ~70 MiB of RSS and ~1.4 s in every process that measures clips, for one filter.
    None where this scipy has no such file (then `k_weighted` takes the public function)."""
    import scipy

    found = glob.glob(os.path.join(scipy.__path__[0], "signal", "_sosfilt.*.so"))
    if not found:
        return None
    loader = importlib.machinery.ExtensionFileLoader("scipy.signal._sosfilt", found[0])
    spec = importlib.machinery.ModuleSpec(loader.name, loader, origin=found[0])
    module = loader.create_module(spec)
    loader.exec_module(module)
    return module._sosfilt


def k_weighted(samples: np.ndarray, rate: int) -> np.ndarray:
    """The (channels, samples) float32 signal through the K-weighting filter, as
    `scipy.signal.sosfilt(_k_weighting32(rate), samples, axis=-1)` gives it."""
    kernel = _sosfilt_kernel()
    if kernel is None:
        import scipy.signal

        return scipy.signal.sosfilt(_k_weighting32(rate), samples, axis=-1)
    sos = _k_weighting32(rate)
    out = np.array(samples, dtype=np.float32, order="C", ndmin=2)  # filtered in place
    kernel(sos, out, np.zeros((out.shape[0], sos.shape[0], 2), dtype=np.float32))
    return out


def chunk_energies(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mean square of the K-weighted signal per 100 ms, summed over channels (all weights 1:
    tunescribe clips are mono or stereo). The partial last chunk is dropped, as in BS.1770."""
    weighted = k_weighted(samples, rate)
    chunk = max(1, int(round(CHUNK_S * rate)))
    n = weighted.shape[-1] // chunk
    if n == 0:  # shorter than 100 ms: one chunk of what there is
        return np.atleast_1d(np.mean(np.square(weighted, dtype=np.float64), axis=-1).sum())
    squares = np.square(weighted[:, : n * chunk], dtype=np.float32).reshape(weighted.shape[0], n, chunk)
    return squares.mean(axis=2, dtype=np.float64).sum(axis=0)


def _windows(chunks: np.ndarray, width: int) -> np.ndarray:
    """Mean energy of each run of `width` consecutive chunks (one window if there are fewer)."""
    if len(chunks) <= width:
        return np.array([chunks.mean()])
    csum = np.concatenate([[0.0], np.cumsum(chunks)])
    return (csum[width:] - csum[:-width]) / width


def integrated_loudness(chunks: np.ndarray) -> float:
    """BS.1770-4 gated integrated loudness (LUFS) from `chunk_energies`. A clip shorter than one
    400 ms block is measured as one block rather than left unmeasured."""
    blocks = _windows(chunks, BLOCK_CHUNKS)
    levels = _lufs(blocks)
    above = blocks[levels > ABSOLUTE_GATE_LUFS]
    if above.size == 0:
        return FLOOR_DB
    relative_gate = _lufs(above.mean()) - 10.0
    kept = blocks[(levels > ABSOLUTE_GATE_LUFS) & (levels > relative_gate)]
    return float(max(FLOOR_DB, _lufs(kept.mean())))


def loudness_range(chunks: np.ndarray) -> float:
    """EBU Tech 3342 loudness range (LU): spread between the 10th and 95th percentile of the
    gated 3 s short-term loudness, taken every 100 ms. 0 for a clip of one window or less."""
    if len(chunks) <= SHORT_TERM_CHUNKS:
        return 0.0
    short = _windows(chunks, SHORT_TERM_CHUNKS)
    levels = _lufs(short)
    above = short[levels > ABSOLUTE_GATE_LUFS]
    if above.size == 0:
        return 0.0
    relative_gate = _lufs(above.mean()) - 20.0
    kept = levels[(levels > ABSOLUTE_GATE_LUFS) & (levels > relative_gate)]
    lo, hi = np.percentile(kept, [10.0, 95.0])
    return float(hi - lo)


def true_peak(samples: np.ndarray, sample_peak: float) -> float:
    """BS.1770-4 true peak (linear): the largest magnitude of the 4x-oversampled signal.

    Works through 4096-sample chunks, loudest first, as small matrix products that stay in
    cache; a chunk whose largest nearby sample, times the filter's gain, cannot beat the best
    value so far is skipped. The result equals interpolating everything."""
    if sample_peak <= 0:
        return 0.0
    best = sample_peak
    pad, chunk = _TAPS, _TP_CHUNK
    taps = _TAPS_BY_PHASE
    for channel in samples:
        n = channel.shape[0]
        n_chunks = -(-n // chunk)
        padded = np.zeros(n_chunks * chunk + 2 * pad, np.float32)
        padded[pad: pad + n] = channel
        views = np.lib.stride_tricks.sliding_window_view(padded, _TAPS)  # row i ends at sample i
        mags = np.abs(padded)
        core = mags[pad: pad + n_chunks * chunk].reshape(n_chunks, chunk).max(axis=1)
        edges = np.maximum(mags[: n_chunks * chunk].reshape(n_chunks, chunk)[:, :pad].max(axis=1),
                           mags[2 * pad:].reshape(n_chunks, chunk)[:, -pad:].max(axis=1))
        reach = np.maximum(core, edges)
        for c in np.argsort(-reach, kind="stable"):
            if reach[c] * _TRUE_PEAK_GAIN <= best:
                break
            rows = views[c * chunk: (c + 1) * chunk + pad + 1]
            best = max(best, float(np.abs(rows @ taps).max()))
    return best
