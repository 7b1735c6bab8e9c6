"""Config sections for the quality decisions: caption rules, dedup, decontamination and CLAP scores."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from tunescribe.pipelines.config.base import Section


class CaptionRulesConfig(Section):
    """Thresholds over each caption's stored stats (transforms/quality/rules.py); null = rule off."""

    min_words: int = Field(4, ge=0)
    max_words: int = Field(250, ge=1)
    languages: list[str] = ["en"]  # empty: any language
    min_language_prob: float = Field(0.4, ge=0, le=1)
    max_repetition: Optional[float] = Field(0.2, ge=0, le=1)
    max_longest_run: Optional[int] = Field(3, ge=1)
    max_refusals: Optional[int] = Field(0, ge=0)
    max_meta_text: Optional[int] = Field(0, ge=0)
    max_probability_leaks: Optional[int] = Field(0, ge=0)
    max_label_leaks: Optional[int] = Field(0, ge=0)
    max_title_leaks: Optional[int] = Field(0, ge=0)
    max_task_talk: Optional[int] = Field(0, ge=0)
    max_story_claims: Optional[int] = Field(0, ge=0)
    max_invented_names: Optional[int] = Field(0, ge=0)
    max_tag_list_run: Optional[int] = Field(5, ge=1)
    max_tag_list_share: Optional[float] = Field(0.9, ge=0, le=1)
    reject_non_music: bool = True
    max_unsupported_instruments: Optional[int] = Field(0, ge=0)
    from_tags_backends: list[str] = ["transformers", "openai"]  # captions written from tags alone
    max_unsupported_attributes: Optional[int] = Field(0, ge=0)
    voice_stats: list[str] = ["vocal_ratio", "singing_ratio", "speech_ratio"]
    max_voice_share: Optional[float] = Field(0.02, ge=0, le=1)
    tempo_attribute: str = "tempo"
    tempo_tolerance: Optional[float] = Field(0.08, ge=0)
    slow_max_bpm: float = Field(95.0, gt=0)
    fast_min_bpm: float = Field(115.0, gt=0)
    key_attribute: str = "key"
    key_allow_relative: Optional[bool] = True
    min_clap: Optional[float] = None
    clap_margin: Optional[float] = 0.0


class DedupConfig(Section):
    """Duplicate clips (transforms/quality/dedup.py); decided after the per-clip rules."""

    exact_audio: bool = True
    max_ber: Optional[float] = Field(0.1, ge=0, le=0.5)  # near-duplicate audio; null = off
    min_overlap_s: float = Field(5.0, gt=0)
    min_coverage: float = Field(0.5, gt=0, le=1)
    max_bucket: int = Field(200, ge=2)
    caption_jaccard: Optional[float] = Field(None, gt=0, le=1)  # near-duplicate captions; null = off
    num_perm: int = Field(128, ge=16)


class EvalSetConfig(Section):
    """An evaluation set to keep out of the corpus: a CSV/TSV/JSONL manifest or a .txt id list."""

    name: str
    path: str
    id_column: str = "id"
    where: dict[str, str] = {}  # keep only rows whose column has this value, e.g. {is_audioset_eval: "True"}
    audio_column: Optional[str] = None  # audio paths to fingerprint, for matching by audio
    audio_root: Optional[str] = None


class QualityConfig(Section):
    """Every decision threshold: `tunescribe filter` re-applies a changed section to a built corpus."""

    min_duration_s: float = Field(3.0, ge=0)
    max_silence_ratio: float = Field(0.9, ge=0, le=1)
    require_caption: bool = True
    captions: CaptionRulesConfig = CaptionRulesConfig()
    dedup: DedupConfig = DedupConfig()
    decontaminate: list[EvalSetConfig] = []


class ClapConfig(Section):
    """The audio-text model that scores captions (a CLAP dual encoder: hub id or local folder)."""

    model: str
    revision: Optional[str] = None
    device: str = "cpu"
    batch_size: int = Field(8, ge=1)
