"""`tunescribe inspect CORPUS`: what a corpus holds, as a few plain-text tables.

Clips, hours, shards and bytes; per split clips, hours, shards, artists and tracks (and any artist
found in two splits); captions per task and backend; reject reasons; top tags. Read from the
corpus's own files (clip table, rejects table, stats.json), so it describes what is on disk.
"""

from __future__ import annotations

from tunescribe.schemas import layout
from tunescribe.transforms.corpus import readers
from tunescribe.transforms.sinks.facts import corpus_facts
from tunescribe.transforms.sinks.files import list_files


def add_arguments(parser) -> None:
    parser.add_argument("corpus", help="the corpus folder (a build's output)")
    parser.add_argument("--top", type=int, default=15, help="how many tags to list (default 15)")


def table(header: list[str], rows: list[list], indent: str = "  ") -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r):
        return indent + "  ".join(c.rjust(w) if c and c.replace(".", "").isdigit() else c.ljust(w)
                                  for c, w in zip(r, widths)).rstrip()
    return "\n".join([line(cells[0]), indent + "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]])


def summary(corpus: str, top: int = 15) -> str:
    corpus = corpus.rstrip("/")
    facts = corpus_facts(corpus)
    stats_path = layout.join(corpus, layout.STATS_FILE)
    stats = readers.read_json(stats_path) if readers.exists(stats_path) else {}
    shards = list_files(layout.join(corpus, layout.SHARDS_DIR, "*.tar"))
    complete = readers.exists(layout.join(corpus, layout.MANIFEST_FILE))
    out = [
        f"corpus  {stats.get('name', corpus)}  (tunescribe {stats.get('tool_version', '?')}, config "
        f"{stats.get('config_hash', '?')}){'' if complete else '  INCOMPLETE: no manifest.json'}",
        table(["clips", "hours", "shards", "shard bytes", "sources in", "accepted", "rejected"], [[
            facts["clips"], f"{facts['seconds'] / 3600:.2f}", len(shards), sum(size for _, size in shards),
            stats.get("sources", {}).get("ingested", "?"), stats.get("sources", {}).get("accepted", "?"),
            stats.get("sources", {}).get("rejected", "?")]]),
        "\nsplits",
        table(["split", "clips", "hours", "shards", "artists", "tracks"],
              [[name, s["clips"], f"{s['seconds'] / 3600:.2f}", s["shards"], s["artists"], s["tracks"]]
               for name, s in facts["splits"].items()]),
        f"  artists in more than one split: {len(facts['artists_in_several_splits'])}"
        + (f" ({', '.join(facts['artists_in_several_splits'][:5])})" if facts["artists_in_several_splits"] else ""),
        "\ncaptions",
        table(["task", "backend", "captions"], [[t, b, n] for (t, b), n in facts["captions"].items()]),
        "\nrejects" + f" ({sum(e['count'] for e in facts['rejects'].values())})",
        table(["stage", "reason", "count", "example"],
              [[s, r, e["count"], f"{e['examples'][0]['source_id']}: {e['examples'][0]['detail']}"[:80]]
               for (s, r), e in facts["rejects"].items()]),
        f"\ntop tags ({facts['tag_count']} distinct)",
        table(["tag", "clips"], list(facts["tags"].items())[:top]),
    ]
    return "\n".join(out)


def run(args, rest) -> int:
    print(summary(args.corpus, args.top))
    return 0
