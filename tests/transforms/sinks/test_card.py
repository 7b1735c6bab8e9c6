"""The dataset card (README.md in the corpus) and the shard indexes, on the MTG-derived corpus."""

from __future__ import annotations

import collections
import hashlib
import json
import re

import pyarrow.parquet as pq
import pytest
import yaml

from tunescribe.transforms.sinks.card import hub_licence, size_category


@pytest.fixture(scope="module")
def card(mtg_corpus):
    text = (mtg_corpus.corpus / "README.md").read_text()
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_header_is_hub_metadata(card, mtg_corpus):
    header, _ = card
    assert header["license"] == ["cc-by-4.0", "cc-by-nc-sa-4.0"]
    assert header["size_categories"] == ["n<1K"]
    assert "text-to-audio" in header["task_categories"]
    assert {"machine-generated", "expert-generated"} <= set(header["annotations_creators"])
    files = header["configs"][0]["data_files"]
    assert {f["split"] for f in files} == {"train", "valid", "test"}
    for f in files:  # each split's glob matches exactly that split's shards
        matched = sorted(p.name for p in mtg_corpus.corpus.glob(f["path"]))
        assert matched and all(f"-{f['split']}-" in name for name in matched)


def test_body_tells_sources_processing_filters_prompts_and_limits(card, mtg_corpus):
    _, body = card
    stats = json.loads((mtg_corpus.corpus / "stats.json").read_text())
    for section in ("## Dataset structure", "## Sources", "## Processing", "## Filters and drop counts",
                    "## Captions", "## Licensing", "## Known limitations"):
        assert section in body
    assert "| manifest | validation.tsv | CC BY-NC-SA 4.0 |" in body
    for stage_reason, n in stats["rejects"]["by_reason"].items():
        stage, reason = stage_reason.split("/", 1)
        assert f"| {stage} | {reason} | {n} |" in body
    clips = pq.read_table(mtg_corpus.corpus / "clips").to_pylist()
    kinds = collections.Counter(tuple(c[k] or "" for k in ("task", "backend", "prompt_id", "prompt_version",
                                                          "model_id", "model_revision"))
                                for clip in clips for c in clip["captions"])
    assert any(kind[0] == "reference" for kind in kinds)  # the human caption of the markup clip
    for kind, n in kinds.items():  # every prompt and model version, with its count
        assert "| " + " | ".join(kind) + f" | {n} |" in body
    assert "held-out id(s) force their whole group into test" in body
    assert f"{stats['shards']['samples']} audio clips" in body
    # The loading example names exactly the train shards.
    first, last = re.search(r"shards/mtg-train-\{(\d+)\.\.(\d+)\}\.tar", body).groups()
    assert (first, int(last) + 1) == ("000000", len(list(mtg_corpus.corpus.glob("shards/mtg-train-*.tar"))))


def test_wids_indexes_describe_the_shards(mtg_corpus):
    corpus = mtg_corpus.corpus
    clips = pq.read_table(corpus / "clips").to_pylist()
    for split in ("train", "valid", "test"):
        index = json.loads((corpus / f"{split}.wids.json").read_text())
        assert index["__kind__"] == "wids-shard-index-v1" and index["wids_version"] == 1
        urls = [s["url"] for s in index["shardlist"]]
        assert urls == sorted(f"shards/{p.name}" for p in corpus.glob(f"shards/*-{split}-*.tar"))
        for entry in index["shardlist"]:
            data = (corpus / entry["url"]).read_bytes()
            assert entry["filesize"] == len(data) and entry["md5sum"] == hashlib.md5(data).hexdigest()
            assert entry["nsamples"] == sum(c["shard"] == entry["url"].split("/")[-1] for c in clips)


def test_checksums_and_manifest_cover_every_corpus_file(mtg_corpus):
    corpus = mtg_corpus.corpus
    files = sorted(str(p.relative_to(corpus)) for p in corpus.rglob("*")
                   if p.is_file() and not str(p.relative_to(corpus)).startswith(".tunescribe"))
    manifest = json.loads((corpus / "manifest.json").read_text())
    assert sorted(f["path"] for f in manifest["files"]) == sorted(set(files) - {"manifest.json"})
    sums = dict(reversed(line.split("  ", 1)) for line in (corpus / "SHA256SUMS").read_text().splitlines())
    assert sorted(sums) == sorted(set(files) - {"manifest.json", "SHA256SUMS"})
    for rel, digest in sums.items():
        assert hashlib.sha256((corpus / rel).read_bytes()).hexdigest() == digest
    written_last = (corpus / "manifest.json").stat().st_mtime_ns
    assert all((corpus / rel).stat().st_mtime_ns <= written_last for rel in files)


@pytest.mark.parametrize("text, hub", [
    ("CC BY-NC-SA 4.0", "cc-by-nc-sa-4.0"), ("cc-by-4.0", "cc-by-4.0"), ("CC_BY_SA_3.0", "cc-by-sa-3.0"),
    ("Creative Commons BY 4", "cc-by-4.0"), ("CC0", "cc0-1.0"), ("Apache-2.0", "apache-2.0"),
    ("all rights reserved", None), (None, None),
])
def test_licence_names_map_to_hub_ids(text, hub):
    assert hub_licence(text) == hub


def test_size_categories():
    assert [size_category(n) for n in (0, 999, 1000, 54_321, 2_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]
