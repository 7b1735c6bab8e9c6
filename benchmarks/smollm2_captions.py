"""SmolLM2-135M-Instruct's captions of MusicCaps rows, before and after the caption filter.

    python benchmarks/smollm2_captions.py [--split eval|train] [--rows 100] [--out benchmarks/results]
                                          [--generate-only]

For each MusicCaps row of the split (sorted by ytid, the first --rows; tags only: the aspect_list
read as the MusicCaps preset reads it) the four LP-MusicCaps tasks are asked of SmolLM2 with the
project's own prompts (transforms/captions/prompts.py), greedy, through the local transformers
backend's own `generate` (transforms/models/causal_lm.py) on the GGUF file, and read back with the
project's own parsing (transforms/captions/parse.py). Each caption then gets the build's caption
stats and goes through the build's caption rules (transforms/quality/rules.py), defaults.

Generations are cached (one JSON line per answer: settings, key, task, prompt, seed, raw, ...) in
~/.cache/tunescribe-bench/smollm2/generations-<split>.jsonl; only missing answers are generated.

On eval, writes to --out:
  smollm2_captions.md / .json   scores (`tunescribe evaluate`'s library: LP-MusicCaps' metrics and
                                the hallucination rate) of SmolLM2 before and after the filter, of the
                                offline captioner and of LP-MusicCaps' GPT-3.5 on the same rows; the
                                drops by rule; the hand audit's summary
  smollm2_captions.jsonl        every caption: key, task, text, kept, rules failed (the audit reads it)
The hand audit's labels are in smollm2_audit_labels.jsonl (written by a person, read here): per
(key, task) whether the caption invents a title, name or attribute, and whether it is good.
On train (rule tuning), prints the same per-caption outcome and the drops by rule.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import pathlib
import sys
import time
from collections import Counter

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
MUSICCAPS = DATA / "musiccaps" / "musiccaps-public.csv"
LPMC = DATA / "lp-music-caps"
MODEL_DIR = pathlib.Path.home() / ".cache" / "tunescribe" / "models" / "smollm2-0.1.2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
CACHE = pathlib.Path.home() / ".cache" / "tunescribe-bench" / "smollm2"
TASKS = ("writing", "summary", "paraphrase", "attribute_prediction")
BACKEND = "transformers"  # the local transformers backend, as a build records it
LABELS = "smollm2_audit_labels.jsonl"


def musiccaps_rows(split: str, n: int) -> list[dict]:
    want = "True" if split == "eval" else "False"
    with open(MUSICCAPS, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["is_audioset_eval"] == want]
    return sorted(rows, key=lambda r: r["ytid"])[:n]


def clip_of(row: dict):
    from tunescribe.schemas import Clip, Provenance
    from tunescribe.transforms.ingest.tags import normalise_tags, split_tag_field

    return Clip(key=row["ytid"], source_id=row["ytid"], clip_index=0, start_s=0.0, end_s=10.0, sample_rate=16000,
                channels=1, provenance=Provenance("musiccaps", row["ytid"], "bench", "bench"),
                tags=normalise_tags(split_tag_field(row["aspect_list"])))


class GenerationCache:
    """Answers by (settings, key, task, prompt ref), as JSON lines appended as they come."""

    def __init__(self, path: pathlib.Path):
        self.path, self.answers = path, {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                a = json.loads(line)
                self.answers[(a["settings"], a["key"], a["task"], a["prompt"])] = a

    def get(self, settings, key, task, prompt):
        return self.answers.get((settings, key, task, prompt))

    def put(self, answer: dict) -> None:
        self.answers[(answer["settings"], answer["key"], answer["task"], answer["prompt"])] = answer
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(answer) + "\n")


def _settings(params) -> str:
    return json.dumps({"model": GGUF, "params": {"max_new_tokens": params.max_new_tokens, "seed": params.seed,
                                                 "temperature": params.temperature, "top_k": params.top_k,
                                                 "top_p": params.top_p}}, sort_keys=True)


def _load(handler):
    """The GGUF model and its tokenizer (with its chat template), as the handler's generate wants them."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunescribe.transforms.models.causal_lm import LoadedCausalLM

    tok = AutoTokenizer.from_pretrained(MODEL_DIR, gguf_file=GGUF)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(MODEL_DIR, gguf_file=GGUF).eval()
    return LoadedCausalLM(model, tok, "cpu")


