"""`tunescribe inspect` on the MTG-derived corpus: its numbers are the tables' numbers."""

from __future__ import annotations

import collections

import pyarrow.parquet as pq

from tunescribe.pipelines.cli import main


def test_inspect_summarises_the_corpus(mtg_corpus, capsys):
    assert main(["inspect", str(mtg_corpus.corpus)]) == 0
    out = capsys.readouterr().out
    clips = pq.read_table(mtg_corpus.corpus / "clips").to_pylist()
    rejects = pq.read_table(mtg_corpus.corpus / "rejects.parquet").to_pylist()
    shards = sorted((mtg_corpus.corpus / "shards").glob("*.tar"))
    lines = out.splitlines()

    totals = lines[lines.index(next(x for x in lines if x.strip().startswith("clips"))) + 2].split()
    assert int(totals[0]) == len(clips) and int(totals[2]) == len(shards)
    assert float(totals[1]) == round(sum(c["duration_s"] for c in clips) / 3600, 2)

    for split in ("train", "valid", "test"):
        row = next(x.split() for x in lines if x.strip().startswith(split + " "))
        theirs = [c for c in clips if c["split"] == split]
        assert int(row[1]) == len(theirs)
        assert int(row[3]) == len({c["shard"] for c in theirs})
        assert int(row[4]) == len({c["artist_id"] for c in theirs})
    assert "artists in more than one split: 0" in out

    tasks = collections.Counter((cap["task"], cap["backend"]) for c in clips for cap in c["captions"])
    for (task, backend), n in tasks.items():
        assert any(x.split() == [task, backend, str(n)] for x in lines)
    reasons = collections.Counter((r["stage"], r["reason"]) for r in rejects)
    assert f"rejects ({len(rejects)})" in out
    for (stage, reason), n in reasons.items():
        assert any(x.split()[:3] == [stage, reason, str(n)] for x in lines)
    tags = collections.Counter(t["name"] for c in clips for t in c["tags"])
    top_name, top_count = tags.most_common(1)[0]
    assert any(x.split() == top_name.split() + [str(top_count)] for x in lines)
