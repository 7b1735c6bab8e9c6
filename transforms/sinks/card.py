"""The corpus's dataset card: README.md in the Hugging Face dataset-card style.

A YAML header the Hub reads (licence(s), size category, task categories, one `data_files` entry
per split) and a body with the sources, the processing settings, every filter with its drop
count, the caption prompt/model versions and the known limitations — all from the files just
written (facts.py) and the config, nothing typed by hand, nothing that changes between reruns.
"""

from __future__ import annotations

import html
import posixpath
import re

import pyarrow as pa
import yaml

from tunescribe.schemas import CLIP_TABLE_SCHEMA
from tunescribe.schemas.layout import SHARDS_DIR, wids_index_name

# Hub licence ids (https://hf.co/docs/hub/repositories-licenses) we can recognise in free text.
HUB_LICENCES = {
    "apache-2.0", "mit", "bsd-3-clause", "gpl-3.0", "odbl", "odc-by", "pddl", "cc0-1.0", "unlicense",
    *(f"cc-{kind}-{v}" for kind in ("by", "by-sa", "by-nc", "by-nd", "by-nc-sa", "by-nc-nd")
      for v in ("2.0", "2.5", "3.0", "4.0")),
}
SIZE_CATEGORIES = [(1e3, "n<1K"), (1e4, "1K<n<10K"), (1e5, "10K<n<100K"), (1e6, "100K<n<1M"),
                   (1e7, "1M<n<10M"), (1e8, "10M<n<100M"), (1e9, "100M<n<1B")]


def hub_licence(text: str | None) -> str | None:
    """'CC BY-NC-SA 4.0', 'cc-by-nc-sa-4.0', 'CC_BY_4.0' ... -> the Hub id, or None."""
    if not text:
        return None
    norm = re.sub(r"[\s_/]+", "-", text.strip().lower()).replace("creative-commons", "cc")
    norm = re.sub(r"-+", "-", norm.replace("cc-zero", "cc0"))
    norm = re.sub(r"^cc-?0(-1\.0)?$", "cc0-1.0", norm)
    norm = re.sub(r"-(\d)$", r"-\1.0", norm)  # "cc-by-4" -> "cc-by-4.0"
    return norm if norm in HUB_LICENCES else None


def size_category(n: int) -> str:
    return next((label for limit, label in SIZE_CATEGORIES if n < limit), "n>1B")


def short_type(t: pa.DataType) -> str:
    """Arrow type names without the struct members (the docs say what they hold)."""
    if pa.types.is_struct(t):
        return "struct"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"list<{short_type(t.value_type)}>"
    return str(t)


def _header(name: str, facts: dict, shard_files: list[dict]) -> dict:
    ids = sorted({hub_licence(text) or "other" for text in facts["licences"]}) or ["unknown"]
    header = {"pretty_name": name, "license": ids[0] if len(ids) == 1 else ids}
    if "other" in ids:
        others = sorted(t for t in facts["licences"] if not hub_licence(t))
        header["license_name"] = "per-clip"
        header["license_details"] = "Licences as given by the inputs, per clip in the `licence` column: " + ", ".join(others)
    tasks = {t for t, _ in facts["captions"]}
    creators = set()
    if tasks - {"reference"}:
        creators.add("machine-generated")
    if "reference" in tasks:
        creators.add("expert-generated")
    if facts["tag_categories"]:
        creators.add("found")
    header.update({
        "task_categories": ["text-to-audio", "audio-classification"],
        "tags": ["music", "audio", "music-captioning", "webdataset", "tunescribe"],
        "size_categories": [size_category(facts["clips"])],
        "annotations_creators": sorted(creators) or ["no-annotation"],
    })
    splits = sorted({s["split"] for s in shard_files})
    if splits:  # the Hub's loader reads each split from its own shard series
        header["configs"] = [{"config_name": "default", "data_files": [
            {"split": split, "path": f"{SHARDS_DIR}/{name}-{split}-*.tar"} for split in splits]}]
    return header


def _table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        # Cells hold text from the inputs (licences...): markup in them must show, not render.
        text = html.escape(str(v), quote=False).replace("[", "\\[").replace("]", "\\]")
        return text.replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]) + "\n"


