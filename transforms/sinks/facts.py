"""What a written corpus holds, gathered in one pass over its tables (one shard's rows at a time).

The dataset card, the HTML report and `tunescribe inspect` all describe a corpus from these facts,
so they never disagree with each other or with the files. Value lists for histograms are kept
for at most MAX_VALUES clips (every k-th row), so a corpus of any size fits in memory.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tunescribe.schemas import layout
from tunescribe.transforms.corpus import readers

MAX_VALUES = 1_000_000
GALLERY_SIZE = 12
EXAMPLES_PER_REASON = 3
DROPPED_EXAMPLES_PER_REASON = 3
TOP_TAGS = 30


def _counts(array) -> Counter:
    out = Counter()
    for entry in pc.value_counts(array).to_pylist():
        out[entry["values"]] += entry["counts"]
    return out


def _flat_struct_field(column, field: str):
    flat = pc.list_flatten(column)
    return pc.struct_field(flat, field) if len(flat) else pa.array([], pa.string())


def _joined(column, fields: list[str]):
    """Lists of structs -> one '\\x1f'-joined string per list element (nulls as '')."""
    flat = pc.list_flatten(column)
    if not len(flat):
        return pa.array([], pa.string())
    parts = [pc.fill_null(pc.cast(pc.struct_field(flat, f), pa.string()), "") for f in fields]
    return pc.binary_join_element_wise(*parts, "\x1f")


PROVENANCE_FIELDS = ["task", "backend", "prompt_id", "prompt_version", "model_id", "model_revision"]


def corpus_facts(corpus: str, gallery_size: int = GALLERY_SIZE, max_values: int = MAX_VALUES) -> dict:
    files = readers.clip_table_files(corpus)
    total = 0
    for path, _ in files:
        with readers.open_binary(path) as f:
            total += pq.ParquetFile(f).metadata.num_rows
    stride = max(1, math.ceil(total / max_values))

    splits = defaultdict(lambda: {"clips": 0, "seconds": 0.0, "shards": set(), "artists": set(), "tracks": set()})
    artist_splits = defaultdict(set)
    licences, inputs, formats = Counter(), Counter(), Counter()
    caption_kinds, caption_provenance, tags, tag_categories, attributes = (Counter() for _ in range(5))
    values = defaultdict(list)
    top: list[tuple[str, dict]] = []  # the gallery_size clips with the smallest key hashes
    firsts: dict[str, tuple[str, dict]] = {}  # the smallest-hash clip of each split and caption kind
    clips = 0
    for path, table in readers.iter_clip_tables(corpus):
        n = table.num_rows
        clips += n
        durations = table.column("duration_s").to_numpy()
        split_col = table.column("split").to_pylist()
        shard_col = table.column("shard").to_pylist()
        artists = table.column("artist_id").to_pylist()
        tracks = table.column("track_id").to_pylist()
        for i in range(n):
            s = splits[split_col[i]]
            s["clips"] += 1
            s["seconds"] += float(durations[i])
            s["shards"].add(shard_col[i])
            if artists[i]:
                s["artists"].add(artists[i])
                artist_splits[artists[i]].add(split_col[i])
            if tracks[i]:
                s["tracks"].add(tracks[i])
        licences.update(_counts(pc.fill_null(table.column("licence"), "unspecified")))
        inputs.update(_counts(pc.struct_field(table.column("provenance"), "input_uri")))
        formats.update(_counts(pc.binary_join_element_wise(
            table.column("audio_format"), pc.cast(table.column("sample_rate"), pa.string()),
            pc.cast(table.column("channels"), pa.string()), "/")))
        caption_kinds.update(_counts(_joined(table.column("captions"), ["task", "backend"])))
        caption_provenance.update(_counts(_joined(table.column("captions"), PROVENANCE_FIELDS)))
        tags.update(_counts(_flat_struct_field(table.column("tags"), "name")))
        tag_categories.update(_counts(_joined(table.column("tags"), ["name", "category"])))
        attributes.update(_counts(_flat_struct_field(table.column("attributes"), "name")))
        keep = slice(None, None, stride)
        values["duration_s"].append(durations[keep].astype(np.float32))
        stats = table.column("stats").combine_chunks()
        for field in stats.type:
            if field.name == "duration_s":
                continue  # also a column of its own
            column = stats.field(field.name).to_numpy(zero_copy_only=False).astype(np.float32)
            values[field.name].append(column[keep])
        _pick_gallery(table, gallery_size, top, firsts)

    return {
        "clips": clips,
        "seconds": sum(s["seconds"] for s in splits.values()),
        "splits": {name: {"clips": s["clips"], "seconds": s["seconds"], "shards": len(s["shards"]),
                          "artists": len(s["artists"]), "tracks": len(s["tracks"])}
                   for name, s in sorted(splits.items())},
        "artists_in_several_splits": sorted(a for a, s in artist_splits.items() if len(s) > 1),
        "licences": dict(licences.most_common()),
        "inputs": dict(sorted(inputs.items())),
        "formats": dict(formats.most_common()),
        "captions": {tuple(k.split("\x1f")): v for k, v in sorted(caption_kinds.items())},
        "caption_provenance": {tuple(k.split("\x1f")): v for k, v in sorted(caption_provenance.items())},
        "tags": dict(sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_TAGS]),
        "tag_count": len(tags),
        "tag_categories": _category_counts(tag_categories),
        "attributes": dict(sorted(attributes.items())),
        "values": {k: np.concatenate(v) if v else np.zeros(0, np.float32) for k, v in values.items()},
        "value_stride": stride,
        "gallery": gallery_rows(top, firsts, gallery_size),
        "rejects": reject_facts(corpus),
        "dropped_captions": dropped_caption_facts(corpus),
    }


def _pick_gallery(table: pa.Table, size: int, top: list, firsts: dict) -> None:
    """Updates the gallery candidates with one clip-table file's rows (see gallery_rows)."""
    keys = table.column("key").to_pylist()
    hashes = [hashlib.sha1(k.encode()).hexdigest() for k in keys]
    splits = table.column("split").to_pylist()
    kinds = [sorted({f"{c['task']}/{c['backend']}" for c in cs}) for cs in table.column("captions").to_pylist()]
    wanted = {i for _, i in sorted((h, i) for i, h in enumerate(hashes))[:size]}
    local: dict[str, int] = {}
    for i, h in enumerate(hashes):
        for group in [f"split:{splits[i]}"] + [f"caption:{k}" for k in kinds[i]]:
            if group not in local or h < hashes[local[group]]:
                local[group] = i
    wanted |= set(local.values())
    rows = dict(zip(sorted(wanted), table.take(sorted(wanted)).to_pylist()))
    top.extend((hashes[i], rows[i]) for i in rows)
    top.sort(key=lambda x: x[0])
    del top[size:]
    for group, i in local.items():
        if group not in firsts or hashes[i] < firsts[group][0]:
            firsts[group] = (hashes[i], rows[i])


