"""`tunescribe validate CORPUS`: check a built corpus end to end; exit 1 with a precise report.

Checks, reading every byte once: the build finished (manifest.json); every file the manifest lists
is there with its size and sha256; every shard named by the manifest, a wids index or the clip
table exists, reads to its end as a tar, and matches its index entry (filesize, md5sum, nsamples);
every sample has all its members (audio, json, txt when captioned) and nothing else; every sample
has a table row and every row a sample, at the offset the row gives, with the JSON equal to the
row; keys are unique and dot-free; the run stats count the same samples; the dropped-captions
table has its schema, names only clips of the corpus or the rejects table, and holds as many
captions as stats.json counts. Works on any Beam
filesystem (gs://, s3://...) as well as local folders.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from tunescribe.schemas import DROPPED_CAPTION_SCHEMA, layout
from tunescribe.transforms.corpus import readers
from tunescribe.transforms.sinks.files import list_files, read_bytes
from tunescribe.transforms.sinks.webdataset import Digest, canonical_json

SHARD_COLUMNS = ("shard", "shard_index", "shard_offset")


def add_arguments(parser) -> None:
    parser.add_argument("corpus", help="the corpus folder (a build's output)")


class HashingReader(Digest):
    """A file wrapper that hashes everything read through it, as the shard writer hashed it."""

    def __init__(self, f):
        super().__init__()
        self.f = f

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.write(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def scan_shard(path: str, problems: list[str], rel: str) -> tuple[dict, HashingReader]:
    """key -> {"offset", "members"}; damage is reported, and samples before it still count."""
    samples: dict[str, dict] = {}
    with readers.open_binary(path) as f:
        reader = HashingReader(f)
        try:
            for offset, name, data in readers.iter_tar(reader):
                key = layout.sample_key(name)
                sample = samples.setdefault(key, {"offset": offset, "members": {}})
                if name in sample["members"]:
                    problems.append(f"{rel}: member {name!r} appears twice")
                sample["members"][name] = data
        except readers.TarDamage as exc:
            problems.append(f"{rel}: truncated or damaged at byte {exc.offset}: {exc}")
        reader.drain()
    return samples, reader


def _rel(corpus: str, path: str) -> str:
    return path[len(corpus) + 1:]


def check_dropped_captions(corpus: str, stats: dict, clip_keys, problems: list[str]) -> None:
    """The dropped-captions table against its schema, the corpus's clips and rejects, and stats.json."""
    rel = layout.DROPPED_CAPTIONS_FILE
    path = layout.join(corpus, rel)
    if not readers.exists(path):
        if "captions_dropped" in stats:
            problems.append(f"{rel}: missing ({layout.STATS_FILE} counts "
                            f"{stats['captions_dropped'].get('total')} dropped captions)")
        return
    table = readers.read_table(path)
    want = {f.name: f.type for f in DROPPED_CAPTION_SCHEMA}
    have = {f.name: f.type for f in table.schema}
    if have != want:
        wrong = "".join(f"; {n} is {have[n]}, not {t}" for n, t in want.items() if n in have and have[n] != t)
        problems.append(f"{rel}: columns {sorted(have)} differ from the dropped-caption schema {sorted(want)}" + wrong)
        return
    counted = stats.get("captions_dropped", {}).get("total")
    if counted != table.num_rows:
        problems.append(f"{rel}: holds {table.num_rows} captions, {layout.STATS_FILE} counts {counted}")
    rejects = layout.join(corpus, layout.REJECTS_FILE)
    rejected = set(readers.read_table(rejects, ["key"]).column("key").to_pylist()) if readers.exists(rejects) else set()
    keys = table.column("key").to_pylist()
    strays = sorted({k for k in keys if k not in clip_keys and k not in rejected})
    if strays:
        problems.append(f"{rel}: {len(strays)} clip key(s) neither in the clip table nor in {layout.REJECTS_FILE}, "
                        f"e.g. {strays[0]}")


