"""Audio-text agreement: a tiny random CLAP (transformers.ClapModel + ClapProcessor, saved to a
folder like a hub checkpoint) loaded through the model handler's local-dir path, run in a real
build; its scores stored on each caption (`clap`) and clip (`clap_tags`, the plain tag string);
the relative rule (caption vs tag string) and the absolute floor both deciding, in the build and
in `tunescribe filter`."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from tiny_models import build_tokenizer

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.commands.filter import run_filter
from tunescribe.pipelines.config import load_config
from tunescribe.transforms.models.base import ModelSource
from tunescribe.transforms.models.clap import ClapScorer
from tunescribe.transforms.quality.candidates import CANDIDATES_FILE, read_candidates


def build_clap(path, seed: int = 0):
    """A tiny HTSAT + RoBERTa CLAP with random weights, its feature extractor and tokenizer."""
    import torch
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, ClapTextConfig

    tok = build_tokenizer()
    text = ClapTextConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=66, projection_dim=16,
                          pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    # 16 mel bins folded into a 128 x 128 "image": room for the extractor's 10 s (1001 frames).
    audio = ClapAudioConfig(window_size=4, spec_size=128, num_mel_bins=16, patch_size=4, patch_stride=(4, 4),
                            hidden_size=32, patch_embeds_hidden_size=16, depths=[1, 1], num_attention_heads=[1, 2],
                            num_hidden_layers=2, projection_dim=16, enable_fusion=False)
    torch.manual_seed(seed)
    ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16)).save_pretrained(path)
    extractor = ClapFeatureExtractor(feature_size=16, sampling_rate=48000, max_length_s=10, truncation="rand_trunc")
    ClapProcessor(feature_extractor=extractor, tokenizer=tok).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory):
    return build_clap(tmp_path_factory.mktemp("clap") / "tiny-clap")


def test_handler_loads_a_local_folder_and_scores_deterministically(clap_dir):
    handler = ClapScorer(ModelSource(model=str(clap_dir)))
    model = handler.load_model()
    rng = np.random.default_rng(0)
    long = (0.1 * rng.standard_normal(48000 * 25)).astype(np.float32)  # longer than the model's 10 s
    short = long[:48000 * 3]
    texts = ["a calm piano piece", "rock, guitar, drums", "word " * 200]  # the last is cut to the model's length
    first = handler.run_inference([(long, texts), (short, texts[:1])], model)
    again = handler.run_inference([(long, texts), (short, texts[:1])], model)
    assert [len(s) for s in first] == [3, 1]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))  # no random crop of the long clip
    alone = handler.run_inference([(short, texts[:1])], model)  # Beam sizes batches by timing
    assert np.array_equal(alone[0], first[1]), "a score depends on the clips batched with it"
    assert all(-1.0 <= v <= 1.0 for s in first for v in s)
    assert len({round(float(v), 6) for v in first[0]}) == 3  # different texts, different scores
    name, revision = handler.model_identity()  # a local folder: its name and a hash of its configs
    assert name == "tiny-clap" and revision.startswith("local-")


def _config(tmp_path, folder, manifest, clap_dir, caption_rules):
    cfg = {"name": "clap", "output": str(tmp_path / folder),
           "inputs": [{"type": "manifest", "path": str(manifest), "columns": {"path": "path", "tags": "tags"}}],
           "clap": {"model": str(clap_dir), "batch_size": 4}, "quality": {"captions": caption_rules}}
    path = tmp_path / f"{folder}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_config(str(path))


def _midpoint_above_lowest(values: dict) -> tuple[str, float]:
    """(key of the lowest value, a threshold between it and the next lowest)."""
    ranked = sorted(values, key=values.get)
    low, next_low = values[ranked[0]], values[ranked[1]]
    assert next_low > low, "scores tie: a threshold cannot single one clip out"
    return ranked[0], (low + next_low) / 2


def _decided(corpus) -> dict:
    return {r["key"]: (r["stage"], r["reason"]) for r in pq.read_table(f"{corpus}/rejects.parquet").to_pylist()
            if r["stage"] == "quality"}


def test_build_stores_scores_and_both_rules_decide(tmp_path, audio_dev, clap_dir):
    music = tmp_path / "music"
    music.mkdir()
    rows = [("bach_bwv66_6.ogg", "classical,piano"), ("corelli_opus3no1_1grave.ogg", "baroque,violin,strings")]
    for name, _ in rows:
        shutil.copy(audio_dev / name, music / name)
    manifest = music / "manifest.csv"
    manifest.write_text("path,tags\n" + "".join(f'{name},"{tags}"\n' for name, tags in rows))

    scored = _config(tmp_path, "scored", manifest, clap_dir, {"clap_margin": None, "min_clap": None})
    run_build(scored, ["--direct_num_workers=1"])
    clips = read_candidates(f"{scored.output}/.tunescribe/{CANDIDATES_FILE}")
    assert len(clips) == 6 and all(c.captions and c.tags for c in clips)
    for clip in clips:  # stored: each caption's score and the plain tag string's
        assert all(-1.0 <= cap.stats["clap"] <= 1.0 for cap in clip.captions)
        assert -1.0 <= clip.stats["clap_tags"] <= 1.0
    table = pq.read_table(f"{scored.output}/clips").to_pylist()
    assert len(table) == 6 and all(r["stats"]["clap_tags"] is not None for r in table)
    assert all(cap["stats"]["clap"] is not None for r in table for cap in r["captions"])
    print("\nclap (captions; tag string):", {c.key: ([round(k.stats["clap"], 3) for k in c.captions],
                                                   round(c.stats["clap_tags"], 3)) for c in clips})

    # Relative rule: a caption must score at least the tag string's score minus the margin. The
    # margin is set so that exactly the clip whose best caption trails its tag string most fails.
    best = {c.key: max(k.stats["clap"] for k in c.captions) for c in clips}
    lead = {c.key: best[c.key] - c.stats["clap_tags"] for c in clips}
    behind, margin = _midpoint_above_lowest(lead)
    relative = _config(tmp_path, "relative", manifest, clap_dir, {"clap_margin": -margin, "min_clap": None})
    run_build(relative, ["--direct_num_workers=1"])  # a full build decides with it...
    assert _decided(relative.output) == {behind: ("quality", "below_tag_score")}
    kept = pq.read_table(f"{relative.output}/clips").to_pylist()
    assert all(cap["stats"]["clap"] >= r["stats"]["clap_tags"] + margin for r in kept for cap in r["captions"])
    refiltered = tmp_path / "relative_refiltered"  # ...and re-filtering the scored corpus agrees
    run_filter(scored.output, relative.model_copy(update={"output": str(refiltered)}), [])
    assert _decided(refiltered) == _decided(relative.output)
    for rel in ("clips", "rejects.parquet", "stats.json"):
        assert _files(refiltered / rel) == _files(f"{relative.output}/{rel}")

    # Absolute floor: the clip whose best caption scores lowest falls below it; the others do not.
    lowest, floor = _midpoint_above_lowest(best)
    absolute = _config(tmp_path, "absolute", manifest, clap_dir, {"clap_margin": None, "min_clap": floor})
    out = tmp_path / "absolute_refiltered"
    run_filter(scored.output, absolute.model_copy(update={"output": str(out)}), [])
    assert _decided(out) == {lowest: ("quality", "low_audio_text_score")}
    print(f"relative rule (margin {-margin:+.4f}) rejects {behind}; absolute floor {floor:.4f} rejects {lowest}")


def _files(path) -> dict:
    import pathlib

    path = pathlib.Path(path)
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    return {str(f.relative_to(path.parent)): f.read_bytes() for f in files if f.is_file()}