def _processing(settings: dict) -> str:
    a, seg, q, sp, sh = (settings[k] for k in ("audio", "segment", "quality", "split", "shards"))
    lines = [
        "1. **Ingest** every input; duplicate items (same id and time range) are dropped.",
        f"2. **Decode** with ffmpeg (PyAV), mix to {a['channels']} channel(s), resample to {a['sample_rate']} Hz "
        f"(soxr); sources longer than {a['max_source_s']} s are rejected.",
        f"3. **Cut** into {seg['window_s']} s clips every {seg['hop_s'] or seg['window_s']} s "
        f"(tail policy `{seg['tail']}`, shortest tail {seg['min_tail_s']} s).",
        "4. **Measure** audio statistics per clip and attributes where configured; **caption** (see Captions).",
        f"5. **Filter** by the `quality` rules: at least {q['min_duration_s']} s, silence ratio at most "
        f"{q['max_silence_ratio']}" + (", a caption required" if q["require_caption"] else "")
        + ", plus the caption, duplicate and evaluation-set checks the config enables; see Filters for the counts.",
        f"6. **Split** by a hash of `{sp['group_by']}` (falling back to album, track, source id) with ratios "
        + ", ".join(f"{k} {v}" for k, v in sp["ratios"].items())
        + (f"; {sum(len(v) for v in sp.get('force_test', {}).values())} held-out id(s) force their whole group "
           "into test" if sp.get("force_test") else "")
        + (f"; {sum(len(v) for v in sp.get('exclude', {}).values())} id(s) excluded" if sp.get("exclude") else "")
        + ".",
        f"7. **Encode** as {a['format']} and write WebDataset shards (one series per split) of at most "
        f"{sh['max_samples']} samples / {sh['max_bytes'] / 2**20:g} MiB, sorted by key.",
    ]
    return "\n".join(lines) + "\n"


def _limitations(facts: dict, stats: dict) -> list[str]:
    out = []
    tasks = {t for t, _ in facts["captions"]}
    if tasks - {"reference"}:
        out.append("Captions other than `reference` ones are machine-generated (templates or language/audio "
                   "models working from tags and measured attributes); they can be wrong or generic.")
    if facts["licences"].get("unspecified"):
        out.append(f"{facts['licences']['unspecified']} clip(s) have no licence from their input.")
    out.append("Licences are as the inputs declared them; tunescribe does not verify them.")
    if facts["artists_in_several_splits"]:
        out.append(f"{len(facts['artists_in_several_splits'])} artist(s) appear in more than one split.")
    if facts["clips"] and not any(s["artists"] for s in facts["splits"].values()):
        out.append("No input gave artist ids, so splits are grouped by a finer id (album, track or source) and "
                   "one artist may appear in several splits.")
    if stats.get("rejects", {}).get("total"):
        out.append(f"{stats['rejects']['total']} item(s) or clip(s) were filtered out (see Filters); the corpus is "
                   "not a random sample of its sources.")
    out.append("Tags come from the inputs (normalised) and, where configured, from models; categories are "
               "assigned by a vocabulary and may be incomplete.")
    return out


def _dropped(facts: dict, stats: dict) -> str:
    dropped = stats.get("captions_dropped", {})
    if not dropped.get("total"):
        return "No caption was dropped.\n"
    reasons = [[*k.split("/", 1), n] for k, n in dropped.get("by_reason", {}).items()]
    models = [[*k.rsplit("/", 1), n] for k, n in dropped.get("by_model_task", {}).items()]
    samples = [[reason, r["task"], f"{r['backend']}:{r['model_id'] or '-'}", _cell(r["text"])]
               for (_, reason), e in facts["dropped_captions"].items() for r in e["examples"][:1]]
    return (f"{dropped['total']} caption(s) were taken off their clips (`dropped_captions.parquet` has each with "
            "its text and every rule it failed).\n\n"
            + _table(["stage", "reason", "captions"], reasons) + "\n"
            + _table(["backend:model", "task", "captions"], models) + "\n"
            + (_table(["reason", "task", "model", "example of a dropped caption"], samples) if samples else ""))


