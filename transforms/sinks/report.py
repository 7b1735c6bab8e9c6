"""The corpus's HTML report: one static file, no server, no script.

Charts (inline SVG), a gallery of samples (audio player, spectrogram, tags, attributes,
stats and every caption with its provenance), the reject reasons with examples, and the captions
the decisions dropped: counts per rule and per model/task, and what the model wrote. Spectrograms
and audio are embedded as data: URIs, so the file can be mailed or opened from anywhere. Every piece
of text from the data is HTML-escaped, and a Content-Security-Policy forbids scripts outright,
so a caption or tag holding markup shows as text.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import soundfile as sf
import soxr

from tunescribe.schemas import layout
from tunescribe.transforms.corpus import readers
from tunescribe.transforms.sinks import figures

PREVIEW_RATE = 22050  # gallery audio is resampled to at most this, to keep the file small
CSP = "default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'"

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;color:#1d232b}
h1{font-size:24px;margin:8px 0} h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ccd}
table{border-collapse:collapse;margin:6px 0} td,th{border:1px solid #d5d9e0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f7} td.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start} .charts svg{border:1px solid #e3e6eb}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:14px}
.card{border:1px solid #d5d9e0;border-radius:6px;padding:10px;background:#fbfcfd}
.card h3{font-size:13px;margin:0 0 4px;font-family:monospace} .card audio{width:100%} .card img.spec{width:100%;height:110px;display:block}
.meta{color:#555;font-size:12px} .tag{display:inline-block;background:#e6eef8;border-radius:9px;padding:0 7px;margin:1px;font-size:12px}
.caption{margin:6px 0;padding:4px 6px;background:#fff;border-left:3px solid #3b6ea8}
.prov{color:#667;font-size:11px;font-family:monospace} .small{font-size:12px}
"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def table(header: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{esc(c)}</td>' for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f}"


def decode_preview(audio: bytes) -> tuple[np.ndarray, int]:
    """Encoded clip audio -> mono float samples at no more than PREVIEW_RATE."""
    samples, rate = sf.read(io.BytesIO(audio), dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    if rate > PREVIEW_RATE:
        mono = soxr.resample(mono, rate, PREVIEW_RATE)
        rate = PREVIEW_RATE
    return np.ascontiguousarray(mono, dtype=np.float32), rate


def preview_flac(mono: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.clip(mono, -1.0, 1.0), rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def _overview(name: str, facts: dict, stats: dict, shards: list[dict]) -> str:
    sources = stats.get("sources", {})
    rows = [
        ["clips", facts["clips"]], ["hours", hours(facts["seconds"])],
        ["shards", len(shards)], ["shard bytes", sum(s["filesize"] for s in shards)],
        ["sources ingested", sources.get("ingested", "")], ["sources accepted", sources.get("accepted", "")],
        ["sources rejected", sources.get("rejected", "")], ["rejects (all stages)", stats.get("rejects", {}).get("total", "")],
        ["captions dropped", stats.get("captions_dropped", {}).get("total", "")],
        ["distinct tags", facts["tag_count"]],
        ["artists in more than one split", len(facts["artists_in_several_splits"])],
    ]
    return "<h2 id=overview>Overview</h2>" + table(["", name], rows, numeric={1})


def _splits(facts: dict) -> str:
    rows = [[name, s["clips"], hours(s["seconds"]), s["shards"], s["artists"], s["tracks"]]
            for name, s in facts["splits"].items()]
    out = "<h2 id=splits>Splits</h2>" + table(["split", "clips", "hours", "shards", "artists", "tracks"], rows,
                                              numeric={1, 2, 3, 4, 5})
    if facts["splits"]:
        charts = [figures.bars({k: v["clips"] for k, v in facts["splits"].items()}, "Clips per split", "clips"),
                  figures.bars({k: v["seconds"] / 3600 for k, v in facts["splits"].items()}, "Hours per split", "hours")]
        out += f'<div class=charts>{"".join(charts)}</div>'
    return out


def _distributions(facts: dict) -> str:
    note = (f" (every {facts['value_stride']}th clip)" if facts["value_stride"] > 1 else "")
    measured = {name: v for name, v in facts["values"].items() if np.isfinite(v).any()}
    chart = figures.histograms(measured) if measured else ""
    missing = sorted(set(facts["values"]) - set(measured))
    return (f"<h2 id=stats>Audio statistics{esc(note)}</h2><div class=charts>{chart}</div>"
            + (f"<p class=meta>Not measured in this corpus: {esc(', '.join(missing))}.</p>" if missing else ""))


def _labels(facts: dict) -> str:
    out = "<h2 id=tags>Tags, attributes and captions</h2><div class=charts>"
    if facts["tags"]:
        out += figures.bars(facts["tags"], f"Top {len(facts['tags'])} tags", "clips")
    if facts["tag_categories"]:
        out += figures.bars(facts["tag_categories"], "Tags per category", "tag uses")
    if facts["captions"]:
        out += figures.bars({f"{t} / {b}": n for (t, b), n in facts["captions"].items()},
                            "Captions per task / backend", "captions")
    if facts["attributes"]:
        out += figures.bars(facts["attributes"], "Attributes", "clips")
    out += "</div>"
    prov = [[*k, n] for k, n in facts["caption_provenance"].items()]
    out += "<h3>Caption provenance</h3>" + table(
        ["task", "backend", "prompt id", "prompt version", "model id", "model revision", "captions"], prov, numeric={6})
    out += "<h3>Licences</h3>" + table(["licence", "clips"], list(facts["licences"].items()), numeric={1})
    return out


def _caption_html(c: dict) -> str:
    prov = [f"task={c['task']}", f"backend={c['backend']}",
            f"prompt={c['prompt_id']}" + (f"@{c['prompt_version']}" if c["prompt_version"] else "")]
    if c.get("model_id"):
        prov.append(f"model={c['model_id']}@{c.get('model_revision') or '-'}")
    if c.get("seed") is not None:
        prov.append(f"seed={c['seed']}")
    return f'<div class=caption>{esc(c["text"])}<div class=prov>{esc(" ".join(prov))}</div></div>'


def _sample_card(corpus: str, row: dict) -> str:
    members = readers.read_sample(layout.join(corpus, layout.SHARDS_DIR, row["shard"]), row["shard_offset"], row["key"])
    audio = members.get(f"{row['key']}.{row['audio_format']}")
    media = "<p class=meta>(audio member missing from the shard)</p>"
    if audio:
        mono, rate = decode_preview(audio)
        media = (f'<audio controls preload="metadata" src="{data_uri("audio/flac", preview_flac(mono, rate))}"></audio>'
                 + f'<img class=spec src="{data_uri("image/png", figures.spectrogram(mono, rate))}"'
                 + f' alt="spectrogram of {esc(row["key"])}">'
                 + f'<div class=meta>spectrogram: 0–{mono.size / rate:.1f} s, 0–{rate / 2000:g} kHz, 80 dB</div>')
    prov = row["provenance"]
    meta = [f"split {row['split']}", f"source {row['source_id']}", f"{row['start_s']:.2f}–{row['end_s']:.2f} s"]
    meta += [f"{k.removesuffix('_id')} {row[k]}" for k in ("artist_id", "album_id", "track_id") if row.get(k)]
    meta += [f"licence {row.get('licence') or 'unspecified'}", f"{row['shard']} @ {row['shard_offset']}"]
    tags = "".join(f'<span class=tag title="{esc(t["category"])} / {esc(t["origin"])}">{esc(t["name"])}</span>'
                   for t in row["tags"])
    attrs = [[a["name"], a["value"] if a["value"] is not None else a["number"], a["confidence"], a["extractor"]]
             for a in row["attributes"]]
    stats = ", ".join(f"{k} {v:.3g}" for k, v in row["stats"].items() if v is not None)
    return (f'<div class=card><h3>{esc(row["key"])}</h3>{media}'
            f'<div class=meta>{esc(" · ".join(meta))}</div>'
            f'<div class=meta>input {esc(prov["input_uri"])} · tunescribe {esc(prov["tool_version"])}'
            f' · config {esc(prov["config_hash"])}</div>'
            f'<div>{tags or "<span class=meta>no tags</span>"}</div>'
            + (table(["attribute", "value", "confidence", "extractor"], attrs) if attrs else "")
            + f'<div class="meta small">{esc(stats)}</div>'
            + "".join(_caption_html(c) for c in row["captions"])
            + ("" if row["captions"] else "<p class=meta>no captions</p>") + "</div>")


def _gallery(corpus: str, facts: dict) -> str:
    cards = "".join(_sample_card(corpus, row) for row in facts["gallery"])
    return (f"<h2 id=gallery>Sample gallery</h2><p class=meta>{len(facts['gallery'])} clips picked by a hash of "
            f"their key (the same ones on every build).</p><div class=gallery>{cards}</div>")


def _rejects(facts: dict) -> str:
    rows = []
    for (stage, reason), entry in facts["rejects"].items():
        examples = "; ".join(f"{r['source_id']}{'' if r['clip_index'] is None else ' clip ' + str(r['clip_index'])}: "
                             f"{r['detail']}" for r in entry["examples"])
        rows.append([stage, reason, entry["count"], examples])
    body = table(["stage", "reason", "count", "examples"], rows, numeric={2}) if rows else "<p>No rejects.</p>"
    charts = ('<div class=charts>' + figures.bars({f"{s}/{r}": e["count"] for (s, r), e in facts["rejects"].items()},
                                                  "Rejects per stage/reason", "items or clips") + "</div>") if rows else ""
    return "<h2 id=rejects>Reject reasons</h2>" + charts + body


def _dropped_captions(facts: dict, stats: dict) -> str:
    dropped = facts["dropped_captions"]
    if not dropped:
        return "<h2 id=dropped>Dropped captions</h2><p>No caption was dropped.</p>"
    counts = [[stage, reason, e["count"], ", ".join(f"{m}: {n}" for m, n in e["models"].items())]
              for (stage, reason), e in dropped.items()]
    by_model = stats.get("captions_dropped", {}).get("by_model_task", {})
    samples = [[stage, reason, f"{r['key']} #{r['caption_index']}", f"{r['backend']}:{r['model_id'] or '-'}",
                r["task"], r["text"], r["detail"]]
               for (stage, reason), e in dropped.items() for r in e["examples"]]
    charts = '<div class=charts>' + figures.bars(
        {f"{s}/{r}": e["count"] for (s, r), e in dropped.items()}, "Dropped captions per rule", "captions") + (
        figures.bars(by_model, "Dropped captions per model/task", "captions") if by_model else "") + "</div>"
    return (f"<h2 id=dropped>Dropped captions</h2><p class=meta>{sum(e['count'] for e in dropped.values())} "
            f"caption(s) taken off their clips; each is in {layout.DROPPED_CAPTIONS_FILE} with its text, "
            "provenance and every rule it failed.</p>" + charts
            + table(["stage", "reason", "captions", "per model/task"], counts, numeric={2})
            + "<h3>Samples</h3>" + table(["stage", "reason", "clip", "model", "task", "text", "why"], samples))


def render_report(corpus: str, name: str, facts: dict, stats: dict, shards: list[dict]) -> str:
    sections = [_overview(name, facts, stats, shards), _splits(facts), _distributions(facts), _labels(facts),
                _gallery(corpus, facts), _rejects(facts), _dropped_captions(facts, stats)]
    nav = " · ".join(f'<a href="#{a}">{t}</a>' for a, t in [("overview", "overview"), ("splits", "splits"),
                                                            ("stats", "audio stats"), ("tags", "labels"),
                                                            ("gallery", "gallery"), ("rejects", "rejects"),
                                                            ("dropped", "dropped captions")])
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<link rel=icon href="data:,">'
            f"<title>{esc(name)} — tunescribe corpus report</title><style>{STYLE}</style></head><body>"
            f"<h1>{esc(name)}</h1><p class=meta>Built by tunescribe {esc(stats.get('tool_version', ''))}, "
            f"config {esc(stats.get('config_hash', ''))}.</p><p>{nav}</p>"
            + "".join(sections) + "</body></html>\n")