def validate_corpus(corpus: str) -> tuple[list[str], dict]:
    """(problems, counts) for the corpus at `corpus`; no problems means valid."""
    corpus = corpus.rstrip("/")
    problems: list[str] = []
    manifest_path = layout.join(corpus, layout.MANIFEST_FILE)
    manifest = {}
    if readers.exists(manifest_path):
        manifest = readers.read_json(manifest_path)
    else:
        problems.append(f"{layout.MANIFEST_FILE}: missing: the build did not finish "
                        "(rerun `tunescribe build` with the same config to complete it)")
    listed = {f["path"]: f for f in manifest.get("files", [])}

    # The clip table: rows by shard.
    rows_by_shard: dict[str, dict[str, dict]] = defaultdict(dict)
    seen_keys: dict[str, str] = {}
    for path, table in readers.iter_clip_tables(corpus):
        rel = _rel(corpus, path)
        for row in table.to_pylist():
            key = row["key"]
            if key in seen_keys:
                problems.append(f"{rel}: key {key} also in {seen_keys[key]}")
            seen_keys[key] = rel
            if "." in key or "/" in key:
                problems.append(f"{rel}: key {key!r} has a dot or slash (WebDataset would split the sample)")
            rows_by_shard[row["shard"]][key] = row

    # Shard indexes.
    index: dict[str, dict] = {}
    index_files = [p for p, _ in list_files(layout.join(corpus, "*" + layout.WIDS_SUFFIX))]
    for path in index_files:
        for entry in readers.read_json(path).get("shardlist", []):
            index[entry["url"].rsplit("/", 1)[-1]] = {**entry, "index": _rel(corpus, path)}

    on_disk = {p.rsplit("/", 1)[-1] for p, _ in list_files(layout.join(corpus, layout.SHARDS_DIR, "*.tar"))}
    in_manifest = {rel.rsplit("/", 1)[-1] for rel in listed if rel.startswith(layout.SHARDS_DIR + "/")}
    shards = sorted(on_disk | in_manifest | set(index) | set(rows_by_shard))
    hashes: dict[str, tuple[int, str]] = {}
    n_samples = 0
    per_shard: dict[str, int] = {}
    for shard in shards:
        rel = f"{layout.SHARDS_DIR}/{shard}"
        rows = rows_by_shard.get(shard, {})
        if shard not in on_disk:
            named = [n for n, hit in ((layout.MANIFEST_FILE, shard in in_manifest),
                                      (index.get(shard, {}).get("index"), shard in index),
                                      ("the clip table", bool(rows))) if hit]
            problems.append(f"{rel}: missing (named by {', '.join(named)}); {len(rows)} table row(s) point into it")
            continue
        samples, reader = scan_shard(layout.join(corpus, rel), problems, rel)
        hashes[rel] = (reader.size, reader.sha256.hexdigest())
        n_samples += len(samples)
        per_shard[shard] = len(samples)
        entry = index.get(shard)
        if entry is None:
            problems.append(f"{rel}: not in any wids index")
        else:
            for field, have in (("filesize", reader.size), ("md5sum", reader.md5.hexdigest()),
                                ("nsamples", len(samples))):
                if entry.get(field) != have:
                    problems.append(f"{rel}: {field} is {have}, {entry['index']} says {entry.get(field)}"
                                    + (" (checksum mismatch)" if field == "md5sum" else ""))
        for key, sample in samples.items():
            row = rows.get(key)
            if row is None:
                problems.append(f"{rel}: sample {key} has no row in the clip table")
                continue
            want = {f"{key}.json", f"{key}.{row['audio_format']}"} | ({f"{key}.txt"} if row["captions"] else set())
            have = set(sample["members"])
            for name in sorted(want - have):
                problems.append(f"{rel}: sample {key} is missing its member {name}")
            for name in sorted(have - want):
                problems.append(f"{rel}: sample {key} has an unexpected member {name}")
            if sample["offset"] != row["shard_offset"]:
                problems.append(f"{rel}: sample {key} is at byte {sample['offset']}, the table says {row['shard_offset']}")
            meta = sample["members"].get(f"{key}.json")
            if meta is not None and meta != canonical_json({k: v for k, v in row.items() if k not in SHARD_COLUMNS}):
                problems.append(f"{rel}: sample {key}'s JSON differs from its table row")
        for key in sorted(set(rows) - set(samples)):
            problems.append(f"{layout.CLIPS_DIR}/{layout.table_name(shard)}: row {key} has no sample in {rel}")

    # Every file the manifest lists, as it lists it.
    for rel, entry in sorted(listed.items()):
        if rel in hashes:
            size, sha = hashes[rel]
        elif rel.startswith(layout.SHARDS_DIR + "/"):
            continue  # a missing shard: reported above
        else:
            path = layout.join(corpus, rel)
            if not readers.exists(path):
                problems.append(f"{rel}: missing (listed in {layout.MANIFEST_FILE})")
                continue
            data = read_bytes(path)
            size, sha = len(data), hashlib.sha256(data).hexdigest()
        if size != entry["bytes"]:
            problems.append(f"{rel}: {size} bytes, {layout.MANIFEST_FILE} says {entry['bytes']}")
        if sha != entry["sha256"]:
            problems.append(f"{rel}: sha256 {sha[:16]}…, {layout.MANIFEST_FILE} says {entry['sha256'][:16]}… "
                            "(checksum mismatch)")
    for rel in sorted(set(hashes) - set(listed)):
        if manifest:
            problems.append(f"{rel}: not listed in {layout.MANIFEST_FILE}")

    stats_path = layout.join(corpus, layout.STATS_FILE)
    if readers.exists(stats_path):
        stats = readers.read_json(stats_path)
        if stats.get("shards", {}).get("samples") != n_samples:
            problems.append(f"{layout.STATS_FILE}: counts {stats.get('shards', {}).get('samples')} samples, "
                            f"the shards hold {n_samples}")
        for entry in stats.get("shards", {}).get("files", []):
            if entry["name"] in per_shard and per_shard[entry["name"]] != entry["samples"]:
                problems.append(f"{layout.STATS_FILE}: counts {entry['samples']} samples in {entry['name']}, "
                                f"it holds {per_shard[entry['name']]}")
        check_dropped_captions(corpus, stats, seen_keys, problems)
    else:
        problems.append(f"{layout.STATS_FILE}: missing")
    rows_total = sum(len(r) for r in rows_by_shard.values())
    counts = {"shards": len(shards), "samples": n_samples, "rows": rows_total, "files": len(listed)}
    return problems, counts


def run(args, rest) -> int:
    problems, counts = validate_corpus(args.corpus)
    print(f"tunescribe validate: {args.corpus}")
    if problems:
        for line in problems:
            print(f"  ERROR {line}")
        print(f"{len(problems)} problem(s) in {counts['shards']} shard(s), {counts['samples']} sample(s), "
              f"{counts['rows']} table row(s)")
        return 1
    print(f"  ok: {counts['shards']} shard(s), {counts['samples']} sample(s) and {counts['rows']} table row(s) "
          f"agree; {counts['files']} file(s) match manifest.json")
    return 0
