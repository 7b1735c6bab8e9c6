"""Caption metrics that reproduce LP-MusicCaps' published scores (``lpmc/llm_captioning/eval.py``).

LP-MusicCaps scored generated captions with Hugging Face ``evaluate`` 0.4.0 (bleu, meteor, rouge,
bertscore; nltk 3.8.1, rouge-score 0.1.2, bert-score 0.3.13) plus three small functions of their own
(``lpmc/utils/metrics.py``). :func:`evaluate_captions` returns the same keys as their
``results.json``; each is computed as follows (``refs`` = the reference caption(s) of a prediction):

``bleu1`` .. ``bleu4``
    Corpus BLEU of ``evaluate``'s "bleu" (the tensorflow/nmt ``compute_bleu``): 13a tokenisation
    (sacrebleu's), n-gram orders 1..n with uniform weights, no smoothing, brevity penalty against the
    shortest reference, on a 0-1 scale. With one reference per caption it equals sacrebleu's corpus
    BLEU (``max_ngram_order=n``, ``smooth_method="none"``) divided by 100.
``meteor_1.0``
    Mean over pairs of nltk's METEOR (alpha 0.9, beta 3, gamma 0.5) with WordNet 3.0 synonyms and
    nltk 3.8.1's ``word_tokenize``; see :mod:`.meteor`. None (with the reason) without WordNet data.
``rougeL``
    Mean over pairs of rouge-score's ROUGE-L F-measure (its default tokenizer, no stemming; the best
    reference when there are several). LP-MusicCaps' number is ``evaluate``'s default aggregate, the
    median of 1,000 unseeded bootstrap resample means, so theirs differs from the plain mean by a
    random ~1e-4; the mean is what this returns.
``bertscore``
    Mean BERTScore F1, roberta-large layer 17, no IDF, no rescaling (see :mod:`.embeddings`); None
    with the reason when the weights cannot be loaded.
``vocab_size``
    Number of distinct words in the predictions, a word being a whitespace token of the caption
    lower-cased with "," and "." removed. LP-MusicCaps zipped predictions with their training captions,
    so only the first ``len(train)`` predictions (2,656 on MusicCaps) were counted: pass
    ``vocab_prefix=2656`` to do the same.
``vocab_diversity``
    Share of those prediction words that never occur in the training captions (LP-MusicCaps'
    ``vocab_novelty``, published under this name). Needs ``train_captions``; else None.
``caption_novelty``
    Share of the distinct predictions that are not, verbatim, a training caption. Needs ``train_captions``.
``length_avg``, ``length_std``
    Mean and population standard deviation of the predictions' whitespace word counts.
``sentence_cosine`` (not an LP-MusicCaps metric)
    Mean cosine of all-MiniLM-L6-v2 sentence embeddings, prediction vs (best) reference.

Metrics that cannot be computed are None, and ``result["unavailable"]`` maps each to the reason.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from . import embeddings, meteor


def _as_reference_lists(references: Sequence[str] | Sequence[Sequence[str]], n: int) -> list[list[str]]:
    if len(references) != n:
        raise ValueError(f"{n} predictions but {len(references)} references")
    out = [[r] if isinstance(r, str) else list(r) for r in references]
    if any(not refs for refs in out):
        raise ValueError("every prediction needs at least one reference")
    return out


# --- n-gram and word metrics ------------------------------------------------------------------

def _ngrams(tokens: Sequence[str], max_order: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for n in range(1, max_order + 1) for i in range(len(tokens) - n + 1))


def bleu_scores(predictions: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]], max_order: int = 4) -> list[float]:
    """Corpus BLEU-1..BLEU-``max_order`` as ``evaluate``'s "bleu" computes each (0-1 scale).

    That is tensorflow/nmt's ``compute_bleu`` on 13a tokens (sacrebleu's tokenizer), no smoothing:
    BLEU-n = exp(sum_{k<=n} (1/n) log p_k) * BP, p_k the clipped k-gram precision over the corpus,
    BP = exp(1 - r/c) when the c prediction tokens are not more than the r shortest-reference tokens.
    """
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    references = _as_reference_lists(references, len(predictions))
    tokenize = Tokenizer13a()
    matches, possible = [0] * max_order, [0] * max_order
    pred_len = ref_len = 0
    for pred, refs in zip(predictions, references):
        hyp = tokenize(pred).split()
        ref_tokens = [tokenize(r).split() for r in refs]
        pred_len += len(hyp)
        ref_len += min(len(r) for r in ref_tokens)
        ref_counts: Counter = Counter()
        for r in ref_tokens:
            ref_counts |= _ngrams(r, max_order)
        for gram, count in (_ngrams(hyp, max_order) & ref_counts).items():
            matches[len(gram) - 1] += count
        for n in range(1, max_order + 1):
            possible[n - 1] += max(len(hyp) - n + 1, 0)
    precisions = [m / p if p > 0 else 0.0 for m, p in zip(matches, possible)]
    ratio = pred_len / ref_len if ref_len else 0.0
    brevity = 1.0 if ratio > 1.0 else (math.exp(1 - 1 / ratio) if ratio > 0 else 0.0)
    scores = []
    for n in range(1, max_order + 1):  # the counts of orders <= n do not depend on max_order
        first = precisions[:n]
        geo_mean = math.exp(sum((1.0 / n) * math.log(p) for p in first)) if min(first) > 0 else 0.0
        scores.append(geo_mean * brevity)
    return scores


def rouge_l_scores(predictions: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]) -> list[float]:
    """Per-pair rouge-score ROUGE-L F-measure (default tokenizer, no stemming; best reference)."""
    from rouge_score import rouge_scorer

    references = _as_reference_lists(references, len(predictions))
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return [scorer.score_multi(refs, pred)["rougeL"].fmeasure for pred, refs in zip(predictions, references)]


def vocab_words(caption: str) -> list[str]:
    """LP-MusicCaps' word split: lower-case, drop "," and ".", split on whitespace."""
    return caption.lower().replace(",", "").replace(".", "").split()


