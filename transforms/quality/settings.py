"""The quality decisions' settings, embedded by the build config as its `quality` section: the
clip rules (gate.py), caption rules (rules.py), dedup and the evaluation sets to keep out. Kept
apart from dedup and decontamination, which import Beam: reading a config must not."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from tunescribe.transforms.quality.gate import QualityThresholds
from tunescribe.transforms.quality.rules import CaptionRules
from tunescribe.transforms.settings import Settings


class DedupRules(Settings):
    """Duplicate clips (the config's `quality.dedup`); decided after the per-clip rules."""

    exact_audio: bool = True
    max_ber: Optional[float] = Field(0.1, ge=0, le=0.5)  # None: no near-duplicate audio check (copies measure <= 0.02)
    min_overlap_s: float = Field(5.0, gt=0)
    min_coverage: float = Field(0.5, gt=0, le=1)
    # sub-fingerprint values (MinHash bands) shared by more clips (captions) carry no identity
    max_bucket: int = Field(200, ge=2)
    caption_jaccard: Optional[float] = Field(None, gt=0, le=1)  # e.g. 0.9; None: captions are not deduplicated
    num_perm: int = Field(128, ge=16)


class EvalSetSpec(Settings):
    """An evaluation set to keep out of the corpus: a CSV/TSV/JSONL manifest or a .txt id list."""

    name: str
    path: str
    id_column: str = "id"
    where: dict[str, str] = {}  # keep only rows whose column has this value, e.g. {is_audioset_eval: "True"}
    audio_column: Optional[str] = None  # column of audio paths, fingerprinted for matching by audio
    audio_root: Optional[str] = None


class Decisions(QualityThresholds):
    """Every threshold the decisions use (the config's `quality` section): the clip rules of
    gate.py, the caption rules, dedup and the evaluation sets to keep out."""

    captions: CaptionRules = CaptionRules()
    dedup: DedupRules = DedupRules()
    decontaminate: tuple[EvalSetSpec, ...] = ()
