"""Broken and hostile input files for the fault-injection suite: real bytes on disk, made here.

Each maker writes one file the way a broken encoder, a cut download or a hostile uploader would,
so the pipeline meets it through the same ffmpeg/csv/json readers a real run uses.
"""

from __future__ import annotations

import pathlib
import struct

import soundfile as sf
import yaml
from fault_helpers import Books
from mtg_corpus import RATE, tone

__all__ = ["RATE", "tone", "wav_bytes", "write_tone", "flac_with_total", "wav_with_title", "build_config",
           "corpus_outcomes", "ledger"]


def wav_bytes(rate: int, channels: int = 1, data: bytes = b"", bits: int = 16, fmt: int = 1) -> bytes:
    """A canonical 44-byte-header WAV with whatever header values are asked for, valid or not."""
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt "
            + struct.pack("<IHHIIHH", 16, fmt, channels, rate, rate * block, block, bits)
            + b"data" + struct.pack("<I", len(data)) + data)


def write_tone(path: pathlib.Path, seed: str, seconds: float = 3.0, **kwargs) -> pathlib.Path:
    """A distinct chord per seed (distinct audio, so dedup keeps them all)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seed, seconds), RATE, **kwargs)
    return path


def flac_with_total(path: pathlib.Path, total_samples: int) -> None:
    """Rewrites a FLAC's STREAMINFO sample count: 0 = unknown (a streamed encode), or a lie."""
    b = bytearray(path.read_bytes())
    assert b[:4] == b"fLaC" and b[4] & 0x7F == 0, "STREAMINFO must be the first metadata block"
    at = 8 + 10  # 20 bits rate, 3 channels, 5 bits per sample, 36 bits total samples
    v = int.from_bytes(b[at:at + 8], "big")
    b[at:at + 8] = ((v & ~((1 << 36) - 1)) | total_samples).to_bytes(8, "big")
    b[at + 8:at + 24] = bytes(16)  # MD5 unknown: it no longer matches
    path.write_bytes(bytes(b))


def wav_with_title(path: pathlib.Path, seed: str, title: str) -> None:
    """A WAV whose LIST/INFO chunk holds a huge INAM (title) tag after the audio."""
    write_tone(path, seed, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    inam = title.encode("utf-8") + b"\0"
    inam += b"\0" * (len(inam) % 2)
    info = b"INFO" + b"INAM" + struct.pack("<I", len(inam)) + inam
    raw += b"LIST" + struct.pack("<I", len(info)) + info
    raw[4:8] = struct.pack("<I", len(raw) - 8)
    path.write_bytes(bytes(raw))


def build_config(root: pathlib.Path, inputs: list[dict], **sections) -> pathlib.Path:
    """A small, fast config (16 kHz, 1 s clips, no speech/attribute models) at root/config.yaml."""
    cfg = {
        "name": "faults", "output": "corpus", "inputs": inputs,
        "audio": {"sample_rate": RATE}, "segment": {"window_s": 1.0, "min_tail_s": 0.5},
        "stats": {"speech": False}, "attributes": {"extractors": []},
        "quality": {"min_duration_s": 0.5, "captions": {"min_words": 1}},
        # These builds are mostly faults on purpose: the error-ratio guard would (rightly) stop them.
        "errors": {"max_error_ratio": 1.0},
        **sections,
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def corpus_outcomes(corpus: pathlib.Path) -> tuple[set[str], dict[str, set[tuple[str, str]]]]:
    """(source ids with clips in the corpus, source id -> {(stage, reason)} of its rejects)."""
    books = Books(corpus)
    rejected: dict[str, set] = {}
    for r in books.rejects:
        rejected.setdefault(r["source_id"], set()).add((r["stage"], r["reason"]))
    return {c["source_id"] for c in books.clips}, rejected


def ledger(corpus: pathlib.Path) -> dict:
    """stats.json's source ledger; it must balance."""
    books = Books(corpus)
    assert books.balanced(), books.stats["sources"]
    return books.stats["sources"]