def vocab_stats(predictions: Sequence[str], train_captions: Iterable[str] | None = None,
                vocab_prefix: int | None = None) -> tuple[int, float | None]:
    """(vocab_size, vocab_diversity): distinct prediction words, and the share of them unseen in training."""
    counted = predictions[:vocab_prefix] if vocab_prefix is not None else predictions
    vocab = {w for caption in counted for w in vocab_words(caption)}
    if train_captions is None or not vocab:
        return len(vocab), None
    train_vocab = {w for caption in train_captions for w in vocab_words(caption)}
    return len(vocab), len(vocab - train_vocab) / len(vocab)


def caption_novelty(predictions: Sequence[str], train_captions: Iterable[str]) -> float:
    """Share of the distinct predictions that are not verbatim training captions."""
    unique = set(predictions)
    return len(unique - set(train_captions)) / len(unique)


def length_stats(predictions: Sequence[str]) -> tuple[float, float]:
    """Mean and population standard deviation (numpy, ddof=0) of whitespace word counts."""
    lengths = [len(caption.split()) for caption in predictions]
    return float(np.mean(lengths)), float(np.std(lengths))


# --- everything at once -----------------------------------------------------------------------

def evaluate_captions(
    predictions: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    train_captions: Sequence[str] | None = None,
    vocab_prefix: int | None = None,
    wordnet_dir: str | os.PathLike | None = None,
    bertscore: bool = True,
    bertscore_model: str | os.PathLike | None = None,
    sentence_model=None,
    compute_sentence_cosine: bool = True,
    device: str | None = None,
    return_per_pair: bool = False,
) -> dict:
    """Score generated captions against references with LP-MusicCaps' metrics (see the module doc).

    ``references``: one string per prediction, or a list of strings per prediction.
    ``train_captions``: the training captions the novelty metrics compare against.
    ``vocab_prefix``: count vocabulary over the first N predictions only (LP-MusicCaps: 2,656).
    ``wordnet_dir``: an nltk data folder for WordNet (built from Debian's files when empty).
    ``bertscore_model``: hub id or local directory for BERTScore (default roberta-large).
    ``return_per_pair``: also return ``result["per_pair"]`` = {"meteor_1.0": [...], "rougeL": [...]}.
    """
    predictions = [str(p) for p in predictions]
    if not predictions:
        raise ValueError("no predictions to evaluate")
    refs = _as_reference_lists(references, len(predictions))
    result: dict = {}
    unavailable: dict[str, str] = {}
    per_pair: dict[str, list[float]] = {}
    for n, score in enumerate(bleu_scores(predictions, refs, 4), start=1):
        result[f"bleu{n}"] = score

    try:
        wordnet = meteor.load_wordnet(wordnet_dir)
        per_pair["meteor_1.0"] = meteor.meteor_scores(predictions, refs, wordnet)
        result["meteor_1.0"] = float(np.mean(per_pair["meteor_1.0"]))
    except (FileNotFoundError, ImportError, LookupError, ValueError, OSError) as exc:
        result["meteor_1.0"] = None
        unavailable["meteor_1.0"] = f"METEOR skipped: {exc}"

    per_pair["rougeL"] = rouge_l_scores(predictions, refs)
    result["rougeL"] = float(np.mean(per_pair["rougeL"]))

    if bertscore:
        result["bertscore"], reason = embeddings.bertscore_f1(predictions, refs, model=bertscore_model, device=device)
    else:
        result["bertscore"], reason = None, "BERTScore not requested"
    if reason:
        unavailable["bertscore"] = reason

    result["vocab_size"], result["vocab_diversity"] = vocab_stats(predictions, train_captions, vocab_prefix)
    result["caption_novelty"] = caption_novelty(predictions, train_captions) if train_captions is not None else None
    if train_captions is None:
        unavailable["vocab_diversity"] = unavailable["caption_novelty"] = "no train_captions given"
    result["length_avg"], result["length_std"] = length_stats(predictions)

    if compute_sentence_cosine:
        result["sentence_cosine"], reason = embeddings.sentence_cosine(predictions, refs, model=sentence_model,
                                                                       device=device)
    else:
        result["sentence_cosine"], reason = None, "sentence_cosine not requested"
    if reason:
        unavailable["sentence_cosine"] = reason
    result["unavailable"] = unavailable
    if return_per_pair:
        result["per_pair"] = per_pair
    return result