def _cell(text: str, limit: int = 160) -> str:
    """A caption on one line of at most `limit` characters (_table escapes it)."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[:limit - 1] + "…"


def render_card(name: str, facts: dict, stats: dict, shard_files: list[dict], settings: dict) -> str:
    header = yaml.safe_dump(_header(name, facts, shard_files), sort_keys=False, allow_unicode=True, width=1000)
    splits = [[s, v["clips"], f"{v['seconds'] / 3600:.2f}", v["shards"], v["artists"]] for s, v in facts["splits"].items()]
    src = stats.get("sources", {})
    inputs = [[i["type"], posixpath.basename(i["path"].rstrip("/")) or i["path"], i.get("licence") or "per row",
               facts["inputs"].get(i["path"], 0)] for i in settings["inputs"]]
    rejects = [[*k.split("/", 1), n] for k, n in stats.get("rejects", {}).get("by_reason", {}).items()]
    caption_rows = [[*k, n] for k, n in facts["caption_provenance"].items()]
    fields = [[f.name, short_type(f.type), (f.metadata or {}).get(b"doc", b"").decode()] for f in CLIP_TABLE_SCHEMA]
    counts = {split: sum(s["split"] == split for s in shard_files) for split in {s["split"] for s in shard_files}}
    example_split = "train" if "train" in counts else min(counts, default="train")
    last = max(counts.get(example_split, 1) - 1, 0)
    parts = [
        f"---\n{header}---\n",
        f"# Dataset card for {name}\n",
        f"{facts['clips']} audio clips ({facts['seconds'] / 3600:.2f} hours) with tags, measured attributes and "
        f"captions, built by [tunescribe](https://pypi.org/project/tunescribe/) {stats.get('tool_version', '')} "
        f"from config `{stats.get('config_hash', '')}`. Sources: {src.get('ingested', 0)} ingested, "
        f"{src.get('accepted', 0)} with at least one clip in the corpus, {src.get('rejected', 0)} rejected.\n",
        "## Dataset structure\n",
        f"- `{SHARDS_DIR}/{name}-<split>-NNNNNN.tar`: WebDataset shards. Each sample `<key>` holds `<key>.<audio "
        "format>` (the audio), `<key>.json` (every field below) and `<key>.txt` (its first caption).\n"
        f"- `{wids_index_name('<split>')}`: wids shard index per split (url, md5sum, nsamples, filesize).\n"
        "- `clips/*.parquet`: the clip table (one file per shard), with `shard` and `shard_offset` of each sample.\n"
        "- `rejects.parquet`: every item or clip left out, with stage, reason and detail.\n"
        "- `dropped_captions.parquet`: every caption the quality decisions took off a clip: its text, task, "
        "backend, model, prompt, and the rules it failed.\n"
        "- `stats.json`, `report.html` (charts and a listening gallery), `SHA256SUMS`, `manifest.json`.\n",
        _table(["split", "clips", "hours", "shards", "artists"], splits),
        "\n### Fields\n", _table(["field", "type", "description"], fields),
        "\n### Loading\n",
        "```python\nimport webdataset as wds\nds = wds.WebDataset(\"" + f"{SHARDS_DIR}/{name}-{example_split}-"
        + "{000000.." + f"{last:06d}" + "}.tar\").decode()\n\nimport wids  # random access\nds = wids.ShardListDataset(\""
        + wids_index_name(example_split) + "\")\n\nimport pyarrow.parquet as pq\nclips = pq.read_table(\"clips\")\n```\n",
        "## Sources\n", _table(["type", "input", "licence", "clips"], inputs),
        "\n## Processing\n", _processing(settings),
        "\n## Filters and drop counts\n",
        _table(["stage", "reason", "dropped"], rejects) if rejects else "Nothing was filtered out.\n",
        "\n### Dropped captions\n", _dropped(facts, stats),
        "\n## Captions\n",
        _table(["task", "backend", "prompt id", "prompt version", "model id", "model revision", "captions"], caption_rows)
        if caption_rows else "No captions.\n",
        "\n## Licensing\n", _table(["licence (as given)", "clips"], list(facts["licences"].items())),
        "\n## Known limitations\n", "".join(f"- {line}\n" for line in _limitations(facts, stats)),
    ]
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)
