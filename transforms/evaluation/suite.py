"""Captions to evaluate, read from a corpus or a file of pairs, and their scores per task and backend.

Inputs:
* a corpus folder (a build's output): each clip's captions, grouped by (task, backend); the
  references are its captions of task "reference" (the human captions a manifest gave, e.g. the
  MusicCaps preset's), or those of a separate references file; the clip's tags and attributes are
  the inputs the hallucination check reads.
* a JSON list (LP-MusicCaps' inference.json: {"prediction", "ground_truth"}), JSON lines or CSV,
  one pair per row: prediction (or caption), reference (or ground_truth; a list for several), and
  optionally task, backend and tags (a list, or a Python/JSON list literal such as MusicCaps'
  aspect_list). Rows without tags can get them from MusicCaps' CSV by their reference caption.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Optional, Sequence

from tunescribe.schemas import Tag
from tunescribe.transforms.evaluation import hallucination, metrics
from tunescribe.transforms.ingest.tags import normalise_tags, split_tag_field

REFERENCE_TASK = "reference"
PREDICTION_KEYS = ("prediction", "caption", "text")
REFERENCE_KEYS = ("reference", "references", "ground_truth", "caption", "text")
ID_KEYS = ("key", "source_id", "ytid", "id")


@dataclasses.dataclass
class Sample:
    prediction: str
    references: list[str]
    tags: Optional[tuple] = None  # None: inputs unknown, no hallucination check
    attributes: tuple = ()


Groups = dict[tuple[str, str], list[Sample]]


def _first(row: dict, keys: Sequence[str], skip: str | None = None):
    for k in keys:
        if k != skip and row.get(k) not in (None, ""):
            return k, row[k]
    return None, None


def _texts(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if str(v).strip()]
    text = str(value)
    if text.startswith("["):
        parsed = split_tag_field(text)
        if parsed and parsed != [text]:
            return [t for t in parsed if t.strip()]
    return [text] if text.strip() else []


def _tags(value) -> Optional[tuple]:
    return None if value is None else normalise_tags(split_tag_field(value))


def read_rows(path: str | os.PathLike) -> list[dict]:
    path = Path(path)
    if path.suffix == ".csv":  # newline="": a quoted cell keeps its own line breaks (MusicCaps has a "\r\n")
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".jsonl", ".ndjson"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    rows = json.loads(text)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{path}: expected a JSON list of objects")
    return rows


def read_pairs(path: str | os.PathLike, tags_by_reference: dict | None = None) -> Groups:
    """Groups of a pairs file; task/backend default to the file's name (LP-MusicCaps: the task folder)."""
    path = Path(path)
    default_task = path.parent.name if path.stem == "inference" else path.stem
    groups: Groups = defaultdict(list)
    for n, row in enumerate(read_rows(path), start=1):
        pkey, prediction = _first(row, PREDICTION_KEYS)
        _, reference = _first(row, REFERENCE_KEYS, skip=pkey)
        if prediction is None:
            raise ValueError(f"{path} row {n}: no prediction (one of {', '.join(PREDICTION_KEYS)})")
        refs = _texts(reference) if reference is not None else []
        tags = _tags(row.get("tags", row.get("aspect_list")))
        if tags is None and tags_by_reference and refs:
            tags = next((tags_by_reference[k] for k in map(_match_key, refs) if k in tags_by_reference), None)
        group = (str(row.get("task") or default_task), str(row.get("backend") or "file"))
        groups[group].append(Sample(str(prediction), refs, tags))
    return dict(groups)


def read_references(path: str | os.PathLike) -> dict[str, list[str]]:
    """id -> reference captions, from a CSV/JSON/JSONL with an id column (key, source_id, ytid or
    id) and a caption column (reference, ground_truth, caption or text)."""
    out: dict[str, list[str]] = defaultdict(list)
    for n, row in enumerate(read_rows(path), start=1):
        _, ident = _first(row, ID_KEYS)
        _, text = _first(row, REFERENCE_KEYS)
        if ident is None or text is None:
            raise ValueError(f"{path} row {n}: needs an id ({', '.join(ID_KEYS)}) and a caption")
        out[str(ident)] += _texts(text)
    return dict(out)


def read_corpus(corpus: str, references: dict[str, list[str]] | None = None) -> Groups:
    """Groups of a corpus's captions; references from `references` (by clip key, then source id)
    or else the clip's own "reference" captions."""
    from tunescribe.transforms.corpus import readers

    groups: Groups = defaultdict(list)
    columns = ["key", "source_id", "tags", "attributes", "captions"]
    for _, table in readers.iter_clip_tables(corpus.rstrip("/"), columns):
        for row in table.to_pylist():
            captions = row["captions"] or []
            if references is not None:
                refs = references.get(row["key"]) or references.get(row["source_id"]) or []
            else:
                refs = [c["text"] for c in captions if c["task"] == REFERENCE_TASK]
            tags = tuple(Tag(**{k: t[k] for k in ("name", "category", "origin", "score")}) for t in row["tags"] or [])
            attributes = tuple(row["attributes"] or ())
            for c in captions:
                if c["task"] != REFERENCE_TASK:
                    groups[(c["task"], c["backend"])].append(Sample(c["text"], refs, tags, attributes))
    if not groups:
        raise ValueError(f"{corpus}: no clip tables with captions to evaluate")
    return dict(sorted(groups.items()))


def musiccaps_tags_by_caption(csv_path: str | os.PathLike) -> dict[str, tuple[Tag, ...]]:
    """MusicCaps' human caption -> the clip's aspect_list as tags (to check LP-MusicCaps' outputs)."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        return {_match_key(row["caption"]): normalise_tags(split_tag_field(row["aspect_list"]))
                for row in csv.DictReader(fh)}


def _match_key(caption: str) -> str:
    """A caption with its whitespace normalised (the CSV keeps "\r\n" where JSON copies have "\n")."""
    return " ".join(caption.split())


def train_captions(path: str | os.PathLike) -> list[str]:
    """Training captions for the novelty metrics: a CSV's `caption` column (MusicCaps: its train rows)."""
    rows = read_rows(path)
    if rows and "is_audioset_eval" in rows[0]:
        rows = [r for r in rows if r["is_audioset_eval"] == "False"]
    return [str(r["caption"]) for r in rows if r.get("caption")]


def evaluate_group(samples: Sequence[Sample], **kwargs) -> dict:
    """LP-MusicCaps' metrics over the samples that have references, and the hallucination rate over
    those whose inputs are known. `kwargs` go to metrics.evaluate_captions."""
    scored = [s for s in samples if s.references]
    result: dict = {"captions": len(samples), "with_reference": len(scored)}
    if scored:
        result.update(metrics.evaluate_captions([s.prediction for s in scored], [s.references for s in scored],
                                                **kwargs))
    else:
        result["unavailable"] = {"references": "no reference captions: only length and hallucinations"}
        result["length_avg"], result["length_std"] = metrics.length_stats([s.prediction for s in samples])
    checked = [s for s in samples if s.tags is not None]
    if checked:
        report = hallucination.hallucination_report([s.prediction for s in checked],
                                                    [(s.tags, s.attributes) for s in checked])
        result.update(report.as_dict())
    else:
        result["hallucination_rate"] = None
        result.setdefault("unavailable", {})["hallucination_rate"] = "inputs (tags) unknown"
    return result
