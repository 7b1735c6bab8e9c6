"""Contrastive audio-text pretraining (CLAP/MuLan style), small enough for a CPU, from a corpus
this script first builds.

    python examples/contrastive/train.py [--steps 300] [--seed 0] [--workdir DIR] [--out losses.json]

1. writes synthetic music in six styles (synth.py) and its manifest into --workdir, beside a copy
   of config.yaml, and builds the corpus there with tunescribe (skipped when already built);
2. streams the train split with `CorpusStream` (random 2 s crops, a random caption each epoch);
3. trains a small conv audio encoder (log-mel input) and a small text encoder (a 2-layer BERT
   built from a config, random init, words hashed to ids) with the symmetric InfoNCE loss;
4. prints the mean loss of the first and of the last 50 steps; --out writes them and every step's loss.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import shutil
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import synth  # noqa: E402  (the example's own audio generator, beside this file)

from tunescribe.pipelines.training import AudioSpec, CorpusStream  # noqa: E402

RATE = 16000
N_MELS = 64
VOCAB = 4096  # word ids by hash: no tokenizer to download or fit
MAX_WORDS = 48


def build_corpus(workdir: pathlib.Path) -> pathlib.Path:
    """The example corpus in workdir/corpus, built once (a finished build has manifest.json)."""
    corpus = workdir / "corpus"
    if (corpus / "manifest.json").is_file():
        return corpus
    from tunescribe.pipelines.commands.build import run_build, summary
    from tunescribe.pipelines.config import load_config

    workdir.mkdir(parents=True, exist_ok=True)
    synth.write_inputs(workdir)
    shutil.copy(HERE / "config.yaml", workdir / "config.yaml")
    started = time.monotonic()
    stats = run_build(load_config(str(workdir / "config.yaml")), [])
    print(summary(stats, time.monotonic() - started), flush=True)
    return corpus


def tokenize(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Words -> ids in [2, VOCAB) by crc32 (0 pads, 1 opens every text), and the attention mask."""
    ids = torch.zeros(len(texts), MAX_WORDS, dtype=torch.long)
    for i, text in enumerate(texts):
        words = re.findall(r"[a-z0-9#]+", text.lower())[: MAX_WORDS - 1]
        ids[i, : len(words) + 1] = torch.tensor([1] + [2 + zlib.crc32(w.encode()) % (VOCAB - 2) for w in words])
    return ids, (ids != 0).long()


class AudioEncoder(torch.nn.Module):
    """Log-mel spectrogram -> 4 conv blocks -> mean over time and frequency -> embedding."""

    def __init__(self, dim: int = 64):
        super().__init__()
        import librosa

        self.register_buffer("mel", torch.tensor(librosa.filters.mel(sr=RATE, n_fft=512, n_mels=N_MELS)))
        self.register_buffer("window", torch.hann_window(512))
        chans = [1, 16, 32, 64, 64]
        self.convs = torch.nn.Sequential(*[
            torch.nn.Sequential(torch.nn.Conv2d(a, b, 3, stride=2, padding=1), torch.nn.BatchNorm2d(b), torch.nn.GELU())
            for a, b in zip(chans, chans[1:])])
        self.proj = torch.nn.Linear(chans[-1], dim)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:  # (batch, 1, frames)
        spec = torch.stft(audio[:, 0], 512, 256, window=self.window, return_complex=True).abs() ** 2
        logmel = torch.log(self.mel @ spec + 1e-6)  # (batch, mels, time)
        logmel = (logmel - logmel.mean(dim=(1, 2), keepdim=True)) / (logmel.std(dim=(1, 2), keepdim=True) + 1e-5)
        return self.proj(self.convs(logmel[:, None]).mean(dim=(2, 3)))


class TextEncoder(torch.nn.Module):
    """A 2-layer BERT from a config (random init), mean-pooled over the words -> embedding."""

    def __init__(self, dim: int = 64):
        super().__init__()
        from transformers import BertConfig, BertModel

        config = BertConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=128, max_position_embeddings=MAX_WORDS, pad_token_id=0)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.proj = torch.nn.Linear(config.hidden_size, dim)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return self.proj(pooled)


class Clap(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.audio, self.text = AudioEncoder(), TextEncoder()
        self.logit_scale = torch.nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))

    def forward(self, audio, ids, mask) -> torch.Tensor:
        """The symmetric InfoNCE loss of a batch: audio i belongs with text i, and with no other."""
        a = F.normalize(self.audio(audio), dim=-1)
        t = F.normalize(self.text(ids, mask), dim=-1)
        logits = self.logit_scale.exp().clamp(max=100) * a @ t.T
        target = torch.arange(len(a))
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def train(corpus: pathlib.Path, steps: int, seed: int, batch_size: int, seconds: float, workers: int,
          threads: int) -> list[float]:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    # batches made in the stream (decoded straight into the batch tensor); the DataLoader only runs workers
    data = CorpusStream(str(corpus), "train", audio=AudioSpec(RATE, seconds=seconds, crop="random"),
                        captions="random", seed=seed, batch_size=batch_size)
    loader = torch.utils.data.DataLoader(data, batch_size=None, num_workers=workers,
                                         persistent_workers=workers > 0)
    model = Clap()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    losses, epoch = [], 0
    while len(losses) < steps:
        data.set_epoch(epoch) if workers == 0 else None  # persistent workers count epochs themselves
        for batch in loader:
            if len(batch["text"]) < 2:  # a lone sample has no other to be told apart from
                continue
            ids, mask = tokenize(batch["text"])
            loss = model(batch["audio"], ids, mask)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) % 50 == 0:
                print(f"step {len(losses):4d}  epoch {epoch:3d}  loss {np.mean(losses[-50:]):.3f}", flush=True)
            if len(losses) == steps:
                break
        epoch += 1
    return losses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default=str(HERE / "work"), help="where the audio and the corpus go")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=2.0, help="audio crop per sample")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; the models are so small that more threads mostly wait on each other")
    parser.add_argument("--out", help="write {'losses': [...], 'first50': ..., 'last50': ...} here (JSON)")
    args = parser.parse_args(argv)
    if args.steps < 100:
        parser.error("--steps must be at least 100 (first and last 50 steps are compared)")
    corpus = build_corpus(pathlib.Path(args.workdir))
    started = time.monotonic()
    losses = train(corpus, args.steps, args.seed, args.batch_size, args.seconds, args.workers, args.threads)
    first, last = float(np.mean(losses[:50])), float(np.mean(losses[-50:]))
    print(f"trained {len(losses)} steps in {time.monotonic() - started:.1f} s: "
          f"mean loss first 50 steps {first:.3f}, last 50 steps {last:.3f} (chance: {np.log(args.batch_size):.3f})")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps({"losses": losses, "first50": first, "last50": last}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
