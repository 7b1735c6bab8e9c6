"""The last step of a build, once shards, tables and stats are on disk.

In order: the wids shard index of each split, the dataset card (README.md), the HTML report,
removal of files no longer part of the corpus (shards of an earlier plan, temp files of a killed
run), SHA256SUMS, and last `manifest.json`: every file with its size and sha256. A corpus with
a manifest is complete; a build killed at any point before it leaves none, and a rerun finishes
the job.
"""

from __future__ import annotations

import hashlib
import logging

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from tunescribe.schemas import layout
from tunescribe.transforms import failpoints
from tunescribe.transforms.corpus import readers
from tunescribe.transforms.sinks.card import render_card
from tunescribe.transforms.sinks.facts import corpus_facts
from tunescribe.transforms.sinks.files import TMP_MARK, list_files, read_bytes, write_bytes_atomically
from tunescribe.transforms.sinks.report import render_report
from tunescribe.transforms.sinks.stats import stats_json  # sorted, indented JSON: same bytes every run

log = logging.getLogger(__name__)


def wids_index(name: str, split: str, shards: list[dict]) -> dict:
    return {
        "__kind__": "wids-shard-index-v1",
        "wids_version": 1,
        "name": f"{name}-{split}",
        "shardlist": [{"url": f"{layout.SHARDS_DIR}/{s['file']}", "md5sum": s["md5sum"],
                       "nsamples": s["nsamples"], "filesize": s["filesize"]} for s in shards],
    }


def remove_stale(corpus: str, keep: set[str]) -> list[str]:
    """Deletes files of the corpus's own kinds that `keep` (relative paths) does not name."""
    found = [p for folder in (layout.SHARDS_DIR, layout.CLIPS_DIR, layout.COMMITTED_SHARDS_DIR)
             for p, _ in list_files(layout.join(corpus, folder, "*"))]
    found += [p for p, _ in list_files(layout.join(corpus, "*"))
              if p.endswith(layout.WIDS_SUFFIX) or TMP_MARK in p.rsplit("/", 1)[-1]]
    stale = [p for p in found if p[len(corpus.rstrip("/")) + 1:] not in keep]
    if stale:
        FileSystems.delete(stale)
    return stale


def finish_corpus(shards: list[dict], corpus: str, name: str, settings: dict) -> str:
    """Writes everything after the tables (see module doc); returns the manifest's path."""
    corpus = corpus.rstrip("/")
    shards = sorted(shards, key=lambda s: s["file"])
    stats = readers.read_json(layout.join(corpus, layout.STATS_FILE))
    written: dict[str, bytes | None] = {}  # relative path -> bytes we wrote (None: hash from disk)

    for split in sorted({s["split"] for s in shards}):
        rel = layout.wids_index_name(split)
        written[rel] = stats_json(wids_index(name, split, [s for s in shards if s["split"] == split]))
        write_bytes_atomically(layout.join(corpus, rel), written[rel])

    facts = corpus_facts(corpus)
    for rel, text in [(layout.CARD_FILE, render_card(name, facts, stats, shards, settings)),
                      (layout.REPORT_FILE, render_report(corpus, name, facts, stats, shards))]:
        written[rel] = text.encode("utf-8")
        write_bytes_atomically(layout.join(corpus, rel), written[rel])
        if rel == layout.CARD_FILE:
            failpoints.reached("card_written")

    files = {f"{layout.SHARDS_DIR}/{s['file']}": (s["filesize"], s["sha256"]) for s in shards}
    tables = {f"{layout.CLIPS_DIR}/{layout.table_name(s['file'])}" for s in shards}
    for rel in sorted(tables | {layout.REJECTS_FILE, layout.DROPPED_CAPTIONS_FILE, layout.STATS_FILE} | set(written)):
        data = written.get(rel)
        data = read_bytes(layout.join(corpus, rel)) if data is None else data
        files[rel] = (len(data), hashlib.sha256(data).hexdigest())
    markers = {f"{layout.COMMITTED_SHARDS_DIR}/{s['file']}.sha256" for s in shards}
    stale = remove_stale(corpus, set(files) | markers)
    if stale:
        log.info("removed %d file(s) that are no longer part of the corpus", len(stale))

    sums = "".join(f"{sha}  {rel}\n" for rel, (_, sha) in sorted(files.items())).encode()
    write_bytes_atomically(layout.join(corpus, layout.CHECKSUMS_FILE), sums)
    files[layout.CHECKSUMS_FILE] = (len(sums), hashlib.sha256(sums).hexdigest())

    manifest = {
        "schema": layout.MANIFEST_SCHEMA,
        "name": name,
        "tool_version": stats.get("tool_version"),
        "config_hash": stats.get("config_hash"),
        "clips": facts["clips"],
        "splits": {split: {"clips": v["clips"], "shards": v["shards"]} for split, v in facts["splits"].items()},
        "files": [{"path": rel, "bytes": size, "sha256": sha} for rel, (size, sha) in sorted(files.items())],
    }
    path = layout.join(corpus, layout.MANIFEST_FILE)
    write_bytes_atomically(path, stats_json(manifest))
    return path


class FinishCorpus(beam.PTransform):
    """Shard facts (from WriteWebDataset) -> the finishing files."""

    def __init__(self, corpus: str, name: str, settings: dict):
        super().__init__()
        self.corpus, self.name, self.settings = corpus, name, settings

    def expand(self, shard_facts):
        return (
            shard_facts
            | "AllShards" >> beam.combiners.ToList()
            | "Finish" >> beam.Map(finish_corpus, self.corpus, self.name, self.settings)
        )