def answers(rows, cache: GenerationCache, batch: int = 8) -> dict:
    """(key, task) -> cached answer; generates (and caches) the missing ones."""
    from tunescribe.transforms.captions.prompts import get_prompt, prompt_inputs
    from tunescribe.transforms.models.base import ModelSource
    from tunescribe.transforms.models.causal_lm import CausalLMHandler
    from tunescribe.transforms.models.generation import GenerationParams, TextRequest, derive_seed

    params = GenerationParams()
    settings = _settings(params)
    out, missing = {}, []
    for row in rows:
        clip = clip_of(row)
        for task in TASKS:
            prompt = get_prompt(task)
            hit = cache.get(settings, clip.key, task, prompt.ref)
            if hit is None:
                seed = derive_seed(params.seed, clip.key, prompt.ref)
                missing.append((clip.key, task, prompt.ref, TextRequest(prompt.render(prompt_inputs(clip)), seed)))
            else:
                out[(clip.key, task)] = hit
    if missing:
        handler = CausalLMHandler(ModelSource(model=str(MODEL_DIR)), params)
        lm = _load(handler)
        started = time.monotonic()
        for lo in range(0, len(missing), batch):
            chunk = missing[lo:lo + batch]
            for (key, task, ref, request), g in zip(chunk, handler.generate([m[3] for m in chunk], lm)):
                answer = {"settings": settings, "key": key, "task": task, "prompt": ref, "seed": request.seed,
                          "raw": g.text, "completion_tokens": g.completion_tokens, "finish_reason": g.finish_reason}
                cache.put(answer)
                out[(key, task)] = answer
            print(f"  generated {min(lo + batch, len(missing))}/{len(missing)} "
                  f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return out


def judge(rows, got: dict, revision: str) -> list[dict]:
    """Every answer read, measured and judged as a build does; one dict per (row, task)."""
    import dataclasses

    from tunescribe.schemas import Caption
    from tunescribe.transforms.captions.parse import read_answer
    from tunescribe.transforms.captions.prompts import get_prompt
    from tunescribe.transforms.quality.caption_stats import with_caption_stats
    from tunescribe.transforms.quality.rules import CaptionRules, caption_failures
    from tunescribe.transforms.stage import Rejected

    rules, out = CaptionRules(), []
    for row in rows:
        clip = clip_of(row)
        for task in TASKS:
            answer, prompt = got[(clip.key, task)], get_prompt(task)
            entry = {"key": clip.key, "task": task, "tags": [t.name for t in clip.tags], "raw": answer["raw"],
                     "reference": row["caption"]}
            try:
                text, _ = read_answer(prompt.output, answer["raw"])
            except Rejected as exc:  # a build rejects the caption request; nothing reaches the filter
                out.append({**entry, "text": None, "kept": False, "parse_error": exc.reason, "failures": []})
                continue
            caption = Caption(text=text, task=task, backend=BACKEND, prompt_id=prompt.id,
                              prompt_version=prompt.version, model_id=MODEL_ID, model_revision=revision,
                              seed=answer["seed"])
            measured = with_caption_stats(dataclasses.replace(clip, captions=(caption,)))
            failures = caption_failures(measured.captions[0], measured, rules)
            out.append({**entry, "text": text, "kept": not failures, "parse_error": None,
                        "failures": [list(f) for f in failures]})
    return out


def drops_by_rule(judged: list[dict]) -> dict:
    first = Counter(j["failures"][0][0] for j in judged if j["failures"])
    every = Counter(r for j in judged for r in {f[0] for f in j["failures"]})
    return {"first_reason": dict(first.most_common()), "any_reason": dict(every.most_common())}


def score_groups(rows, judged: list[dict]) -> dict:
    """`tunescribe evaluate`'s scores per group, all on the same rows."""
    from tunescribe.transforms.captions.offline import TASKS as OFFLINE_TASKS
    from tunescribe.transforms.captions.offline import write_captions
    from tunescribe.transforms.evaluation.suite import Sample, _match_key, evaluate_group, train_captions
    from tunescribe.transforms.ingest.tags import normalise_tags, split_tag_field

    groups: dict[str, list] = {}
    for j in judged:
        if j["text"] is None:
            continue
        sample = Sample(j["text"], [j["reference"]], tuple(clip_of_tags(j["tags"])))
        groups.setdefault(f"{j['task']}/smollm2 (all parsed)", []).append(sample)
        if j["kept"]:
            groups.setdefault(f"{j['task']}/smollm2 (kept by the filter)", []).append(sample)
    all_parsed = [s for k, v in groups.items() if k.endswith("(all parsed)") for s in v]
    all_kept = [s for k, v in groups.items() if k.endswith("(kept by the filter)") for s in v]
    groups["all tasks/smollm2 (all parsed)"], groups["all tasks/smollm2 (kept by the filter)"] = all_parsed, all_kept
    by_caption = {_match_key(r["caption"]): r for r in rows}
    for row in rows:
        tags = normalise_tags(split_tag_field(row["aspect_list"]))
        captions = write_captions(tags, key=row["ytid"], seed=0)
        for task in OFFLINE_TASKS:
            groups.setdefault(f"offline_{task}/tunescribe", []).append(Sample(captions[task], [row["caption"]], tags))
    for task in TASKS:
        path = LPMC / f"caption_{task}" / "inference.json"
        for pair in json.loads(path.read_text(encoding="utf-8")):
            row = by_caption.get(_match_key(pair["ground_truth"]))
            if row is not None:
                groups.setdefault(f"{task}/gpt-3.5 (LP-MusicCaps)", []).append(Sample(
                    pair["prediction"], [row["caption"]], normalise_tags(split_tag_field(row["aspect_list"]))))
    train = train_captions(MUSICCAPS)
    return {name: evaluate_group(samples, train_captions=train, bertscore=False, compute_sentence_cosine=False)
            for name, samples in groups.items() if samples}


def clip_of_tags(names):
    from tunescribe.schemas import Tag

    return [Tag(n) for n in names]


def audit_summary(judged: list[dict], labels_path: pathlib.Path) -> dict:
    """The hand labels against what the filter does now (kept/dropped is recomputed, not labelled):
    over all labelled captions, and per sample (how the captions were picked)."""
    if not labels_path.is_file():
        return {}
    labels = [json.loads(line) for line in labels_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = _audit(judged, labels)
    out["samples"] = {name: _audit(judged, [x for x in labels if x.get("sample") == name])
                      for name in dict.fromkeys(x.get("sample") for x in labels)}
    return out


def _audit(judged: list[dict], labels: list[dict]) -> dict:
    by_id = {(j["key"], j["task"]): j for j in judged}
    rows = []
    for label in labels:
        j = by_id[(label["key"], label["task"])]
        if j["text"] is None:
            continue
        if label.get("text") is not None and label["text"] != j["text"]:
            raise SystemExit(f"audit label for {label['key']}/{label['task']} was made on another text")
        rows.append({**label, "kept": j["kept"], "first_reason": j["failures"][0][0] if j["failures"] else None})
    kept, dropped = [r for r in rows if r["kept"]], [r for r in rows if not r["kept"]]
    good = [r for r in rows if r["good"]]
    invented = lambda r: bool(r["invents"])  # noqa: E731
    return {
        "labelled": len(rows), "kept": len(kept), "dropped": len(dropped),
        "kept_inventing": sum(map(invented, kept)),
        "kept_inventing_examples": [f"{r['key']}/{r['task']}: {r['invents']}" for r in kept if invented(r)],
        "kept_good": sum(r["good"] for r in kept),
        "dropped_inventing": sum(map(invented, dropped)),
        "good": len(good),
        "good_dropped": sum(not r["kept"] for r in good),
        "good_dropped_share": (sum(not r["kept"] for r in good) / len(good)) if good else None,
        "good_dropped_examples": [f"{r['key']}/{r['task']} ({r['first_reason']})" for r in good if not r["kept"]],
        "dropped_by_reason": dict(Counter(r["first_reason"] for r in dropped).most_common()),
        "invents_by_kind": dict(Counter(k for r in rows for k in r.get("kinds", [])).most_common()),
    }


COLUMNS = (("METEOR", "meteor_1.0"), ("ROUGE-L", "rougeL"), ("B1", "bleu1"), ("B4", "bleu4"),
           ("novelty", "caption_novelty"), ("length", "length_avg"), ("halluc.", "hallucination_rate"),
           ("n", "captions"))


def _cell(value, key):
    if value is None:
        return "-"
    if key in ("captions",):
        return str(value)
    if key == "length_avg":
        return f"{value:.1f}"
    return f"{100 * value:.1f}"


def markdown(result: dict) -> str:
    s = result
    lines = [f"# SmolLM2-135M-Instruct captions of {s['rows']} MusicCaps eval rows, and the caption filter", "",
             f"Model: `{GGUF}` (sha256 `{s['model_sha256'][:16]}…`), greedy, max 128 new tokens; prompts: the "
             "project's LP-MusicCaps templates; tags only (each row's aspect_list). Made by "
             "`python benchmarks/smollm2_captions.py` (generations cached). Scores are `tunescribe evaluate`'s "
             "(transforms/evaluation): LP-MusicCaps' metrics in %, hallucination = share of captions naming an "
             "instrument, genre or mood their tags do not. Every group is on the same rows (GPT-3.5: LP-MusicCaps' "
             "own inference.json rows for these rows).", "",
             "| group | " + " | ".join(h for h, _ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, r in s["scores"].items():
        lines.append(f"| {name} | " + " | ".join(_cell(r.get(k), k) for _, k in COLUMNS) + " |")
    o = s["outcome"]
    lines += ["", "## The filter", "",
              f"{o['answers']} answers: {o['parse_errors']} could not be read as their task's output "
              f"(rejected before the filter: {o['parse_error_reasons']}), {o['parsed']} captions reached the "
              f"filter, {o['kept']} kept, {o['dropped']} dropped.", "",
              f"Hallucination rate (all tasks): {_cell(o['hallucination_before'], 'x')}% of the captions that "
              f"reached the filter, {_cell(o['hallucination_after'], 'x')}% of those it kept.", "",
              "Kept per task: " + ", ".join(f"{t} {n}" for t, n in o["kept_by_task"].items()), "",
              "| rule (first failed) | captions | | rule (any failed) | captions |", "|---|---|---|---|---|"]
    first, every = list(o["drops"]["first_reason"].items()), list(o["drops"]["any_reason"].items())
    for i in range(max(len(first), len(every))):
        a = first[i] if i < len(first) else ("", "")
        b = every[i] if i < len(every) else ("", "")
        lines.append(f"| {a[0]} | {a[1]} | | {b[0]} | {b[1]} |")
    a = s.get("audit")
    if a:
        lines += ["", "## Hand audit", "",
                  f"{a['labelled']} captions read and labelled by hand (`{LABELS}`: per caption whether it invents "
                  "a title, a name or an attribute its tags do not give, and whether it is a good caption of its "
                  "tags). Kept/dropped is what the filter does now.", "",
                  f"- kept: {a['kept']}; of them inventing a title, name or attribute: **{a['kept_inventing']}**"
                  + (f" ({'; '.join(a['kept_inventing_examples'])})" if a["kept_inventing_examples"] else ""),
                  f"- kept and good: {a['kept_good']}",
                  f"- dropped: {a['dropped']} (of them inventing: {a['dropped_inventing']}); by rule: "
                  + ", ".join(f"{k} {v}" for k, v in a["dropped_by_reason"].items()),
                  f"- good captions: {a['good']}; wrongly dropped: {a['good_dropped']} "
                  f"({_cell(a['good_dropped_share'], 'x')}%)"
                  + (f": {'; '.join(a['good_dropped_examples'])}" if a["good_dropped_examples"] else ""),
                  "- inventions by kind: " + ", ".join(f"{k} {v}" for k, v in a["invents_by_kind"].items())]
        for name, part in a["samples"].items():
            lines.append(f"- sample \"{name}\": {part['labelled']} captions, {part['kept']} kept "
                         f"({part['kept_inventing']} inventing), {part['dropped']} dropped "
                         f"({part['dropped_inventing']} inventing); good {part['good']}, wrongly dropped "
                         f"{part['good_dropped']}")
        if s.get("audit_notes"):
            lines += ["", s["audit_notes"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("eval", "train"), default="eval")
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--show", choices=("kept", "dropped", "all"), help="print captions (tuning)")
    args = parser.parse_args(argv)
    if not MUSICCAPS.is_file():
        sys.exit(f"MusicCaps CSV not found at {MUSICCAPS}")
    rows = musiccaps_rows(args.split, args.rows)
    got = answers(rows, GenerationCache(CACHE / f"generations-{args.split}.jsonl"))
    if args.generate_only:
        return 0
    revision = hashlib.sha256((MODEL_DIR / GGUF).read_bytes()).hexdigest()
    judged = judge(rows, got, revision)
    parsed = [j for j in judged if j["text"] is not None]
    kept = [j for j in parsed if j["kept"]]
    drops = drops_by_rule(judged)
    print(f"{args.split}: {len(judged)} answers, {len(parsed)} parsed, {len(kept)} kept; "
          f"drops: {drops['first_reason']}")
    if args.show:
        for j in parsed:
            if args.show == "all" or (args.show == "kept") == j["kept"]:
                print(f"[{'KEPT' if j['kept'] else j['failures'][0][0]}] {j['key']}/{j['task']} tags={j['tags']}\n"
                      f"    {j['text']!r}" + ("" if j["kept"] else f"\n    -- {j['failures'][0][1][:200]}"))
    if args.split != "eval":
        return 0
    from tunescribe.transforms.evaluation.hallucination import hallucination_report

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scores = score_groups(rows, judged)
    before = hallucination_report([j["text"] for j in parsed], [(clip_of_tags(j["tags"]), ()) for j in parsed])
    after = hallucination_report([j["text"] for j in kept], [(clip_of_tags(j["tags"]), ()) for j in kept])
    result = {
        "rows": len(rows), "model": MODEL_ID, "gguf": GGUF, "model_sha256": revision,
        "outcome": {
            "answers": len(judged), "parse_errors": len(judged) - len(parsed),
            "parse_error_reasons": dict(Counter(j["parse_error"] for j in judged if j["parse_error"])),
            "parsed": len(parsed), "kept": len(kept), "dropped": len(parsed) - len(kept),
            "kept_by_task": {t: sum(j["task"] == t for j in kept) for t in TASKS},
            "drops": drops, "hallucination_before": before.rate, "hallucination_after": after.rate,
        },
        "scores": scores,
        "audit": audit_summary(judged, out / LABELS),
    }
    notes = out / "smollm2_audit_notes.md"
    result["audit_notes"] = notes.read_text(encoding="utf-8").strip() if notes.is_file() else ""
    (out / "smollm2_captions.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "smollm2_captions.md").write_text(markdown(result), encoding="utf-8")
    (out / "smollm2_captions.jsonl").write_text(
        "".join(json.dumps({k: j[k] for k in ("key", "task", "tags", "text", "kept", "failures", "parse_error")})
                + "\n" for j in judged), encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
