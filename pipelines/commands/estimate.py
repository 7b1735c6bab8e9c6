"""`tunescribe estimate CONFIG [--json PATH] [Beam options...]`: dry run of the model captions.

Runs the build up to the captions (reading, decoding and cutting the audio, which costs
nothing but time), then counts the requests, prompt tokens and output-token ceiling each
configured captioner would spend, its cost ceiling where a price is configured, and whether it
fits the request budget. Calls no model and writes nothing into the output (the audio and ledger
the build's first stages keep go to a temporary folder), so it estimates the whole config.
"""

from __future__ import annotations

import os
import tempfile

from apache_beam.options.pipeline_options import PipelineOptions

from tunescribe.pipelines.build import build_pipeline
from tunescribe.pipelines.commands import EXIT_OVER_BUDGET
from tunescribe.pipelines.config import check_inputs, load_config
from tunescribe.pipelines.runners import new_pipeline
from tunescribe.transforms.corpus import readers


def add_arguments(parser) -> None:
    parser.epilog = "Other options (--runner, --direct_num_workers, ...) go to Apache Beam."
    parser.add_argument("config")
    parser.add_argument("--json", help="also keep the estimate here (local path or gs://...)")


def table(estimate: dict) -> str:
    lines = ["tunescribe: estimate (no model was called)",
             f"  {'captioner':<22}{'prompt':<32}{'requests':>9}{'prompt tok':>12}{'max out tok':>12}{'audio s':>9}"]
    for c in estimate["captioners"]:
        for p in c["prompts"]:
            lines.append(f"  {c['captioner']:<22}{p['prompt']:<32}{p['requests']:>9}{p['prompt_tokens']:>12}"
                         f"{p['max_output_tokens']:>12}{p['audio_s']:>9.0f}")
        notes = [f"tokens {c['token_counts']}"]
        if c["clips_without_inputs"]:
            notes.append(f"{c['clips_without_inputs']} clip(s) without tags/attributes get no prompt")
        if "max_cost" in c:
            notes.append(f"cost at most {c['max_cost']:.4f}")
        if "within_budget" in c:
            notes.append(f"{'within' if c['within_budget'] else 'OVER'} the budget of {c['max_requests']} requests")
        lines.append(f"    {c['model']}: " + "; ".join(notes))
    t = estimate["totals"]
    lines.append(f"  total: {t['requests']} requests, {t['prompt_tokens']} prompt tokens, "
                 f"at most {t['max_output_tokens']} output tokens, cost at most {t['max_cost']:.4f}")
    return "\n".join(lines)


def run(args, beam_args: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="tunescribe-estimate-") as tmp:
        cfg = load_config(args.config, output=tmp)
        check_inputs(cfg)
        path = args.json or os.path.join(tmp, "estimate.json")
        with new_pipeline(PipelineOptions(beam_args)) as p:
            build_pipeline(p, cfg, estimate_path=path)
        estimate = readers.read_json(path)
    print(table(estimate))
    return 0 if all(c.get("within_budget", True) for c in estimate["captioners"]) else EXIT_OVER_BUDGET
