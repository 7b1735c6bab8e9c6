"""Speech share of a clip from Silero VAD (MIT), run with onnxruntime from the ONNX file its wheel ships.

The `silero-vad` wheel carries `silero_vad_16k_sequence.onnx`: the streaming model exported to
take a whole run of 32 ms frames in one call (each frame prefixed with the previous frame's last
64 samples), which gives the same per-frame probabilities as the frame-by-frame loop without a
Python call per frame. The package itself is never imported (it imports torch and sets torch's
thread count); only its data file is located.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import soxr

VAD_RATE = 16000
FRAME = 512  # 32 ms at 16 kHz
CONTEXT = 64
MAX_FRAMES = 1024  # frames per ONNX call (~33 s); the LSTM state carries across calls
STATE = (1, 1, 128)
MODEL_FILE = "silero_vad_16k_sequence.onnx"


def silero_model_path() -> str:
    """Path of the ONNX model inside the installed silero-vad wheel."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("speech share needs the silero-vad package: pip install 'silero-vad>=6'")
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", MODEL_FILE)
    if not os.path.isfile(path):
        raise RuntimeError(f"silero-vad is installed but ships no {MODEL_FILE} (need silero-vad >= 6)")
    return path


class SpeechDetector:
    """Per-frame speech probabilities of mono audio; one single-threaded ONNX session."""

    def __init__(self):
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread: Beam already runs one worker per core; more threads would fight over them.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # the exported graph has unused initialisers it warns about
        self.session = ort.InferenceSession(silero_model_path(), sess_options=options,
                                            providers=["CPUExecutionProvider"])

    def probabilities(self, mono: np.ndarray, rate: int) -> np.ndarray:
        """Speech probability of each 32 ms frame (the last frame zero-padded)."""
        audio = np.asarray(mono, dtype=np.float32)
        if rate != VAD_RATE:
            audio = soxr.resample(audio, rate, VAD_RATE, quality="QQ")  # a VAD needs no finer resampling
        n_frames = -(-audio.shape[0] // FRAME)
        if n_frames == 0:
            return np.zeros(0, np.float32)
        body = np.zeros((n_frames, FRAME), np.float32)
        body.reshape(-1)[: audio.shape[0]] = audio
        framed = np.zeros((n_frames, CONTEXT + FRAME), np.float32)
        framed[:, CONTEXT:] = body
        framed[1:, :CONTEXT] = body[:-1, -CONTEXT:]
        h = c = np.zeros(STATE, np.float32)
        probs = []
        for lo in range(0, n_frames, MAX_FRAMES):
            p, h, c = self.session.run(["speech_probs", "hn", "cn"],
                                       {"input": framed[lo: lo + MAX_FRAMES], "h": h, "c": c})
            probs.append(p)
        return np.concatenate(probs).reshape(-1)

    def speech_ratio(self, mono: np.ndarray, rate: int, threshold: float = 0.5) -> float:
        """Share of 32 ms frames whose speech probability reaches `threshold`."""
        probs = self.probabilities(mono, rate)
        return float(np.mean(probs >= threshold)) if probs.size else 0.0
