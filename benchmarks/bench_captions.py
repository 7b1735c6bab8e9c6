"""Benchmark of the model caption backends with tiny random-weight models (run by hand, not a test).

    python benchmarks/bench_captions.py [--prompts 32] [--tokens 32] [--repeat 3]

1. Local generation: the same prompts through CausalLMHandler one at a time (batch 1) and in
   batches (one left-padded `generate` call per batch), with seeded sampling on — same captions
   either way (checked), so the ratio is pure batching.
2. The same through the Beam stage (ModelCaptions on the DirectRunner), batch_size 1 vs 16.
3. HTTP concurrency: OpenAIChatHandler against a server answering after a fixed latency (an API's
   network + queueing time), and against `transformers serve` with the tiny LM, at concurrency
   1 and 8.
Every figure is measured in this run; ratios compare runs of this run only.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))  # the tiny model builders and test servers

from caption_helpers import make_clip, run_stage  # noqa: E402
from openai_servers import FaultServer, transformers_serve  # noqa: E402
from tiny_models import build_causal_lm  # noqa: E402

from tunescribe.transforms.captions.model_captions import Captioner  # noqa: E402
from tunescribe.transforms.captions.prompts import get_prompt  # noqa: E402
from tunescribe.transforms.models.base import Batching, ModelSource  # noqa: E402
from tunescribe.transforms.models.causal_lm import CausalLMHandler  # noqa: E402
from tunescribe.transforms.models.generation import GenerationParams, TextRequest, derive_seed  # noqa: E402
from tunescribe.transforms.models.openai_chat import Endpoint, OpenAIChatHandler  # noqa: E402

TAGS = [["rock", "guitar", "energetic"], ["jazz", "piano"], ["ambient", "synth", "calm", "slow tempo"],
        ["hip hop", "male vocal"], ["classical", "violin", "sad"], ["pop", "female vocal", "happy"],
        ["techno", "fast tempo"], ["folk", "acoustic guitar", "mellow"]]


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def requests(n: int) -> list[TextRequest]:
    prompts = [get_prompt(t) for t in ("writing", "summary", "paraphrase", "short")]
    out = []
    for i in range(n):
        p = prompts[i % len(prompts)]
        out.append(TextRequest(p.render(TAGS[i % len(TAGS)]), derive_seed(0, str(i), p.ref)))
    return out


def bench_local(lm: pathlib.Path, n: int, tokens: int, repeat: int, batch: int) -> None:
    params = GenerationParams(max_new_tokens=tokens, temperature=0.8, top_p=0.95)
    handler = CausalLMHandler(ModelSource(model=str(lm)), params, Batching(max_batch_size=batch))
    model = handler.load_model()
    reqs = requests(n)
    handler.run_inference(reqs[:batch], model)  # warm-up
    one = best_of(repeat, lambda: [handler.run_inference([r], model) for r in reqs])
    many = best_of(repeat, lambda: handler.run_inference(reqs, model))
    same = [g.text for g in handler.run_inference(reqs, model)] == [
        handler.run_inference([r], model)[0].text for r in reqs]
    out_tokens = sum(g.completion_tokens for g in handler.run_inference(reqs, model))
    print(f"local generate, {n} prompts x <= {tokens} new tokens ({out_tokens} generated), best of {repeat}:")
    print(f"  unbatched (1 per generate)   {one:7.2f} s  {n / one:7.1f} prompts/s")
    print(f"  batched ({batch:>3} per generate)  {many:7.2f} s  {n / many:7.1f} prompts/s")
    print(f"  speed-up batched/unbatched   {one / many:7.1f} x   (same captions either way: {same})")


def bench_stage(lm: pathlib.Path, clips: int, tokens: int) -> None:
    params = GenerationParams(max_new_tokens=tokens, temperature=0.8)
    tasks = tuple(get_prompt(t) for t in ("writing", "summary", "paraphrase", "short"))
    data = [make_clip(f"k{i:03d}", tuple(TAGS[i % len(TAGS)])) for i in range(clips)]
    times = {}
    for batch in (1, 16):
        batching = Batching(min_batch_size=batch, max_batch_size=batch)
        handler = CausalLMHandler(ModelSource(model=str(lm)), params, batching)
        t = time.perf_counter()
        out, rejects = run_stage(Captioner("lm", handler, tasks), data)
        times[batch] = time.perf_counter() - t
        assert len(out) == clips
    n = clips * len(tasks)
    print(f"Beam stage ModelCaptions on the DirectRunner, {clips} clips x {len(tasks)} prompts (incl. model load):")
    for batch, s in times.items():
        print(f"  batch_size {batch:>3} prompts       {s:7.2f} s  {n / s:7.1f} prompts/s")
    print(f"  speed-up                     {times[1] / times[16]:7.1f} x")


def http_run(url: str, model: str, reqs, concurrency: int, tokens: int) -> float:
    endpoint = Endpoint(base_url=url, model=model, concurrency=concurrency, timeout_s=120, max_retries=0)
    handler = OpenAIChatHandler(endpoint, GenerationParams(max_new_tokens=tokens, temperature=0.8))
    client = handler.load_model()
    try:
        handler.run_inference(reqs[:2], client)  # warm-up (connections, server model load)
        t = time.perf_counter()
        results = handler.run_inference(reqs, client)
        elapsed = time.perf_counter() - t
    finally:
        client.close()
    failed = [g.error for g in results if not g.ok]
    if failed:
        print(f"    ({len(failed)} failed: {sorted(set(failed))})")
    return elapsed


def bench_http(lm: pathlib.Path, n: int, tokens: int, latency: float) -> None:
    reqs = requests(n)
    print(f"HTTP backend, {n} requests, concurrency 1 vs 8:")
    with FaultServer(delay_s=latency) as server:
        one = http_run(server.base_url, "m", reqs, 1, tokens)
        eight = http_run(server.base_url, "m", reqs, 8, tokens)
    print(f"  server with {latency * 1000:.0f} ms latency    c=1 {one:6.2f} s   c=8 {eight:6.2f} s   "
          f"speed-up {one / eight:5.1f} x")
    with tempfile.TemporaryDirectory() as logs, transformers_serve(str(lm), f"{logs}/serve.log") as url:
        one = http_run(url, str(lm), reqs, 1, tokens)
        eight = http_run(url, str(lm), reqs, 8, tokens)
    print(f"  transformers serve, tiny LM  c=1 {one:6.2f} s   c=8 {eight:6.2f} s   speed-up {one / eight:5.1f} x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.1, help="seconds the latency server waits per request")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: on a shared machine idle OpenMP threads spin and "
                         "swamp tiny models' per-step cost)")
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args()
    import os

    import torch

    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # for the `transformers serve` subprocess
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        lm = build_causal_lm(pathlib.Path(tmp) / "tiny-lm")
        bench_local(lm, args.prompts, args.tokens, args.repeat, args.batch)
        bench_stage(lm, args.clips, args.tokens)
        if not args.skip_http:
            bench_http(lm, args.prompts, args.tokens, args.latency)


if __name__ == "__main__":
    main()