def gallery_rows(top: list, firsts: dict, size: int) -> list[dict]:
    """The gallery: one clip of each split and of each caption task/backend (so every kind of
    caption is seen), filled up to `size` with the clips whose key hashes lowest; in hash order.
    Hashes, not file order, so the pick is spread over the corpus yet the same on every build."""
    chosen = dict(sorted(firsts.values(), key=lambda x: x[0]))
    for h, row in top:
        if len(chosen) >= max(size, len(firsts)):
            break
        chosen.setdefault(h, row)
    return [row for _, row in sorted(chosen.items())]


def _category_counts(name_category: Counter) -> dict:
    out = Counter()
    for joined, n in name_category.items():
        out[joined.split("\x1f")[1]] += n
    return dict(sorted(out.items()))


def reject_facts(corpus: str) -> dict:
    """{(stage, reason): {"count": n, "examples": [row, ...]}}, most frequent first."""
    path = layout.join(corpus, layout.REJECTS_FILE)
    if not readers.exists(path):
        return {}
    grouped: dict[tuple, dict] = {}
    for row in readers.read_table(path).to_pylist():
        entry = grouped.setdefault((row["stage"], row["reason"]), {"count": 0, "examples": []})
        entry["count"] += 1
        if len(entry["examples"]) < EXAMPLES_PER_REASON:
            entry["examples"].append(row)
    return dict(sorted(grouped.items(), key=lambda kv: (-kv[1]["count"], kv[0])))


def dropped_caption_facts(corpus: str) -> dict:
    """{(stage, reason): {"count": n, "models": {backend:model/task: n}, "examples": [row, ...]}},
    most frequent first. Examples: the rows whose key hashes lowest, so they spread over the corpus
    and over tasks yet are the same on every build."""
    path = layout.join(corpus, layout.DROPPED_CAPTIONS_FILE)
    if not readers.exists(path):
        return {}
    grouped: dict[tuple, dict] = {}
    for row in readers.read_table(path).to_pylist():
        entry = grouped.setdefault((row["stage"], row["reason"]), {"count": 0, "models": Counter(), "examples": []})
        entry["count"] += 1
        model = f"{row['backend']}:{row['model_id']}" if row["model_id"] else row["backend"]
        entry["models"][f"{model}/{row['task']}"] += 1
        entry["examples"].append((hashlib.sha1(f"{row['key']}#{row['caption_index']}".encode()).hexdigest(), row))
    for entry in grouped.values():
        entry["models"] = dict(sorted(entry["models"].items()))
        entry["examples"] = [row for _, row in sorted(entry["examples"], key=lambda x: x[0])[:DROPPED_EXAMPLES_PER_REASON]]
    return dict(sorted(grouped.items(), key=lambda kv: (-kv[1]["count"], kv[0])))
